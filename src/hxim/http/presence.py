"""Easemob presence over the REST surface: `/{org}/{app}/users/{username}/presence…` and
`/{org}/{app}/presence/online/…`.

Easemob's presence_set (`POST /users/{u}/presence/{resource}/{status}` `{"ext"}`),
presence_subscribe (`POST /users/{u}/presence/{expiry}` `{"usernames":[…]}`),
presence_subscription_list_obtain (`GET /users/{u}/presence/sublist?pageNum=&pageSize=`),
presence_get (`POST /users/{u}/presence` `{"usernames":[…]}`), presence_unsubscribe
(`DELETE /users/{u}/presence`, a JSON array of usernames, or `{"users":[…]}`) and
presence_group_online_count_obtain (`GET /presence/online/{group_id}/type/{query_type}`).
Answers are `{"result": …}`, numbers of seconds written as strings as the pages' examples show
them. The app admin, or the user named in the path for their own presence and subscriptions
(the Web SDK calls these with the user's token); a group's online count is the admin's.
The rules are `services.presence_subscriptions`'.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import INT, NAMES, STR, arr, doc, obj, one_of, param, text
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.services.presence_subscriptions import UserPresence

__all__ = ["routes"]

_MAX_DIGITS = 18  # any number a parameter here takes fits


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Presence"
NUMBER = {"type": "string", "pattern": "^[0-9]{1,18}$"}
USERNAMES = obj({"usernames": NAMES}, ["usernames"])
PRESENCE = obj(
    {"uid": STR, "last_time": STR, "expiry": STR, "ext": STR,
     "status": {"type": "object", "additionalProperties": STR, "description": "each device's status"}},
    ["uid", "last_time", "ext", "status"],
)


def result(value: dict[str, Any]) -> dict[str, Any]:
    """What `_result` answers."""
    return obj({"result": value}, ["result"])


def _result(value: Any) -> Response:
    return json_response({"result": value})


def _number(raw: str | None, name: str, default: int) -> int:
    """A decimal parameter (`default` when absent), or 400."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > _MAX_DIGITS:
        raise errors.illegal_argument(f"{name} must be a number")
    return int(raw)


def _names(value: Any, field: str) -> list[str]:
    """A list of usernames as sent ([] for none), or 400."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.illegal_argument(f"{field} must be an array of strings")
    return value


async def _usernames(call: Call) -> list[str]:
    body = await call.json()
    return _names(body.get("usernames") if isinstance(body, dict) else body, "usernames")


def _presence(p: UserPresence) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": p.username, "last_time": str(p.last_time)}
    if p.expiry is not None:
        out["expiry"] = str(p.expiry)
    out["ext"] = p.ext
    out["status"] = p.devices
    return out


@doc(
    "Set the presence status of one of a user's devices",
    tag=TAG,
    paths={"resource": "the device's resource", "status": "the status, a number the app gives meaning to"},
    body=obj({"ext": text("a custom text")}),
    body_required=False,
    ok=result(STR),
)
@endpoint("presence", Access.SELF)
async def set_status(call: Call) -> Response:
    body = await call.json()
    ext = body.get("ext") if isinstance(body, dict) else None
    if ext is not None and not isinstance(ext, str):
        raise errors.illegal_argument("ext must be a string")
    await call.node.presence_subscriptions.set_status(
        call.app, call.arg("username"), call.arg("resource"), call.arg("status"), ext
    )
    return _result("ok")


@doc(
    "Subscribe a user to others' presence, for a while",
    tag=TAG,
    paths={"expiry": "how long, in seconds"},
    body=USERNAMES,
    ok=result(arr(PRESENCE)),
)
@endpoint("presence", Access.SELF)
async def subscribe(call: Call) -> Response:
    expiry = _number(call.arg("expiry"), "expiry", 0)
    names = await _usernames(call)
    found = await call.node.presence_subscriptions.subscribe(call.app, call.arg("username"), names, expiry)
    return _result([_presence(p) for p in found])


@doc(
    "The users a user is subscribed to",
    tag=TAG,
    params=[param("pageNum", "the page, from 1", NUMBER), param("pageSize", "users per page", NUMBER)],
    ok=result(obj({"totalnum": STR, "sublist": arr(obj({"uid": STR, "expiry": STR}, ["uid", "expiry"]))},
                  ["totalnum", "sublist"])),
)
@endpoint("presence", Access.SELF)
async def sublist(call: Call) -> Response:
    query = call.request.query_params
    page = _number(query.get("pageNum"), "pageNum", 1)
    size = _number(query.get("pageSize"), "pageSize", 1)
    total, found = await call.node.presence_subscriptions.subscriptions(call.app, call.arg("username"), page, size)
    sub = [{"uid": name, "expiry": str(expiry)} for name, expiry in found]
    return _result({"totalnum": str(total), "sublist": sub})


@doc("Several users' presence", tag=TAG, body=USERNAMES, ok=result(arr(PRESENCE)))
@endpoint("presence", Access.SELF)
async def get_presences(call: Call) -> Response:
    names = await _usernames(call)
    found = await call.node.presence_subscriptions.presences(call.app, call.arg("username"), names)
    return _result([_presence(p) for p in found])


@doc(
    "End a user's subscriptions to others' presence",
    tag=TAG,
    body=one_of(NAMES, obj({"users": NAMES}), obj({"usernames": NAMES})),
    ok=result(STR),
)
@endpoint("presence", Access.SELF)
async def unsubscribe(call: Call) -> Response:
    body = await call.json()
    if isinstance(body, dict):  # the page's parameter table names `users`; its error text `usernames`
        names = _names(body.get("users", body.get("usernames")), "users")
    else:  # the page's example: a bare array
        names = _names(body, "users")
    await call.node.presence_subscriptions.unsubscribe(call.app, call.arg("username"), names)
    return _result("ok")


@doc(
    "How many members of a group are online",
    tag=TAG,
    paths={"group_id": "the group's id", "query_type": "1: a group (0, a Circle server, is refused)"},
    ok=result(INT),
    errors={404: "no such group"},
)
@endpoint("presence")
async def group_online(call: Call) -> Response:
    count = await call.node.presence_subscriptions.group_online(call.app, call.arg("group_id"), call.arg("query_type"))
    return _result(count)


# `sublist` before `{expiry}`; both after the longer `{resource}/{status}` form.
U = "/{org}/{app}/users/{username}/presence"
routes = [
    Route(U + "/sublist", sublist, methods=["GET"]),
    Route(U + "/{resource}/{status}", set_status, methods=["POST"]),
    Route(U + "/{expiry}", subscribe, methods=["POST"]),
    Route(U, get_presences, methods=["POST"]),
    Route(U, unsubscribe, methods=["DELETE"]),
    Route("/{org}/{app}/presence/online/{group_id}/type/{query_type}", group_online, methods=["GET"]),
]
