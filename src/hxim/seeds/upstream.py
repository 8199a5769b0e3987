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
The calls go through `hxim.easemob_client.EasemobClient`, which `hxim migrate-from-easemob` uses
too.
"""

from __future__ import annotations

from typing import Any

import httpx

from hxim.config import Settings
from hxim.easemob_client import EasemobClient, Remote, Reply
from hxim.easemob_client import seg as _seg

__all__ = ["UpstreamEasemobApi", "upstream_remote"]


def upstream_remote(settings: Settings) -> Remote:
    """The remote app the `upstream_*` settings name."""
    s = settings
    return Remote(
        base_url=s.upstream_base_url,
        org=s.upstream_org,
        app=s.upstream_app,
        client_id=s.upstream_client_id,
        client_secret=s.upstream_client_secret,
        timeout_seconds=s.upstream_timeout_seconds,
        connect_timeout_seconds=s.upstream_connect_timeout_seconds,
        retries=s.upstream_retries,
        backoff_seconds=s.upstream_backoff_seconds,
        backoff_max_seconds=s.upstream_backoff_max_seconds,
        token_margin_seconds=s.upstream_token_margin_seconds,
        max_connections=s.upstream_max_connections,
        user_agent="hxim-upstream",
        called="the upstream Easemob API",
    )


class UpstreamEasemobApi:
    """The Easemob operations of the remote app named by the `upstream_*` settings."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.remote = EasemobClient(upstream_remote(settings), transport)
        self.base = self.remote.base

    async def _call(
        self, method: str, path: str, token: str | None, body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        return await self.remote.call(method, path, token, body, params)

    # --- EasemobApi ----------------------------------------------------------------------------------
    async def token(self) -> Reply:
        return await self.remote.token()

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
        await self.remote.aclose()
