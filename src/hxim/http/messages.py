"""Messages over the Easemob REST API: sending (the legacy `POST /messages`, easemob-rest.md §5,
and today's `POST /messages/{users|chatgroups|chatrooms}[/users]`), recall (one and batch) and
modification.

Each handler parses its request into the command the `MessageService` takes and renders the
answer; the rules (who may send or recall, who is told) are the service's, shared with every
other surface.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.config import Settings
from hxim.http import easemob_ops as ops
from hxim.http import pipeline
from hxim.http.apidoc import MESSAGE_BODY, NAMES, OBJ, STR, arr, doc, obj, one_of, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.model import decimal_id
from hxim.services.messages import (
    ADMIN,
    CHAT_TYPES,
    MSG_FIELDS,
    Rewrite,
    SendMessage,
)

__all__ = ["invalid_body", "routes", "today_command"]



# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Messages"
SENT = {"type": "object", "additionalProperties": STR, "description": "each target → the message's id"}
RECALL = obj(
    {
        "msg_id": STR,
        "to": STR,
        "chat_type": {"enum": ["chat", "groupchat", "chatroom"]},
        "from": text("the sender (admin by default)"),
        "force": text("recall past the recall window", type="boolean"),
        "sync_device": text("tell the sender's own sessions (true by default)", type="boolean"),
    },
    ["msg_id", "to", "chat_type", "force"],
)
RECALLED = obj(
    {"recalled": {"const": "yes"}, "chattype": STR, "from": STR, "to": STR, "msg_id": STR},
    ["recalled", "chattype", "from", "to", "msg_id"],
)
RECALL_REFUSED = obj(
    {"recalled": {"const": "no"}, "reason": STR, "chattype": {}, "from": {}, "to": {}, "msg_id": {}},
    ["recalled", "reason"],
    description="an item not recalled: why, and its fields as they were asked",
)


def _today_body(directed: bool) -> dict[str, Any]:
    """The body of today's `POST /messages/{kind}[/users]`."""
    props: dict[str, Any] = {
        "from": text("the sender (admin by default)"),
        "to": {**NAMES, "minItems": 1, "description": "the users, groups or chat rooms"},
        "type": {"enum": list(MSG_FIELDS)},
        "body": {**OBJ, "minProperties": 1, "description": "the type's fields: msg, url, lat, action, …"},
        "ext": OBJ,
        "sync_device": text("also deliver to the sender's other sessions", type="boolean"),
        "routetype": {"const": "ROUTE_ONLINE", "description": "deliver to online recipients only"},
        "roam_ignore_users": {**NAMES, "description": "users who won't read it back"},
    }
    if directed:
        props["users"] = {**NAMES, "minItems": 1, "description": "the members it is for"}
    return obj(props, ["to", "type", "body", *(["users"] if directed else [])])


# --- messages ----------------------------------------------------------------------------------


@doc(
    "Send a message to users, groups or chat rooms (the legacy form)",
    tag=TAG,
    body=obj(
        {
            "target_type": {"enum": ["users", "chatgroups", "chatrooms"]},
            "target": {**NAMES, "minItems": 1},
            "msg": MESSAGE_BODY,
            "from": text("the sender (admin by default)"),
            "ext": OBJ,
        },
        ["target_type", "target", "msg"],
    ),
    ok=usergrid(data=SENT),
    errors={400: "a bad body", 403: "the sender is muted or blocked", 413: "past message_max_body_bytes"},
)
@endpoint("messages")
async def send_message(call: Call) -> Response:
    """The legacy `POST /messages`: each target answered with its message's id, as today's
    Easemob does (the `/hx` gateway keeps its document's `"success"`)."""
    body = await call.json(call.node.settings.message_max_body_bytes)
    return json_response(await ops.send_message(call, body, use_ids=True))


# --- today's send routes: POST /messages/{users|chatgroups|chatrooms}[/users] -----------------

_KINDS = {"users": "chat", "chatgroups": "groupchat", "chatrooms": "chatroom"}


def invalid_body() -> errors.HximError:
    """A body that is not the JSON object today's message calls take (their pages' words)."""
    return errors.HximError(
        400, "invalid_request_body", "Request body is invalid. Please check body is correct.",
        "InvalidRequestBodyException", "bad-request",
    )


def _send_error(description: str) -> errors.HximError:
    return errors.HximError(400, "message_send_error", description, "MessageSendException", "bad-request")


