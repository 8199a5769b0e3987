"""The Easemob REST surface of groups and chat rooms (easemob-rest.md §6, §7).

Routes under `/{org}/{app}/chatgroups`, `/publicchatgroups`, `/chatrooms` and
`/users/{username}/joined_chatgroups|joined_chatrooms`. Each handler parses the request,
calls one `RoomService` method and renders the answer in the group service's envelope
(`action, application, [params,] uri, entities: [], data, timestamp, duration,
organization, applicationName[, cursor][, count]`). Token failures render as
`group_authorization` (the API families "chatgroups" and "chatrooms").

Groups and chat rooms share every handler; a `Kind` says which service to call and which
key names the room in answers (`groupid` for groups, `id` for chat rooms).

The app admin token may call everything. On groups an IM user's token may call what the Web IM
SDK 1.8 calls with it (webim-xmpp.md §2.7), judged per group by `services.group_policy`: each
group handler names its `Level` (`rule`), and the service checks the caller's role in the group
before the operation runs; actions taken with a user token name that user as the actor of the
notices they cause (§7.9). Chat rooms stay admin-only but for the list (§2.4) and for super
admins creating rooms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http import easemob_ops as ops
from hxim.http import group_render, room_bodies
from hxim.http.apidoc import (
    BOOL,
    INT,
    ITEM_RESULT,
    NAMES,
    ROOM_DETAILS,
    STR,
    arr,
    doc,
    obj,
    one_of,
    param,
    text,
    usergrid,
)
from hxim.http.auth import Access, permission_error
from hxim.http.easemob import Call, endpoint
from hxim.http.group_render import GROUPS, ROOMS, Kind, item_result
from hxim.http.render import json_response
from hxim.model import App
from hxim.services.group_policy import Level
from hxim.services.room_common import ItemResult

__all__ = ["actor_of", "body_object", "int_param", "room_ok", "room_rule", "routes"]


Handler = Callable[[Request], Awaitable[Response]]


# --- request parsing -------------------------------------------------------------------------------


def int_param(call: Call, name: str, low: int, high: int) -> int | None:
    raw = call.request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdecimal() or not low <= int(raw) <= high:
        raise errors.invalid_parameter(f"{name} must be a number from {low} to {high}")
    return int(raw)


def _paging(call: Call) -> tuple[int | None, int | None]:
    high = call.node.settings.room_members_page_max
    return int_param(call, "pagenum", 1, 1_000_000_000), int_param(call, "pagesize", 1, high)


def _names(segment: str) -> list[str]:
    """The user names of a path segment: one, or several separated by commas (`%2C` arrives decoded)."""
    return [n for n in segment.split(",") if n]


async def body_object(call: Call) -> dict[str, Any]:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.invalid_parameter("the request body must be a JSON object")
    return body


def room_ok(
    call: Call,
    data: Any,
    *,
    count: int | None = None,
    params: bool = False,
    action: str | None = None,
    cursor: str | None = None,
) -> Response:
    return call.ok(
        action or call.request.method.lower(),
        params=call.params() if params else None,
        entities=[],
        data=data,
        cursor=cursor,
        count=count,
    )


def _one_or_many(call: Call, kind: Kind, rid: str, action: str, items: list[ItemResult], many: bool) -> Response:
    """A batch answers an array of per-user results; the one-user form raises its failure."""
    if not many:
        [item] = items
        if item.error is not None:
            raise item.error
        return room_ok(call, item_result(kind, rid, action, item))
    return room_ok(call, [item_result(kind, rid, action, i) for i in items])


# --- what the OpenAPI document says of the answers ------------------------------------------------

POSITIVE = {"type": "integer", "minimum": 1}
NATURAL = {"type": "integer", "minimum": 0}
PAGING = (param("pagenum", "the page, from 1", POSITIVE), param("pagesize", "members per page", POSITIVE))
USERNAMES = obj({"usernames": NAMES}, ["usernames"])
LISTED_GROUP = obj(
    {"groupid": STR, "groupname": STR, "owner": text("`{org}#{app}_{owner}`"), "affiliations": INT, "type": STR,
     "last_modified": STR},
    ["groupid", "groupname", "owner", "affiliations"],
)
LISTED_ROOM = obj({"id": STR, "name": STR, "owner": STR, "affiliations_count": INT}, ["id", "name", "owner"])
JOINED_GROUP = obj(
    {"name": STR, "avatar": STR, "owner": STR, "id": STR, "groupId": STR, "description": STR, "disabled": BOOL,
     "public": BOOL, "allowinvites": BOOL, "membersonly": BOOL, "maxusers": INT, "created": INT},
    ["id", "name", "owner"],
)


def rooms_ok(data: dict[str, Any]) -> dict[str, Any]:
    """The group service's envelope: `entities` empty, the answer in `data`."""
    return usergrid(data=data)


