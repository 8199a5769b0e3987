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

msync (`/websocket`) does not go through ASGI: once its handshake is accepted the protocol hands
the connection to an `MsyncConnection` (`msync/connection.py`), which feeds the session what the
WebSocket library parses and writes the session's frames straight to the socket; per message
that saves the ASGI queue, Starlette's WebSocket object and a task on each side. With msync
disabled the handshake is refused (403).
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.http11 import Request

from hxim.msync.connection import MSYNC_PATH, MsyncConnection

if TYPE_CHECKING:
    from hxim.msync.context import Msync

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


class _WebSocketProtocol(WebSocketsSansIOProtocol):
    notices: dict[str, bytes] = {}  # noqa: RUF012  (path → frames to send before a 1009 close)
    msync: Msync | None = None  # serves /websocket itself when set
    link: MsyncConnection | None = None  # this connection's msync client, once accepted

    def handle_connect(self, event: Request) -> None:
        if self.msync is None or event.path.partition("?")[0] != MSYNC_PATH:
            super().handle_connect(event)
            return
        self.request = event
        self.handshake_initiated = True
        self.handshake_complete = True
        conn = self.conn
        response = conn.accept(event)
        accepted = response.status_code == 101
        if accepted and not self.msync.settings.msync_enabled:
            response, accepted = conn.reject(HTTPStatus.FORBIDDEN, ""), False
        if accepted:  # the headers uvicorn gives every response (Date, Server)
            del response.headers["Date"]
            response.headers.update(
                (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in self.default_headers
            )
        conn.send_response(response)
        self.transport.write(b"".join(conn.data_to_send()))
        if not accepted:
            self.close_sent = True
            self.transport.close()
            return
        self.start_keepalive()
        client = self.client
        self.link = MsyncConnection(self.msync, self, f"{client[0]}:{client[1]}" if client else "")

    def handle_bytes(self, event: Frame) -> None:
        link = self.link
        if link is None or not event.fin:
            super().handle_bytes(event)
        elif not self.close_sent:
            link.received(event.data)

    def send_receive_event_to_app(self) -> None:
        link = self.link
        if link is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if not self.close_sent:
            link.received(data if self.curr_msg_data_type == "bytes" else bytes(data).decode("utf-8", "replace"))

    def handle_parser_exception(self) -> None:
        if self.link is None and isinstance(self.conn.parser_exc, PayloadTooBig) and self.handshake_complete:
            path = self.scope["path"]
            frames = self.notices.get(path, b"")
            if frames:  # written ahead of the close frame the library has queued
                self.transport.write(frames)
        super().handle_parser_exception()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.link is not None:
            self.link.pause_writing()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.link is not None:
            self.link.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.link is not None:
            self.link.lost()


def with_oversize_notice(
    notices: dict[str, list[bytes]], msync: Msync | None = None
) -> type[WebSocketsSansIOProtocol]:
    """The WebSocket protocol class to give uvicorn (`Config(ws=…)`): on a path that is a key
    of `notices`, a message over `ws_max_size` is answered with those text messages, then the
    1009 close; with `msync`, `/websocket` is served by msync sessions without ASGI."""
    framed = {
        path: b"".join(Frame(Opcode.TEXT, m).serialize(mask=False) for m in messages)
        for path, messages in notices.items()
    }
    return type("WebSocketProtocol", (_WebSocketProtocol,), {"notices": framed, "msync": msync})
