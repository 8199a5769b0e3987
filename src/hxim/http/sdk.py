"""The REST calls of Easemob's Web SDK 4.x and Agora Chat 1.x that are not in Easemob's server REST
API (docs/api.md, "Calls of the Web SDK 4.x"): friend requests and their answers, the paged
contact list, block lists, the conversation list, the joined-group count and the token's expiry.
Message history (`POST /users/{u}/messageroaming`) is `http/history.py`'s, which tells the two
SDKs apart.

The SDK treats any status but 200 as a failure and reads only a few fields of each answer; those
are given in the shape it reads, inside Usergrid's envelope where it reads `data` or `entities`.
Writes carry `?resource=<the device>`, which changes nothing. A user token acts for its own user
only (`Access.SELF`: the user the path names); the app admin token for anyone. Every change goes
through the service every other surface uses, so every protocol's users are told.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import BOOL, INT, NAMES, STR, arr, doc, obj, param, text, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint, limit_param
from hxim.http.render import json_response
from hxim.model import User
from hxim.services.messages import Conversation

__all__ = ["routes"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Web SDK"
CHANNELS = obj(
    {
        "channel_infos": arr(
            obj(
                {
                    "session_to": STR, "session_type": {"enum": ["chat", "groupchat"]}, "unread_num": INT,
                    "is_top": BOOL, "update_top_status_time": INT, "marks": arr({}),
                    "meta": obj(
                        {"id": STR, "timestamp": INT, "from": STR, "to": STR,
                         "payload": text("the last message as REST's JSON, in a string")},
                        ["id", "payload"],
                    ),
                },
                ["session_to", "session_type", "unread_num", "meta"],
            )
        ),
        "cursor": STR,
    },
    ["channel_infos", "cursor"],
)


async def _me(call: Call) -> User:
    """The user the path names: the token's own, or (admin token) whoever it names."""
    if call.user is not None:
        return call.user
    return await call.node.users.get(call.app, call.arg("username"))