# --- rendering -------------------------------------------------------------------------------------


def _jid_node(app: App, username: str) -> str:
    """The internal name the group list shows for owners: `{org}#{app}_{username}` (§6.3)."""
    return f"{app.appkey}_{username.lower()}"


def actor_of(call: Call) -> str | None:
    """Who acts, for the notices: the user of a user token; None for the app (admin token)."""
    return None if call.is_admin or call.user is None else call.user.username


async def _targets(call: Call, kind: Kind, rid: str, names: Any) -> None:
    """A group admin (user token) may act on plain members only (`group_policy.target_refusal`)."""
    if not call.is_admin and call.user is not None:
        await kind.service(call).members.permit_targets(call.app, rid, call.user, names)


# --- handlers --------------------------------------------------------------------------------------


def room_rule(
    kind: Kind, level: Level, family: str | None = None
) -> Callable[[Callable[[Call], Awaitable[Response]]], Handler]:
    """The endpoint of a handler that a group member may call at `level` with their own token
    (the rooms the path names, `ids` or `id`, are checked first); chat-room handlers stay
    admin-only. `family`: the API family, the kind's by default."""
    fam = family or kind.family

    def wrap(fn: Callable[[Call], Awaitable[Response]]) -> Handler:
        if not kind.is_group:
            return endpoint(fam, Access.ADMIN)(fn)

        async def checked(call: Call) -> Response:
            if not call.is_admin:
                assert call.user is not None
                params = call.request.path_params
                rids = _names(params["ids"]) if "ids" in params else [params["id"]]
                await kind.service(call).members.permit(call.app, rids, call.user, level)
            return await fn(call)

        checked.__name__ = fn.__name__
        checked.__doc__ = fn.__doc__
        return endpoint(fam, Access.ANY)(checked)

    return wrap


