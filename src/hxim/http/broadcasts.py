"""Broadcasts over the Easemob REST surface: `POST /messages/broadcast` (every user of the app),
`/messages/users/broadcast` (its online users) and `/messages/chatrooms/broadcast` (every chat
room): Easemob's broadcast_to_all_users, broadcast_to_online_users and broadcast_to_chatrooms
pages. Each answers the broadcast's id at once; `BroadcastService` sends it in the background.

`GET /messages/broadcast/{id}` (an hxim addition: Easemob documents no way to follow a broadcast)
answers its progress. Every call needs the app admin token.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http import pipeline
from hxim.http.apidoc import INT, MESSAGE_BODY, OBJ, STR, doc, obj, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.http.messages import invalid_body
from hxim.model import decimal_id
from hxim.services.broadcasts import ALL_USERS, CHATROOMS, ONLINE_USERS, StartBroadcast
from hxim.services.messages import ADMIN

__all__ = ["routes"]

_LEVELS = ("high", "normal", "low")  # chatroom_msg_level
_PATHS = {ALL_USERS: "/messages/broadcast", ONLINE_USERS: "/messages/users/broadcast",
          CHATROOMS: "/messages/chatrooms/broadcast"}


def broadcast_command(body: Any, kind: str) -> StartBroadcast:
    """The body of a broadcast call as the command it asks for: `msg` (a message body with its
    `type`), `from` (default `admin`), `ext`; to all users `target_type: "users"`; to chat rooms
    `chatroom_msg_level` (`high`, `normal` or `low`: accepted, every level is delivered alike)."""
    if not isinstance(body, dict):
        raise invalid_body()
    if kind == ALL_USERS:
        target_type = body.get("target_type")
        if target_type is None or target_type == "":
            raise errors.illegal_argument("target_type must be provided")
        if target_type != "users":
            raise errors.illegal_argument("target_type can only be 'users'")
    sender = body.get("from", ADMIN)
    if not isinstance(sender, str) or not sender:
        raise errors.illegal_argument("from can't be empty")
    ext = body.get("ext")
    if "ext" in body and not isinstance(ext, dict):
        raise errors.illegal_argument("ext must be JSONObject")
    msg = body.get("msg")
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise invalid_body()
    if kind == CHATROOMS and body.get("chatroom_msg_level", "normal") not in _LEVELS:
        raise invalid_body()
    return StartBroadcast(kind, sender, dict(msg), ext)


def _broadcaster(kind: str) -> pipeline.Endpoint:
    path = _PATHS[kind]
    props: dict[str, Any] = {"msg": MESSAGE_BODY, "from": text("the sender (admin by default)"), "ext": OBJ}
    if kind == ALL_USERS:
        props["target_type"] = {"const": "users"}
    if kind == CHATROOMS:
        props["chatroom_msg_level"] = {"enum": list(_LEVELS)}
    whom = {ALL_USERS: "every user of the app", ONLINE_USERS: "every online user", CHATROOMS: "every chat room"}

    @doc(
        f"Broadcast a message to {whom[kind]}",
        tag="Messages",
        description="Answers the broadcast's id at once; the messages go out in the background.",
        body=obj(props, ["msg", *(["target_type"] if kind == ALL_USERS else [])]),
        ok=usergrid(data=obj({"id": INT}, ["id"])),
    )
    @endpoint("messages")
    async def broadcast(call: Call) -> Response:
        cmd = broadcast_command(await call.json(call.node.settings.message_max_body_bytes), kind)
        job = await call.node.broadcasts.start_broadcast(call.app, cmd)
        return call.ok("post", path=path, data={"id": job.id})

    broadcast.__name__ = broadcast.__qualname__ = f"broadcast_to_{kind}"
    return broadcast


@doc(
    "How far a broadcast has gone",
    tag="Messages",
    paths={"id": "the broadcast's id"},
    ok=usergrid(data=obj(
        {"id": INT, "type": STR, "status": {"enum": ["running", "finished"]}, "from": STR, "created": INT,
         "total": INT, "processed": INT, "sent": INT, "finished": INT},
        ["id", "status", "total", "processed", "sent"],
    )),
    errors={404: "no such broadcast"},
)
@endpoint("messages")
async def progress(call: Call) -> Response:
    """A broadcast's progress: its targets counted when it started (`total`), those passed so far
    (`processed`) and the messages stored (`sent`), `status` `running` or `finished`."""
    ident = call.arg("id")
    number = decimal_id(ident)
    if number is None:
        raise errors.resource_not_found(f"broadcast [{ident}] not found")
    job = await call.node.broadcasts.get(call.app, number)
    data: dict[str, Any] = {
        "id": job.id, "type": job.kind, "status": job.state, "from": job.sender, "created": job.created,
        "total": job.total, "processed": job.done, "sent": job.sent,
    }
    if job.ended is not None:
        data["finished"] = job.ended
    return call.ok("get", path=f"/messages/broadcast/{ident}", data=data)


P = "/{org}/{app}"
routes = [
    *(Route(P + path, _broadcaster(kind), methods=["POST"]) for kind, path in _PATHS.items()),
    Route(P + "/messages/broadcast/{id}", progress, methods=["GET"]),
]
