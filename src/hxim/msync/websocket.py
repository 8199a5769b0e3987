"""The msync WebSocket at `/websocket` on the HTTP port (the path the SDK builds from a DNS
answer): one binary message per frame each way, no subprotocol. An idle connection is closed
after `msync_idle_timeout_seconds` (the SDK sends UNREAD every 30 s when nothing else moves).
"""

from __future__ import annotations

from starlette.websockets import WebSocket

from hxim.http.wsio import WsTransport, receive_loop
from hxim.msync.session import MsyncSession

__all__ = ["msync_websocket"]


async def msync_websocket(ws: WebSocket) -> None:
    ctx = ws.app.state.msync
    if not ctx.settings.msync_enabled:
        await ws.close(1008)
        return
    await ws.accept()
    client = ws.client
    transport = WsTransport(ws, binary=True)
    session = MsyncSession(ctx, transport, peer=f"{client.host}:{client.port}" if client else "")
    session.start()
    await receive_loop(ws, transport, session, ctx.settings.msync_idle_timeout_seconds)
