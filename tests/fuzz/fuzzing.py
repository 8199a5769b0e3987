"""Shared pieces of the fuzz tests: hypothesis profiles, the strategies that make hostile input
(random bytes, nasty Unicode, mutations of valid input, random cuts) and the checks that what
hxim writes is well-formed XML.

Profiles (chosen with the environment variable `HXIM_FUZZ_PROFILE`):

* `ci` (the default): derandomized, so every run tries the same inputs; no example database;
  each test runs the number of examples it asks for (`fuzz_settings(n)`).
* `deep`: random inputs every run, failures kept in `.hypothesis/` and replayed first, and every
  test's example count multiplied by `HXIM_FUZZ_SCALE` (default 20).

Imported by each fuzz module (there is no conftest.py in tests/fuzz: a second `conftest` module
would shadow tests/conftest.py for the modules that `from conftest import …`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hxim.xmpp.stanza import serialize

__all__ = [
    "Hang",
    "NOT_XML",
    "SCALE",
    "STREAM_ROOT",
    "check_document",
    "check_frame",
    "check_in_root",
    "cuts",
    "easemob_json",
    "fuzz_settings",
    "garbage",
    "json_values",
    "mutated",
    "nasty_text",
    "tree_mutated",
    "watchdog",
    "xml_text",
]

T = TypeVar("T")

# The root a client has open once it has read a stream header: stanzas are parsed inside it.
STREAM_ROOT = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
)

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HXIM_FUZZ_PROFILE", "ci")
settings.load_profile(PROFILE)
SCALE = int(os.environ.get("HXIM_FUZZ_SCALE", "20")) if PROFILE == "deep" else 1


def fuzz_settings(examples: int, *, fixtures: bool = False) -> Callable[[T], T]:
    """`@settings` for one fuzz test: `examples` cases in CI (times `SCALE` in the deep profile);
    `fixtures` for tests that take pytest fixtures (module or session scoped here: one server for
    every example, which is the point)."""
    suppress = list(settings().suppress_health_check)
    if fixtures:
        suppress.append(HealthCheck.function_scoped_fixture)
    return settings(max_examples=examples * SCALE, suppress_health_check=suppress)


# --- hostile input ---------------------------------------------------------------------------------

# Characters that break naive XML or JSON writers: controls XML 1.0 cannot carry, the two
# non-characters, lone surrogates (a Python str can hold them, UTF-8 cannot), astral characters,
# markup and quoting characters, and line separators.
SPECIAL_CHARS = [
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\t", "\n", "\r",
    "\ufffe", "\uffff", "\ufffd", "\ufeff", "\u2028", "\u2029", "\ud800", "\udbff", "\udc00", "\udfff",
    "\U0001f600", "\U0010ffff", "\U000e0001", "&", "<", ">", "'", '"', "]", "}", "{", "\\", "/", "@", "#",
    "=", ";", ":", " ",
]


def nasty_text(*, surrogates: bool = True, max_size: int = 40) -> st.SearchStrategy[str]:
    """Unicode text weighted towards the characters in `SPECIAL_CHARS` (minus surrogates when
    `surrogates` is false: text that came through a UTF-8 decoder cannot hold them)."""
    specials = [c for c in SPECIAL_CHARS if surrogates or not "\ud800" <= c <= "\udfff"]
    anything = st.characters() if surrogates else st.characters(exclude_categories=["Cs"])
    return st.text(alphabet=st.one_of(st.sampled_from(specials), anything), max_size=max_size)


# Characters outside XML 1.0's `Char` production that a Python str can hold.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """`nasty_text` that an XML document can carry (what a parser can hand the server)."""
    return nasty_text(surrogates=False, max_size=max_size).map(lambda s: NOT_XML.sub("", s))


def json_values(text: st.SearchStrategy[str], *, huge: bool = False, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON documents, nested a few levels deep. Numbers as orjson decodes them (integers within
    64 bits, signed or unsigned; finite floats) unless `huge`: then integers of any size too."""
    integers = st.integers() if huge else st.integers(-(2**63), 2**64 - 1)
    scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(allow_nan=False, allow_infinity=False), text)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=max_leaves,
    )


