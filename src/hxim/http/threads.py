"""The Easemob REST calls on threads of groups: `/thread`, `/thread/{id}`, `/thread/{id}/users`,
`/threads/user/{u}` and `/threads/chatgroups/{g}/user/{u}`.

Each call's specification is its page of Easemob's server documentation (docs/rest-today.md names
them): group_thread_create, _modify, _obtain, _joined, group_threads_in_group, group_thread_member_get,
_member_add, _member_remove, group_thread_delete. The answers keep each page's shape: the envelope
with `data` (`thread_id`, `name`, `status`, `affiliations`) or `entities`, lists with
`properties: {"cursor"}`; refusals are `group_error` with the pages' descriptions
(`services.threads`).

Access: the app's token calls everything. A user's token (the SDKs' own calls) is judged by
`ThreadService`: group members create threads they own, list a thread's members and join it;
members leave it; the group's owner and admins add and remove others, rename (the thread's
owner too) and delete it. Listing the app's threads takes the app's token; a user's threads,
that user's token too.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import BOOL, INT, NAMES, STR, doc, obj, one_of, param, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import envelope, json_response
from hxim.model import User
from hxim.services.threads import Thread

__all__ = ["routes"]

FAMILY = "threads"


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Threads"
ID = one_of(STR, INT, description="a number, or its digits")
STATUS_OK = obj({"status": STR}, ["status"])
THREAD = obj(
    {"name": STR, "owner": STR, "id": STR, "msgId": STR, "groupId": STR, "created": INT},
    ["name", "owner", "id", "msgId", "groupId", "created"],
)
PAGING = (
    param("limit", "how many, 1 to threads_page_max", INT),
    param("cursor", "the page after the one that gave it"),
    param("sort", "asc: oldest first (newest first by default)", {"enum": ["asc", "desc", "ASC", "DESC"]}),
)


def thread_ok(**fields: dict[str, Any]) -> dict[str, Any]:
    """What `_answer` answers: the envelope, with `properties.cursor` on lists."""
    return {"allOf": [usergrid(**fields), obj({"properties": obj({"cursor": STR})})]}


def _by(call: Call) -> User | None:
    """The user of a user token; None for the app's token."""
    return None if call.is_admin else call.user


def _answer(call: Call, action: str, *, cursor: str | None = None, **fields: Any) -> Response:
    body = envelope(action=action, app=call.app, uri=call.uri(), started=call.started, **fields)
    if cursor is not None:
        body["properties"] = {"cursor": cursor}
    return json_response(body)


async def _body(call: Call) -> dict[str, Any]:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.param_illegal()
    return body


def _paging(call: Call) -> tuple[int | None, str | None, bool]:
    """(limit, cursor, newest first) of the query; `limit` past [1, 50] is refused by the service."""
    query = call.request.query_params
    raw = query.get("limit")
    limit = None
    if raw:
        if not raw.lstrip("-").isdecimal() or len(raw) > 12:
            raise errors.group_error(400, "query param reaches limit.")
        limit = int(raw)
    sort = (query.get("sort") or "desc").lower()
    return limit, query.get("cursor") or None, sort != "asc"


def _entity(thread: Thread) -> dict[str, Any]:
    return {
        "name": thread.name,
        "owner": thread.owner,
        "id": thread.thread_id,
        "msgId": str(thread.msg_id),
        "groupId": str(thread.group_id),
        "created": thread.created,
    }


@doc(
    "Create a thread on a group message",
    tag=TAG,
    body=obj({"group_id": ID, "name": STR, "msg_id": ID, "owner": STR}, ["group_id", "name", "msg_id", "owner"]),
    ok=thread_ok(data=obj({"thread_id": STR}, ["thread_id"])),
    errors={403: "a thread on that message already, or past threads_per_app_max", 404: "no such group or message"},
)
@endpoint(FAMILY, Access.ANY)
async def create(call: Call) -> Response:
    thread = await call.node.threads.create(call.app, await _body(call), _by(call))
    return _answer(call, "post", data={"thread_id": thread.thread_id})


@doc(
    "Rename a thread",
    tag=TAG,
    body=obj({"name": STR}, ["name"]),
    ok=thread_ok(data=obj({"name": STR}, ["name"])),
    errors={404: "no such thread"},
)
@endpoint(FAMILY, Access.ANY)
async def rename(call: Call) -> Response:
    body = await _body(call)
    thread = await call.node.threads.rename(call.app, call.arg("id"), body.get("name"), _by(call))
    return _answer(call, "put", data={"name": thread.name})


