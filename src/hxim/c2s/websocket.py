"""XMPP over WebSocket (RFC 7395) at `/ws/` on the HTTP port: subprotocol `xmpp`, one text
message per feed and one message per item the session writes (webim-xmpp.md §3.1). TLS comes
from the HTTP listener (wss), so no STARTTLS here; WebSocket pings keep idle browsers alive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from starlette.websockets import WebSocket, WebSocketDisconnect

from hxim.c2s.session import C2SSession

__all__ = ["WsTransport", "xmpp_websocket"]

log = logging.getLogger("hxim.c2s")


class WsTransport:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.closed = False

    async def write(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            await self.ws.send_text(chunk.decode("utf-8"))

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:  # pragma: no cover
        # the stream never asks over WebSocket
        raise RuntimeError("no STARTTLS over WebSocket")

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self.ws.close(1000)
            except Exception:
                pass


async def xmpp_websocket(ws: WebSocket) -> None:
    node = ws.app.state.node
    ctx = node.c2s
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
        mechanisms=ctx.settings.xmpp_ws_mechanisms,
        secure=ws.url.scheme == "wss",
        peer=f"{client.host}:{client.port}" if client else "",
    )
    session.start()
    idle = ctx.settings.xmpp_ws_idle_timeout_seconds or None
    try:
        while not session.finished:
            try:
                message = await asyncio.wait_for(ws.receive(), idle)
            except TimeoutError:
                session.close("connection-timeout")
                break
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
        await session.connection_lost()
