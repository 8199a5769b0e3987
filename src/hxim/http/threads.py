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
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import envelope, json_response
from hxim.model import User
from hxim.services.threads import Thread

__all__ = ["routes"]

FAMILY = "threads"


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


@endpoint(FAMILY, Access.ANY)
async def create(call: Call) -> Response:
    thread = await call.node.threads.create(call.app, await _body(call), _by(call))
    return _answer(call, "post", data={"thread_id": thread.thread_id})


@endpoint(FAMILY, Access.ANY)
async def rename(call: Call) -> Response:
    body = await _body(call)
    thread = await call.node.threads.rename(call.app, call.arg("id"), body.get("name"), _by(call))
    return _answer(call, "put", data={"name": thread.name})


@endpoint(FAMILY, Access.ANY)
async def delete(call: Call) -> Response:
    await call.node.threads.delete(call.app, call.arg("id"), _by(call))
    return _answer(call, "delete", data={"status": "ok"})


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
user_threads = endpoint(FAMILY, Access.SELF)(_user_threads)
group_user_threads = endpoint(FAMILY, Access.SELF)(_user_threads)


@endpoint(FAMILY, Access.ANY)
async def members(call: Call) -> Response:
    limit, cursor, _ = _paging(call)
    names, next_cursor = await call.node.threads.members(call.app, call.arg("id"), limit, cursor, _by(call))
    return _answer(call, "get", data={"affiliations": names}, cursor=next_cursor)


@endpoint(FAMILY, Access.ANY)
async def add_members(call: Call) -> Response:
    body = await _body(call)
    await call.node.threads.add_members(call.app, call.arg("id"), body.get("usernames"), _by(call))
    return _answer(call, "post", data={"status": "ok"})


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
