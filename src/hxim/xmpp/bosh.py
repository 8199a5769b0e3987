"""XMPP over BOSH, the wire format (XEP-0124 "BOSH" + XEP-0206 "XMPP Over BOSH"), sans-I/O.

This module owns the `<body/>` wrapper: it parses a request body (`parse_body`) with the same
restricted-XML reader as every other stream (`hxim.xmpp.reader`, WebSocket framing: no DTDs,
entities, comments or PIs; a size and depth cap), and renders response bodies: the session
creation response (XEP-0124 §7.2, XEP-0206 §5), ordinary responses, and terminal binding
conditions (XEP-0124 §17). It does no I/O and keeps no session state; the connection manager
(`hxim.c2s.bosh`) does that.

The XMPP content inside a body is handled as RFC 7395 frames: each child is re-serialised with
its namespaces declared and fed to a WebSocket-framed `C2SStream`; its output (one XML unit per
chunk) is classified by `classify_output` into payload, the stream's `<open/>`/`<close/>` (which
BOSH expresses with body attributes instead) and a stream error (sent inside
`<body type='terminate' condition='remote-stream-error'>`, XEP-0206 §7).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hxim.xmpp import namespaces as ns
from hxim.xmpp.errors import StreamError
from hxim.xmpp.reader import StreamReader, TopElement
from hxim.xmpp.stanza import escape_attr, serialize

__all__ = [
    "BODY_TAG",
    "CONDITIONS",
    "BoshError",
    "BoshRequest",
    "classify_output",
    "legacy_status",
    "open_frame",
    "close_frame",
    "parse_body",
    "render_body",
    "render_terminate",
]

BODY_TAG = "{" + ns.HTTPBIND + "}body"
_RESTART = "{" + ns.XBOSH + "}restart"
_LANG = "{" + ns.XML + "}lang"
_HTTPBIND_PREFIX = "{" + ns.HTTPBIND + "}"
_CLIENT_PREFIX = "{" + ns.CLIENT + "}"
_MAX_RID = 2**53 - 1  # XEP-0124 §5: rid is at most 2^53 - 1

# XEP-0124 §17.2 terminal binding conditions, and the HTTP status a pre-1.6 client gets (§17.1).
CONDITIONS: Mapping[str, int] = {
    "bad-request": 400,
    "host-gone": 404,
    "host-unknown": 404,
    "improper-addressing": 400,
    "internal-server-error": 500,
    "item-not-found": 404,
    "other-request": 403,
    "policy-violation": 403,
    "remote-connection-failed": 503,
    "remote-stream-error": 403,
    "see-other-uri": 403,
    "system-shutdown": 503,
    "undefined-condition": 403,
}


class BoshError(Exception):
    """A terminal binding condition (XEP-0124 §17.2) to answer with."""

    def __init__(self, condition: str, text: str = "") -> None:
        if condition not in CONDITIONS:
            raise ValueError(f"unknown BOSH condition {condition!r}")
        super().__init__(text or condition)
        self.condition = condition


@dataclass(frozen=True, slots=True)
class BoshRequest:
    """One request `<body/>`: its attributes (namespaced ones as `{uri}name`) and children."""

    rid: int
    attrs: dict[str, str]
    children: list[ET.Element] = field(default_factory=list)

    @property
    def sid(self) -> str | None:
        return self.attrs.get("sid")

    @property
    def terminate(self) -> bool:
        return self.attrs.get("type") == "terminate"

    @property
    def restart(self) -> bool:
        return self.attrs.get(_RESTART, "").lower() in ("true", "1")

    @property
    def lang(self) -> str | None:
        return self.attrs.get(_LANG)

    def number(self, name: str, default: int) -> int:
        """A non-negative integer attribute (`wait`, `hold`), `default` when absent."""
        value = self.attrs.get(name)
        if value is None:
            return default
        if not value.isdecimal() or len(value) > 9:
            raise BoshError("bad-request", f"The {name} attribute must be a non-negative integer.")
        return int(value)

    def frames(self) -> list[bytes]:
        """The children as RFC 7395 frames (one each), namespaces declared; a child the client
        left in the httpbind namespace (no `xmlns`) is taken as `jabber:client`."""
        out = []
        for child in self.children:
            if child.tag.startswith(_HTTPBIND_PREFIX):
                _to_client(child)
            out.append(serialize(child, None))
        return out


def _to_client(el: ET.Element) -> None:
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag.startswith(_HTTPBIND_PREFIX):
            node.tag = _CLIENT_PREFIX + node.tag[len(_HTTPBIND_PREFIX) :]


def parse_body(data: bytes, max_bytes: int) -> BoshRequest:
    """Parse one HTTP request entity; `BoshError('bad-request')` unless it is a well-formed,
    restricted-XML `<body xmlns='http://jabber.org/protocol/httpbind' rid=…>`."""
    if not data.strip():
        raise BoshError("bad-request", "The request has no <body/>.")
    reader = StreamReader("websocket", max_stanza_bytes=max(max_bytes, 1024))
    try:
        events = reader.feed(data)
    except StreamError as exc:
        raise BoshError("bad-request", exc.text or exc.condition) from None
    if len(events) != 1 or not isinstance(events[0], TopElement) or events[0].element.tag != BODY_TAG:
        raise BoshError("bad-request", "The request must be one <body/> in the httpbind namespace.")
    body = events[0].element
    rid_text = body.get("rid", "")
    if not rid_text.isdecimal() or len(rid_text) > 16 or not 0 < int(rid_text) <= _MAX_RID:
        raise BoshError("bad-request", "The rid attribute must be a positive integer.")
    return BoshRequest(int(rid_text), dict(body.attrib), list(body))


def open_frame(domain: str, lang: str | None) -> bytes:
    """The RFC 7395 `<open/>` a BOSH session creation or restart stands for (XEP-0206 §5, §6)."""
    lang_attr = f" xml:lang='{escape_attr(lang)}'" if lang else ""
    return f"<open xmlns='{ns.FRAMING}' to='{escape_attr(domain)}' version='1.0'{lang_attr}/>".encode()


def close_frame() -> bytes:
    """The RFC 7395 `<close/>` a client's `type='terminate'` stands for (XEP-0206 §8)."""
    return f"<close xmlns='{ns.FRAMING}'/>".encode()