MESSAGE_TYPES = ["txt", "img", "loc", "audio", "video", "file", "cmd", "custom", "bogus", ""]


def easemob_json() -> st.SearchStrategy[str]:
    """An Easemob JSON message body (`{"from","to","bodies","ext"}`, the Web IM SDK's) with random
    fields, types and values, as XML-safe text (`json.dumps` escapes what XML cannot carry when
    `ensure_ascii`; without it, such characters are dropped)."""
    text = xml_text(20)
    value = json_values(text, huge=True, max_leaves=6)
    body = st.fixed_dictionaries(
        {"type": st.sampled_from(MESSAGE_TYPES) | text},
        optional={
            "msg": text | value, "url": text, "filename": text, "secret": text, "addr": text, "lat": value,
            "lng": value, "action": text | value, "length": value, "file_length": value, "size": value,
            "customEvent": text | value, "customExts": value, "param": value,
        },
    )
    doc = st.fixed_dictionaries(
        {},
        optional={"from": text | value, "to": text | value, "bodies": st.lists(body | value, max_size=3) | value,
                  "ext": value, "type": text},
    )

    def dump(d: dict[str, Any], ascii_only: bool) -> str:
        return NOT_XML.sub("", json.dumps(d, ensure_ascii=ascii_only))

    return st.builds(dump, doc, st.booleans())


# Byte strings that matter to an XML stream parser.
TOKENS = [
    b"<", b">", b"/>", b"</", b"&", b"&amp;", b"&lt;", b"&#0;", b"&#x1;", b"&#xFFFE;", b"&#xD800;", b"&#x10FFFF;",
    b"&custom;", b"'", b'"', b"=", b"<![CDATA[", b"]]>", b"<!--", b"-->", b"<?", b"?>", b"<?xml version='1.0'?>",
    b"<!DOCTYPE x>", b"<!ENTITY e 'x'>", b"xmlns='urn:x'", b"xmlns=''", b"xmlns:p='urn:p'", b"p:", b"xml:lang='en'",
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
    b"</stream:stream>", b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", b"\x00", b"\xff", b"\xc3", b"\xe4\xbd", b"\xed\xa0\x80",
    b"\xef\xbf\xbe", b"\xf4\x90\x80\x80", b"\r\n", b"\t", b" ", b"<a>" * 70, b"</a>" * 70, b"<x/>" * 50,
    b"type='error'", b"type='get'", b"type='set'", b"type='result'", b"type='groupchat'", b"id=''", b"to=''",
    b"to='@'", b"to='a@b/c'", b"from='x@y'", b"\\u0000", b"\\ud800", b"\\uffff", b"\"ext\":{}", b"{", b"}", b"[", b"]",
    b"<body>", b"</body>", b"<message>", b"</message>", b"<iq type='get' id='q'>", b"</iq>",
]


