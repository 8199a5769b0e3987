"""The HTTP connection: uvicorn's httptools protocol with a deadline for each request's head,
and its WebSocket protocol with a last word before a message that is too big is refused.

uvicorn closes a kept-alive connection that stays silent between requests
(`timeout_keep_alive`), but waits for ever for a request that has not finished its head: a
connection that sends nothing after opening, or that sends its request line and headers a byte
at a time (slowloris), holds its socket and its memory as long as its peer likes. Here a request
line and headers must be complete within `http_header_timeout_seconds` of the connection opening,
or of the request's first byte on a kept-alive connection; past that the connection is closed.
Bodies are the request pipeline's (`pipeline.read_json`, `http_body_timeout_seconds`).

A WebSocket message larger than uvicorn's `ws_max_size` is refused by the WebSocket library
before the application sees it: close code 1009, and nothing else. A protocol that frames its own
errors (XMPP over WebSocket ends with a `policy-violation` stream error, RFC 7395 §3.6) gives, per
path, the text messages to send before that close frame (`with_oversize_notice`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode

__all__ = ["with_head_timeout", "with_oversize_notice"]


class _HeadTimeoutProtocol(HttpToolsProtocol):
    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_expired(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def with_head_timeout(seconds: float) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (`Config(http=…)`): heads must be complete in `seconds`."""
    return type("HttpProtocol", (_HeadTimeoutProtocol,), {"head_timeout": seconds})


class _OversizeNoticeProtocol(WebSocketsSansIOProtocol):
    notices: dict[str, bytes] = {}  # noqa: RUF012  (path → frames to send before a 1009 close)

    def handle_parser_exception(self) -> None:
        if isinstance(self.conn.parser_exc, PayloadTooBig) and self.handshake_complete:
            path = self.scope["path"]
            frames = self.notices.get(path, b"")
            if frames:  # written ahead of the close frame the library has queued
                self.transport.write(frames)
        super().handle_parser_exception()


def with_oversize_notice(notices: dict[str, list[bytes]]) -> type[WebSocketsSansIOProtocol]:
    """The WebSocket protocol class to give uvicorn (`Config(ws=…)`): on a path that is a key
    of `notices`, a message over `ws_max_size` is answered with those text messages, then the
    1009 close."""
    framed = {
        path: b"".join(Frame(Opcode.TEXT, m).serialize(mask=False) for m in messages)
        for path, messages in notices.items()
    }
    return type("WebSocketProtocol", (_OversizeNoticeProtocol,), {"notices": framed})
