"""`EasemobApi` over a remote Easemob-compatible REST API ("upstream mode").

Settings `upstream_*` name the remote: base URL, org, app, client id and secret. Every call
has a timeout. The app admin token is fetched once and cached until
`upstream_token_margin_seconds` before it expires (halfway through its lifetime when the
margin is longer than that); a 401 on a call made with the cached token drops it, renews it
and retries once. 429 and 5xx answers, and
connections that could not be opened, are retried with exponential backoff
(`upstream_backoff_seconds`, doubling, at most `upstream_backoff_max_seconds`, honouring a
`Retry-After`) at most `upstream_retries` times; a request that timed out after it was sent
is retried only when it is idempotent (GET, PUT, DELETE), so a message is not sent twice.
What the remote answers comes back unchanged; a transport failure becomes an Easemob-style
error body (502 `upstream_unavailable`, 504 `upstream_timeout`, 502 `upstream_bad_response`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from hxim.config import Settings
from hxim.errors import HximError
from hxim.http.render import error_body
from hxim.seeds.easemob_api import Reply

__all__ = ["UpstreamEasemobApi"]

log = logging.getLogger("hxim.upstream")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per remote call is too much

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


def _seg(name: str) -> str:
    return quote(name, safe="")


def _failure(status: int, error: str, description: str, started: float) -> Reply:
    return status, error_body(HximError(status, error, description, None), started)


class UpstreamEasemobApi:
    """The Easemob operations of the remote app named by the `upstream_*` settings."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.root = settings.upstream_base_url.rstrip("/")
        self.base = f"{self.root}/{_seg(settings.upstream_org)}/{_seg(settings.upstream_app)}"
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=settings.upstream_max_connections,
                max_keepalive_connections=settings.upstream_max_connections,
            ),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "hxim-upstream"},
        )
        self._token: str | None = None
        self._renew_at = 0.0  # monotonic time after which the cached token is renewed
        self._expires_at = 0.0  # monotonic time the cached token expires
        self._application: str | None = None
        self._lock = asyncio.Lock()

    # --- transport -----------------------------------------------------------------------------------
    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        s = self.settings
        delay = min(s.upstream_backoff_seconds * (2**attempt), s.upstream_backoff_max_seconds)
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.isdecimal():
                delay = min(max(delay, float(after)), s.upstream_backoff_max_seconds)
        return delay

    async def _send(self, method: str, path: str, token: str | None, body: Any, params: dict[str, str] | None) -> Reply:
        """One call with retries for 429, 5xx and unopened connections; no token renewal here."""
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        retries = self.settings.upstream_retries
        attempt = 0
        while True:
            response: httpx.Response | None = None
            failure: Reply | None = None
            try:
                response = await self.client.request(
                    method, self.base + path, content=content, headers=headers, params=params
                )
            except httpx.ConnectError as exc:
                failure = _failure(
                    502, "upstream_unavailable", f"the upstream Easemob API could not be reached ({exc})", started
                )
                retryable = True
            except httpx.TimeoutException:
                timeout = self.settings.upstream_timeout_seconds
                failure = _failure(
                    504, "upstream_timeout", f"the upstream Easemob API did not answer within {timeout:g} s", started
                )
                retryable = method in IDEMPOTENT
            except httpx.HTTPError as exc:
                failure = _failure(502, "upstream_unavailable", f"the upstream Easemob API failed: {exc}", started)
                retryable = method in IDEMPOTENT
            else:
                status = response.status_code
                retryable = status == 429 or status >= 500
                if not retryable or attempt >= retries:
                    return self._parse(response, started)
                failure = None
            if not retryable or attempt >= retries:
                assert failure is not None
                log.warning("upstream %s %s failed: %s", method, path, failure[1]["error_description"])
                return failure
            delay = self._delay(attempt, response)
            log.info("upstream %s %s: retry %d in %.2fs", method, path, attempt + 1, delay)
            await asyncio.sleep(delay)
            attempt += 1

    @staticmethod
    def _parse(response: httpx.Response, started: float) -> Reply:
        raw = response.content
        if not raw.strip():
            return response.status_code, None
        try:
            return response.status_code, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _failure(
                502,
                "upstream_bad_response",
                f"the upstream Easemob API answered {response.status_code} with a body that is not JSON",
                started,
            )

    # --- the cached admin token ----------------------------------------------------------------------
    async def _fetch_token(self) -> Reply:
        s = self.settings
        reply = await self._send(
            "POST",
            "/token",
            None,
            {
                "grant_type": "client_credentials",
                "client_id": s.upstream_client_id,
                "client_secret": s.upstream_client_secret,
            },
            None,
        )
        status, body = reply
        if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
            ttl = body.get("expires_in")
            ttl = float(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0 else 3600.0
            now = time.monotonic()
            self._token = body["access_token"]
            self._expires_at = now + ttl
            margin = s.upstream_token_margin_seconds
            self._renew_at = now + (ttl - margin if margin < ttl else ttl / 2)
            if isinstance(body.get("application"), str):
                self._application = body["application"]
        else:
            log.warning("upstream token request answered %s: %s", status, body)
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

    async def _call(
        self, method: str, path: str, token: str | None, body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        if token is not None:  # the caller's own token goes to the remote as it is
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

    # --- EasemobApi ----------------------------------------------------------------------------------
    async def token(self) -> Reply:
        got = await self._admin_token()
        if isinstance(got, tuple):
            return got
        remaining = max(1, int(self._expires_at - time.monotonic()))
        body: dict[str, Any] = {"access_token": got, "expires_in": remaining}
        if self._application is not None:
            body["application"] = self._application
        return 200, body

    async def register(self, token: str | None, body: Any) -> Reply:
        return await self._call("POST", "/users", token, body)

    async def get_user(self, token: str | None, username: str) -> Reply:
        return await self._call("GET", f"/users/{_seg(username)}", token)

    async def list_users(self, token: str | None, limit: int, cursor: str | None = None) -> Reply:
        params = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        return await self._call("GET", "/users", token, params=params)

    async def reset_password(self, token: str | None, username: str, newpassword: Any) -> Reply:
        return await self._call("PUT", f"/users/{_seg(username)}/password", token, {"newpassword": newpassword})

    async def status(self, token: str | None, username: str) -> Reply:
        return await self._call("GET", f"/users/{_seg(username)}/status", token)

    async def offline_count(self, token: str | None, username: str) -> Reply:
        return await self._call("GET", f"/users/{_seg(username)}/offline_msg_count", token)

    async def add_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        return await self._call("POST", f"/users/{_seg(owner)}/contacts/users/{_seg(friend)}", token)

    async def remove_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        return await self._call("DELETE", f"/users/{_seg(owner)}/contacts/users/{_seg(friend)}", token)

    async def contacts(self, token: str | None, owner: str) -> Reply:
        return await self._call("GET", f"/users/{_seg(owner)}/contacts/users", token)

    async def blocks(self, token: str | None, owner: str) -> Reply:
        return await self._call("GET", f"/users/{_seg(owner)}/blocks/users", token)

    async def send_message(self, token: str | None, body: dict[str, Any]) -> Reply:
        return await self._call("POST", "/messages", token, body)

    async def create_group(self, token: str | None, body: dict[str, Any]) -> Reply:
        return await self._call("POST", "/chatgroups", token, body)

    async def groups(self, token: str | None, group_ids: list[str]) -> Reply:
        return await self._call("GET", "/chatgroups/" + ",".join(_seg(g) for g in group_ids), token)

    async def modify_group(self, token: str | None, group_id: str, body: dict[str, Any]) -> Reply:
        return await self._call("PUT", f"/chatgroups/{_seg(group_id)}", token, body)

    async def delete_group(self, token: str | None, group_id: str) -> Reply:
        return await self._call("DELETE", f"/chatgroups/{_seg(group_id)}", token)

    async def group_admins(self, token: str | None, group_id: str) -> Reply:
        return await self._call("GET", f"/chatgroups/{_seg(group_id)}/admin", token)

    async def add_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        return await self._call("POST", f"/chatgroups/{_seg(group_id)}/users", token, {"usernames": usernames})

    async def remove_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        names = ",".join(_seg(n) for n in usernames)
        return await self._call("DELETE", f"/chatgroups/{_seg(group_id)}/users/{names}", token)

    async def chatfile_exists(self, file_uuid: str) -> bool:
        return True  # downloading the file to check would cost its whole size; the remote serves it

    def chatfile_url(self, file_uuid: str, base: str) -> str:
        return f"{self.base}/chatfiles/{_seg(file_uuid)}"

    async def aclose(self) -> None:
        await self.client.aclose()