def garbage(max_size: int = 200) -> st.SearchStrategy[bytes]:
    """Random bytes, and random sequences of parser-relevant tokens."""
    tokens = st.lists(st.sampled_from(TOKENS) | st.binary(max_size=8), max_size=12).map(b"".join)
    return st.one_of(st.binary(max_size=max_size), tokens)


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_ops: int = 6) -> bytes:
    """One of `seeds` (valid input) with up to `max_ops` mutations: bytes or tokens inserted,
    ranges deleted or replaced, fragments repeated, the end cut off. With no mutation drawn the
    seed is returned as it is, so valid input is always among the cases."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(("insert", "delete", "replace", "repeat", "flip", "truncate")))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "replace":
            size = draw(st.integers(1, 8))
            data[pos : pos + size] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=size))
        elif op == "repeat":
            size = draw(st.integers(1, 64))
            fragment = bytes(data[pos : pos + size])
            data[pos:pos] = fragment * draw(st.integers(1, 4))
        elif op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


ATTRIBUTE_NAMES = ["to", "from", "type", "id", "{http://www.w3.org/XML/1998/namespace}lang", "xmlns-like", "{urn:x}k"]
ATTRIBUTE_VALUES = [
    "", " ", "@", "a@b@c", "/", "x@/", "@D@", "conference.@D@", "@P@", "@P@/phone", "@P@/webim", "@W@",
    "@W@/webim", "@F@", "@R@", "@R@/nick", "@R@/\u4f60", "ＡＢＣ@@D@", "\u0130@@D@", "e\u0301@@D@", "x" * 1100,
    "chat", "groupchat", "headline", "normal", "error", "get", "set", "result", "subscribe", "subscribed",
    "unsubscribe", "unsubscribed", "unavailable", "probe", "bogus", "-1", "0", "99999999999999999999", "1e400",
    "NaN", "true",
]
ELEMENT_NAMES = [
    ("jabber:client", "body"), ("jabber:client", "subject"), ("jabber:client", "thread"), ("jabber:client", "status"),
    ("jabber:client", "priority"), ("jabber:client", "show"), ("jabber:client", "error"), ("jabber:client", "message"),
    ("urn:xmpp:receipts", "request"), ("urn:xmpp:receipts", "received"), ("urn:xmpp:delay", "delay"),
    ("http://jabber.org/protocol/muc", "x"), ("http://jabber.org/protocol/muc#user", "x"),
    ("http://jabber.org/protocol/muc#user", "item"), ("http://jabber.org/protocol/muc#admin", "query"),
    ("http://jabber.org/protocol/muc#owner", "query"), ("jabber:x:data", "x"), ("jabber:x:data", "field"),
    ("jabber:iq:roster", "query"), ("jabber:iq:roster", "item"), ("urn:xmpp:blocking", "block"),
    ("urn:xmpp:blocking", "item"), ("jabber:iq:privacy", "query"), ("jabber:iq:privacy", "list"),
    ("easemob:x:roomtype", "roomtype"), ("urn:xmpp:ping", "ping"), ("urn:ietf:params:xml:ns:xmpp-bind", "bind"),
    ("urn:ietf:params:xml:ns:xmpp-session", "session"), ("", "unqualified"), ("urn:x", "deep"),
]


@st.composite
def tree_mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_ops: int = 4) -> bytes:
    """One of `seeds` (well-formed stanzas in `jabber:client`) changed as a tree and written out
    again, so still well-formed: attributes set to odd addresses, types and text, or removed; text
    replaced by odd text or random Easemob JSON; children added, dropped, repeated; elements renamed
    or moved to another namespace."""
    seed = draw(st.sampled_from(seeds))
    root = ET.fromstring(STREAM_ROOT + seed + b"</stream:stream>")
    tops = list(root)
    text = xml_text()
    for _ in range(draw(st.integers(1, max_ops))):
        parents = {child: parent for top in tops for parent in top.iter() for child in parent}
        node = draw(st.sampled_from([n for top in tops for n in top.iter()]))
        op = draw(st.sampled_from(("attr", "attr", "del_attr", "text", "json", "child", "drop", "dup", "rename")))
        if op == "attr":
            value = draw(st.sampled_from(ATTRIBUTE_VALUES) | text)
            node.set(draw(st.sampled_from([*node.attrib, *ATTRIBUTE_NAMES])), value)
        elif op == "del_attr" and node.attrib:
            del node.attrib[draw(st.sampled_from(sorted(node.attrib)))]
        elif op == "text":
            node.text = draw(text | st.sampled_from(ATTRIBUTE_VALUES))
        elif op == "json":
            node.text = draw(easemob_json())
        elif op == "child":
            uri, name = draw(st.sampled_from(ELEMENT_NAMES))
            child = ET.SubElement(node, f"{{{uri}}}{name}" if uri else name)
            if draw(st.booleans()):
                child.text = draw(text)
            if draw(st.booleans()):
                child.set(draw(st.sampled_from(ATTRIBUTE_NAMES)), draw(st.sampled_from(ATTRIBUTE_VALUES)))
        elif op == "drop" and node in parents:
            parents[node].remove(node)
        elif op == "dup":
            copy = ET.fromstring(serialize(node, None))
            if node in parents:
                parents[node].append(copy)
            else:
                tops.append(copy)
        elif op == "rename":
            uri, name = draw(st.sampled_from(ELEMENT_NAMES))
            if draw(st.booleans()) and node.tag[:1] == "{":  # a new name in the same namespace
                node.tag = node.tag[: node.tag.index("}") + 1] + name
            else:
                node.tag = f"{{{uri}}}{name}" if uri else name
    return b"".join(serialize(top, "jabber:client") for top in tops)


@st.composite
def cuts(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at random points (inside tags, inside multi-byte characters): the chunks a TCP
    connection may deliver."""
    if not data:
        return []
    points = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=8))))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if a < b]


