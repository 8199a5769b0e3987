"""Fuzzing what hxim writes into XML streams: `xmpp.messages.message_stanza` (a stored message as a
client receives it) and `xmpp.stanza.serialize` (every element a session writes).

Fed random Unicode — controls XML 1.0 cannot carry, U+FFFE/U+FFFF, astral characters, markup and
quoting characters, and the lone surrogates a Python str can hold — in bodies, `ext`, sender and
recipient names, text, tails and attribute values, both prove that:

* the output is well-formed XML as a client parses it: inside a TCP stream root, or standalone
  (with `xmlns='jabber:client'`, as in a WebSocket message or a roamed history string);
* it says what it was given: a JSON body decodes to exactly the stored `{"from","to","bodies",
  "ext"}` (every character kept), a plain body, text and attribute values come back with only the
  characters XML cannot carry shown as U+FFFD (and, in text, line ends normalised as every XML
  parser does).
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import orjson
from fuzzing import check_frame, check_in_root, fuzz_settings, nasty_text
from hypothesis import given
from hypothesis import strategies as st

from hxim.model import Message
from hxim.xmpp.messages import message_stanza
from hxim.xmpp.stanza import serialize

CLIENT = "jabber:client"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_visible(text: str, *, element_text: bool) -> str:
    """`text` as a client reads it back: non-XML characters as U+FFFD; in character data, CR LF
    and CR as LF (XML 1.0 §2.11; attribute values keep them as character references)."""
    text = NOT_XML.sub("\ufffd", text)
    return text.replace("\r\n", "\n").replace("\r", "\n") if element_text else text


def json_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """JSON documents as the server holds them after decoding one (orjson: integers within 64 bits
    signed or unsigned, finite floats), nested a few levels deep."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    )


def messages(surrogates: bool) -> st.SearchStrategy[Message]:
    text = nasty_text(surrogates=surrogates)
    txt_body = st.builds(lambda msg: {"type": "txt", "msg": msg}, text)
    other_body = st.dictionaries(text, json_values(text), max_size=4)
    return st.builds(
        Message,
        id=st.integers(1, 2**63 - 1),
        app_uuid=st.just(uuid.UUID(int=1)),
        chat_type=st.sampled_from(["chat", "groupchat", "chatroom"]),
        sender=text,
        to=text,
        timestamp=st.integers(0, 4_102_444_800_000),
        bodies=st.lists(txt_body | other_body, min_size=1, max_size=3),
        ext=st.none() | st.dictionaries(text, json_values(text), max_size=4),
    )


def render(m: Message, data: st.DataObject, surrogates: bool) -> tuple[str, bool, bool]:
    """`message_stanza` with drawn options: (stanza, json_body, standalone)."""
    text = nasty_text(surrogates=surrogates)
    json_body = data.draw(st.booleans(), label="json_body")
    standalone = data.draw(st.booleans(), label="standalone")
    stanza = message_stanza(
        m,
        prefix=data.draw(st.none() | text, label="prefix"),
        domain=data.draw(st.just("easemob.com") | text, label="domain"),
        to=data.draw(text, label="to"),
        json_body=json_body,
        xmlns_attr=" xmlns='jabber:client'" if standalone else "",
        delayed=data.draw(st.booleans(), label="delayed"),
        receipt_request=data.draw(st.booleans(), label="receipt_request"),
    )
    return stanza, json_body, standalone


def parse_stanza(stanza: str, standalone: bool) -> ET.Element:
    data = stanza.encode("utf-8")
    if standalone:
        return check_frame(data)
    (el,) = check_in_root(data)
    return el


@fuzz_settings(400)
@given(m=messages(surrogates=False), data=st.data())
def test_message_stanza_is_well_formed(m: Message, data: st.DataObject) -> None:
    stanza, json_body, standalone = render(m, data, surrogates=False)
    el = parse_stanza(stanza, standalone)
    assert el.tag == "{jabber:client}message"
    body = el.findtext("{jabber:client}body")
    assert body is not None
    plain = not json_body and len(m.bodies) == 1 and m.bodies[0].get("type") == "txt"
    if plain:
        assert body == xml_visible(str(m.bodies[0]["msg"]), element_text=True)
    else:
        ext = m.ext if m.ext is not None else {}
        assert orjson.loads(body) == {"from": m.sender, "to": m.to, "bodies": m.bodies, "ext": ext}