def build(kind: Kind) -> dict[str, Handler]:
    """The handlers of one kind, by name."""
    fam = kind.family
    # for the OpenAPI document
    tag, noun, rid = ("Groups", "group", "groupid") if kind.is_group else ("Chat rooms", "chat room", "id")
    one_result = obj({"result": BOOL, "action": STR, rid: STR, "user": STR}, ["result", "user"])

    def rule(level: Level) -> Callable[[Callable[[Call], Awaitable[Response]]], Handler]:
        return room_rule(kind, level)

    @doc(
        f"Create a {noun}",
        tag=tag,
        description="A user token creates a group it owns; for chat rooms, a chat-room super admin's."
        if kind.is_group else "The app token, or a chat-room super admin's token.",
        body=room_bodies.NEW_GROUP if kind.is_group else room_bodies.NEW_ROOM,
        ok=rooms_ok(obj({rid: STR}, [rid])),
    )
    @endpoint(fam, Access.ANY)
    async def create(call: Call) -> Response:
        """A user token creates a group it owns (`owner` absent or itself; the SDK 1.8's
        `createGroupNew`), or, as a chat-room super admin, a chat room (§7)."""
        body = await body_object(call)
        owner = None
        if not call.is_admin:
            assert call.user is not None
            if kind.is_group:
                named = body.get("owner")
                if named is not None and (not isinstance(named, str) or named.lower() != call.user.key):
                    raise errors.forbidden_op(
                        f"user: {call.user.username} can not create a group owned by user: {named}"
                    )
            elif not await call.node.chatrooms.moderation.is_super_admin(call.user):
                raise permission_error(call.app, call.request.method, call.path)
            owner = call.user.username
        command = room_bodies.new_room(kind.is_group, body, call.node.settings, default_owner=owner)
        room = await kind.service(call).rooms.create(call.app, command)
        return room_ok(call, group_render.created(kind, room))

    # The Web IM SDK lists chat rooms with the user's token (webim-xmpp.md §2.4); groups stay admin-only.
    @doc(
        f"List the app's {noun}s, a page at a time",
        tag=tag,
        params=[param("limit", f"{noun}s per page", POSITIVE), param("cursor", "the page after the one that gave it")],
        ok=rooms_ok(arr(LISTED_GROUP if kind.is_group else LISTED_ROOM)),
    )
    @endpoint(fam, Access.ADMIN if kind.is_group else Access.ANY)
    async def list_rooms(call: Call) -> Response:
        s = call.node.settings
        limit = int_param(call, "limit", 1, s.rooms_page_max) or s.rooms_page_default
        found, cursor = await kind.service(call).rooms.page(call.app, limit, call.request.query_params.get("cursor"))
        if kind.is_group:
            data = [
                {
                    "groupid": r.room_id,
                    "groupname": r.name,
                    "owner": _jid_node(call.app, r.owner),
                    "affiliations": r.members,
                    "type": "group",
                    "last_modified": str(r.modified),
                }
                for r in found
            ]
        else:
            data = [{"id": r.room_id, "name": r.name, "owner": r.owner, "affiliations_count": r.members} for r in found]
        return room_ok(call, data, params=True, cursor=cursor, count=len(data))

    @doc(
        f"Get one or several {noun}s",
        tag=tag,
        ok=rooms_ok(arr(ROOM_DETAILS)),
        errors={404: f"no such {noun} (one id)"},
    )
    @rule(Level.VIEWER)
    async def details(call: Call) -> Response:
        """One or several comma-separated ids. One unknown id: 404 `do not find this group:X`;
        in a multi-id GET each unknown id gets `{"id": X, "error": "group id doesn't exist"}`."""
        rids = _names(call.arg("ids"))
        found = await kind.service(call).rooms.details(call.app, rids)
        data = group_render.details(kind, rids, found, call.arg("ids"))
        return room_ok(call, data, count=len(data))

    @doc(
        f"Change a {noun}'s settings, or hand it to another member (`newowner`)",
        tag=tag,
        body=room_bodies.GROUP_CHANGES if kind.is_group else room_bodies.ROOM_CHANGES,
        ok=rooms_ok({"type": "object", "additionalProperties": BOOL, "description": "`true` for each field changed"}),
        errors={400: "a field this kind does not have, or a bad value", 404: f"no such {noun}"},
    )
    @rule(Level.OWNER)
    async def modify(call: Call) -> Response:
        changes, data = room_bodies.room_changes(kind.is_group, await call.json(), call.node.settings)
        await kind.service(call).rooms.modify(call.app, call.arg("ids"), changes)
        return room_ok(call, data)

    @doc(
        f"Destroy a {noun}",
        tag=tag,
        ok=rooms_ok(obj({"success": BOOL, rid: STR}, ["success", rid])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.OWNER)
    async def delete(call: Call) -> Response:
        # the SDK 1.8's dissolveGroup adds `?version=v3`, which changes nothing here
        room = await kind.service(call).rooms.delete(call.app, call.arg("ids"), actor=actor_of(call))
        return room_ok(call, group_render.deleted(kind, room))

    @doc(
        f"List a {noun}'s members",
        tag=tag,
        params=PAGING,
        ok=rooms_ok(arr({"type": "object", "additionalProperties": STR, "description": "`{role: name}`"})),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.MEMBER)
    async def members(call: Call) -> Response:
        pagenum, pagesize = _paging(call)
        found = await kind.service(call).rooms.members(call.app, call.arg("id"), pagenum, pagesize)
        data = [{role: name} for name, role in found]
        return room_ok(call, data, params=bool(call.request.query_params), count=len(data))

    @doc(
        f"Add a user to a {noun}",
        tag=tag,
        ok=rooms_ok(one_result),
        errors={404: f"no such {noun} or user"},
    )
    @rule(Level.INVITER)
    async def add_member(call: Call) -> Response:
        rid = call.arg("id")
        user = await kind.service(call).members.add_member(call.app, rid, call.arg("username"))
        return room_ok(call, {"result": True, "action": "add_member", kind.id_key: rid, "user": user.username})

    @doc(
        f"Add users to a {noun}",
        tag=tag,
        body=USERNAMES,
        ok=rooms_ok(obj({"newmembers": NAMES, "action": STR, rid: STR}, ["newmembers", rid])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.INVITER)
    async def add_members(call: Call) -> Response:
        rid = call.arg("id")
        added = await kind.service(call).members.add_members(call.app, rid, (await body_object(call)).get("usernames"))
        return room_ok(call, group_render.members_added(kind, rid, added))

    @doc(
        f"Remove one member, or several (names separated by commas), from a {noun}",
        tag=tag,
        ok=rooms_ok(one_of(one_result, arr(ITEM_RESULT))),
        errors={404: f"no such {noun} or member"},
    )
    @rule(Level.ADMIN)
    async def remove_members(call: Call) -> Response:
        rid, segment = call.arg("id"), call.arg("usernames")
        svc = kind.service(call).members
        await _targets(call, kind, rid, _names(segment))
        if "," not in segment:
            user = await svc.remove_member(call.app, rid, segment, actor=actor_of(call))
            return room_ok(call, group_render.member_result(kind, rid, "remove_member", user.username))
        items = await svc.remove_members(call.app, rid, _names(segment), actor=actor_of(call))
        return _one_or_many(call, kind, rid, "remove_member", items, True)

    @doc(f"List a {noun}'s admins", tag=tag, ok=rooms_ok(NAMES), errors={404: f"no such {noun}"})
    @rule(Level.MEMBER)
    async def admins(call: Call) -> Response:
        names = await kind.service(call).moderation.admins(call.app, call.arg("id"))
        return room_ok(call, names, count=len(names))

    @doc(
        f"Make a member an admin of a {noun}",
        tag=tag,
        body=obj({"newadmin": STR}, ["newadmin"]),
        ok=rooms_ok(obj({"result": STR, "newadmin": STR}, ["result", "newadmin"])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.OWNER)
    async def add_admin(call: Call) -> Response:
        body = await body_object(call)
        moderation = kind.service(call).moderation
        name = await moderation.add_admin(call.app, call.arg("id"), body.get("newadmin"), actor=actor_of(call))
        return room_ok(call, {"result": "success", "newadmin": name})

    @doc(
        f"Take a {noun} admin's role away",
        tag=tag,
        ok=rooms_ok(obj({"result": STR, "oldadmin": STR}, ["result", "oldadmin"])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.OWNER)
    async def remove_admin(call: Call) -> Response:
        moderation = kind.service(call).moderation
        name = await moderation.remove_admin(call.app, call.arg("id"), call.arg("username"), actor=actor_of(call))
        return room_ok(call, {"result": "success", "oldadmin": name})

    @doc(f"List the users blocked from a {noun}", tag=tag, ok=rooms_ok(NAMES), errors={404: f"no such {noun}"})
    @rule(Level.MEMBER)
    async def blocks(call: Call) -> Response:
        names = await kind.service(call).moderation.blocks(call.app, call.arg("id"))
        return room_ok(call, names, count=len(names))

    @doc(
        f"Block a user from a {noun} (a member is removed)",
        tag=tag,
        paths={"usernames": "the user's name"},
        ok=rooms_ok(ITEM_RESULT),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def block_one(call: Call) -> Response:
        rid = call.arg("id")
        await _targets(call, kind, rid, [call.arg("usernames")])
        items = await kind.service(call).moderation.block(call.app, rid, [call.arg("usernames")], actor=actor_of(call))
        return _one_or_many(call, kind, rid, "add_blocks", items, False)

    @doc(
        f"Block users from a {noun}",
        tag=tag,
        body=USERNAMES,
        ok=rooms_ok(arr(ITEM_RESULT)),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def block_many(call: Call) -> Response:
        rid = call.arg("id")
        names = (await body_object(call)).get("usernames")
        await _targets(call, kind, rid, names)
        items = await kind.service(call).moderation.block(call.app, rid, names, actor=actor_of(call))
        return _one_or_many(call, kind, rid, "add_blocks", items, True)

    @doc(
        f"Unblock one user, or several (names separated by commas), from a {noun}",
        tag=tag,
        ok=rooms_ok(one_of(ITEM_RESULT, arr(ITEM_RESULT))),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def unblock(call: Call) -> Response:
        rid, segment = call.arg("id"), call.arg("usernames")
        items = await kind.service(call).moderation.unblock(call.app, rid, _names(segment))
        return _one_or_many(call, kind, rid, "remove_blocks", items, "," in segment)

    @doc(
        f"List a {noun}'s muted members",
        tag=tag,
        ok=rooms_ok(arr(obj({"expire": INT, "user": STR}, ["expire", "user"]))),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.MEMBER)
    async def mutes(call: Call) -> Response:
        found = await kind.service(call).moderation.mutes(call.app, call.arg("id"))
        data = [{"expire": expire, "user": name} for name, expire in found]
        return room_ok(call, data, count=len(data))

    @doc(
        f"Mute members of a {noun} for a while",
        tag=tag,
        body=obj({"usernames": NAMES, "mute_duration": text("milliseconds, -1 for ever", type="integer")},
                 ["usernames", "mute_duration"]),
        ok=rooms_ok(arr(obj({"result": BOOL, "expire": INT, "user": STR}, ["result", "user"]))),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def mute(call: Call) -> Response:
        body = await body_object(call)
        svc = kind.service(call).moderation
        await _targets(call, kind, call.arg("id"), body.get("usernames"))
        items = await svc.mute(
            call.app, call.arg("id"), body.get("usernames"), body.get("mute_duration"), actor=actor_of(call)
        )
        return room_ok(call, [{"result": True, "expire": i.expire, "user": i.user} for i in items])

    @doc(
        f"Unmute one member, or several (names separated by commas), of a {noun}",
        tag=tag,
        ok=rooms_ok(arr(obj({"result": BOOL, "reason": STR, "user": STR}, ["result", "user"]))),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def unmute(call: Call) -> Response:
        names = _names(call.arg("usernames"))
        await _targets(call, kind, call.arg("id"), names)
        items = await kind.service(call).moderation.unmute(call.app, call.arg("id"), names, actor=actor_of(call))
        data = []
        for i in items:
            entry: dict[str, Any] = {"result": i.result}
            if i.reason is not None:
                entry["reason"] = i.reason
            entry["user"] = i.user
            data.append(entry)
        return room_ok(call, data)

    @doc(
        f"Mute everyone in a {noun} but its owner, admins and allow list",
        tag=tag,
        body=obj({"mute_duration": text("milliseconds, -1 for ever", type="integer")}),
        body_required=False,
        ok=rooms_ok(obj({"mute": BOOL}, ["mute"])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def mute_all(call: Call) -> Response:
        body = await call.json()
        duration = body.get("mute_duration") if isinstance(body, dict) else None
        await kind.service(call).moderation.mute_all(call.app, call.arg("id"), duration)
        return room_ok(call, {"mute": True})

    @doc(
        f"End the mute of everyone in a {noun}",
        tag=tag,
        ok=rooms_ok(obj({"mute": BOOL}, ["mute"])),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def unmute_all(call: Call) -> Response:
        await kind.service(call).moderation.unmute_all(call.app, call.arg("id"))
        return room_ok(call, {"mute": False})

    @doc(f"List a {noun}'s allow list", tag=tag, ok=rooms_ok(NAMES), errors={404: f"no such {noun}"})
    @rule(Level.MEMBER)
    async def whitelist(call: Call) -> Response:
        names = await kind.service(call).moderation.whitelist(call.app, call.arg("id"))
        return room_ok(call, names, count=len(names))

    @doc(
        f"Add a member to a {noun}'s allow list",
        tag=tag,
        paths={"usernames": "the member's name"},
        ok=rooms_ok(ITEM_RESULT),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def whitelist_one(call: Call) -> Response:
        rid = call.arg("id")
        items = await kind.service(call).moderation.whitelist_add(call.app, rid, [call.arg("usernames")])
        return _one_or_many(call, kind, rid, "add_user_whitelist", items, False)

    @doc(
        f"Add members to a {noun}'s allow list",
        tag=tag,
        body=USERNAMES,
        ok=rooms_ok(arr(ITEM_RESULT)),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def whitelist_many(call: Call) -> Response:
        rid = call.arg("id")
        names = (await body_object(call)).get("usernames")
        items = await kind.service(call).moderation.whitelist_add(call.app, rid, names)
        return _one_or_many(call, kind, rid, "add_user_whitelist", items, True)

    @doc(
        f"Remove one member, or several (names separated by commas), from a {noun}'s allow list",
        tag=tag,
        ok=rooms_ok(one_of(ITEM_RESULT, arr(ITEM_RESULT))),
        errors={404: f"no such {noun}"},
    )
    @rule(Level.ADMIN)
    async def whitelist_remove(call: Call) -> Response:
        rid, segment = call.arg("id"), call.arg("usernames")
        items = await kind.service(call).moderation.whitelist_remove(call.app, rid, _names(segment))
        return _one_or_many(call, kind, rid, "remove_user_whitelist", items, "," in segment)

    # --- what the Web IM SDK 1.8 calls with the user's token (§2.7); groups only ------------------
    @doc(
        "Leave a group (the member's own token)",
        tag=tag,
        ok=rooms_ok(one_result),
        errors={403: "the owner cannot leave", 404: "no such group"},
    )
    @rule(Level.MEMBER)
    async def quit(call: Call) -> Response:
        """`quitGroup`: the caller leaves (the owner may not: 403 on the group owner)."""
        rid = call.arg("id")
        if call.user is None:  # the app admin token names nobody who could leave
            raise errors.invalid_parameter("quit needs the token of the member who leaves")
        members = kind.service(call).members
        user = await members.remove_member(call.app, rid, call.user.username, actor=call.user.username)
        return room_ok(call, {"result": True, "action": "quit", kind.id_key: rid, "user": user.username})

    @doc(
        "Ask to join a public group (the user's own token)",
        tag=tag,
        body=obj({"message": STR}),
        body_required=False,
        ok=rooms_ok(obj({"result": BOOL, "action": STR, rid: STR, "user": STR, "joined": BOOL}, ["result", "joined"])),
        errors={404: "no such group"},
    )
    @rule(Level.ANYONE)
    async def apply(call: Call) -> Response:
        """`joinGroup`: ask to join a public group (admitted at once when it needs no approval)."""
        rid = call.arg("id")
        if call.user is None:
            raise errors.invalid_parameter("apply needs the token of the user who asks to join")
        body = await call.json()
        message = body.get("message", "") if isinstance(body, dict) else ""
        joined = await kind.service(call).members.apply(call.app, rid, call.user.username, message)
        data = {"result": True, "action": "apply", kind.id_key: rid, "user": call.user.username, "joined": joined}
        return room_ok(call, data)

    @doc(
        "Accept or decline a request to join a group",
        tag=tag,
        body=obj({"applicant": STR, "verifyResult": BOOL, "reason": STR}, ["applicant", "verifyResult"]),
        ok=rooms_ok(obj({"result": BOOL, "action": STR, rid: STR, "user": STR, "verifyResult": BOOL}, ["result"])),
        errors={404: "no such group or request"},
    )
    @rule(Level.ADMIN)
    async def apply_verify(call: Call) -> Response:
        """`agreeJoinGroup` / `rejectJoinGroup`: answer a pending request to join."""
        rid = call.arg("id")
        body = await body_object(call)
        accept = body.get("verifyResult")
        name = await kind.service(call).members.verify(
            call.app, rid, body.get("applicant"), accept, body.get("reason"), actor_of(call)
        )
        return room_ok(call, {"result": True, "action": "apply_verify", kind.id_key: rid, "user": name,
                          "verifyResult": accept})

    @doc(
        "Invite users to a group (members at once when the group needs no confirmation)",
        tag=tag,
        body=obj({"usernames": NAMES, "reason": STR}, ["usernames"]),
        ok=rooms_ok(obj({"result": BOOL, "action": STR, rid: STR, "invitees": NAMES}, ["result", "invitees"])),
        errors={404: "no such group"},
    )
    @rule(Level.INVITER)
    async def invite(call: Call) -> Response:
        """`inviteToGroup`: invitations (§7.6), or members at once when no confirmation is needed."""
        rid = call.arg("id")
        body = await body_object(call)
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise errors.invalid_parameter("reason must be a string")
        invited = await kind.service(call).members.invite(call.app, rid, body.get("usernames"), actor_of(call), reason)
        return room_ok(call, {"result": True, "action": "invite", kind.id_key: rid, "invitees": invited})

    @doc(
        f"The {noun}s a user belongs to",
        tag=tag,
        params=PAGING,
        ok=rooms_ok(arr(obj({"groupid": STR, "groupname": STR}) if kind.is_group else obj({"id": STR, "name": STR}))),
        errors={404: "no such user"},
    )
    @endpoint(fam, Access.SELF)
    async def joined(call: Call) -> Response:
        pagenum, pagesize = _paging(call)
        found = await kind.service(call).rooms.joined(call.app, call.arg("username"), pagenum, pagesize)
        if kind.is_group:
            data = [{"groupid": i, "groupname": n} for i, n in found]
        else:
            data = [{"id": i, "name": n} for i, n in found]
        return room_ok(call, data, params=bool(call.request.query_params), count=len(data))

    @doc(
        "The groups a user belongs to, a page at a time, with their settings",
        tag=tag,
        params=[param("pagesize", "groups per page", POSITIVE), param("pagenum", "the page, from 0", NATURAL)],
        ok=usergrid(entities=JOINED_GROUP, total=INT),
        errors={404: "no such user"},
    )
    @endpoint(fam)
    async def groups_of_user(call: Call) -> Response:
        """`GET /chatgroups/user/{u}?pagesize=&pagenum=` (Easemob's group_obtain_joined): the
        groups the user belongs to, a page at a time (`pagenum` from 0, `pagesize` capped at
        `user_groups_page_max`), with `total`."""
        s = call.node.settings
        size = int_param(call, "pagesize", 1, 1 << 31) or s.user_groups_page_default
        page = int_param(call, "pagenum", 0, 1 << 31) or 0
        total, found = await kind.service(call).rooms.joined_page(
            call.app, call.arg("username"), page, min(size, s.user_groups_page_max)
        )
        entities = [
            {
                "name": r.name, "avatar": "", "owner": r.owner, "id": r.room_id, "groupId": r.room_id,
                "description": r.description, "disabled": r.disabled, "public": r.public,
                "allowinvites": r.allowinvites, "membersonly": r.membersonly, "maxusers": r.maxusers,
                "created": r.created,
            }
            for r in found
        ]
        return json_response({**ops.ok(call, "get", entities=entities), "total": total})

    @doc(
        "Whether a user belongs to a group",
        tag=tag,
        ok=rooms_ok(BOOL),
        errors={404: "no such group"},
    )
    @endpoint(fam)
    async def is_joined(call: Call) -> Response:
        """`GET /chatgroups/{id}/user/{u}/is_joined` (Easemob's group_check_joined): whether the
        user belongs to the group, in any role; false for a user that does not exist."""
        rooms, rid = kind.service(call).rooms, call.arg("id")
        await rooms.get(call.app, rid)  # 404 for a group that does not exist
        user = await call.node.users.find(call.app, call.arg("username"))
        joined = user is not None and await rooms.is_member(call.app, rid, user)
        return call.ok("get", data=joined)

    return {
        fn.__name__: fn
        for fn in (
            groups_of_user,
            is_joined,
            create,
            list_rooms,
            details,
            modify,
            delete,
            members,
            add_member,
            add_members,
            remove_members,
            admins,
            add_admin,
            remove_admin,
            blocks,
            block_one,
            block_many,
            unblock,
            mutes,
            mute,
            unmute,
            mute_all,
            unmute_all,
            whitelist,
            whitelist_one,
            whitelist_many,
            whitelist_remove,
            quit,
            apply,
            apply_verify,
            invite,
            joined,
        )
    }


# --- chat-room super admins ------------------------------------------------------------------------


@doc(
    "List the chat-room super admins (who may create chat rooms with their own token)",
    tag="Chat rooms",
    params=PAGING,
    ok=rooms_ok(NAMES),
)
@endpoint("chatrooms")
async def super_admins(call: Call) -> Response:
    pagenum, pagesize = _paging(call)
    names = await call.node.chatrooms.moderation.super_admins(call.app, pagenum, pagesize)
    return room_ok(call, names, params=bool(call.request.query_params), count=len(names))


@doc(
    "Make a user a chat-room super admin",
    tag="Chat rooms",
    body=obj({"superadmin": STR}, ["superadmin"]),
    ok=rooms_ok(obj({"result": STR, "newSuperAdmin": STR}, ["result", "newSuperAdmin"])),
    errors={404: "no such user"},
)
@endpoint("chatrooms")
async def add_super_admin(call: Call) -> Response:
    name = await call.node.chatrooms.moderation.add_super_admin(call.app, (await body_object(call)).get("superadmin"))
    return room_ok(call, {"result": "success", "newSuperAdmin": name})


@doc(
    "Take a chat-room super admin's role away",
    tag="Chat rooms",
    ok=rooms_ok(obj({"result": STR, "oldSuperAdmin": STR}, ["result", "oldSuperAdmin"])),
)
@endpoint("chatrooms")
async def remove_super_admin(call: Call) -> Response:
    name = await call.node.chatrooms.moderation.remove_super_admin(call.app, call.arg("username"))
    return room_ok(call, {"result": "success", "oldSuperAdmin": name})


# --- the route table -------------------------------------------------------------------------------

P = "/{org}/{app}"


def _kind_routes(kind: Kind) -> list[Route]:
    h = build(kind)
    base = f"{P}/{kind.family}"
    one = base + "/{id}"
    joined = "joined_chatgroups" if kind.is_group else "joined_chatrooms"
    routes = [
        Route(base, h["create"], methods=["POST"]),
        Route(base, h["list_rooms"], methods=["GET"]),
        Route(base + "/{ids}", h["details"], methods=["GET"]),
        Route(base + "/{ids}", h["modify"], methods=["PUT"]),
        Route(base + "/{ids}", h["delete"], methods=["DELETE"]),
        Route(one + "/users", h["members"], methods=["GET"]),
        Route(one + "/users", h["add_members"], methods=["POST"]),
        Route(one + "/users/{username}", h["add_member"], methods=["POST"]),
        Route(one + "/users/{usernames}", h["remove_members"], methods=["DELETE"]),
        Route(one + "/admin", h["admins"], methods=["GET"]),
        Route(one + "/admin", h["add_admin"], methods=["POST"]),
        Route(one + "/admin/{username}", h["remove_admin"], methods=["DELETE"]),
        Route(one + "/blocks/users", h["blocks"], methods=["GET"]),
        Route(one + "/blocks/users", h["block_many"], methods=["POST"]),
        Route(one + "/blocks/users/{usernames}", h["block_one"], methods=["POST"]),
        Route(one + "/blocks/users/{usernames}", h["unblock"], methods=["DELETE"]),
        Route(one + "/mute", h["mutes"], methods=["GET"]),
        Route(one + "/mute", h["mute"], methods=["POST"]),
        Route(one + "/mute/{usernames}", h["unmute"], methods=["DELETE"]),
        Route(one + "/ban", h["mute_all"], methods=["POST", "PUT"]),
        Route(one + "/ban", h["unmute_all"], methods=["DELETE"]),
        Route(one + "/white/users", h["whitelist"], methods=["GET"]),
        Route(one + "/white/users", h["whitelist_many"], methods=["POST"]),
        Route(one + "/white/users/{usernames}", h["whitelist_one"], methods=["POST"]),
        Route(one + "/white/users/{usernames}", h["whitelist_remove"], methods=["DELETE"]),
        Route(P + "/users/{username}/" + joined, h["joined"], methods=["GET"]),
    ]
    if kind.is_group:  # what only the Web IM SDK 1.8 calls (§2.7)
        routes += [
            Route(base + "/user/{username}", h["groups_of_user"], methods=["GET"]),
            Route(one + "/quit", h["quit"], methods=["DELETE"]),
            Route(one + "/user/{username}/is_joined", h["is_joined"], methods=["GET"]),
            Route(one + "/apply", h["apply"], methods=["POST"]),
            Route(one + "/apply_verify", h["apply_verify"], methods=["POST"]),
            Route(one + "/invite", h["invite"], methods=["POST"]),
        ]
    return routes


routes = [
    # before /chatrooms/{ids}, which would otherwise take "super_admin" for a room id
    Route(P + "/chatrooms/super_admin", super_admins, methods=["GET"]),
    Route(P + "/chatrooms/super_admin", add_super_admin, methods=["POST"]),
    Route(P + "/chatrooms/super_admin/{username}", remove_super_admin, methods=["DELETE"]),
    *_kind_routes(GROUPS),
    *_kind_routes(ROOMS),
]


def _public_routes() -> list[Route]:
    @doc(
        "List the public groups, a page at a time",
        tag="Groups",
        params=[param("limit", "groups per page", POSITIVE), param("cursor", "the page after the one that gave it")],
        ok=rooms_ok(arr(obj({"groupid": STR, "groupname": STR, "id": STR, "name": STR}, ["groupid", "id"]))),
    )
    @endpoint("chatgroups", Access.ANY)  # the Web IM SDK 1.8 calls it with the user's token (§2.7)
    async def public_groups(call: Call) -> Response:
        s = call.node.settings
        limit = int_param(call, "limit", 1, s.rooms_page_max) or s.rooms_page_default
        found, cursor = await call.node.groups.rooms.page(
            call.app, limit, call.request.query_params.get("cursor"), public_only=True
        )
        # the Web IM SDK 1.8 reads groupid and groupname, the Web SDK 4.x (version=v3) id and name
        data = [{"groupid": r.room_id, "groupname": r.name, "id": r.room_id, "name": r.name} for r in found]
        return room_ok(call, data, params=True, cursor=cursor, count=len(data))

    return [Route(P + "/publicchatgroups", public_groups, methods=["GET"])]


routes += _public_routes()
