"""One interface to "the Easemob REST API", wherever it runs.

The two seed APIs (the `/hx` gateway and `/api/v2/easemob`) are wrappers around Easemob's
server REST API. They talk to it through `EasemobApi`: one method per Easemob operation they
need, each answering `(http_status, json_body)` exactly as the Easemob REST API answers that
operation. Two implementations:

* `hxim.seeds.local.LocalEasemobApi` runs the operation on this node's services and
  renders it with the very functions the Easemob REST surface renders with (no HTTP hop);
* `hxim.seeds.upstream.UpstreamEasemobApi` sends it to a remote Easemob-compatible REST API
  ("upstream mode") through `hxim.easemob_client`: a cached admin token, retries and timeouts.

`token` is the caller's admin token, as the caller sent it (the `/hx` gateway passes the
token of its request body); `None` means "the API's own credentials" (the app API, which
acts with the app's admin rights on behalf of its authenticated app users). A failure of the
transport itself (remote unreachable, timeout, an answer that is not JSON) is reported as an
Easemob-style error body with status 502 or 504, so callers handle one shape.
"""

from __future__ import annotations

from typing import Any, Protocol

from hxim.easemob_client import Reply

__all__ = ["EasemobApi", "Reply", "ok"]


def ok(reply: Reply) -> bool:
    """Whether the Easemob call succeeded (Easemob answers 200 for every success)."""
    return reply[0] == 200


class EasemobApi(Protocol):
    """The Easemob REST operations the seed APIs use (easemob-rest.md §2–§6)."""

    # --- tokens (§2) ---------------------------------------------------------------------------
    async def token(self) -> Reply:
        """An app admin token: `{"access_token", "expires_in", "application"}`."""
        ...

    # --- users (§3) ----------------------------------------------------------------------------
    async def register(self, token: str | None, body: Any) -> Reply:
        """`POST /users` with one `{username, password[, nickname]}` object or an array of them."""
        ...

    async def get_user(self, token: str | None, username: str) -> Reply:
        """`GET /users/{username}`."""
        ...

    async def list_users(self, token: str | None, limit: int, cursor: str | None = None) -> Reply:
        """`GET /users?limit=N[&cursor=C]`."""
        ...

    async def reset_password(self, token: str | None, username: str, newpassword: Any) -> Reply:
        """`PUT /users/{username}/password` `{"newpassword"}`."""
        ...

    async def status(self, token: str | None, username: str) -> Reply:
        """`GET /users/{username}/status`."""
        ...

    async def offline_count(self, token: str | None, username: str) -> Reply:
        """`GET /users/{username}/offline_msg_count`."""
        ...

    # --- contacts and blocks (§4) ----------------------------------------------------------------
    async def add_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        """`POST /users/{owner}/contacts/users/{friend}`."""
        ...

    async def remove_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        """`DELETE /users/{owner}/contacts/users/{friend}`."""
        ...

    async def contacts(self, token: str | None, owner: str) -> Reply:
        """`GET /users/{owner}/contacts/users`."""
        ...

    async def blocks(self, token: str | None, owner: str) -> Reply:
        """`GET /users/{owner}/blocks/users`."""
        ...

    # --- messages (§5) -------------------------------------------------------------------------
    async def send_message(self, token: str | None, body: dict[str, Any]) -> Reply:
        """`POST /messages` with `target_type`, `target`, `msg`, `[from]`, `[ext]`."""
        ...

    # --- groups (§6) ---------------------------------------------------------------------------
    async def create_group(self, token: str | None, body: dict[str, Any]) -> Reply:
        """`POST /chatgroups`."""
        ...

    async def groups(self, token: str | None, group_ids: list[str]) -> Reply:
        """`GET /chatgroups/{id[,id…]}`: details of one or several groups."""
        ...

    async def modify_group(self, token: str | None, group_id: str, body: dict[str, Any]) -> Reply:
        """`PUT /chatgroups/{id}` with the fields to change (also `newowner` to transfer)."""
        ...

    async def delete_group(self, token: str | None, group_id: str) -> Reply:
        """`DELETE /chatgroups/{id}`."""
        ...

    async def group_admins(self, token: str | None, group_id: str) -> Reply:
        """`GET /chatgroups/{id}/admin`."""
        ...

    async def add_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        """`POST /chatgroups/{id}/users` `{"usernames": […]}`."""
        ...

    async def remove_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        """`DELETE /chatgroups/{id}/users/{a,b,…}`."""
        ...

    # --- chat files (§8) -----------------------------------------------------------------------
    async def chatfile_exists(self, file_uuid: str) -> bool:
        """Whether a chat file with this UUID was uploaded to the app (upstream: not checkable, True)."""
        ...

    def chatfile_url(self, file_uuid: str, base: str) -> str:
        """Where the chat file can be downloaded; `base` is this server's URL as the client sees it."""
        ...

    async def aclose(self) -> None:
        """Release connections (the lifespan calls this at shutdown)."""
        ...
