"""XMPP over WebSocket (RFC 7395) at `/ws/` on the HTTP port: subprotocol `xmpp`, one text
message per feed and one message per item the session writes (webim-xmpp.md §3.1). TLS comes
from the HTTP listener (wss), so no STARTTLS here; WebSocket pings keep idle browsers alive.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from starlette.websockets import WebSocket, WebSocketDisconnect

from hxim.c2s.session import C2SSession
from hxim.xmpp.errors import StreamError
from hxim.xmpp.frames import render_close, render_stream_error

__all__ = ["OVERSIZE_NOTICE", "WsTransport", "xmpp_websocket"]

log = logging.getLogger("hxim.c2s")

# What a client reads before the 1009 close when it sends a message larger than the WebSocket
# limit (the stanza limit and room for framing): the end of the stream, as for a stanza too big.
OVERSIZE_NOTICE = [
    render_stream_error(StreamError("policy-violation", "That message is larger than this server takes."), "websocket"),
    render_close("websocket"),
]


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



async def receive_loop(ws: WebSocket, transport: WsTransport, session: C2SSession, idle_seconds: float) -> None:
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


async def xmpp_websocket(ws: WebSocket) -> None:
    ctx = ws.app.state.c2s
    if not ctx.settings.xmpp_enabled or "xmpp" not in ws.scope.get("subprotocols", []):
        await ws.close(1002)
        return
    await ws.accept(subprotocol="xmpp")
    client = ws.client
    transport = WsTransport(ws)
    session = C2SSession(
        ctx,
        transport,
        framing="websocket",
        device="xmpp-websocket",
        mechanisms=ctx.settings.xmpp_ws_mechanisms,
        secure=ws.url.scheme == "wss",
        peer=f"{client.host}:{client.port}" if client else "",
    )
    transport.resume = session.resume_writing
    session.start()
    await receive_loop(ws, transport, session, ctx.settings.xmpp_ws_idle_timeout_seconds)
