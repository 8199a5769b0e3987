"""The request pipeline of the three REST faces: the Easemob REST API (`/{org}/{app}/…`), the `/hx`
gateway and the `/api/v2` app API.

Every request on them takes the same steps, written here once. `endpoint` starts the clock, runs
the face's entry step (its authentication scheme: a token from `bearer_token` or, on the gateway,
from the body; on the Easemob face also the app's rate limit, `check_rate`), runs the handler,
renders whatever stops the request, and counts the request for /metrics. Bodies are read with
`read_json` (`read_body` for the raw bytes): within the route's limit (`http_max_body_bytes`, or
the route's own) and decoded by `json_input.loads` (depth limit, no U+0000).

A face plugs in only what differs, as a `Face`: how it words a refused body, and how it renders a
refusal. Every face refuses with `Refused` (its status and what the face shows for it); the
Easemob face also renders the services' `HximError`s, in Easemob's error JSON.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from hxim import errors, json_input
from hxim.errors import HximError
from hxim.http.render import json_response

if TYPE_CHECKING:
    from hxim.app import Node
    from hxim.config import Settings
    from hxim.model import App

__all__ = [
    "BODY_TIMEOUT",
    "TOO_LARGE",
    "Endpoint",
    "Face",
    "Refused",
    "bearer_token",
    "caller",
    "check_rate",
    "declared_past",
    "endpoint",
    "read_body",
    "read_json",
]

TOO_LARGE = "too_large"  # a body past its limit; json_input names the other reasons to refuse a body
BODY_TIMEOUT = "timeout"  # a body that took longer than http_body_timeout_seconds

C = TypeVar("C")
Endpoint = Callable[[Request], Awaitable[Response]]


class Refused(Exception):
    """Stop the request: the HTTP status it stands for, and what its face shows for it (`detail`:
    the `/hx` message, the app API's body)."""

    def __init__(self, status: int, detail: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail


class Face(ABC):
    """What one face plugs into the pipeline.

    By default a `Refused` is answered with its `detail` as the JSON body and its status, and an
    `HximError` is not the face's to render: it goes on to the application's error handler.
    """

    @abstractmethod
    def body_refused(self, reason: str, description: str, limit: int) -> Exception:
        """The face's refusal of a body: `TOO_LARGE` (past `limit` bytes), `BODY_TIMEOUT`, or
        json_input's `syntax`, `depth` or `nul`, which `description` says in English."""

    def render(self, refused: Refused, started: float) -> Response:
        return json_response(refused.detail, refused.status)

    def render_error(self, err: HximError, started: float) -> Response:
        raise err


def endpoint(
    face: Face, enter: Callable[[Request, float], Awaitable[C]], handler: Callable[[C], Awaitable[Response]]
) -> Endpoint:
    """A Starlette endpoint: start the clock, `enter` (the face's authentication, which builds what
    the handler takes), run the handler, and render through `face` what stops the request. Each
    request is counted with its status and duration under its route's template (`/metrics`:
    `route_templates`, which `http.app.build_http_app` fills, names the route of each endpoint)."""

    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        status = 500  # unless answered: what escapes is the application's 500
        try:
            try:
                response = await handler(await enter(request, started))
            except Refused as refused:
                response = face.render(refused, started)
            except HximError as err:
                status = err.status  # a face that does not render it leaves it to the error handler
                response = face.render_error(err, started)
            status = response.status_code
            return response
        finally:
            # the request's count and duration for /metrics, under its route's template
            state = request.app.state
            state.node.counters.request(
                state.route_templates.get(handle, ""), request.method, status, time.perf_counter() - started
            )

    handle.__name__ = handler.__name__
    handle.__doc__ = handler.__doc__
    handle.__dict__.update(handler.__dict__)  # what the handler declares for the OpenAPI document
    return handle


# --- authentication ----------------------------------------------------------------------------


def bearer_token(request: Request, query: str | None = None) -> str | None:
    """The token of `Authorization: Bearer …`; without one, the query parameter `query` names."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return request.query_params.get(query) if query is not None else None


async def check_rate(node: Node, app: App, family: str, caller: str) -> None:
    """Refuse (429 `reach_limit`) a call past the caller's rate limit for the API family; the
    caller is who the request authenticated as (`admin`, `user:{id}`), or `address:{ip}`."""
    if not await node.limiter.check(app.id, family, caller):
        raise errors.reach_limit()


def caller(grant_admin: bool, user_id: int | None, request: Request | None) -> str:
    """The budget a request spends: the app admin's, one user's, or its address's."""
    if grant_admin:
        return "admin"
    if user_id is not None:
        return f"user:{user_id}"
    client = request.client if request is not None else None
    return f"address:{client.host if client else ''}"


# --- the body ----------------------------------------------------------------------------------


def declared_past(request: Request, limit: int) -> bool:
    """Whether the request declares a Content-Length past `limit`: refused before it is read."""
    declared = request.headers.get("content-length")
    return declared is not None and declared.isdecimal() and int(declared) > limit


async def read_body(request: Request, face: Face, settings: Settings, limit: int | None = None) -> bytes:
    """The request body's bytes (empty when there is none). A body past `limit` bytes
    (`http_max_body_bytes` by default), or one that takes longer than `http_body_timeout_seconds`
    to arrive, is refused in the face's words."""
    limit = limit or settings.http_max_body_bytes
    too_large = f"the body is larger than {limit} bytes"
    if declared_past(request, limit):
        raise face.body_refused(TOO_LARGE, too_large, limit)
    if request.headers.get("content-length") in (None, "0") and "transfer-encoding" not in request.headers:
        return b""  # no body (RFC 9112 §6.3)
    try:
        async with asyncio.timeout(settings.http_body_timeout_seconds):  # no task of its own, unlike wait_for
            raw = await _body(request, limit)
    except TimeoutError:
        seconds = settings.http_body_timeout_seconds
        raise face.body_refused(BODY_TIMEOUT, f"the body did not arrive within {seconds:g} seconds", limit) from None
    if raw is None:
        raise face.body_refused(TOO_LARGE, too_large, limit)
    return raw


async def read_json(request: Request, face: Face, settings: Settings, limit: int | None = None) -> Any:
    """The request body (`read_body`) parsed as JSON whatever the Content-Type says; None when
    there is none or it is blank. JSON that json_input refuses is refused in the face's words."""
    raw = await read_body(request, face, settings, limit)
    if not raw.strip():
        return None
    try:
        return json_input.loads(raw, settings.json_max_depth)
    except json_input.JsonRejected as exc:
        raise face.body_refused(exc.reason, exc.description, limit or settings.http_max_body_bytes) from None


async def _body(request: Request, limit: int) -> bytes | None:
    """The body's bytes, or None as soon as it passes `limit`."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
