"""Small stanza helpers: escaping, building elements, serialising.

* `serialize(el, default_ns)` writes an `ElementTree.Element` as UTF-8 bytes with plain
  `xmlns='…'` declarations where the namespace changes, never `ns0:` prefixes. Pass the
  namespace in scope where the bytes will land: `jabber:client` inside a TCP stream (whose
  header declares it), None for a WebSocket frame (RFC 7395 §3.3.3: every frame is a document
  of its own, so the top element declares its namespace). The element's own `tail` is ignored.
* `element()`, `error_reply()`, `iq_result()` build the common stanzas; stanza errors follow
  RFC 6120 §8.3 (the id echoed, `to`/`from` swapped, the `type` the RFC gives the condition).

Attribute values are written with single quotes, as Strophe and most servers do.

Every character that XML 1.0 cannot carry (C0 controls other than tab, newline and carriage
return; U+FFFE and U+FFFF; surrogates, which have no UTF-8 form) is written as U+FFFD, the
replacement character, by both escapes: text that reaches a stream from elsewhere (a REST body, an
Easemob JSON body decoded and re-emitted, a group application's reason) can never make the output
not well-formed and end the recipient's stream (docs/DECISIONS.md).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

from hxim.xmpp import namespaces as ns
from hxim.xmpp.errors import STANZA_CONDITIONS, StanzaError
from hxim.xmpp.jid import JID

__all__ = [
    "STANZA_KINDS",
    "check_stanza",
    "element",
    "error_reply",
    "escape_attr",
    "escape_text",
    "iq_result",
    "local_name",
    "namespace_of",
    "render_attrs",
    "serialize",
]

STANZA_KINDS = frozenset({"message", "presence", "iq"})

_XML_PREFIX = "{" + ns.XML + "}"
_NOTHING = "\x00"  # "no default namespace in scope" (not a legal namespace name)


# characters outside XML 1.0's `Char` production (XML 1.0 §2.2) that a Python str can hold
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(text: str) -> str:
    """Escape character data (`&`, `<`, `>`); characters XML cannot carry become U+FFFD."""
    if not text.isprintable() and _NOT_XML.search(text) is not None:  # (isprintable: a C scan)
        text = _NOT_XML.sub("\ufffd", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def escape_attr(text: str) -> str:
    """Escape an attribute value for single quotes; newlines and tabs as character references so
    they survive attribute-value normalisation."""
    text = escape_text(text)
    if "'" in text:
        text = text.replace("'", "&apos;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def local_name(tag: str) -> str:
    """`{ns}name` → `name`."""
    return tag[tag.index("}") + 1 :] if tag[:1] == "{" else tag


def namespace_of(tag: str) -> str | None:
    """`{ns}name` → `ns`; None for an unqualified tag."""
    return tag[1 : tag.index("}")] if tag[:1] == "{" else None


def _split(tag: str) -> tuple[str, str]:
    if tag[:1] == "{":
        i = tag.index("}")
        return tag[1:i], tag[i + 1 :]
    return "", tag


def _write_attrs(items: Iterable[tuple[str, str]], out: list[str]) -> None:
    extra: dict[str, str] = {}
    for key, value in items:
        if key[:1] == "{":
            if key.startswith(_XML_PREFIX):
                key = "xml:" + key[len(_XML_PREFIX) :]
            else:  # a namespaced attribute: declare a prefix for it on this element
                auri, aname = _split(key)
                prefix = extra.get(auri)
                if prefix is None:
                    prefix = extra[auri] = f"a{len(extra)}"
                    out.append(f" xmlns:{prefix}='{escape_attr(auri)}'")
                key = f"{prefix}:{aname}"
        out.append(f" {key}='{escape_attr(value)}'")


def render_attrs(items: Iterable[tuple[str, str]]) -> str:
    """Attributes as parsed (`{uri}name` keys for namespaced ones) written into a start tag, with
    the prefixes they need declared (`xml:` needs none)."""
    out: list[str] = []
    _write_attrs(items, out)
    return "".join(out)


def _write(el: ET.Element, default_ns: str, out: list[str]) -> None:
    uri, name = _split(el.tag)
    out.append("<" + name)
    if uri != default_ns:
        if uri or default_ns != _NOTHING:
            out.append(f" xmlns='{escape_attr(uri)}'")
        default_ns = uri
    if el.attrib:
        _write_attrs(el.attrib.items(), out)
    if len(el) or el.text:
        out.append(">")
        if el.text:
            out.append(escape_text(el.text))
        for child in el:
            if not isinstance(child.tag, str):  # comments / PIs never reach here; skip if built
                continue
            _write(child, default_ns, out)
            if child.tail:
                out.append(escape_text(child.tail))
        out.append(f"</{name}>")
    else:
        out.append("/>")


def serialize(el: ET.Element, default_ns: str | None = ns.CLIENT) -> bytes:
    """The element as UTF-8 bytes, given the default namespace in scope where it will be written
    (None: nothing in scope, as at the top of a WebSocket frame)."""
    out: list[str] = []
    _write(el, default_ns if default_ns is not None else _NOTHING, out)
    return "".join(out).encode("utf-8")


def element(
    tag: str,
    attrs: Mapping[str, str | None] | None = None,
    *children: ET.Element,
    text: str | None = None,
) -> ET.Element:
    """An element; attributes whose value is None are left out."""
    el = ET.Element(tag, {k: v for k, v in attrs.items() if v is not None} if attrs else {})
    if text is not None:
        el.text = text
    el.extend(children)
    return el


def iq_result(request: ET.Element, *payload: ET.Element, from_: str | None = None) -> ET.Element:
    """The `result` to an IQ: the id echoed, addressed back to its sender (`to` = the request's
    `from`, if it had one); `from_` is for the replying entity (pass the request's `to` verbatim,
    webim-xmpp.md §3.4)."""
    tag = request.tag if isinstance(request.tag, str) else "{" + ns.CLIENT + "}iq"
    return element(
        tag,
        {"type": "result", "id": request.get("id"), "to": request.get("from"), "from": from_},
        *payload,
    )


def error_reply(
    stanza: ET.Element,
    condition: str,
    text: str | None = None,
    *,
    type: str | None = None,
    app_condition: ET.Element | None = None,
    include_payload: bool = False,
    by: str | None = None,
) -> ET.Element:
    """A stanza error (RFC 6120 §8.3) in reply to `stanza`: same kind, `type='error'`, the id
    echoed, `to`/`from` swapped (the original `to` becomes `from` verbatim), and
    `<error type=…><condition/><text/>[app condition]</error>`. `include_payload` copies the
    original children first (RFC 6120 §8.3.1 allows it)."""
    if condition not in STANZA_CONDITIONS:
        raise ValueError(f"unknown stanza error condition {condition!r}")
    uri = namespace_of(stanza.tag) or ns.CLIENT
    reply = element(
        f"{{{uri}}}{local_name(stanza.tag)}",
        {"type": "error", "id": stanza.get("id"), "to": stanza.get("from"), "from": stanza.get("to")},
    )
    if include_payload:
        reply.extend(list(stanza))
    err = ET.SubElement(reply, f"{{{uri}}}error", {"type": type or STANZA_CONDITIONS[condition]})
    if by is not None:
        err.set("by", by)
    ET.SubElement(err, f"{{{ns.STANZA_ERRORS}}}{condition}")
    if text:
        ET.SubElement(err, f"{{{ns.STANZA_ERRORS}}}text").text = text
    if app_condition is not None:
        err.append(app_condition)
    return reply


_IQ_TYPES = frozenset({"get", "set", "result", "error"})
_PRESENCE_TYPES = frozenset(
    {None, "error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"}
)


def check_stanza(kind: str, el: ET.Element) -> None:
    """The rules every stanza from a client must follow (RFC 6120 §8.1–§8.2, RFC 6121 §4.7.1): a
    `to` that is a JID; an IQ with an id, a known type and, for `get`/`set`, exactly one child; a
    presence of a known type. Raises the `StanzaError` to answer with."""
    to = el.get("to")
    if to is not None and JID.try_parse(to) is None:
        raise StanzaError("jid-malformed", "The to address is not a valid JID.")
    stype = el.get("type")
    if kind == "iq":
        if not el.get("id") or stype not in _IQ_TYPES:
            raise StanzaError("bad-request", "An IQ needs an id and a valid type.")
        if stype in ("get", "set") and len(el) != 1:
            raise StanzaError("bad-request", "An IQ get or set needs exactly one child element.")
    elif kind == "presence" and stype not in _PRESENCE_TYPES:
        raise StanzaError("bad-request", "Unknown presence type.")
