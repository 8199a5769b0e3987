"""XMPP over WebSocket (RFC 7395) at `/ws/` on the HTTP port: subprotocol `xmpp`, one text
message per feed and one message per item the session writes (webim-xmpp.md §3.1). TLS comes
from the HTTP listener (wss), so no STARTTLS here; WebSocket pings keep idle browsers alive.
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket

from hxim.c2s.session import C2SSession
from hxim.http.wsio import WsTransport, receive_loop
from hxim.xmpp.errors import StreamError
from hxim.xmpp.frames import render_close, render_stream_error

__all__ = ["OVERSIZE_NOTICE", "xmpp_websocket"]

log = logging.getLogger("hxim.c2s")

# What a client reads before the 1009 close when it sends a message larger than the WebSocket
# limit (the stanza limit and room for framing): the end of the stream, as for a stanza too big.
OVERSIZE_NOTICE = [
    render_stream_error(StreamError("policy-violation", "That message is larger than this server takes."), "websocket"),
    render_close("websocket"),
]


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