def _usernames(body: Any, most: int) -> list[str]:
    """`{"usernames": [...]}`: 1 to `most` names."""
    names = body.get("usernames") if isinstance(body, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise errors.illegal_argument("usernames must be a non-empty array of usernames")
    if len(names) > most:
        raise errors.illegal_argument(f"usernames can hold at most {most} names")
    return names


# --- contacts: friend requests, the paged list ------------------------------------------------------


@doc(
    "Send friend requests",
    tag=TAG,
    body=obj({"usernames": {**NAMES, "minItems": 1}, "reason": STR}, ["usernames"]),
    ok=usergrid(data=obj({"result": STR, "usernames": NAMES}, ["result", "usernames"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def apply(call: Call) -> Response:
    """`addContact(to, reason)`: a friend request to each user named (`ContactService.request`)."""
    body = await call.json()
    names = _usernames(body, call.node.settings.contacts_import_max)
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise errors.illegal_argument("reason must be a string")
    me = await _me(call)
    for name in names:
        await call.node.contacts.request(call.app, me, name, reason or None)
    return call.ok("post", entities=[], data={"result": "ok", "usernames": names})


@doc(
    "Accept a friend request",
    tag=TAG,
    paths={"requester": "who asked"},
    ok=usergrid(data=obj({"result": STR, "username": STR}, ["result", "username"])),
    errors={400: "no request of theirs waits", 404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def accept(call: Call) -> Response:
    """`acceptContactInvite(from)`: they become contacts; 400 when no request of theirs waits."""
    requester = await call.node.contacts.accept(call.app, await _me(call), call.arg("requester"))
    if requester is None:
        raise errors.illegal_argument(f"no friend request from {call.arg('requester')} is waiting")
    return call.ok("post", entities=[], data={"result": "ok", "username": requester.username})


@doc(
    "Decline a friend request",
    tag=TAG,
    paths={"requester": "who asked"},
    ok=usergrid(data=obj({"result": STR, "username": STR}, ["result", "username"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def decline(call: Call) -> Response:
    """`declineContactInvite(from)`: the request ends; the requester is told."""
    requester = await call.node.users.get(call.app, call.arg("requester"))
    await call.node.contacts.decline(call.app, await _me(call), requester)
    return call.ok("post", entities=[], data={"result": "ok", "username": requester.username})


@doc(
    "A user's contacts with their remarks, a page at a time",
    tag=TAG,
    params=[param("limit", "contacts per page", {"type": "integer", "minimum": 1}),
            param("cursor", "the page after the one that gave it"), param("needReturnRemark")],
    ok=usergrid(data=obj({"contacts": arr(obj({"username": STR, "remark": STR}, ["username", "remark"])),
                          "cursor": STR}, ["contacts", "cursor"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def contacts_page(call: Call) -> Response:
    """`getContactsWithCursor`: `data.contacts[{username, remark}]`, newest first, `data.cursor`
    (empty on the last page)."""
    limit = limit_param(call, 20, call.node.settings.contacts_page_max)
    cursor = call.request.query_params.get("cursor") or None
    found, cursor = await call.node.contacts.page(await _me(call), limit, cursor)
    items = [{"username": name, "remark": remark or ""} for name, remark in found]
    return call.ok("get", entities=[], data={"contacts": items, "cursor": cursor or ""}, count=len(items))


# --- block lists -----------------------------------------------------------------------------------


@doc(
    "Block users",
    tag=TAG,
    body=obj({"usernames": {**NAMES, "minItems": 1}}, ["usernames"]),
    ok=usergrid(data=NAMES),
    errors={404: "no such user"},
)
@endpoint("blocks", Access.SELF)
async def block(call: Call) -> Response:
    """`addUsersToBlocklist`: `data` the names blocked."""
    names = _usernames(await call.json(), call.node.settings.blocks_max)
    added = await call.node.contacts.block(call.app, await _me(call), names)
    return call.ok("post", entities=[], data=added)


@doc(
    "Unblock users",
    tag=TAG,
    body=obj({"usernames": {**NAMES, "minItems": 1}}, ["usernames"]),
    ok=usergrid(data=NAMES),
    errors={404: "no such user"},
)
@endpoint("blocks", Access.SELF)
async def unblock(call: Call) -> Response:
    """`removeUserFromBlocklist`: `data` the names unblocked."""
    names = _usernames(await call.json(), call.node.settings.blocks_max)
    gone = await call.node.contacts.unblock_many(call.app, await _me(call), names)
    return call.ok("delete", entities=[], data=gone)


# --- the conversation list -------------------------------------------------------------------------


def _channel(call: Call, c: Conversation) -> dict[str, Any]:
    """One conversation as the SDK reads it: `meta.payload` is the last message as REST's JSON
    (a string the SDK parses), `meta.id` its id as a string (beyond JavaScript's exact integers)."""
    m = c.last
    payload = {"from": m.sender, "to": m.to, "type": m.chat_type, "ext": m.ext or {}, "bodies": m.bodies}
    return {
        "session_to": c.peer,
        "session_type": c.chat_type,
        "unread_num": c.unread,
        "is_top": False,
        "update_top_status_time": 0,
        "marks": [],
        "meta": {
            "id": m.msg_id, "timestamp": m.timestamp, "from": m.sender, "to": m.to,
            "payload": orjson.dumps(payload).decode(),
        },
    }


def _channels(call: Call, found: list[Conversation], cursor: str | None) -> Response:
    data = {"channel_infos": [_channel(call, c) for c in found], "cursor": cursor or ""}
    return call.ok("get", entities=[], data=data, count=len(found))


@doc(
    "A user's conversations, newest activity first",
    tag=TAG,
    params=[param("limit", "conversations per page", {"type": "integer", "minimum": 1}),
            param("cursor", "the page after the one that gave it"),
            param("is_top", "true: the pinned ones (none here)"), param("need_mark"), param("needEmptySession")],
    ok=usergrid(data=CHANNELS),
    errors={404: "no such user"},
)
@endpoint("chatmessages", Access.SELF)
async def conversations(call: Call) -> Response:
    """`getServerConversations`: a page of the user's conversations, the newest activity first.
    Nothing is pinned here, so the pinned list (`is_top=true`) is empty."""
    query = call.request.query_params
    limit = limit_param(call, 20, call.node.settings.conversations_page_max)
    if query.get("is_top", "").lower() == "true":
        return _channels(call, [], None)
    me = await _me(call)
    found, cursor = await call.node.messages.conversations(call.app, me, limit, query.get("cursor") or None)
    return _channels(call, found, cursor)


@doc(
    "A user's newest conversations",
    tag=TAG,
    ok=usergrid(data=CHANNELS),
    errors={404: "no such user"},
)
@endpoint("chatmessages", Access.SELF)
async def conversations_old(call: Call) -> Response:
    """`getConversationlist` (older SDKs): the newest `conversations_page_max` conversations."""
    found, cursor = await call.node.messages.conversations(
        call.app, await _me(call), call.node.settings.conversations_page_max, None
    )
    return _channels(call, found, cursor)


def _page_param(call: Call, name: str, most: int) -> int:
    raw = call.request.query_params.get(name, "")
    if not raw.isdecimal() or not 1 <= int(raw) <= most:
        raise errors.illegal_argument(f"{name} must be a number from 1 to {most}")
    return int(raw)


@doc(
    "One numbered page of a user's conversations",
    tag=TAG,
    params=[param("pageNum", "the page, from 1", {"type": "integer", "minimum": 1}, required=True),
            param("pageSize", "conversations per page", {"type": "integer", "minimum": 1}, required=True)],
    ok=usergrid(data=CHANNELS),
    errors={404: "no such user"},
)
@endpoint("chatmessages", Access.SELF)
async def conversations_numbered(call: Call) -> Response:
    """`getConversationlist({pageNum, pageSize})`: page `pageNum` (from 1) of `pageSize`."""
    size = _page_param(call, "pageSize", call.node.settings.conversations_page_max)
    number = _page_param(call, "pageNum", 1_000_000)
    me, cursor = await _me(call), None
    for at in range(1, number + 1):
        found, cursor = await call.node.messages.conversations(call.app, me, size, cursor)
        if at == number:
            return _channels(call, found, cursor)
        if cursor is None:
            break
    return _channels(call, [], None)


# --- groups, tokens --------------------------------------------------------------------------------


@doc(
    "How many groups a user belongs to",
    tag=TAG,
    ok=usergrid(data=INT),
)
@endpoint("chatgroups", Access.SELF)
async def joined_count(call: Call) -> Response:
    """`getJoinedGroupsCount`: `data` how many groups the user belongs to."""
    total, _ = await call.node.groups.rooms.joined_page(call.app, call.arg("username"), 0, 1)
    return call.ok("get", entities=[], data=total)


@doc(
    "When the token sent expires",
    tag=TAG,
    ok=obj({"expire_timestamp": text("ms since the epoch", type="integer")}, ["expire_timestamp"]),
)
@endpoint("users", Access.SELF)
async def token_expires(call: Call) -> Response:
    """`renewToken`'s check of the new token: `expire_timestamp`, when the caller's token expires (ms)."""
    assert call.grant is not None
    return json_response({"expire_timestamp": call.grant.expires_ms})


P = "/{org}/{app}"
U = P + "/users/{username}"
routes = [
    Route(U + "/contacts/apply", apply, methods=["POST"]),
    Route(U + "/contacts/accept/users/{requester}", accept, methods=["POST"]),
    Route(U + "/contacts/decline/users/{requester}", decline, methods=["POST"]),
    Route(U + "/contacts", contacts_page, methods=["GET"]),
    Route(P + "/sdk/user/{username}/blocks", block, methods=["POST"]),
    Route(P + "/sdk/user/{username}/blocks", unblock, methods=["DELETE"]),
    Route(P + "/sdk/user/{username}/user_channels/list", conversations, methods=["GET"]),
    Route(U + "/user_channels", conversations_old, methods=["GET"]),
    Route(U + "/user_channels/page", conversations_numbered, methods=["GET"]),
    Route(P + "/chatgroups/user/{username}/joined_count", joined_count, methods=["GET"]),
    Route(P + "/sdk/users/{username}/token/expires", token_expires, methods=["GET"]),
]
