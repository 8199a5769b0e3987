"""`GET /easemob/server.json?app_key=…`: the answer to the DNS request of Easemob's Web SDK 4.x
and Agora Chat (`isHttpDNS: true`): where this server's REST API and msync WebSocket are.

The SDK builds its socket URL as `ws[s]://host[:port]/websocket` from `msync-wx.hosts` and its
REST base from `rest.hosts`, keeping the hosts whose protocol matches its own (`https` option);
both are this node, as `public_url` names it, or as the request reached it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hxim.http.apidoc import INT, STR, arr, doc, obj, param, secure
from hxim.http.easemob import _base_url

__all__ = ["routes"]


_HOST = obj({"protocol": STR, "domain": STR, "port": INT}, ["protocol", "domain", "port"])


@doc(
    "Where this server's REST API and msync WebSocket are (the Web SDK 4.x's DNS request)",
    tag="Web SDK",
    params=[param("app_key", "the SDK's app key (any: every app is served here)")],
    ok=obj(
        {"rest": obj({"hosts": arr(_HOST)}, ["hosts"]), "msync-wx": obj({"hosts": arr(_HOST)}, ["hosts"]),
         "enableReportLogs": STR, "enableDataReport": STR},
        ["rest", "msync-wx"],
    ),
)
async def server_json(request: Request) -> JSONResponse:
    base = request.app.state.node.settings.public_url.rstrip("/") or _base_url(request)
    parts = urlsplit(base)
    secure = parts.scheme == "https"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if secure else 80)
    rest = {"protocol": "https" if secure else "http", "domain": host, "port": port}
    socket = {"protocol": "wss" if secure else "ws", "domain": host, "port": port}
    # both protocols are listed, as the SDK filters on its own (`https` option decides)
    return JSONResponse({
        "rest": {"hosts": [rest]},
        "msync-wx": {"hosts": [socket, {**socket, "protocol": "https" if secure else "http"}]},
        "enableReportLogs": "false",
        "enableDataReport": "false",
    })


routes = [Route("/easemob/server.json", secure(server_json), methods=["GET"])]
