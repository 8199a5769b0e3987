"""The msync WebSocket at `/websocket` on the HTTP port (the path the SDK builds from a DNS
answer), served without ASGI: one binary message per frame each way, no subprotocol.

The HTTP server's WebSocket protocol (`http/protocol.py`) accepts the handshake for
`/websocket` itself and attaches an `MsyncConnection`, the way the XMPP TCP listener serves its
connections (`c2s/listener.py`): each binary message the WebSocket library parses is handed to
the session in order by a task that exists only while there is input to process (an idle
connection has no task); what the session writes is framed and written straight to the socket
in one `transport.write`; `paused` is the socket's write-buffer flow control. Text messages end
the session (the session closes on them), as do frames the library refuses (a 1002 close) and
messages over the WebSocket limit (a 1009 close; msync has no message of its own for it). Pings,
pongs and the closing handshake are the library's. An idle connection is closed after
`msync_idle_timeout_seconds` (the SDK sends UNREAD every 30 s when nothing else moves), with one
timer per connection that re-arms itself when it fires, not one per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidState

from hxim.msync.session import MsyncSession

if TYPE_CHECKING:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    from hxim.msync.context import Msync

__all__ = ["MSYNC_PATH", "MsyncConnection"]

log = logging.getLogger("hxim.msync")

MSYNC_PATH = "/websocket"
INBOX_MAX = 16  # messages waiting for the session before reading pauses


class MsyncConnection:
    """One msync client on an accepted WebSocket: what feeds its session, and the session's
    `Transport`. `ws` is the HTTP server's protocol for the connection, which calls `received`,
    `pause_writing`, `resume_writing` and `lost`."""

    def __init__(self, ctx: Msync, ws: WebSocketsSansIOProtocol, peer: str) -> None:
        self.ws = ws
        self.conn = ws.conn  # the websockets sans-I/O connection: frames in and out
        self.transport = ws.transport
        self.loop = loop = ws.loop
        self.paused = False  # the peer does not keep up with our writes
        self.last_read = loop.time()
        self._inbox: deque[bytes | str] = deque()
        self._task: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._lost = False
        self._idle = ctx.settings.msync_idle_timeout_seconds
        self._watchdog = loop.call_later(self._idle, self._watch) if self._idle else None
        self.session = MsyncSession(ctx, self, peer=peer)
        self.session.start()

    # --- from the WebSocket protocol ----------------------------------------------------------
    def received(self, data: Any) -> None:
        """One whole message: `bytes` (or another bytes-like) for binary, `str` for text."""
        self.last_read = self.loop.time()
        if self._task is None:
            self._task = self.loop.create_task(self._consume(data))
            return
        self._inbox.append(data)
        if len(self._inbox) >= INBOX_MAX and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def lost(self) -> None:
        self._lost = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._task is None:
            self.session.connection_lost()  # else the task does it once the input is processed

    async def _consume(self, data: Any) -> None:
        session = self.session
        inbox = self._inbox
        try:
            while True:
                await session.received(data)
                if not inbox or session.finished:
                    break
                data = inbox.popleft()
                if self._reading_paused and not self._lost:
                    self._reading_paused = False
                    self.transport.resume_reading()
        except asyncio.CancelledError:
            session.close()
            raise
        except Exception:
            log.exception("msync: connection handler failed")
            session.close("internal-server-error")
        finally:
            self._task = None
            inbox.clear()
            if self._reading_paused and not self._lost:
                self._reading_paused = False
                self.transport.resume_reading()
            if self._lost:
                session.connection_lost()

    def _watch(self) -> None:
        quiet = self.loop.time() - self.last_read
        if quiet >= self._idle:
            self._watchdog = None
            self.session.close("connection-timeout")
        else:
            self._watchdog = self.loop.call_later(self._idle - quiet, self._watch)

    # --- the session's Transport --------------------------------------------------------------
    def write(self, frames: list[bytes]) -> None:
        ws = self.ws
        if ws.close_sent or self.transport.is_closing():
            raise ConnectionError("the WebSocket is closing")  # the session keeps what it can
        conn = self.conn
        for frame in frames:
            conn.send_binary(frame)  # InvalidState once the peer's close has arrived
        self.transport.write(b"".join(conn.data_to_send()))

    def close(self) -> None:
        """A normal close (1000); the peer's answer, or `close_timeout`, ends the connection."""
        ws = self.ws
        transport = self.transport
        if ws.close_sent or transport.is_closing():
            return
        ws.close_sent = True
        try:
            self.conn.send_close(1000)
        except InvalidState:  # the peer closed first: the library answered it
            transport.close()
            return
        transport.write(b"".join(self.conn.data_to_send()))
        if self._reading_paused:  # read on, for the peer's close frame
            self._reading_paused = False
            transport.resume_reading()
        ws.close_timer = self.loop.call_later(ws.close_timeout, transport.close)
