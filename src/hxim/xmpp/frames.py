"""What a client-to-server stream writes besides stanzas: its id, its header and features, SASL
elements, stream errors and its close (RFC 6120 §4.7, §4.9, §5–§7; RFC 7395 §3.3 for WebSocket
framing). Pure functions, bytes out.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from hxim.xmpp import namespaces as ns
from hxim.xmpp import sasl
from hxim.xmpp.errors import StreamError
from hxim.xmpp.reader import Framing
from hxim.xmpp.stanza import escape_attr, escape_text

__all__ = ["render_close", "render_features", "render_header", "render_stream_error", "sasl_element", "stream_id"]

_RANDOM = bytearray()  # unused bytes of the OS's CSPRNG, read 4 KiB at a time
os.register_at_fork(after_in_child=_RANDOM.clear)  # a child never hands out its parent's ids


def stream_id() -> str:
    """A new stream id: 16 URL-safe characters from 12 random bytes (RFC 6120 §4.7.3 asks for
    unique and unpredictable ids). The bytes come from `os.urandom` in blocks, which spares a
    login two system calls."""
    if len(_RANDOM) < 12:
        _RANDOM.extend(os.urandom(4096))
    chunk = bytes(_RANDOM[-12:])
    del _RANDOM[-12:]
    return base64.urlsafe_b64encode(chunk).decode("ascii")

_STREAM_DECL = f"xmlns:stream='{ns.STREAMS}'"
_XML_DECL = b"<?xml version='1.0'?>"


def sasl_element(name: str, data: bytes | None = None) -> bytes:
    if data is None:
        return f"<{name} xmlns='{ns.SASL}'/>".encode()
    return f"<{name} xmlns='{ns.SASL}'>{sasl.b64encode(data)}</{name}>".encode()


def render_stream_error(error: StreamError, framing: Framing = "tcp") -> bytes:
    """`<stream:error>` for `error` (RFC 6120 §4.9): the condition, the `<text>`, then any
    application condition, each child carrying its own namespace (the Web IM SDK stops reading at
    the first child without `xmlns='urn:ietf:params:xml:ns:xmpp-streams'`, webim-xmpp.md §3.8).
    Over WebSocket the `stream` prefix is declared on the element itself (RFC 7395 §3.3.3)."""
    cond = f"<{error.condition} xmlns='{ns.STREAM_ERRORS}'/>"
    text = f"<text xmlns='{ns.STREAM_ERRORS}'>{escape_text(error.text)}</text>" if error.text else ""
    app = f"<{error.app_condition} xmlns='{error.app_ns}'/>" if error.app_condition and error.app_ns else ""
    decl = f" {_STREAM_DECL}" if framing == "websocket" else ""
    return f"<stream:error{decl}>{cond}{text}{app}</stream:error>".encode()


def render_close(framing: Framing = "tcp") -> bytes:
    """The end of our side of the stream: `</stream:stream>` or RFC 7395's `<close/>`."""
    return f"<close xmlns='{ns.FRAMING}'/>".encode() if framing == "websocket" else b"</stream:stream>"


def render_header(framing: Framing, domain: str, ident: str, lang: str) -> bytes:
    """The server's stream header: `<stream:stream>` with its XML declaration, or RFC 7395's `<open/>`."""
    common = f"from='{escape_attr(domain)}' id='{ident}' version='1.0' xml:lang='{escape_attr(lang)}'"
    if framing == "websocket":
        return f"<open xmlns='{ns.FRAMING}' {common}/>".encode()
    return _XML_DECL + f"<stream:stream xmlns='{ns.CLIENT}' {_STREAM_DECL} {common}>".encode()


def render_features(framing: Framing, parts: Sequence[str]) -> bytes:
    """`<stream:features>` holding `parts` (each a serialised feature element)."""
    decl = f" {_STREAM_DECL}" if framing == "websocket" else ""
    return f"<stream:features{decl}>{''.join(parts)}</stream:features>".encode()
