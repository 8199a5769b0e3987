"""Contacts (friends) and block lists over the Easemob REST surface: the lists of
easemob-rest.md §4, and today's calls of Easemob's server documentation (`user_friend_*` pages:
remarks, the paged list, import, removing every contact, checking relations in a batch).

Each handler authenticates (through `endpoint`), parses, calls `ContactService` and renders the
answer in Usergrid's envelope (or, for the newer calls, in the shape their page shows). A user
token may act on its own lists only: the user the path names (`Access.SELF`), or the `username`
of a check's body.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http import easemob_ops as ops
from hxim.http.apidoc import ANY, INT, NAMES, STR, USER, arr, doc, obj, param, usergrid
from hxim.http.auth import Access, permission_error
from hxim.http.easemob import Call, endpoint, limit_param
from hxim.http.render import envelope, json_response, user_entity
from hxim.model import User

__all__ = ["routes"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Contacts"
STATUS_OK = obj(
    {"action": STR, "uri": STR, "status": STR, "data": {"type": "object"}, "timestamp": INT, "duration": INT},
    ["action", "status", "timestamp"],
)
CHECK = obj(
    {"username": STR, "check_list": {**NAMES, "minItems": 1}},
    ["username", "check_list"],
)


async def _owner(call: Call, param: str = "owner") -> User:
    if call.user is not None:
        return call.user
    return await call.node.users.get(call.app, call.arg(param))


# --- the lists of easemob-rest.md §4 ------------------------------------------------------------


@doc(
    "Add a contact (both become each other's)",
    tag=TAG,
    paths={"friend": "the contact's name"},
    ok=usergrid(entities=USER),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF, who="owner")
async def add_contact(call: Call) -> Response:
    return json_response(await ops.add_contact(call, call.arg("owner"), call.arg("friend")))


@doc(
    "Remove a contact",
    tag=TAG,
    paths={"friend": "the contact's name"},
    ok=usergrid(entities=USER),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF, who="owner")
async def remove_contact(call: Call) -> Response:
    return json_response(await ops.remove_contact(call, call.arg("owner"), call.arg("friend")))


@doc(
    "A user's contacts",
    tag=TAG,
    params=[param("needReturnRemark", "true: also `entities` with each contact's remark")],
    ok=usergrid(data=NAMES, entities=obj({"username": STR, "remark": STR}, ["username"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF, who="owner")
async def list_contacts(call: Call) -> Response:
    """`data` the names; with `needReturnRemark=true` (the Web SDK 4.x's getAllContacts) also
    `entities` `[{username, remark}]`, newest first."""
    answer = await ops.list_contacts(call, call.arg("owner"))
    if call.request.query_params.get("needReturnRemark", "").lower() == "true":
        found, _ = await call.node.contacts.page(await _owner(call), call.node.settings.contacts_max, None)
        answer["entities"] = [{"username": name, "remark": remark or ""} for name, remark in found]
    return json_response(answer)


@doc("A user's block list", tag=TAG, ok=usergrid(data=NAMES), errors={404: "no such user"})
@endpoint("blocks", Access.SELF, who="owner")
async def list_blocks(call: Call) -> Response:
    return json_response(await ops.list_blocks(call, call.arg("owner")))


@doc(
    "Block users",
    tag=TAG,
    body=obj({"usernames": NAMES}, ["usernames"]),
    ok=usergrid(data=NAMES),
    errors={404: "no such user"},
)
@endpoint("blocks", Access.SELF, who="owner")
async def add_blocks(call: Call) -> Response:
    owner = await _owner(call)
    body = await call.json()
    added = await call.node.contacts.block(call.app, owner, body.get("usernames") if isinstance(body, dict) else None)
    return json_response(
        envelope(action="post", app=call.app, uri=call.uri(""), started=call.started, entities=[], data=added)
    )


@doc(
    "Unblock a user",
    tag=TAG,
    paths={"blocked": "the blocked user's name"},
    ok=usergrid(entities=USER),
    errors={404: "no such user"},
)
@endpoint("blocks", Access.SELF, who="owner")
async def remove_block(call: Call) -> Response:
    owner = await _owner(call)
    target = await call.node.contacts.unblock(call.app, owner, call.arg("blocked"))
    return call.ok("delete", params={}, path=f"/users/{owner.uuid}/blocks", entities=[user_entity(target)])


# --- today's calls: remarks, the paged list, batches, checks -----------------------------------


def _status_ok(call: Call, action: str, data: Any = None) -> Response:
    """The answer of the newer calls that report `"status":"ok"` instead of an entity."""
    body: dict[str, Any] = {"action": action, "uri": call.uri(), "status": "ok"}
    if data is not None:
        body["data"] = data
    body["timestamp"] = int(time.time() * 1000)
    body["duration"] = int((time.perf_counter() - call.started) * 1000)
    return json_response(body)


@doc(
    "Set the remark a user keeps on a contact",
    tag=TAG,
    paths={"friend": "the contact's name"},
    body=obj({"remark": STR}, ["remark"]),
    ok=STATUS_OK,
    errors={404: "no such user or contact"},
)
@endpoint("contacts", Access.SELF, who="owner")
async def set_remark(call: Call) -> Response:
    body = await call.json()
    remark = body.get("remark") if isinstance(body, dict) else None
    if not isinstance(remark, str):
        raise errors.illegal_argument("remark must be a string")
    await call.node.contacts.set_remark(call.app, await _owner(call), call.arg("friend"), remark)
    return _status_ok(call, "put")


@doc(
    "A user's contacts, a page at a time",
    tag=TAG,
    params=[
        param("limit", "contacts per page", {"type": "integer", "minimum": 1}),
        param("cursor", "the page after the one that gave it"),
        param("needReturnRemark", "true: each contact's remark too"),
    ],
    ok=usergrid(data=obj({"contacts": arr(obj({"username": STR, "remark": STR}, ["username"]))}, ["contacts"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def contacts_page(call: Call) -> Response:
    query = call.request.query_params
    most = call.node.settings.contacts_page_max
    raw = query.get("limit")
    if raw is not None and raw.isdecimal() and int(raw) > most:
        raise errors.illegal_argument(f"getContacts | page size more than max limit : {most}")
    limit = limit_param(call, 10, most)
    with_remarks = query.get("needReturnRemark", "").lower() == "true"
    owner = await _owner(call, "username")
    found, cursor = await call.node.contacts.page(owner, limit, query.get("cursor") or None)
    items = [{"remark": remark, "username": name} if with_remarks else {"username": name} for name, remark in found]
    return json_response(
        envelope(
            action="get",
            app=None,
            uri=call.uri(),
            started=call.started,
            entities=[],
            data={"contacts": items},
            cursor=cursor,
            count=len(items),
        )
    )


@doc(
    "Add several contacts at once",
    tag=TAG,
    body=obj({"usernames": {**NAMES, "minItems": 1}}, ["usernames"]),
    ok=STATUS_OK,
    errors={404: "no such user"},
)
@endpoint("contacts", Access.SELF)
async def import_contacts(call: Call) -> Response:
    body = await call.json()
    names = body.get("usernames") if isinstance(body, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise errors.illegal_argument("usernames must be a non-empty array of usernames")
    most = call.node.settings.contacts_import_max
    if len(names) > most:
        raise errors.illegal_argument(f"request user over flow limit:{most}.")
    done = await call.node.contacts.import_contacts(call.app, await _owner(call, "username"), names)
    data = {
        "UnKnowFailed": done.failed,
        "success": done.added,
        "NotExistFailed": done.unknown,
        "maxLimitFailed": done.over_limit,
    }
    return _status_ok(call, "post", data)


@doc("Remove all of a user's contacts", tag=TAG, ok=usergrid(entities=ANY), errors={404: "no such user"})
@endpoint("contacts", Access.SELF)
async def remove_all_contacts(call: Call) -> Response:
    await call.node.contacts.remove_all(call.app, await _owner(call, "username"))
    return call.ok("delete", path=call.path, entities=[])


async def _check_request(call: Call) -> tuple[User, list[str]]:
    """The user and the names of a `/contacts/check` or `/blocks/check` body."""
    body = await call.json()
    fields = body if isinstance(body, dict) else {}
    name = fields.get("username")
    if not isinstance(name, str) or not name.strip():
        raise errors.illegal_argument("username cannot be blank")
    names = fields.get("check_list")
    most = call.node.settings.contacts_check_max
    if not isinstance(names, list) or not 1 <= len(names) <= most:
        raise errors.illegal_argument(f"check_list size must be between 1 and {most}")
    if not all(isinstance(n, str) for n in names):
        raise errors.illegal_argument("check_list must be an array of usernames")
    if call.user is None:
        return await call.node.users.get(call.app, name), names
    if name.lower() not in (call.user.key, str(call.user.uuid)):
        raise permission_error(call.app, call.request.method, call.path)
    return call.user, names


def _relations(call: Call, names: list[str], found: list[bool], yes: str, no: str) -> Response:
    entities = [{"username": n, "relation": yes if f else no} for n, f in zip(names, found, strict=True)]
    return call.ok("post", path=call.path, entities=entities)


@doc(
    "Whether each of some users is a user's contact",
    tag=TAG,
    body=CHECK,
    ok=usergrid(entities=obj({"username": STR, "relation": {"enum": ["friend", "not_friend"]}}, ["relation"])),
    errors={404: "no such user"},
)
@endpoint("contacts", Access.ANY)
async def check_contacts(call: Call) -> Response:
    owner, names = await _check_request(call)
    return _relations(call, names, await call.node.contacts.are_contacts(owner, names), "friend", "not_friend")


@doc(
    "Whether a user blocks each of some users",
    tag=TAG,
    body=CHECK,
    ok=usergrid(
        entities=obj({"username": STR, "relation": {"enum": ["blacklist", "not_blacklist"]}}, ["relation"])
    ),
    errors={404: "no such user"},
)
@endpoint("blocks", Access.ANY)
async def check_blocks(call: Call) -> Response:
    owner, names = await _check_request(call)
    return _relations(call, names, await call.node.contacts.are_blocked(owner, names), "blacklist", "not_blacklist")


# --- the route table ---------------------------------------------------------------------------

P = "/{org}/{app}"
routes = [
    Route(P + "/users/{owner}/contacts/users", list_contacts, methods=["GET"]),
    Route(P + "/users/{owner}/contacts/users/{friend}", add_contact, methods=["POST"]),
    Route(P + "/users/{owner}/contacts/users/{friend}", remove_contact, methods=["DELETE"]),
    Route(P + "/users/{owner}/blocks/users", list_blocks, methods=["GET"]),
    Route(P + "/users/{owner}/blocks/users", add_blocks, methods=["POST"]),
    Route(P + "/users/{owner}/blocks/users/{blocked}", remove_block, methods=["DELETE"]),
    Route(P + "/users/{username}/contacts/import", import_contacts, methods=["POST"]),
    Route(P + "/user/{owner}/contacts/users/{friend}", set_remark, methods=["PUT"]),
    Route(P + "/user/{username}/contacts", contacts_page, methods=["GET"]),
    Route(P + "/contacts/check", check_contacts, methods=["POST"]),
    Route(P + "/contacts/users/{username}", remove_all_contacts, methods=["DELETE"]),
    Route(P + "/blocks/check", check_blocks, methods=["POST"]),
]
