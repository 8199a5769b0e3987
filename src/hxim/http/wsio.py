"""WebSocket plumbing of XMPP over WebSocket (`/ws/`, RFC 7395) through ASGI: the session's
transport, which sends in order from a task that lives while there is something to send, and the
receive loop that feeds a session what its client sends. (msync at `/websocket` does not use
ASGI: `msync/connection.py`.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["PAUSE_AT", "WsTransport", "receive_loop"]

PAUSE_AT = 64  # messages waiting to be sent before the session holds its output


class WsTransport:
    """The session's `Transport` over one WebSocket: each chunk is one text message, sent in
    order by a task that lives while there is something to send."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.closed = False
        self.resume: Callable[[], None] | None = None  # the session's resume_writing
        self._out: deque[bytes] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def paused(self) -> bool:
        return len(self._out) >= PAUSE_AT

    def write(self, chunks: Sequence[bytes]) -> None:
        if self.closed:
            raise ConnectionError("the WebSocket is closed")  # the session keeps what it can
        self._out.extend(chunks)
        self._kick()

    def _kick(self) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        out = self._out
        try:
            while out:
                was_paused = self.paused
                await self.ws.send_text(out.popleft().decode("utf-8"))
                if was_paused and not self.paused and self.resume is not None:
                    self.resume()
            if self._closing and not self.closed:
                self.closed = True
                await self.ws.close(1000)
        except Exception:
            self.closed = True
            out.clear()
        finally:
            self._sender = None

    async def drain(self) -> None:
        while self.paused and self._sender is not None:
            await asyncio.shield(self._sender)

    async def sent(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until what was written has been sent."""
        if self._sender is not None:
            await asyncio.wait({self._sender}, timeout=timeout)

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:  # pragma: no cover
        # the stream never asks over WebSocket
        raise RuntimeError("no STARTTLS over WebSocket")

    def close(self) -> None:
        if not self.closed and not self._closing:
            self._closing = True
            self._kick()



class Receiver(Protocol):
    @property
    def finished(self) -> bool: ...

    async def received(self, data: bytes | str) -> None: ...

    def close(self, reason: str | None = None) -> None: ...

    def connection_lost(self) -> None: ...


async def receive_loop(ws: WebSocket, transport: WsTransport, session: Receiver, idle_seconds: float) -> None:
    """Feed `session` each message its client sends (text as `str`, binary as `bytes`) until
    either side ends; a connection silent for `idle_seconds` (0: never) is closed
    (`connection-timeout`). At the end the session is told, and the last messages it wrote
    (a stream error, a kick) get a few seconds to go out."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    watchdog: asyncio.TimerHandle | None = None

    def watch() -> None:  # one timer per connection, not one per message
        nonlocal watchdog
        quiet = loop.time() - last
        if quiet >= idle_seconds:
            watchdog = None
            session.close("connection-timeout")  # the close ends the receive below
        else:
            watchdog = loop.call_later(idle_seconds - quiet, watch)

    if idle_seconds:
        watchdog = loop.call_later(idle_seconds, watch)
    try:
        while not session.finished:
            message = await ws.receive()
            last = loop.time()
            if message["type"] == "websocket.disconnect":
                transport.closed = True
                break
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await session.received(data)
    except (WebSocketDisconnect, RuntimeError):
        transport.closed = True
    finally:
        if watchdog is not None:
            watchdog.cancel()
        session.connection_lost()
        await transport.sent(5)