@fuzz_settings(150)
@given(m=messages(surrogates=True), data=st.data())
def test_message_stanza_plain_text_with_surrogates(m: Message, data: st.DataObject) -> None:
    """A plain-text body, sender, recipient and room names holding lone surrogates."""
    m = Message(m.id, m.app_uuid, m.chat_type, m.sender, m.to, m.timestamp, [{"type": "txt", "msg": m.sender}])
    text = nasty_text()
    stanza = message_stanza(
        m,
        prefix=data.draw(st.none() | text),
        domain=data.draw(text),
        to=data.draw(text),
        json_body=False,
        delayed=True,
    )
    el = parse_stanza(stanza, standalone=False)
    assert el.findtext("{jabber:client}body") == xml_visible(m.sender, element_text=True)


@fuzz_settings(100)
@given(m=messages(surrogates=True), data=st.data())
def test_message_stanza_json_with_surrogates(m: Message, data: st.DataObject) -> None:
    """Easemob JSON bodies holding lone surrogates (only a str built in-process can: orjson and
    expat refuse them on the way in) still render as well-formed XML."""
    stanza, _json_body, standalone = render(m, data, surrogates=True)
    parse_stanza(stanza, standalone)


# --- serialize -------------------------------------------------------------------------------------

NAMES = ["message", "body", "x", "query", "item", "error", "a-b", "c.d", "e_f", "\u4f60"]


def namespaces() -> st.SearchStrategy[str]:
    """Namespace names as the parser can produce them (the only other source is the code's own
    constants): XML characters only, no `}` (expat refuses the separator in a namespace name),
    never the reserved xml and xmlns names."""
    parsed = nasty_text(surrogates=False, max_size=20).map(lambda s: NOT_XML.sub("", s).replace("}", ""))
    return st.one_of(
        st.sampled_from([CLIENT, "", "urn:xmpp:receipts", "http://jabber.org/protocol/muc#user"]),
        parsed.filter(lambda s: s not in (XML_NS, "http://www.w3.org/2000/xmlns/")),
    )


def _tag(uri: str, name: str) -> str:
    return f"{{{uri}}}{name}" if uri else name


def attributes() -> st.SearchStrategy[dict[str, str]]:
    key = st.one_of(
        st.sampled_from(["id", "to", "from", "type", "a", "b-c", "x.y", "{" + XML_NS + "}lang"]),
        st.builds(lambda uri, name: "{" + uri + "}" + name, namespaces().filter(bool), st.sampled_from(["k", "v"])),
    )
    return st.dictionaries(key, nasty_text(), max_size=4)


def elements() -> st.SearchStrategy[ET.Element]:
    text = st.none() | nasty_text()

    def leaf(uri: str, name: str, attrs: dict[str, str], body: str | None, tail: str | None) -> ET.Element:
        el = ET.Element(_tag(uri, name), attrs)
        el.text, el.tail = body, tail
        return el

    base = st.builds(leaf, namespaces(), st.sampled_from(NAMES), attributes(), text, text)

    def parent(children: st.SearchStrategy[list[ET.Element]]) -> st.SearchStrategy[ET.Element]:
        def build(el: ET.Element, kids: list[ET.Element]) -> ET.Element:
            el.extend(kids)
            return el

        return st.builds(build, base, children)

    return st.recursive(base, lambda inner: parent(st.lists(inner, max_size=3)), max_leaves=10)


def same(original: ET.Element, parsed: ET.Element, *, top: bool) -> None:
    """`parsed` is `original` as a client reads it back (see `xml_visible`)."""
    assert parsed.tag == original.tag
    assert {k: v for k, v in parsed.attrib.items()} == {
        k: xml_visible(v, element_text=False) for k, v in original.attrib.items()
    }
    assert (parsed.text or "") == xml_visible(original.text or "", element_text=True)
    if not top:
        assert (parsed.tail or "") == xml_visible(original.tail or "", element_text=True)
    assert len(parsed) == len(original)
    for a, b in zip(original, parsed, strict=True):
        same(a, b, top=False)


@fuzz_settings(400)
@given(el=elements(), in_stream=st.booleans())
def test_serialize_is_well_formed(el: ET.Element, in_stream: bool) -> None:
    if in_stream:
        (parsed,) = check_in_root(serialize(el, CLIENT))
    else:
        parsed = check_frame(serialize(el, None))
    same(el, parsed, top=True)
