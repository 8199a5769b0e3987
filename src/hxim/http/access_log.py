"""The access log (`access_log`, off by default): one line per HTTP request, once it is answered.

Each line, from logger `hxim.access` at info, says the method, the path (never the query
string, which may carry an access token), the status and the duration in milliseconds, e.g.
`POST /org/app/messages 200 3.1 ms`; the JSON format carries them as fields too (`method`,
`path`, `status`, `duration_ms`, `client`). The middleware wraps the application only when the
setting is on: a node without it pays nothing. uvicorn's own access log stays off.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog"]

log = logging.getLogger("hxim.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = status or 500  # the error handler outside answers it
            raise
        finally:
            ms = round((time.perf_counter() - started) * 1000, 3)  # the line and the field say the same
            method, path = scope["method"], scope["path"]
            client = scope.get("client")
            log.info(
                "%s %s %d %.1f ms", method, path, status, ms,
                extra={"method": method, "path": path, "status": status, "duration_ms": ms,
                       "client": client[0] if client else ""},
            )
