"""A client of a remote Easemob REST API: Easemob's cloud, or another hxim (easemob-rest.md §1–§2,
§10).

`EasemobClient` calls one remote app (`Remote`: base URL, org, app, client id and secret) and
answers each call `(http_status, json_body)` as the remote answered it. It keeps the app admin
token (`client_credentials`) until `token_margin_seconds` before it expires (halfway through
its lifetime when the margin is longer than that); a 401 on a call made with it drops it, renews
it and retries once. 429 and 5xx answers, and connections that could not be opened, are retried
with exponential backoff (`backoff_seconds`, doubling, at most `backoff_max_seconds`, honouring
a `Retry-After`) at most `retries` times; a request that timed out after it was sent is retried
only when it is idempotent (GET, PUT, DELETE), so that a message is not sent twice. With
`requests_per_second`, requests start at most that often (retries too), whatever number of
callers share the client.

A failure of the transport itself (remote unreachable, timeout, an answer that is not JSON) is
reported as an Easemob-style error body with status 502 or 504, so that callers handle one shape.

Two users: the seed APIs' upstream mode (`seeds.upstream`, settings `upstream_*`) and `hxim
migrate-from-easemob` (`services.easemob_migration`, settings `migration_*`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import orjson

__all__ = ["EasemobClient", "Remote", "Reply", "seg"]

log = logging.getLogger("hxim.upstream")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per remote call is too much

# (HTTP status, parsed JSON body) of one Easemob REST call.
Reply = tuple[int, Any]

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


def seg(name: str) -> str:
    """`name` as one path segment."""
    return quote(name, safe="")


def _failure(status: int, error: str, description: str, started: float) -> Reply:
    """An Easemob-style error body for what went wrong on the way (no answer, or a broken one)."""
    return status, {
        "error": error,
        "timestamp": int(time.time() * 1000),
        "duration": int((time.perf_counter() - started) * 1000),
        "error_description": description,
    }


@dataclass(frozen=True, slots=True)
class Remote:
    """A remote Easemob app and how to call it."""

    base_url: str
    org: str
    app: str
    client_id: str
    client_secret: str
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 3.0
    retries: int = 3
    backoff_seconds: float = 0.25
    backoff_max_seconds: float = 4.0
    token_margin_seconds: float = 300.0
    max_connections: int = 64
    requests_per_second: float = 0.0  # 0: no pacing
    user_agent: str = "hxim"
    called: str = "the remote Easemob API"  # how failures name the remote

    @property
    def base(self) -> str:
        """The app's URL: `{base_url}/{org}/{app}`."""
        return f"{self.base_url.rstrip('/')}/{seg(self.org)}/{seg(self.app)}"


@dataclass
class Traffic:
    """What the client sent: requests (each attempt), and the answers that were retried, by status
    (0: no answer)."""

    requests: int = 0
    retried: Counter[int] = field(default_factory=Counter)