def classify_output(chunks: Iterable[bytes]) -> tuple[list[bytes], bytes | None, bool]:
    """Split a WebSocket-framed stream's output into (payload, stream error, closed): `<open/>`
    is dropped (the body attributes replace it), `<close/>` ends the session, `<stream:error>`
    is kept apart for the terminate body."""
    payload: list[bytes] = []
    error: bytes | None = None
    closed = False
    for chunk in chunks:
        if chunk.startswith(b"<open "):
            continue
        if chunk.startswith(b"<close "):
            closed = True
        elif chunk.startswith(b"<stream:error"):
            error = chunk
        else:
            payload.append(chunk)
    return payload, error, closed


_BODY_OPEN = f"<body xmlns='{ns.HTTPBIND}'"
_DECLS = f" xmlns:xmpp='{ns.XBOSH}' xmlns:stream='{ns.STREAMS}'"


def render_body(attrs: Mapping[str, str] | None = None, payload: Sequence[bytes] = ()) -> bytes:
    """A response `<body/>` with `attrs` (names may use the `xmpp:` prefix) around `payload`."""
    attrs = attrs or {}
    head = _BODY_OPEN + "".join(f" {k}='{escape_attr(v)}'" for k, v in attrs.items())
    if not payload:
        decls = _DECLS if any(k.startswith("xmpp:") for k in attrs) else ""
        return (head + decls + "/>").encode()
    return b"".join([(head + _DECLS + ">").encode(), *payload, b"</body>"])


def render_terminate(condition: str | None = None, payload: Sequence[bytes] = ()) -> bytes:
    """`<body type='terminate'/>`, with a terminal `condition` (XEP-0124 §17.2) if given."""
    attrs = {"type": "terminate"}
    if condition is not None:
        attrs["condition"] = condition
    return render_body(attrs, payload)


def legacy_status(condition: str) -> int:
    """The HTTP status XEP-0124 §17.1 gives a condition for clients that sent no `ver`."""
    return CONDITIONS.get(condition, 403)