# --- well-formedness -------------------------------------------------------------------------------

def _drain(parser: ET.XMLPullParser) -> list[tuple[str, Any]]:
    return list(parser.read_events())


def check_in_root(data: bytes, *, must_close: bool = False) -> list[ET.Element]:
    """Parse `data` as a client reads a TCP stream once its header is read: inside a stream root
    (`jabber:client` default namespace, `stream` prefix declared). Raises `ET.ParseError` if it is
    not well-formed. `must_close`: `data` must end the stream (`</stream:stream>`) and nothing may
    follow. Returns the complete top-level elements."""
    parser = ET.XMLPullParser(["start", "end"])
    parser.feed(STREAM_ROOT)
    parser.feed(data)
    tops: list[ET.Element] = []
    depth = 0
    closed = False
    for event, el in _drain(parser):
        if event == "start":
            depth += 1
        else:
            depth -= 1
            if depth == 1:
                tops.append(el)
            elif depth == 0:
                closed = True
    if must_close or closed:
        if not closed:
            raise ET.ParseError("the stream was not closed")
        parser.close()  # raises on anything after the end of the stream
    return tops


def check_document(chunks: Sequence[bytes]) -> None:
    """Parse the output of a TCP stream as a client does: a new parser at every stream header
    (`<?xml …?><stream:stream …>`, also after a SASL restart), every chunk appended to the current
    document, and nothing after the end of the stream. Raises `ET.ParseError` or `AssertionError`."""
    parser: ET.XMLPullParser | None = None
    depth = 0
    ended = False
    for chunk in chunks:
        if chunk.startswith(b"<?xml"):
            parser = ET.XMLPullParser(["start", "end"])
            depth = 0
            ended = False
        assert parser is not None, f"output before any stream header: {chunk!r}"
        assert not ended, f"output after the end of the stream: {chunk!r}"
        parser.feed(chunk)
        for event, _el in _drain(parser):
            depth += 1 if event == "start" else -1
            if depth == 0:
                ended = True
        if ended:
            parser.close()


def check_frame(chunk: bytes) -> ET.Element:
    """Parse one WebSocket message as a document of its own (RFC 7395 §3.3.3: every prefix it uses
    declared in it). Raises `ET.ParseError`."""
    parser = ET.XMLPullParser(["end"])
    parser.feed(chunk)
    parser.close()
    events = _drain(parser)
    assert events, chunk
    return events[-1][1]


# --- termination -----------------------------------------------------------------------------------


class Hang(Exception):
    """Raised by `watchdog` in code that ran too long (the sans-I/O core has no broad `except`
    that could swallow it)."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Fail the block with `Hang` if it runs longer than `seconds` (SIGALRM; a no-op off the main
    thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