@doc(
    "Delete a thread (its messages stay in the history)",
    tag=TAG,
    ok=thread_ok(data=STATUS_OK),
    errors={404: "no such thread"},
)
@endpoint(FAMILY, Access.ANY)
async def delete(call: Call) -> Response:
    await call.node.threads.delete(call.app, call.arg("id"), _by(call))
    return _answer(call, "delete", data={"status": "ok"})


@doc(
    "The app's threads, a page at a time",
    tag=TAG,
    params=PAGING,
    ok=thread_ok(entities=obj({"id": STR}, ["id"])),
)
@endpoint(FAMILY, Access.ADMIN)
async def list_threads(call: Call) -> Response:
    limit, cursor, newest_first = _paging(call)
    found, next_cursor = await call.node.threads.page(call.app, limit, cursor, newest_first)
    return _answer(call, "get", entities=[{"id": str(i)} for i in found], cursor=next_cursor)


async def _user_threads(call: Call) -> Response:
    limit, cursor, newest_first = _paging(call)
    group = call.request.path_params.get("group")
    found, next_cursor = await call.node.threads.joined(
        call.app, call.arg("username"), group, limit, cursor, newest_first
    )
    return _answer(call, "get", entities=[_entity(t) for t in found], cursor=next_cursor)


# one endpoint per route, so that /metrics tells the two apart
_USER_THREADS = doc(
    "The threads a user belongs to (in one group, for the path that names it)",
    tag=TAG,
    paths={"group": "the group's id"},
    params=PAGING,
    ok=thread_ok(entities=THREAD),
    errors={404: "no such user"},
)
user_threads = _USER_THREADS(endpoint(FAMILY, Access.SELF)(_user_threads))
group_user_threads = _USER_THREADS(endpoint(FAMILY, Access.SELF)(_user_threads))


@doc(
    "A thread's members, in the order they joined",
    tag=TAG,
    params=PAGING[:2],
    ok=thread_ok(data=obj({"affiliations": NAMES}, ["affiliations"])),
    errors={404: "no such thread"},
)
@endpoint(FAMILY, Access.ANY)
async def members(call: Call) -> Response:
    limit, cursor, _ = _paging(call)
    names, next_cursor = await call.node.threads.members(call.app, call.arg("id"), limit, cursor, _by(call))
    return _answer(call, "get", data={"affiliations": names}, cursor=next_cursor)


@doc(
    "Add group members to a thread",
    tag=TAG,
    body=obj({"usernames": NAMES}, ["usernames"]),
    ok=thread_ok(data=STATUS_OK),
    errors={404: "no such thread, or a user not in the group"},
)
@endpoint(FAMILY, Access.ANY)
async def add_members(call: Call) -> Response:
    body = await _body(call)
    await call.node.threads.add_members(call.app, call.arg("id"), body.get("usernames"), _by(call))
    return _answer(call, "post", data={"status": "ok"})


@doc(
    "Remove members from a thread",
    tag=TAG,
    body=obj({"usernames": NAMES}, ["usernames"]),
    ok=thread_ok(entities=obj({"result": BOOL, "user": STR}, ["result", "user"])),
    errors={404: "no such thread"},
)
@endpoint(FAMILY, Access.ANY)
async def remove_members(call: Call) -> Response:
    body = await _body(call)
    outcome = await call.node.threads.remove_members(call.app, call.arg("id"), body.get("usernames"), _by(call))
    return _answer(call, "delete", entities=[{"result": left, "user": name} for name, left in outcome])


_P = "/{org}/{app}"
routes = [
    Route(f"{_P}/thread", create, methods=["POST"]),
    Route(f"{_P}/thread", list_threads, methods=["GET"]),
    Route(f"{_P}/thread/{{id}}", rename, methods=["PUT"]),
    Route(f"{_P}/thread/{{id}}", delete, methods=["DELETE"]),
    Route(f"{_P}/thread/{{id}}/users", members, methods=["GET"]),
    Route(f"{_P}/thread/{{id}}/users", add_members, methods=["POST"]),
    Route(f"{_P}/thread/{{id}}/users", remove_members, methods=["DELETE"]),
    Route(f"{_P}/threads/user/{{username}}", user_threads, methods=["GET"]),
    Route(f"{_P}/threads/chatgroups/{{group}}/user/{{username}}", group_user_threads, methods=["GET"]),
]
