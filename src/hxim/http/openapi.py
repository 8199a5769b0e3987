"""The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`) and its browsable viewer (`GET /docs`).

The document is generated from the application's Starlette routes: the paths and methods are the
routes' own, and each operation is what its endpoint declares (`http/apidoc.py`: the `Doc` of
`@doc`, the security its face's wrapper enforces). A route whose endpoint declares nothing is left
out of the document and named by `undescribed`, which the tests check is empty. The document is
built once, at its first request, and kept.

The viewer is Swagger UI, vendored under `http/static/swagger-ui/` (its license beside it) and served
from the package: no page here loads anything from another site.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import orjson
from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

import hxim
from hxim.http import apidoc
from hxim.http.apidoc import (
    ANY,
    DOC_ATTR,
    EASEMOB_ERROR,
    NO_TOKEN,
    SECURITY_ATTR,
    STR,
    Doc,
    doc,
    obj,
    secure,
    usergrid,
)

__all__ = ["TAGS", "build_document", "operations", "routes", "undescribed"]

# The tags in the order the viewer shows them, with what each groups.
TAGS: dict[str, str] = {
    "Tokens": "Easemob REST: app and user tokens.",
    "Users": "Easemob REST: registering, reading, changing and deleting users; their sessions.",
    "Contacts": "Easemob REST: friends, remarks and block lists.",
    "Messages": "Easemob REST: sending, recalling and modifying messages; broadcasts, imports, streams.",
    "History": "Easemob REST: the chat history, message roaming and what a user deletes of it.",
    "Files": "Easemob REST: chat files.",
    "Groups": "Easemob REST: groups (`/chatgroups`), their members and moderation.",
    "Chat rooms": "Easemob REST: chat rooms (`/chatrooms`), their members and moderation.",
    "Room extras": "Easemob REST: announcements, shared files, member and room attributes, tags.",
    "Threads": "Easemob REST: threads of groups.",
    "User attributes": "Easemob REST: user attributes (`/metadata/user`).",
    "Presence": "Easemob REST: presence statuses and subscriptions.",
    "Reactions": "Easemob REST: message reactions.",
    "Moderation": "Easemob REST: keyword lists and the text check.",
    "Mutes": "Easemob REST: app-wide mutes of users.",
    "Collections": "Easemob REST: a user's collected messages.",
    "Push": "Easemob REST: push bindings, notification settings, templates and statistics.",
    "Callbacks": "Easemob REST: the store of failed callbacks.",
    "Value added": "Easemob REST: translation and usage.",
    "Web SDK": "The calls Easemob's Web SDK 4.x makes itself, beside the server REST API.",
    "App users": "Easemob REST: the app users of the `/api/v2` app API.",
    "hx gateway": "The `/hx` gateway (seed document 000): `POST` with the app admin token in the body's "
    "`token`; every answer is HTTP 200 with `{code, message, msg, data}`.",
    "App API": "The `/api/v2` app API (seed document 003), with an HS256 JWT from `/api/v2/auth/login`.",
    "XMPP over HTTP": "BOSH (XEP-0206), for XMPP clients that cannot open a WebSocket.",
    "Reference": "This document and its viewer.",
    "Operating": "Probes for an orchestrator or load balancer, and Prometheus metrics (docs/operating.md).",
}

# What a path parameter is, when its operation does not say.
PATH_PARAMS: dict[str, str] = {
    "org": "the organization's name",
    "app": "the app's name",
    "username": "a user's name (or UUID)",
    "owner": "the user whose list it is",
    "id": "the group's or chat room's id",
    "ids": "a group's or chat room's id, or several separated by commas",
    "usernames": "a user's name, or several separated by commas",
}

APP_API_ERROR = apidoc.component(
    "AppApiError",
    obj(
        {
            "message": apidoc.one_of(STR, apidoc.NAMES, description="what went wrong"),
            "errors": {
                "type": "object",
                "additionalProperties": apidoc.NAMES,
                "description": "422: each field's problems",
            },
        },
        required=["message"],
        description="A refusal of the app API.",
    ),
)


def _face(path: str) -> str:
    if path.startswith("/{org}/{app}/"):
        return "easemob"
    if path.startswith("/hx/"):
        return "hx"
    if path.startswith("/api/v2/"):
        return "app_api"
    return "other"


def _methods(route: Route) -> list[str]:
    return sorted((route.methods or set()) - {"HEAD"})


# The admin console's own calls: the backend of its page, changed with the page and answering only
# a console session; not an API for others to build on (docs/admin.md).
PRIVATE_PREFIXES = ("/admin",)


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Route]]:
    """Every (method, path, route) the application serves over HTTP for others to call, paths as
    OpenAPI writes them (not the admin console's own, `PRIVATE_PREFIXES`)."""
    found = []
    for route in routes:
        if isinstance(route, Route) and not route.path.startswith(PRIVATE_PREFIXES):
            for method in _methods(route):
                found.append((method, route.path_format, route))
    return found


def undescribed(routes: Iterable[BaseRoute]) -> list[str]:
    """`METHOD path` of each route whose endpoint declares no description or no security."""
    return [
        f"{method} {path}"
        for method, path, route in operations(routes)
        if not isinstance(getattr(route.endpoint, DOC_ATTR, None), Doc)
        or getattr(route.endpoint, SECURITY_ATTR, None) is None
    ]


def _param_schema(route: Route, name: str) -> dict[str, Any]:
    convertor = route.param_convertors.get(name)
    if isinstance(convertor, IntegerConvertor):
        return {"type": "integer", "minimum": 0}
    if isinstance(convertor, FloatConvertor):
        return {"type": "number", "minimum": 0}
    return {"type": "string", "minLength": 1}  # a path segment is never empty


_SEGMENT = re.compile(r"{([^}]+)}")


def _operation(method: str, path: str, route: Route, declared: Doc, op_id: str) -> dict[str, Any]:
    face = _face(path)
    security: list[dict[str, list[str]]] = getattr(route.endpoint, SECURITY_ATTR)
    parameters: list[dict[str, Any]] = []
    for name in _SEGMENT.findall(path):
        described = declared.paths.get(name) or PATH_PARAMS.get(name, "")
        entry = {"name": name, "in": "path", "required": True, "schema": _param_schema(route, name)}
        if described:
            entry["description"] = described
        parameters.append(entry)
    for p in declared.params:
        entry = {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
        if p.description:
            entry["description"] = p.description
        parameters.append(entry)

    ok = declared.ok
    if ok is None:
        ok = {"easemob": usergrid(), "hx": apidoc.hx(), "app_api": apidoc.OBJ}.get(face, ANY)
    responses: dict[str, Any] = {
        str(declared.ok_status): {"description": "success"} if declared.ok_status == 204
        else _response("success", ok, declared.ok_type)
    }
    error = {"easemob": EASEMOB_ERROR, "app_api": APP_API_ERROR}.get(face)
    if error is not None:
        for status, words in sorted(declared.errors.items()):
            responses[str(status)] = _response(words, error)
        needs_token = security and NO_TOKEN not in security
        if needs_token and "401" not in responses:
            responses["401"] = _response("no token, or one that may not make this call", error)
        responses.setdefault("4XX", _response("the request is refused", error))

    op: dict[str, Any] = {"tags": [declared.tag], "summary": declared.summary, "operationId": op_id}
    if declared.description:
        op["description"] = declared.description
    if parameters:
        op["parameters"] = parameters
    if declared.body is not None:
        types = (declared.body_type,) if isinstance(declared.body_type, str) else declared.body_type
        content = {media: {"schema": declared.body} for media in types}
        op["requestBody"] = {"required": declared.body_required, "content": content}
    op["responses"] = responses
    op["security"] = security
    return op


def _response(description: str, schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def _operation_id(method: str, path: str, taken: set[str]) -> str:
    base = method.lower() + "_" + (re.sub(r"[^A-Za-z0-9]+", "_", path.replace("/{org}/{app}", "")).strip("_") or "root")
    op_id, n = base, 2
    while op_id in taken:
        op_id, n = f"{base}_{n}", n + 1
    taken.add(op_id)
    return op_id


def build_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (the application's, in the order Starlette tries them)."""
    paths: dict[str, dict[str, Any]] = {}
    spellings: dict[str, str] = {}  # a path's shape (parameters unnamed) → the spelling the document uses
    taken: set[str] = set()
    used_tags: set[str] = set()
    for method, path, route in operations(routes):
        declared = getattr(route.endpoint, DOC_ATTR, None)
        if not isinstance(declared, Doc) or getattr(route.endpoint, SECURITY_ATTR, None) is None:
            continue
        # OpenAPI takes `/a/{x}` and `/a/{y}` for the same path: write the first route's names
        shape = _SEGMENT.sub("{}", path)
        key = spellings.setdefault(shape, path)
        op = _operation(method, path, route, declared, _operation_id(method, key, taken))
        if key != path:
            renames = dict(zip(_SEGMENT.findall(path), _SEGMENT.findall(key), strict=True))
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    p["name"] = renames[p["name"]]
        paths.setdefault(key, {})[method.lower()] = op
        used_tags.add(declared.tag)
    unknown = used_tags - set(TAGS)
    if unknown:
        raise ValueError(f"tags without a description in openapi.TAGS: {sorted(unknown)}")
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "hxim",
            "version": hxim.__version__,
            "summary": "A self-hosted IM server speaking Easemob's REST API, XMPP and msync.",
            "description": "The HTTP API of one hxim node: the Easemob REST API under `/{org}/{app}`, the `/hx` "
            "gateway and the `/api/v2` app API. Generated from the routes the server serves.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": name, "description": words} for name, words in TAGS.items() if name in used_tags],
        "paths": paths,
        "components": {"schemas": dict(apidoc.COMPONENTS), "securitySchemes": apidoc.SECURITY_SCHEMES},
    }


# --- the routes: /openapi.json, /docs and the viewer's files -----------------------------------

_VIEWER = "swagger-ui"
_ASSETS = {  # the vendored files the page loads, and their types
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hxim HTTP API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  docExpansion: "none",
  tryItOutEnabled: false
});
"""
# The page loads no inline script, so a Content-Security-Policy can forbid them.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}

DOC_PAGES = "Reference"


@doc(
    "The OpenAPI 3.1 document of this API",
    tag=DOC_PAGES,
    description="Generated from the routes this server serves, once, at the first request.",
    ok={"type": "object", "required": ["openapi", "info", "paths"]},
)
async def openapi_json(request: Request) -> Response:
    cached: bytes | None = getattr(request.app.state, "openapi_document", None)
    if cached is None:
        cached = orjson.dumps(build_document(request.app.router.routes))
        request.app.state.openapi_document = cached
    return Response(cached, media_type="application/json")


@doc("A browsable reference of this API (Swagger UI)", tag=DOC_PAGES, ok=STR, ok_type="text/html")
async def docs_page(request: Request) -> Response:
    return HTMLResponse(_PAGE, headers=_PAGE_HEADERS)


def _asset_bytes(name: str) -> bytes:
    return resources.files("hxim.http").joinpath("static", _VIEWER, name).read_bytes()


@doc(
    "A file of the viewer",
    tag=DOC_PAGES,
    description="Swagger UI's files, served from the package: " + ", ".join(["init.js", *_ASSETS]) + ".",
    paths={"name": "the file's name"},
    ok=STR,
    ok_type="*/*",
    errors={404: "no such file"},
)
async def docs_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "init.js":
        return Response(_INIT, media_type="text/javascript; charset=utf-8")
    kind = _ASSETS.get(name)
    if kind is None:
        return Response(b"no such file\n", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(
        _asset_bytes(name),
        media_type=kind,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


for _endpoint in (openapi_json, docs_page, docs_asset):
    secure(_endpoint)  # no credentials

routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs_page, methods=["GET"]),
    Route("/docs/assets/{name}", docs_asset, methods=["GET"]),
]
