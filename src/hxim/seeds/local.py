"""`EasemobApi` on this node: the Easemob REST operations without the HTTP hop.

Each method builds the context the REST handler would have (the app, the caller's token
checked the way the REST surface checks it, the URI the REST call would have had), runs the
same operation function (`http/easemob_ops.py`, and for groups the answers of
`http/group_render.py`) and answers `(status, body)`: the body the REST API would have sent.
The seed APIs therefore see exactly what an app backend calling the REST API sees, rate limits
and errors included.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from hxim import errors
from hxim.app import Node
from hxim.errors import HximError
from hxim.http import easemob_ops as ops
from hxim.http import group_render, room_bodies
from hxim.http.auth import Access
from hxim.http.group_render import GROUPS
from hxim.http.pipeline import caller, check_rate
from hxim.http.render import error_body
from hxim.model import App
from hxim.seeds.easemob_api import EasemobApi, Reply
from hxim.services.tokens import APP, Grant

__all__ = ["LocalEasemobApi", "build_easemob_apis", "local_app", "local_base_url"]

Op = Callable[["LocalCtx"], Awaitable[Any]]


def local_base_url(node: Node) -> str:
    """This server's base URL for `uri` fields of calls that did not come over HTTP."""
    s = node.settings
    if s.public_url:
        return s.public_url.rstrip("/")
    host = s.http_host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{s.http_port}"


def _app_names(node: Node, appkey: str) -> tuple[str, str] | None:
    """(org, app) of `appkey` ("ORG#APP"), or of the node's default app when it is ""."""
    if appkey:
        org, _, name = appkey.partition("#")
        return org, name
    if node.default_app is not None:
        return node.default_app.org, node.default_app.name
    return None


async def local_app(node: Node, appkey: str, path: str = "") -> App:
    """The app a seed API serves on this node (`appkey` "ORG#APP", or "" for the default app)."""
    names = _app_names(node, appkey)
    if names is None:
        raise errors.app_not_found("", "", path)
    org, name = names
    return await node.apps.get(org, name, f"{org}/{name}{path}")


class LocalCtx(ops.OpContext):
    """An `OpContext` for one operation run in process: its URI starts at this server's base URL."""

    __slots__ = ("base_url",)

    def __init__(self, node: Node, app: App, started: float, path: str, base_url: str) -> None:
        super().__init__(node, app, started, path)
        self.base_url = base_url

    def base(self) -> str:
        return self.base_url


def _seg(name: str) -> str:
    return quote(name, safe="")