class EasemobClient:
    """Calls to one remote app, with its cached admin token, retries, timeouts and pacing."""

    def __init__(self, remote: Remote, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.remote = remote
        self.base = remote.base
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(remote.timeout_seconds, connect=remote.connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=remote.max_connections, max_keepalive_connections=remote.max_connections
            ),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": remote.user_agent},
        )
        self.traffic = Traffic()
        # told of each retry before its wait: (method, path or URL, the status answered, 0 for none; the wait, s)
        self.on_retry: Callable[[str, str, int, float], None] | None = None
        self._token: str | None = None
        self._renew_at = 0.0  # monotonic time after which the cached token is renewed
        self._expires_at = 0.0  # monotonic time the cached token expires
        self._application: str | None = None
        self._lock = asyncio.Lock()
        self._next_start = 0.0  # monotonic time the next request may start (pacing)

    # --- transport -----------------------------------------------------------------------------------
    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        r = self.remote
        delay = min(r.backoff_seconds * (2**attempt), r.backoff_max_seconds)
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.isdecimal():
                delay = min(max(delay, float(after)), r.backoff_max_seconds)
        return delay

    async def _pace(self) -> None:
        """Wait for this request's turn when the remote allows so many requests a second."""
        rate = self.remote.requests_per_second
        if rate <= 0:
            return
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + 1.0 / rate
        if start > now:
            await asyncio.sleep(start - now)

    async def _exchange(
        self, method: str, url: str, token: str | None, body: Any, params: dict[str, str] | None
    ) -> httpx.Response | Reply:
        """One request with retries for 429, 5xx and unopened connections: the last answer, or
        the failure on the way as a Reply. No token renewal here."""
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        retries = self.remote.retries
        attempt = 0
        while True:
            response: httpx.Response | None = None
            failure: Reply | None = None
            await self._pace()
            self.traffic.requests += 1
            try:
                response = await self.client.request(method, url, content=content, headers=headers, params=params)
            except httpx.ConnectError as exc:
                failure = _failure(
                    502, "upstream_unavailable", f"{self.remote.called} could not be reached ({exc})", started
                )
                retryable = True
            except httpx.TimeoutException:
                failure = _failure(
                    504, "upstream_timeout",
                    f"{self.remote.called} did not answer within {self.remote.timeout_seconds:g} s", started,
                )
                retryable = method in IDEMPOTENT
            except httpx.HTTPError as exc:
                failure = _failure(502, "upstream_unavailable", f"{self.remote.called} failed: {exc}", started)
                retryable = method in IDEMPOTENT
            else:
                status = response.status_code
                retryable = status == 429 or status >= 500
                if not retryable or attempt >= retries:
                    return response
            if not retryable or attempt >= retries:
                assert failure is not None
                log.warning("remote %s %s failed: %s", method, url, failure[1]["error_description"])
                return failure
            delay = self._delay(attempt, response)
            status = response.status_code if response is not None else 0
            self.traffic.retried[status] += 1
            log.info("remote %s %s: retry %d in %.2fs", method, url, attempt + 1, delay)
            if self.on_retry is not None:
                self.on_retry(method, url.removeprefix(self.base), status, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _send(
        self, method: str, path: str, token: str | None, body: Any, params: dict[str, str] | None
    ) -> Reply:
        started = time.perf_counter()
        got = await self._exchange(method, self.base + path, token, body, params)
        return got if isinstance(got, tuple) else self._parse(got, started)

    def _parse(self, response: httpx.Response, started: float) -> Reply:
        raw = response.content
        if not raw.strip():
            return response.status_code, None
        try:
            return response.status_code, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _failure(
                502,
                "upstream_bad_response",
                f"{self.remote.called} answered {response.status_code} with a body that is not JSON",
                started,
            )

    # --- the cached admin token ----------------------------------------------------------------------
    async def _fetch_token(self) -> Reply:
        r = self.remote
        body = {"grant_type": "client_credentials", "client_id": r.client_id, "client_secret": r.client_secret}
        reply = await self._send("POST", "/token", None, body, None)
        status, answer = reply
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("access_token"), str):
            ttl = answer.get("expires_in")
            ttl = float(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0 else 3600.0
            now = time.monotonic()
            self._token = answer["access_token"]
            self._expires_at = now + ttl
            margin = r.token_margin_seconds
            self._renew_at = now + (ttl - margin if margin < ttl else ttl / 2)
            if isinstance(answer.get("application"), str):
                self._application = answer["application"]
        else:
            log.warning("remote token request answered %s: %s", status, answer)
        return reply

    async def _admin_token(self, stale: str | None = None) -> str | Reply:
        """The cached token, fetched when missing, due for renewal or equal to `stale` (it got a 401)."""
        token = self._token
        if token is not None and token != stale and time.monotonic() < self._renew_at:
            return token
        async with self._lock:  # one fetch at a time; the others reuse its result
            token = self._token
            if token is not None and token != stale and time.monotonic() < self._renew_at:
                return token
            reply = await self._fetch_token()
            if reply[0] != 200 or self._token is None:
                return reply
            return self._token

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        """`method` on `{base}{path}`: with the caller's `token` as it is, or (None) the app's
        admin token, renewed once on a 401."""
        if token is not None:
            return await self._send(method, path, token, body, params)
        own = await self._admin_token()
        if isinstance(own, tuple):
            return own
        reply = await self._send(method, path, own, body, params)
        if reply[0] == 401:  # revoked or expired early: forget it, renew once and retry
            if self._token == own:
                self._token = None
            renewed = await self._admin_token(stale=own)
            if isinstance(renewed, tuple):
                return renewed
            reply = await self._send(method, path, renewed, body, params)
        return reply

    async def token(self) -> Reply:
        """An app admin token: `{"access_token", "expires_in", "application"}` (the cached one)."""
        got = await self._admin_token()
        if isinstance(got, tuple):
            return got
        remaining = max(1, int(self._expires_at - time.monotonic()))
        body: dict[str, Any] = {"access_token": got, "expires_in": remaining}
        if self._application is not None:
            body["application"] = self._application
        return 200, body

    async def download(self, url: str) -> Reply:
        """GET an absolute URL the remote handed out (a file link that is its own credential: no
        token goes with it), with the same retries: (status, the answer's raw bytes), or the
        failure on the way (status 502 or 504, an error body)."""
        got = await self._exchange("GET", url, None, None, None)
        return got if isinstance(got, tuple) else (got.status_code, got.content)

    async def aclose(self) -> None:
        await self.client.aclose()
