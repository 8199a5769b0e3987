"""The HTTP application: every surface's routes, error handlers and one lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hxim import errors
from hxim.app import Node
from hxim.http import easemob
from hxim.http.render import error_response

__all__ = ["build_http_app"]

log = logging.getLogger("hxim.http")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    started = time.perf_counter()
    if exc.status_code == 405:
        err = errors.web_application(
            405, "HTTP 405 Method Not Allowed", "javax.ws.rs.NotAllowedException"
        )
    elif exc.status_code == 404:
        err = errors.web_application(
            404, f"HTTP 404 Not Found: no API at {request.url.path}", "javax.ws.rs.NotFoundException"
        )
    else:
        err = errors.web_application(exc.status_code, str(exc.detail), "javax.ws.rs.WebApplicationException")
    return error_response(err, started)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    err = errors.HximError(
        500, "internal_server_error", "the server failed to handle this request; it has been logged", None
    )
    return error_response(err, time.perf_counter())


def build_http_app(node: Node) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield

    app = Starlette(
        routes=list(easemob.routes),
        exception_handlers={HTTPException: _http_error, Exception: _crash},
        lifespan=lifespan,
    )
    app.state.node = node
    return app