def _names(value: Any, field: str, limit: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _send_error(f"param {field} can't be empty")
    if len(value) > limit:
        raise _send_error(f"params {field}'s size can't exceed limit {limit}")
    return tuple(value)


def today_command(body: Any, kind: str, directed: bool, settings: Settings) -> SendMessage:
    """The body of `POST /messages/{kind}` (`directed`: `…/{kind}/users`) as the command it asks
    for: `from` (default `admin`), `to`, `type` and `body` (one message body of that type), `ext`,
    `sync_device`, `routetype` (`ROUTE_ONLINE`: no offline copies), `roam_ignore_users`, and for a
    directed message the members it is for (`users`)."""
    if not isinstance(body, dict):
        raise invalid_body()
    chat_type = _KINDS[kind]
    sender = body.get("from", ADMIN)
    if not isinstance(sender, str) or not sender:
        raise _send_error("param from can't be empty")
    limit = {
        "chat": settings.message_targets_max,
        "groupchat": settings.message_group_targets_max,
        "chatroom": settings.message_chatroom_targets_max,
    }[chat_type]
    targets = _names(body.get("to"), "to", 1 if directed else limit)
    mtype, content = body.get("type"), body.get("body")
    if not isinstance(mtype, str) or not mtype:
        raise _send_error("param type can't be empty")
    if mtype not in MSG_FIELDS:
        raise _send_error(f"param type must be one of {', '.join(MSG_FIELDS)}")
    if not isinstance(content, dict) or not content:
        raise _send_error("param body can't be empty")
    ext = body.get("ext")
    if "ext" in body and not isinstance(ext, dict):
        raise _send_error("param ext must be JSONObject")
    sync, route = body.get("sync_device", False), body.get("routetype")
    if not isinstance(sync, bool):
        raise _send_error("param sync_device must be true or false")
    if route is not None and route != "ROUTE_ONLINE":
        raise _send_error("param routetype can only be ROUTE_ONLINE")
    hidden: tuple[str, ...] = ()
    if body.get("roam_ignore_users"):
        hidden = _names(body["roam_ignore_users"], "roam_ignore_users", settings.message_roam_ignore_max)
    only = None
    if directed:
        only = tuple(u.lower() for u in _names(body.get("users"), "users", settings.message_directed_users_max))
    return SendMessage(
        chat_type, targets, ({**content, "type": mtype},), ext, sender,
        online_only=route is not None, only=only, hidden=tuple(u.lower() for u in hidden), sync_device=sync,
    )


def _sender(kind: str, directed: bool) -> pipeline.Endpoint:
    path = f"/messages/{kind}" + ("/users" if directed else "")
    where = {"users": "users", "chatgroups": "groups", "chatrooms": "chat rooms"}[kind]

    @doc(
        f"Send a message to some members of {where}" if directed else f"Send a message to {where}",
        tag=TAG,
        body=_today_body(directed),
        ok=usergrid(data=SENT),
        errors={400: "a bad body", 403: "the sender is muted or blocked", 413: "past message_max_body_bytes"},
    )
    @endpoint("messages")
    async def send(call: Call) -> Response:
        settings = call.node.settings
        cmd = today_command(await call.json(settings.message_max_body_bytes), kind, directed, settings)
        sent = await call.node.messages.send(call.app, cmd)
        return call.ok("post", path=path, data={target: m.msg_id for target, m in sent})

    send.__name__ = send.__qualname__ = f"send_{kind}" + ("_directed" if directed else "")
    return send


def _recall_error(status: int, description: str) -> errors.HximError:
    return errors.HximError(status, "message_recall_error", description, "EasemobMessageRecallException", "not-allowed")


async def _recall_one(call: Call, body: Any) -> dict[str, Any]:
    """One recall as `msg_recall` and each item of `batch_recall` ask it: the answer's data, or
    the refusal raised."""
    if not isinstance(body, dict):
        raise errors.illegal_argument("this is an invalid request.")
    for name in ("msg_id", "to", "chat_type"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise _recall_error(400, f"param {name} can't be empty")
    msg_id, to, chat_type = str(body["msg_id"]), str(body["to"]), str(body["chat_type"])
    sender, force, sync = body.get("from", ADMIN), body.get("force"), body.get("sync_device", True)
    if not isinstance(force, bool):
        raise _recall_error(400, "param force can't be empty")
    if chat_type not in CHAT_TYPES:
        raise _recall_error(400, f"chat_type must be one of {', '.join(CHAT_TYPES)}")
    if not isinstance(sender, str) or not sender or not isinstance(sync, bool):
        raise errors.illegal_argument("from must be a user name and sync_device true or false")
    number = decimal_id(msg_id)
    message = await call.node.messages.find(call.app, number) if number is not None else None
    if message is None:
        raise _recall_error(403, "not_found msg")
    if message.chat_type != chat_type or message.to.lower() != to.lower():
        raise _recall_error(400, "can't find msg to")
    try:
        await call.node.messages.recall(call.app, message, sender, force=force, tell_sender=sync)
    except errors.HximError as exc:
        if exc.error == "message_recall_error":  # past the window: in Easemob's words
            raise _recall_error(403, "exceed recall time limit") from None
        raise
    return {"recalled": "yes", "chattype": chat_type, "from": sender, "to": to, "msg_id": msg_id}


@doc(
    "Recall a message",
    tag=TAG,
    body=RECALL,
    ok=usergrid(data=RECALLED),
    errors={400: "a bad body", 403: "no such message, or past the recall window without force"},
)
@endpoint("messages")
async def recall(call: Call) -> Response:
    """`POST /messages/msg_recall`: the app withdraws one message, 1:1, group or chat room, as its
    sender (`from`, default `admin`) may over XMPP; `force` recalls a message past the recall
    window. The recipients who had it, and with `sync_device` (default true) the sender's own
    sessions, are told."""
    data = await _recall_one(call, await call.json())
    return call.ok("post", path="/messages/msg_recall", data=data)


@doc(
    "Recall several messages",
    tag=TAG,
    body=obj({"msgs": arr(RECALL, min_items=1)}, ["msgs"]),
    ok=usergrid(data=arr(one_of(RECALLED, RECALL_REFUSED))),
)
@endpoint("messages")
async def batch_recall(call: Call) -> Response:
    """`POST /messages/batch_recall` `{"msgs": [...]}`: each item as `msg_recall` takes it, at most
    `message_recall_batch_max`; each answered `recalled: yes`, or `no` with the refusal's words."""
    body = await call.json()
    items = body.get("msgs") if isinstance(body, dict) else None
    limit = call.node.settings.message_recall_batch_max
    if not isinstance(items, list) or not items:
        raise _recall_error(400, "param msgs can't be empty")
    if len(items) > limit:
        raise _recall_error(400, f"param msgs's size can't exceed limit {limit}")
    data = []
    for item in items:
        try:
            data.append(await _recall_one(call, item))
        except errors.HximError as exc:
            ask = item if isinstance(item, dict) else {}
            data.append({"recalled": "no", "reason": exc.description, "chattype": ask.get("chat_type"),
                         "from": ask.get("from", ADMIN), "to": ask.get("to"), "msg_id": ask.get("msg_id")})
    return call.ok("post", path="/messages/batch_recall", data=data)


# --- modify ------------------------------------------------------------------------------------

_TYPE_NAMES = {"image": "img", "location": "loc", "text": "txt"}  # as the page's examples also write them


@doc(
    "Change a sent message's content or ext",
    tag=TAG,
    paths={"msg_id": "the message's id"},
    body=obj(
        {
            "new_msg": obj({"type": STR, "msg": STR, "customEvent": STR, "customExts": OBJ}, ["type"]),
            "new_ext": OBJ,
            "is_combine_ext": text("merge new_ext into the old ext (true by default) or replace it", type="boolean"),
            "user": text("who modifies it (admin by default)"),
        },
        ["new_msg"],
    ),
    ok=usergrid(data=STR),
    errors={404: "no such message"},
)
@endpoint("messages")
async def rewrite(call: Call) -> Response:
    """`PUT /messages/rewrite/{msg_id}` (Easemob's message_modify): `new_msg` (its `type`, and
    `msg` or `customEvent`/`customExts`), `new_ext` merged (`is_combine_ext`, default true) or
    replacing the old `ext`, `user` the modifier (default `admin`)."""
    msg_id = call.arg("msg_id")
    number = decimal_id(msg_id)
    if number is None:
        raise errors.HximError(400, "InvalidMessageIdException", "The provided message ID is not a valid number.")
    body = await call.json(call.node.settings.message_max_body_bytes)
    if not isinstance(body, dict):
        raise invalid_body()
    new_msg, new_ext, combine = body.get("new_msg"), body.get("new_ext"), body.get("is_combine_ext", True)
    by = body.get("user", ADMIN)
    if not new_msg:
        raise errors.illegal_argument("new_msg is required")
    if (
        not isinstance(new_msg, dict)
        or not isinstance(new_msg.get("type"), str)
        or (new_ext is not None and not isinstance(new_ext, dict))
        or not isinstance(combine, bool)
        or not isinstance(by, str)
        or not by
    ):
        raise invalid_body()
    messages = call.node.messages
    message = await messages.find(call.app, number)
    if message is None:
        raise errors.rewrite_error(404, "The message is unavailable or has expired.")
    mtype = str(_TYPE_NAMES.get(new_msg["type"], new_msg["type"]))
    fields = {k: v for k, v in new_msg.items() if k != "type"}
    await messages.rewrite(call.app, message, Rewrite(by, mtype, fields, new_ext, combine))
    return call.ok("put", path=f"/messages/rewrite/{msg_id}", data="success")


P = "/{org}/{app}"
routes = [
    Route(P + "/messages", send_message, methods=["POST"]),
    *(
        Route(P + f"/messages/{kind}" + ("/users" if directed else ""), _sender(kind, directed), methods=["POST"])
        for kind in _KINDS
        for directed in ((False, True) if kind != "users" else (False,))
    ),
    Route(P + "/messages/msg_recall", recall, methods=["POST"]),
    Route(P + "/messages/batch_recall", batch_recall, methods=["POST"]),
    Route(P + "/messages/rewrite/{msg_id}", rewrite, methods=["PUT"]),
]
