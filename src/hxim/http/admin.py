"""The admin console's door (/admin, docs/admin.md): who may reach it, logging in and out, the
page and its static files, and the checks every console call passes.

The console is one page (`admin_static/index.html` with `admin.js` and `admin.css`, no build
step, nothing from another site) that calls JSON endpoints under `/admin/api/` (`admin_api.py`).
Every request is refused with 403 unless its client address is in `admin_allow_from`. A login
sets a session cookie (HttpOnly, SameSite=Strict, path /admin, signed by `AdminService`); every
call that changes something must also carry the session's CSRF token in the `X-CSRF-Token`
header, which a page of another site can neither read nor send. Every change is logged under
`hxim.admin` with the administrator's name.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hxim import errors
from hxim.app import Node
from hxim.json_input import JsonRejected, loads
from hxim.model import App
from hxim.services.admins import AdminSession, LoginRefused

__all__ = ["Console", "action", "routes"]

COOKIE = "hxim_admin"
STATIC = Path(__file__).resolve().parent / "admin_static"
STATIC_FILES = {"admin.js": "text/javascript", "admin.css": "text/css"}
BODY_MAX = 64 * 1024  # the console's own JSON bodies are small (a message: `message_max_body_bytes`)
# The page loads only its own files; nobody may frame it.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

log = logging.getLogger("hxim.admin")


class Refusal(Exception):
    """A console call refused, with its status and plain words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Console:
    """One call of a logged-in administrator: the request, the node, who they are."""

    request: Request
    node: Node
    admin: AdminSession

    def arg(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    async def body(self, limit: int = BODY_MAX) -> dict[str, Any]:
        return await _json_object(self.request, limit)

    async def app(self) -> App:
        """The app the path names (`{org}`, `{app}`)."""
        found = await self.node.apps.find(self.arg("org"), self.arg("app"))
        if found is None:
            raise Refusal(404, f"no app {self.arg('org')}#{self.arg('app')}")
        return found

    def did(self, what: str) -> None:
        """Log a change this administrator made."""
        log.info("admin %s %s (from %s)", self.admin.name, what, _address(self.request))


Action = Callable[[Console], Awaitable[Any]]


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _allowed(request: Request, node: Node) -> bool:
    try:
        address = ipaddress.ip_address(_address(request))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in node.settings.admin_allow_from)


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status, headers=HEADERS)


def _refused(status: int, message: str) -> JSONResponse:
    return _json({"error": message}, status)


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Refusal(415, "send the body as application/json")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refusal(413, f"the body is larger than {limit} bytes")
    try:
        value = loads(raw, request.app.state.node.settings.json_max_depth)
    except JsonRejected as exc:
        raise Refusal(400, exc.description) from None
    if not isinstance(value, dict):
        raise Refusal(400, "the body must be a JSON object")
    return value


def _guarded(
    handler: Callable[[Request, Node], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Refuse addresses outside `admin_allow_from`; render refusals as the console's JSON."""

    async def endpoint(request: Request) -> Response:
        node: Node = request.app.state.node
        if not _allowed(request, node):
            log.warning("admin console refused to %s: not in admin_allow_from", _address(request))
            return PlainTextResponse(
                "The admin console is not open to your address (setting admin_allow_from, docs/admin.md).\n",
                403, headers=HEADERS,
            )
        try:
            return await handler(request, node)
        except Refusal as exc:
            return _refused(exc.status, str(exc))
        except errors.HximError as exc:
            return _json({"error": exc.description, "code": exc.error}, exc.status)

    endpoint.__name__ = endpoint.__qualname__ = handler.__name__
    return endpoint


async def _session(request: Request, node: Node) -> AdminSession | None:
    cookie = request.cookies.get(COOKIE)
    return await node.admins.session(cookie) if cookie else None


def action(method: str, path: str, fn: Action) -> Route:
    """The console call `fn` at `/admin/api{path}`: a logged-in administrator, and for anything
    but GET the session's CSRF token in `X-CSRF-Token`."""

    async def handler(request: Request, node: Node) -> Response:
        session = await _session(request, node)
        if session is None:
            raise Refusal(401, "log in first")
        if method != "GET" and request.headers.get("x-csrf-token") != session.csrf:
            log.warning("admin console: %s %s without the CSRF token refused", method, request.url.path)
            raise Refusal(403, "the request lacks the session's CSRF token (X-CSRF-Token)")
        result = await fn(Console(request, node, session))
        return result if isinstance(result, Response) else _json(result)

    handler.__name__ = fn.__name__
    return Route(f"/admin/api{path}", _guarded(handler), methods=[method])


# --- the door ----------------------------------------------------------------------------------


async def page(request: Request, node: Node) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


async def static(request: Request, node: Node) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_FILES:
        raise Refusal(404, f"no file {name}")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers=HEADERS)


async def state(request: Request, node: Node) -> Response:
    """What the page shows first: the login form, how to add an administrator, or the console."""
    session = await _session(request, node)
    if session is not None:
        return _json({"configured": True, "name": session.name, "csrf": session.csrf})
    return _json({"configured": await node.admins.configured()})


async def login(request: Request, node: Node) -> Response:
    # A JSON body: a form of another site cannot send one without asking first (CORS), which fails.
    body = await _json_object(request, BODY_MAX)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise Refusal(400, "name and password are required")
    address = _address(request)
    try:
        session = await node.admins.log_in(name, password, address)
    except LoginRefused as exc:
        log.warning("admin console: login of %r from %s refused: %s", name, address, exc)
        response = _refused(429 if exc.wait else 401, str(exc))
        if exc.wait:
            response.headers["Retry-After"] = str(exc.wait)
        return response
    log.info("admin %s logged in (from %s)", name, address)
    response = _json({"name": session.name, "csrf": session.csrf})
    response.set_cookie(
        COOKIE, session.cookie, max_age=node.settings.admin_session_seconds, path="/admin",
        secure=request.url.scheme == "https", httponly=True, samesite="strict",
    )
    return response


async def logout(request: Request, node: Node) -> Response:
    session = await _session(request, node)
    if session is not None:
        if request.headers.get("x-csrf-token") != session.csrf:
            raise Refusal(403, "the request lacks the session's CSRF token (X-CSRF-Token)")
        await node.admins.log_out(session)
        log.info("admin %s logged out (from %s)", session.name, _address(request))
    response = _json({"logged_out": True})
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


def routes(actions: list[Route]) -> list[Route]:
    """The console's routes: the door's, then `actions` (admin_api.routes)."""
    return [
        Route("/admin", _guarded(page), methods=["GET"]),
        Route("/admin/", _guarded(page), methods=["GET"]),
        Route("/admin/static/{name}", _guarded(static), methods=["GET"]),
        Route("/admin/api/state", _guarded(state), methods=["GET"]),
        Route("/admin/login", _guarded(login), methods=["POST"]),
        Route("/admin/logout", _guarded(logout), methods=["POST"]),
        *actions,
    ]