class LocalEasemobApi:
    """The Easemob operations of one local app (`appkey` "ORG#APP", or "" for the default app)."""

    def __init__(self, node: Node, appkey: str = "") -> None:
        self.node = node
        self.appkey = appkey
        self.base = local_base_url(node)

    async def _run(
        self,
        token: str | None,
        family: str,
        access: Access,
        method: str,
        path: str,
        op: Op,
        named: str = "",
    ) -> Reply:
        started = time.perf_counter()
        try:
            app = await local_app(self.node, self.appkey, path)
            ctx = LocalCtx(self.node, app, started, path, self.base)
            if token is None:
                # the seed API's own rights: those of the app's admin
                ctx.grant = Grant(APP, app.uuid, app.uuid, app.token_epoch & 0xFFFFFFFF, 0)
            else:
                ctx.grant, ctx.user = await ops.authorize(self.node, app, token, family, access, method, path, named)
            if family in self.node.limiter.limits:
                admin = ctx.grant is not None and ctx.grant.is_admin
                await check_rate(self.node, app, family, caller(admin, ctx.user.id if ctx.user else None, None))
            return 200, await op(ctx)
        except HximError as err:
            return err.status, error_body(err, started)

    # --- tokens ------------------------------------------------------------------------------------
    async def token(self) -> Reply:
        async def op(c: LocalCtx) -> Any:
            return ops.issue_admin_token(c.node, c.app)

        return await self._run(None, "token", Access.NONE, "POST", "/token", op)

    # --- users ---------------------------------------------------------------------------------------
    async def register(self, token: str | None, body: Any) -> Reply:
        return await self._run(token, "users", Access.REGISTER, "POST", "/users", lambda c: ops.register(c, body))

    async def get_user(self, token: str | None, username: str) -> Reply:
        return await self._run(
            token, "users", Access.SELF, "GET", f"/users/{username}", lambda c: ops.get_user(c, username), username
        )

    async def list_users(self, token: str | None, limit: int, cursor: str | None = None) -> Reply:
        params = {"limit": [str(limit)]}
        if cursor is not None:
            params["cursor"] = [cursor]
        if not 1 <= limit <= self.node.settings.users_page_max:
            return 400, error_body(
                errors.illegal_argument(f"limit must be a number from 1 to {self.node.settings.users_page_max}"),
                time.perf_counter(),
            )
        return await self._run(
            token, "users", Access.ADMIN, "GET", "/users", lambda c: ops.list_users(c, limit, cursor, params)
        )

    async def reset_password(self, token: str | None, username: str, newpassword: Any) -> Reply:
        return await self._run(
            token,
            "users",
            Access.SELF,
            "PUT",
            f"/users/{username}/password",
            lambda c: ops.reset_password(c, username, {"newpassword": newpassword}),
            username,
        )

    async def status(self, token: str | None, username: str) -> Reply:
        return await self._run(
            token,
            "status",
            Access.SELF,
            "GET",
            f"/users/{username}/status",
            lambda c: ops.status(c, username),
            username,
        )

    async def offline_count(self, token: str | None, username: str) -> Reply:
        return await self._run(
            token,
            "offline",
            Access.SELF,
            "GET",
            f"/users/{username}/offline_msg_count",
            lambda c: ops.offline_count(c, username),
            username,
        )

    # --- contacts and blocks -------------------------------------------------------------------------
    async def add_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        return await self._run(
            token,
            "contacts",
            Access.SELF,
            "POST",
            f"/users/{owner}/contacts/users/{friend}",
            lambda c: ops.add_contact(c, owner, friend),
            owner,
        )

    async def remove_contact(self, token: str | None, owner: str, friend: str) -> Reply:
        return await self._run(
            token,
            "contacts",
            Access.SELF,
            "DELETE",
            f"/users/{owner}/contacts/users/{friend}",
            lambda c: ops.remove_contact(c, owner, friend),
            owner,
        )

    async def contacts(self, token: str | None, owner: str) -> Reply:
        return await self._run(
            token,
            "contacts",
            Access.SELF,
            "GET",
            f"/users/{owner}/contacts/users",
            lambda c: ops.list_contacts(c, owner),
            owner,
        )

    async def blocks(self, token: str | None, owner: str) -> Reply:
        return await self._run(
            token,
            "blocks",
            Access.SELF,
            "GET",
            f"/users/{owner}/blocks/users",
            lambda c: ops.list_blocks(c, owner),
            owner,
        )

    # --- messages ------------------------------------------------------------------------------------
    async def send_message(self, token: str | None, body: dict[str, Any]) -> Reply:
        return await self._run(
            token, "messages", Access.ADMIN, "POST", "/messages", lambda c: ops.send_message(c, body)
        )

    # --- groups (answered as http/groups.py answers, by http/group_render.py) ---------------------------
    async def create_group(self, token: str | None, body: dict[str, Any]) -> Reply:
        async def op(c: LocalCtx) -> Any:
            room = await c.node.groups.rooms.create(c.app, room_bodies.new_room(True, body, c.node.settings))
            return ops.ok(c, "post", entities=[], data=group_render.created(GROUPS, room))

        return await self._run(token, "chatgroups", Access.ADMIN, "POST", "/chatgroups", op)

    async def groups(self, token: str | None, group_ids: list[str]) -> Reply:
        joined = ",".join(group_ids)

        async def op(c: LocalCtx) -> Any:
            found = await c.node.groups.rooms.details(c.app, group_ids)
            data = group_render.details(GROUPS, group_ids, found, joined)
            return ops.ok(c, "get", entities=[], data=data, count=len(data))

        return await self._run(token, "chatgroups", Access.ADMIN, "GET", f"/chatgroups/{joined}", op)

    async def modify_group(self, token: str | None, group_id: str, body: dict[str, Any]) -> Reply:
        async def op(c: LocalCtx) -> Any:
            changes, data = room_bodies.room_changes(True, body, c.node.settings)
            await c.node.groups.rooms.modify(c.app, group_id, changes)
            return ops.ok(c, "put", entities=[], data=data)

        return await self._run(token, "chatgroups", Access.ADMIN, "PUT", f"/chatgroups/{group_id}", op)

    async def delete_group(self, token: str | None, group_id: str) -> Reply:
        async def op(c: LocalCtx) -> Any:
            room = await c.node.groups.rooms.delete(c.app, group_id)
            return ops.ok(c, "delete", entities=[], data=group_render.deleted(GROUPS, room))

        return await self._run(token, "chatgroups", Access.ADMIN, "DELETE", f"/chatgroups/{group_id}", op)

    async def group_admins(self, token: str | None, group_id: str) -> Reply:
        async def op(c: LocalCtx) -> Any:
            names = await c.node.groups.moderation.admins(c.app, group_id)
            return ops.ok(c, "get", entities=[], data=names, count=len(names))

        return await self._run(token, "chatgroups", Access.ADMIN, "GET", f"/chatgroups/{group_id}/admin", op)

    async def add_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        async def op(c: LocalCtx) -> Any:
            added = await c.node.groups.members.add_members(c.app, group_id, usernames)
            return ops.ok(c, "post", entities=[], data=group_render.members_added(GROUPS, group_id, added))

        return await self._run(token, "chatgroups", Access.ADMIN, "POST", f"/chatgroups/{group_id}/users", op)

    async def remove_members(self, token: str | None, group_id: str, usernames: list[str]) -> Reply:
        segment = ",".join(usernames)

        async def op(c: LocalCtx) -> Any:
            svc = c.node.groups.members
            if len(usernames) == 1:
                user = await svc.remove_member(c.app, group_id, usernames[0])
                data: Any = group_render.member_result(GROUPS, group_id, "remove_member", user.username)
            else:
                items = await svc.remove_members(c.app, group_id, usernames)
                data = [group_render.item_result(GROUPS, group_id, "remove_member", i) for i in items]
            return ops.ok(c, "delete", entities=[], data=data)

        path = f"/chatgroups/{group_id}/users/{segment}"
        return await self._run(token, "chatgroups", Access.ADMIN, "DELETE", path, op)

    # --- chat files ----------------------------------------------------------------------------------
    async def chatfile_exists(self, file_uuid: str) -> bool:
        try:
            app = await local_app(self.node, self.appkey, "/chatfiles")
            await self.node.files.download(app, file_uuid, None, True, True)
        except HximError:
            return False
        return True

    def chatfile_url(self, file_uuid: str, base: str) -> str:
        names = _app_names(self.node, self.appkey)
        if names is None:
            return ""
        org, name = names
        return f"{base}/{_seg(org)}/{_seg(name)}/chatfiles/{_seg(file_uuid)}"

    async def aclose(self) -> None:
        return None


def build_easemob_apis(node: Node) -> tuple[EasemobApi, EasemobApi]:
    """The Easemob API of the /hx gateway and of the app API: local, or one shared upstream client."""
    s = node.settings
    if s.upstream_base_url:
        from hxim.seeds.upstream import UpstreamEasemobApi

        upstream = UpstreamEasemobApi(s)
        return upstream, upstream
    return LocalEasemobApi(node, s.hx_gateway_app), LocalEasemobApi(node, s.app_api_app)
