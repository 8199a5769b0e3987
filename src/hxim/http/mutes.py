"""Global mutes over the Easemob REST surface: `/{org}/{app}/mutes…`.

Easemob's user_global_mute_set (`POST /mutes` `{"username","chat","groupchat","chatroom"}`,
seconds: 0 unmutes, -1 for ever), user_global_mute_query_single (`GET /mutes/{username}`) and
user_global_mute_query_all (`GET /mutes?pageNum=&pageSize=`), in Usergrid's envelope with the
app admin token. The rule (every send of a muted user refused) is `services.mutes`'.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import INT, STR, arr, doc, obj, param, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.services.mutes import MUTE_CHAT_TYPES

__all__ = ["routes"]


SECONDS = text("seconds muted; 0 unmutes, -1 for ever", type="integer")
NUMBER = {"type": "string", "pattern": "^[0-9]{1,10}$"}


def _seconds(chat_type: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.illegal_argument(f"{chat_type} must be a number of seconds")
    return value


@doc(
    "Mute a user app-wide, per kind of chat",
    tag="Mutes",
    body=obj(
        {"username": STR, "chat": SECONDS, "groupchat": SECONDS, "chatroom": SECONDS},
        ["username"],
    ),
    ok=usergrid(data=obj({"result": STR}, ["result"])),
    errors={404: "no such user"},
)
@endpoint("mutes")
async def set_mutes(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with username, chat, groupchat, chatroom")
    username = body.get("username")
    if not isinstance(username, str) or not username:
        raise errors.required_property_not_found("Entity user requires a property named username")
    durations = {t: _seconds(t, body[t]) for t in MUTE_CHAT_TYPES if body.get(t) is not None}
    await call.node.mutes.set(call.app, username, durations)
    return call.ok("post", path="/mutes", data={"result": "ok"})


@doc(
    "How long a user stays muted, per kind of chat",
    tag="Mutes",
    ok=usergrid(data=obj({"userid": STR, "chat": INT, "groupchat": INT, "chatroom": INT, "unixtime": INT},
                         ["userid", "unixtime"])),
    errors={404: "no such user"},
)
@endpoint("mutes")
async def get_mutes(call: Call) -> Response:
    name, left = await call.node.mutes.get(call.app, call.arg("username"))
    data: dict[str, Any] = {"userid": f"{call.app.appkey}_{name}", **left, "unixtime": int(time.time())}
    return call.ok("get", path="/mutes", data=data)


def _page_param(call: Call, name: str, default: int) -> int:
    raw = call.request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdecimal() or len(raw) > 10:
        raise errors.illegal_argument(f"{name} must be a positive number")
    return int(raw)


@doc(
    "The muted users, a page at a time",
    tag="Mutes",
    params=[param("pageNum", "the page, from 1", NUMBER), param("pageSize", "users per page", NUMBER)],
    ok=usergrid(data=obj({"data": arr(obj({"username": STR}, ["username"])), "unixtime": INT}, ["data", "unixtime"])),
)
@endpoint("mutes")
async def list_mutes(call: Call) -> Response:
    number = _page_param(call, "pageNum", 1)
    size = _page_param(call, "pageSize", call.node.settings.mutes_page_default)
    found = await call.node.mutes.page(call.app, number, size)
    data = {"data": [{"username": name, chat_type: left} for name, chat_type, left in found],
            "unixtime": int(time.time())}
    return call.ok("get", path="/mutes", data=data)


P = "/{org}/{app}/mutes"
routes = [
    Route(P, set_mutes, methods=["POST"]),
    Route(P, list_mutes, methods=["GET"]),
    Route(P + "/{username}", get_mutes, methods=["GET"]),
]
