"""Message reactions over the Easemob REST surface (services.reactions).

Easemob's reaction_add (`POST /reaction/user/{u}` `{"msgId","message"}`), reaction_get_by_msg_id
(`GET /reaction/user/{u}?msgIdList=&msgType=&groupId=`), reaction_get_by_msg_id_emoji_id
(`GET /reaction/user/{u}/detail?msgId=&message=&limit=&cursor=`) and reaction_delete
(`DELETE /reaction/user/{u}?msgId=&message=`). Answers are `{"requestStatusCode":"ok",
"timestamp", "data"?}`; refusals 400 with the pages' words. The app admin acts as any user, a
user's token as that user.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import INT, NAMES, STR, arr, doc, obj, one_of, param, text
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.services.reactions import Reaction, reaction_error

__all__ = ["routes"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Reactions"
REACTION = obj(
    {"reactionId": STR, "reaction": STR, "count": INT, "state": text("whether the user reacted so", type="boolean"),
     "userList": NAMES},
    ["reactionId", "reaction", "count", "state", "userList"],
)


def done(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `_done` answers."""
    props: dict[str, Any] = {"requestStatusCode": STR, "timestamp": INT}
    if data is not None:
        props["data"] = data
    return obj(props, list(props))


def _done(data: Any = None, with_data: bool = True) -> Response:
    body: dict[str, Any] = {"requestStatusCode": "ok", "timestamp": int(time.time() * 1000)}
    if with_data:
        body["data"] = data
    return json_response(body)


def instant(ms: int) -> str:
    """A time in milliseconds as Java's `Instant` writes it (`2022-02-24T10:57:43.138Z`)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _query(call: Call, name: str) -> str:
    return call.request.query_params.get(name, "")


def _summary(r: Reaction) -> dict[str, Any]:
    return {"reactionId": str(r.reaction_id), "reaction": r.reaction, "count": r.count, "state": r.state,
            "userList": r.users}


@doc(
    "React to a message",
    tag=TAG,
    body=obj({"msgId": one_of(STR, INT), "message": text("the reaction")}, ["msgId", "message"]),
    ok=done(obj({"id": STR, "msgId": STR, "msgType": STR, "groupId": one_of(STR, {"type": "null"}), "reaction": STR,
                 "createdAt": STR, "updatedAt": STR}, ["id", "msgId", "reaction"])),
    errors={404: "no such user"},
)
@endpoint("reactions", Access.SELF)
async def add(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with msgId and message")
    msg_id, reaction = body.get("msgId"), body.get("message")
    if isinstance(msg_id, int) and not isinstance(msg_id, bool):
        msg_id = str(msg_id)
    if not isinstance(msg_id, str) or not msg_id:
        raise reaction_error("msgId can not be empty!")
    if not isinstance(reaction, str):
        raise reaction_error("message can not be empty!")
    added = await call.node.reactions.add(call.app, call.arg("username"), msg_id, reaction)
    message = added.message
    created = instant(added.created)
    return _done({
        "id": str(added.reaction_id),
        "msgId": message.msg_id,
        "msgType": message.chat_type,
        "groupId": message.to if message.chat_type == "groupchat" else None,
        "reaction": added.reaction,
        "createdAt": created,
        "updatedAt": created,
    })


@doc(
    "The reactions to some messages",
    tag=TAG,
    params=[param("msgIdList", "message ids, separated by commas", required=True),
            param("msgType", "chat or groupchat", required=True), param("groupId", "the group, for groupchat")],
    ok=done(arr(obj({"msgId": STR, "reactionList": arr(REACTION)}, ["msgId", "reactionList"]))),
    errors={404: "no such user"},
)
@endpoint("reactions", Access.SELF)
async def of_messages(call: Call) -> Response:
    ids = [i.strip() for raw in call.request.query_params.getlist("msgIdList") for i in raw.split(",") if i.strip()]
    found = await call.node.reactions.of_messages(
        call.app, call.arg("username"), ids, _query(call, "msgType"), _query(call, "groupId") or None
    )
    return _done([{"msgId": mid, "reactionList": [_summary(r) for r in listed]} for mid, listed in found])


@doc(
    "Who reacted to a message with one reaction, a page at a time",
    tag=TAG,
    params=[param("msgId", required=True), param("message", "the reaction", required=True),
            param("limit", "users per page", {"type": "integer"}), param("cursor")],
    ok=done(obj({**REACTION["properties"], "reactionId": one_of(STR, {"type": "null"}),
                 "cursor": one_of(STR, {"type": "null"})}, ["reaction", "count", "userList"])),
    errors={404: "no such user"},
)
@endpoint("reactions", Access.SELF)
async def detail(call: Call) -> Response:
    raw_limit = _query(call, "limit")
    limit = None
    if raw_limit:
        if not raw_limit.lstrip("-").isdecimal() or len(raw_limit) > 9:
            raise reaction_error("Limit exceeds the maximum quantity limit")
        limit = int(raw_limit)
    head, names, cursor = await call.node.reactions.detail(
        call.app, call.arg("username"), _query(call, "msgId"), _query(call, "message"), limit,
        _query(call, "cursor") or None,
    )
    reaction = _query(call, "message")
    if head is None:
        return _done({"reactionId": None, "reaction": reaction, "count": 0, "state": False, "userList": [],
                      "cursor": None})
    return _done({"reactionId": str(head.reaction_id), "reaction": head.reaction, "count": head.count,
                  "state": head.state, "userList": names, "cursor": cursor})


@doc(
    "Take a reaction back",
    tag=TAG,
    params=[param("msgId", required=True), param("message", "the reaction", required=True)],
    ok=done(),
    errors={404: "no such user"},
)
@endpoint("reactions", Access.SELF)
async def remove(call: Call) -> Response:
    await call.node.reactions.remove(call.app, call.arg("username"), _query(call, "msgId"), _query(call, "message"))
    return _done(with_data=False)


U = "/{org}/{app}/reaction/user/{username}"
routes = [
    Route(U, add, methods=["POST"]),
    Route(U, of_messages, methods=["GET"]),
    Route(U, remove, methods=["DELETE"]),
    Route(U + "/detail", detail, methods=["GET"]),
]
