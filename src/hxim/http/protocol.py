"""The HTTP connection: uvicorn's httptools protocol with a deadline for each request's head.

uvicorn closes a kept-alive connection that stays silent between requests
(`timeout_keep_alive`), but waits for ever for a request that has not finished its head: a
connection that sends nothing after opening, or that sends its request line and headers a byte
at a time (slowloris), holds its socket and its memory as long as its peer likes. Here a request
line and headers must be complete within `http_header_timeout_seconds` of the connection opening,
or of the request's first byte on a kept-alive connection; past that the connection is closed.
Bodies are the request pipeline's (`pipeline.read_json`, `http_body_timeout_seconds`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["with_head_timeout"]


class _HeadTimeoutProtocol(HttpToolsProtocol):
    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_expired(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def with_head_timeout(seconds: float) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (`Config(http=…)`): heads must be complete in `seconds`."""
    return type("HttpProtocol", (_HeadTimeoutProtocol,), {"head_timeout": seconds})
