"""The HTTP application: every surface's routes, error handlers and one lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

from hxim import errors
from hxim.app import Node
from hxim.c2s import C2S
from hxim.c2s.bosh import BoshManager
from hxim.c2s.websocket import xmpp_websocket
from hxim.http import (
    admin,
    admin_api,
    broadcasts,
    callbacks,
    collections,
    contacts,
    dns,
    easemob,
    easemob_app_users,
    groups,
    health,
    history,
    message_import,
    messages,
    metrics,
    moderation,
    mutes,
    openapi,
    presence,
    push,
    reactions,
    room_extras,
    sdk,
    stream_messages,
    threads,
    user_metadata,
    value_added,
)
from hxim.http.access_log import AccessLog
from hxim.http.apidoc import doc, secure
from hxim.http.pipeline import Endpoint
from hxim.http.render import error_response, json_response
from hxim.msync.context import Msync
from hxim.seeds import gateway
from hxim.seeds.app_api.routes import routes as app_api_routes
from hxim.seeds.local import build_easemob_apis

__all__ = ["REST_MODULES", "build_http_app"]

# The modules of the Easemob REST surface, each with its `routes` (in this order: within one
# collection, an earlier route wins).
REST_MODULES = (
    groups, room_extras, threads, easemob, messages, history, easemob_app_users, contacts, user_metadata, presence,
    mutes, collections, broadcasts, stream_messages, message_import, reactions, moderation, value_added, sdk,
    callbacks, push,
)

log = logging.getLogger("hxim.http")
APP_API_PREFIX = "/api/v2/"
UNMATCHED = "(unmatched)"  # the route label of requests for a path no route serves


def route_templates(routes: list[BaseRoute]) -> dict[Endpoint, str]:
    """The route template of each endpoint of the REST faces, as the request pipeline labels their
    requests (`/metrics`). An endpoint serving two templates could not tell them apart: refused."""
    found: dict[Endpoint, str] = {}
    for route in routes:
        if isinstance(route, Route):
            known = found.setdefault(route.endpoint, route.path)
            if known != route.path:
                raise ValueError(
                    f"endpoint {route.endpoint.__name__} serves both {known} and {route.path}: give each route "
                    "its own endpoint, so that its requests are counted under its own template"
                )
    return found


class CollectionRouter(Router):
    """A Router that looks only at the routes of the request's collection.

    Easemob paths are `/{org}/{app}/{collection}/…`; with some sixty routes, trying each
    pattern in turn costs more than the rest of a cheap request. Routes are grouped by their
    collection segment (`users`, `chatgroups`, …) and a request is matched against its group
    only; anything else, and every path whose first segment is one of `own` (the admin
    console's `/admin/…`), falls through to the full list.
    """

    def __init__(self, routes: list[BaseRoute], own: frozenset[str] = frozenset(), **kwargs: object) -> None:
        super().__init__(routes=routes, **kwargs)  # type: ignore[arg-type]
        self.own = own
        groups: dict[str, list[BaseRoute]] = {}
        for route in routes:
            parts = route.path.split("/") if isinstance(route, Route) else []
            if len(parts) > 3 and parts[1:3] == ["{org}", "{app}"] and "{" not in parts[3]:
                groups.setdefault(parts[3], []).append(route)
        self.collections = {name: Router(routes=group, redirect_slashes=False) for name, group in groups.items()}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            parts = scope["path"].split("/", 4)
            sub = self.collections.get(parts[3]) if len(parts) > 3 and parts[1] not in self.own else None
            if sub is not None:
                await sub.app(scope, receive, send)
                return
        await super().app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    started = time.perf_counter()
    if request.url.path.startswith(APP_API_PREFIX):  # the app API's own refusal: {"message"}
        words = {404: f"no API at {request.url.path}", 405: "this method is not allowed here"}
        return json_response({"message": words.get(exc.status_code, str(exc.detail))}, exc.status_code)
    if exc.status_code == 405:
        err = errors.web_application(
            405, "HTTP 405 Method Not Allowed", "javax.ws.rs.NotAllowedException"
        )
    elif exc.status_code == 404:
        # a path no route names: counted under one label, never under its own path
        request.app.state.node.counters.request(UNMATCHED, request.method, 404, time.perf_counter() - started)
        err = errors.web_application(
            404, f"HTTP 404 Not Found: no API at {request.url.path}", "javax.ws.rs.NotFoundException"
        )
    else:
        err = errors.web_application(exc.status_code, str(exc.detail), "javax.ws.rs.WebApplicationException")
    return error_response(err, started)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    request.app.state.node.counters.errors["http"] += 1
    err = errors.HximError(
        500, "internal_server_error", "the server failed to handle this request; it has been logged", None
    )
    return error_response(err, time.perf_counter())


def build_http_app(node: Node, c2s: C2S, msync: Msync) -> Starlette:
    """The HTTP application of a node: the REST faces, XMPP over WebSocket and BOSH for `c2s`, and
    msync (Easemob's Web SDK 4.x) for `msync` with the SDK's DNS answer."""
    # The seed APIs reach Easemob through one EasemobApi each: this node, or a remote in upstream mode.
    hx_api, app_api_easemob = build_easemob_apis(node)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.join_cluster()  # (done already when the server joined before listening)
        await node.open_native()  # PostgreSQL: the asyncpg pool on this loop, for the hot statements
        node.start_jobs()
        yield
        await node.stop_jobs()
        await node.leave_cluster()
        await node.close_native()  # (what runs on it ends first; later statements take the sync path)
        await hx_api.aclose()
        await app_api_easemob.aclose()

    app = Starlette(
        exception_handlers={HTTPException: _http_error, Exception: _crash},
        lifespan=lifespan,
    )
    xmpp_ws = [WebSocketRoute("/ws/", xmpp_websocket), WebSocketRoute("/ws", xmpp_websocket)]  # RFC 7395
    msync_ws = dns.routes  # /websocket itself is served by the WebSocket protocol (http/protocol.py)
    bosh = BoshManager(c2s)  # XEP-0206, with or without the slash (webim-xmpp.md §1.6)

    @doc(
        "XMPP over BOSH (XEP-0124, XEP-0206)",
        tag="XMPP over HTTP",
        description="POST a BOSH `<body/>` (XML); the answer is a `<body/>` too. GET answers a line of text, "
        "OPTIONS the CORS headers. The XMPP session's login is its own (SASL), not an HTTP security scheme.",
        body={"type": "string", "description": "a BOSH <body/> element"},
        body_type="text/xml",
        ok={"type": "string"},
        ok_type="text/xml",
    )
    async def bosh_endpoint(request: Request) -> Response:
        return await bosh.endpoint(request)

    secure(bosh_endpoint)
    bosh_routes = [Route(p, bosh_endpoint, methods=["GET", "POST", "OPTIONS"]) for p in ("/http-bind/", "/http-bind")]
    seeds = [*gateway.routes, *app_api_routes]  # first: /hx/… and /api/v2/… fall through to the full list
    operating = [*health.routes, *metrics.routes]  # /health, /ready, /metrics (docs/operating.md)
    rest = [*seeds, *(route for module in REST_MODULES for route in module.routes)]  # the request pipeline's
    # the admin console's paths come before the REST routes, whose /{org}/{app}/… would take them
    console = admin.routes(admin_api.routes) if node.settings.admin_enabled else []
    app.router = CollectionRouter(
        [*operating, *console, *rest, *xmpp_ws, *bosh_routes, *msync_ws, *openapi.routes],
        own=frozenset({"admin"}) if console else frozenset(),
        lifespan=lifespan,
        redirect_slashes=False,  # a path that does not name a route is a 404, never a redirect elsewhere
    )
    # browsers call the REST API from any page, without credentials (webim-xmpp.md §1.5, §1.6)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=[
            "Authorization", "Content-Type", "restrict-access", "share-secret", "X-Requested-With", "Accept"
        ],
    )
    if node.settings.access_log:  # one line per request; without it, no middleware at all
        app.add_middleware(AccessLog)
    app.state.node = node
    app.state.route_templates = route_templates(rest)
    app.state.metrics = metrics.Exposition(node)
    app.state.c2s = c2s
    app.state.msync = msync
    app.state.bosh = bosh
    app.state.hx_easemob = hx_api
    app.state.app_api_easemob = app_api_easemob
    return app
