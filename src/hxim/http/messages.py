"""Messages over the Easemob REST API: sending (easemob-rest.md §5), recall, the chat history
(§9.1) and the Web IM SDK's message roaming (webim-xmpp.md §2.6).

Each handler parses its request into the command or query the `MessageService` takes and renders
the answer; the rules (who may send or recall, who is told) are the service's, shared with every
other surface.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hxim import errors
from hxim.config import Settings
from hxim.http import easemob_ops as ops
from hxim.http import pipeline
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint, limit_param
from hxim.http.render import json_response
from hxim.model import App, Message, User
from hxim.services.messages import (
    ADMIN,
    ALL_CONVERSATIONS,
    CHAT_TYPES,
    MSG_FIELDS,
    Rewrite,
    SendMessage,
    chat_conversation,
    room_conversation,
)
from hxim.xmpp.jid import JID, muc_domain, user_node
from hxim.xmpp.messages import message_stanza
from hxim.xmpp.namespaces import CLIENT

__all__ = ["history_entity", "parse_ql", "routes"]

SDK_DOMAIN = "easemob.com"  # the domain the Web IM SDK writes in roaming queues (webim-xmpp.md §2.6)
XMLNS_CLIENT = f" xmlns='{CLIENT}'"


# --- messages ----------------------------------------------------------------------------------


@endpoint("messages")
async def send_message(call: Call) -> Response:
    """The legacy `POST /messages`: each target answered with its message's id, as today's
    Easemob does (the `/hx` gateway keeps its document's `"success"`)."""
    body = await call.json(call.node.settings.message_max_body_bytes)
    return json_response(await ops.send_message(call, body, use_ids=True))


# --- today's send routes: POST /messages/{users|chatgroups|chatrooms}[/users] -----------------

_KINDS = {"users": "chat", "chatgroups": "groupchat", "chatrooms": "chatroom"}


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
        raise errors.HximError(
            400, "invalid_request_body", "Request body is invalid. Please check body is correct.",
            "InvalidRequestBodyException", "bad-request",
        )
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
    message = await call.node.messages.find(call.app, int(msg_id)) if msg_id.isdecimal() else None
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


@endpoint("messages")
async def recall(call: Call) -> Response:
    """`POST /messages/msg_recall`: the app withdraws one message, 1:1, group or chat room, as its
    sender (`from`, default `admin`) may over XMPP; `force` recalls a message past the recall
    window. The recipients who had it, and with `sync_device` (default true) the sender's own
    sessions, are told."""
    data = await _recall_one(call, await call.json())
    return call.ok("post", path="/messages/msg_recall", data=data)


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


def _invalid_body() -> errors.HximError:
    return errors.HximError(
        400, "invalid_request_body", "Request body is invalid. Please check body is correct.",
        "InvalidRequestBodyException", "bad-request",
    )


@endpoint("messages")
async def rewrite(call: Call) -> Response:
    """`PUT /messages/rewrite/{msg_id}` (Easemob's message_modify): `new_msg` (its `type`, and
    `msg` or `customEvent`/`customExts`), `new_ext` merged (`is_combine_ext`, default true) or
    replacing the old `ext`, `user` the modifier (default `admin`)."""
    msg_id = call.arg("msg_id")
    if not msg_id.isdecimal():
        raise errors.HximError(400, "InvalidMessageIdException", "The provided message ID is not a valid number.")
    body = await call.json(call.node.settings.message_max_body_bytes)
    if not isinstance(body, dict):
        raise _invalid_body()
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
        raise _invalid_body()
    messages = call.node.messages
    message = await messages.find(call.app, int(msg_id))
    if message is None:
        raise errors.rewrite_error(404, "The message is unavailable or has expired.")
    mtype = str(_TYPE_NAMES.get(new_msg["type"], new_msg["type"]))
    fields = {k: v for k, v in new_msg.items() if k != "type"}
    await messages.rewrite(call.app, message, Rewrite(by, mtype, fields, new_ext, combine))
    return call.ok("put", path=f"/messages/rewrite/{msg_id}", data="success")


# --- one-sided deletes: /rest/message/roaming/... and DELETE /users/{u}/user_channel ------------


def _roaming_error(error: str, description: str) -> errors.HximError:
    return errors.HximError(400, error, description, None, "bad-request")


def _roaming_done() -> Response:
    return json_response({"requestStatusCode": "ok", "timestamp": int(time.time() * 1000)})


async def _roaming_owner(call: Call, peer_param: str | None) -> tuple[User, str]:
    """The user whose roaming is cut (the path's `userId`) and the conversation the query names:
    the peer (`userId` in the query, for a 1:1 chat) or the group or chat room (`groupId`)."""
    owner = await call.node.users.get(call.app, call.arg("user"))
    if peer_param is None:
        return owner, ALL_CONVERSATIONS
    value = call.request.query_params.get(peer_param, "")
    if not value:
        raise _roaming_error("Bad Request", f"{peer_param} is required")
    if peer_param == "groupId":
        return owner, room_conversation(value)
    peer = await call.node.users.find(call.app, value)
    return owner, chat_conversation(peer.key if peer is not None else value)


def _roaming_by_ids(peer_param: str) -> pipeline.Endpoint:
    @endpoint("messages")
    async def delete_by_ids(call: Call) -> Response:
        """One-sided delete of messages by id (`msgIdList`, comma-separated, at most
        `roaming_delete_max`) from the user's conversation: they no longer read them back."""
        owner, _ = await _roaming_owner(call, peer_param)
        raw = call.request.query_params.get("msgIdList", "")
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        limit = call.node.settings.roaming_delete_max
        if not ids:
            raise _roaming_error("Bad Request", "msgIdList is required")
        if len(ids) > limit:
            raise _roaming_error("param exception", f"delete msg list limit can not greater than {limit}")
        if not all(i.isdecimal() for i in ids):
            raise _roaming_error("param exception", "msgIdList must hold message ids")
        await call.node.messages.forget_messages(owner, [int(i) for i in ids])
        return _roaming_done()

    return delete_by_ids


def _roaming_by_time(peer_param: str) -> pipeline.Endpoint:
    @endpoint("messages")
    async def delete_by_time(call: Call) -> Response:
        """One-sided clearing of the user's conversation up to `delTime` (ms)."""
        owner, conversation = await _roaming_owner(call, peer_param)
        raw = call.request.query_params.get("delTime", "")
        if not raw.isdecimal():
            raise _roaming_error("Bad Request", "delTime must be a time in milliseconds")
        await call.node.messages.forget_conversation(owner, conversation, int(raw))
        return _roaming_done()

    return delete_by_time


@endpoint("messages")
async def roaming_delete_all(call: Call) -> Response:
    """`POST /rest/message/roaming/user/{u}/delete/all`: the user no longer reads back anything
    sent so far, in any conversation."""
    owner, conversation = await _roaming_owner(call, None)
    await call.node.messages.forget_conversation(owner, conversation)
    return _roaming_done()


@endpoint("messages")
async def delete_conversation(call: Call) -> Response:
    """`DELETE /users/{u}/user_channel` `{"channel", "type": "chat"|"groupchat", "delete_roam"}`
    (Easemob's conversation_delete): with `delete_roam` the user no longer reads the
    conversation's messages back."""
    body = await call.json()
    if not isinstance(body, dict):
        raise _invalid_body()
    channel, kind, roam = body.get("channel"), body.get("type"), body.get("delete_roam")
    if not isinstance(channel, str) or not channel:
        raise errors.illegal_argument("field channel cannot be null or empty")
    if not isinstance(kind, str) or not kind:
        raise errors.illegal_argument("field type cannot be null or empty")
    if kind not in ("chat", "groupchat"):
        raise errors.illegal_argument("field type must be chat or groupchat")
    if roam is None:
        raise errors.illegal_argument("field delete_roam cannot be null")
    if not isinstance(roam, bool):
        raise _invalid_body()
    owner = await call.node.users.get(call.app, call.arg("username"))
    if roam:
        peer = await call.node.users.find(call.app, channel) if kind == "chat" else None
        conversation = (
            chat_conversation(peer.key if peer is not None else channel) if kind == "chat"
            else room_conversation(channel)
        )
        await call.node.messages.forget_conversation(owner, conversation)
    return call.ok("delete", path="/users/user_channel", entities=[], data={"result": "ok"})


# --- chat history ------------------------------------------------------------------------------

_QL = re.compile(
    r"^\s*select\s+\*\s*(?:where\s+(?P<where>.+?))?\s*(?:order\s+by\s+timestamp\s+(?P<dir>asc|desc))?\s*$", re.I
)
_COND = re.compile(r"^\s*timestamp\s*(?P<op><=|>=|<|>|=)\s*(?P<value>\d+)\s*$", re.I)


def parse_ql(ql: str | None) -> tuple[list[tuple[str, int]], bool]:
    """The timestamp conditions and direction of a `select * where timestamp>…` query."""
    if not ql:
        return [], False
    match = _QL.match(ql)
    if match is None:
        raise errors.illegal_argument("This chatmessage request is not supported")
    conditions = []
    if match.group("where"):
        for part in re.split(r"\s+and\s+", match.group("where"), flags=re.I):
            cond = _COND.match(part)
            if cond is None:
                raise errors.illegal_argument("This chatmessage request is not supported")
            conditions.append((cond.group("op"), int(cond.group("value"))))
    return conditions, (match.group("dir") or "asc").lower() == "desc"


def history_entity(app: App, m: Message) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(app.uuid, m.msg_id)),
        "type": "chatmessage",
        "created": m.timestamp,
        "modified": m.timestamp,
        "timestamp": m.timestamp,
        "from": m.sender,
        "msg_id": m.msg_id,
        "to": m.to,
        "chat_type": m.chat_type,
        "payload": m.payload(),
    }


def _hour(call: Call, text: str) -> tuple[int, int]:
    """The hour `yyyyMMddHH` names, in `history_file_timezone`, as [start, end) in ms."""
    try:
        if len(text) != 10 or not text.isdecimal():
            raise ValueError(text)
        zone = ZoneInfo(call.node.settings.history_file_timezone)
        start = datetime.strptime(text, "%Y%m%d%H").replace(tzinfo=zone)
    except ValueError:
        raise errors.illegal_argument(f"illegal arguments: appkey: {call.app.appkey}, time: {text}") from None
    begin = int(start.timestamp() * 1000)
    return begin, begin + 3600 * 1000


def _file_signature(call: Call, text: str, expires: int) -> str:
    return call.node.tokens.sign(f"chatmessages:{call.app.uuid}:{text}:{expires}")


@endpoint("chatmessages")
async def history_file(call: Call) -> Response:
    """`GET /chatmessages/{yyyyMMddHH}` (Easemob's message_historical): a link to one hour's
    messages as a gzip file, valid for `history_file_link_seconds`; 404 when that hour holds none."""
    text = call.arg("time")
    start, end = _hour(call, text)
    async for _ in call.node.messages.between(call.app, start, end):
        break
    else:
        raise errors.HximError(
            404, "storage_object_not_found",
            f"Failed to find chat message history download url for appkey: {call.app.appkey}, "
            f"time: {text}", None, "item-not-found",
        )
    expires = int(time.time()) + call.node.settings.history_file_link_seconds
    query = urlencode({"Expires": expires, "Signature": _file_signature(call, text, expires)})
    url = f"{call.base()}/{call.app.org}/{call.app.name}/chatmessages/{text}/file?{query}"
    return call.ok("get", data=[{"url": url}])


@endpoint("chatmessages", Access.NONE)
async def history_file_download(call: Call) -> Response:
    """The file a `GET /chatmessages/{time}` link names: gzip, one JSON record per line, as
    Easemob's history files hold them (`msg_id`, `timestamp`, `direction`, `to`, `from`,
    `chat_type`, `payload` with `from` and `to`). The link is its own credential, until it expires."""
    text = call.arg("time")
    params = call.request.query_params
    expires = params.get("Expires", "")
    if (
        not expires.isdecimal()
        or int(expires) < time.time()
        or not hmac.compare_digest(params.get("Signature", ""), _file_signature(call, text, int(expires)))
    ):
        raise errors.HximError(403, "forbidden", "This link is not valid or has expired.", None, "forbidden")
    start, end = _hour(call, text)
    messages = call.node.messages

    async def lines() -> AsyncIterator[bytes]:
        gz = zlib.compressobj(wbits=31)  # gzip framing
        async for page in messages.between(call.app, start, end):
            chunk = b"".join(orjson.dumps(_history_record(m)) + b"\n" for m in page)
            yield gz.compress(chunk)
        yield gz.flush()

    headers = {"Content-Disposition": f'attachment; filename="{call.app.appkey}-{text}.gz"'}
    return StreamingResponse(lines(), media_type="application/gzip", headers=headers)


def _history_record(m: Message) -> dict[str, Any]:
    payload: dict[str, Any] = {"bodies": m.bodies, "ext": m.ext if m.ext is not None else {}}
    payload.update({"from": m.sender, "to": m.to})
    return {"msg_id": m.msg_id, "timestamp": m.timestamp, "direction": "outgoing", "to": m.to, "from": m.sender,
            "chat_type": m.chat_type, "payload": payload}


@endpoint("chatmessages")
async def chatmessages(call: Call) -> Response:
    conditions, descending = parse_ql(call.request.query_params.get("ql"))
    limit = limit_param(call, 10, call.node.settings.history_page_max)
    found, cursor = await call.node.messages.history(
        call.app, conditions, descending, limit, call.request.query_params.get("cursor")
    )
    return call.ok(
        "get",
        params=call.params(),
        path="/chatmessages",
        entities=[history_entity(call.app, m) for m in found],
        cursor=cursor,
        count=len(found),
    )


# --- message roaming (the Web IM SDK's history) --------------------------------------------------


def _roaming_queue(call: Call, queue: Any) -> tuple[str, bool]:
    """(peer name or room id, whether a room) from the SDK's `queue`: `{peer}@{domain}` or
    `{room}@conference.{domain}`. The domain is the configured XMPP domain or `easemob.com`, which
    the SDK writes whatever its own `domain` option says; an `{org}#{app}_` prefix is dropped."""
    jid = JID.try_parse(queue) if isinstance(queue, str) else None
    if jid is None or jid.local is None or jid.resource is not None:
        raise errors.illegal_argument("queue must be {user}@{domain} or {group id}@conference.{domain}")
    domains = {call.node.settings.xmpp_domain.lower().rstrip("."), SDK_DOMAIN}
    domain = jid.domain.lower()
    if domain in domains:
        room = False
    elif domain in {muc_domain(d) for d in domains}:
        room = True
    else:
        raise errors.illegal_argument(f"queue [{queue}] is not on this server's domain")
    local = jid.local
    prefix = call.app.appkey.lower() + "_"
    if local.lower().startswith(prefix):
        local = local[len(prefix) :]
    return local, room


def _roaming_key(start: Any) -> str | None:
    """The position to read before: None for `-1` (the newest), else a `next_key` hxim issued."""
    if start is None or (not isinstance(start, bool) and start in (-1, "-1")):
        return None
    if isinstance(start, str) and start:
        return start
    raise errors.illegal_argument("start must be -1 or the next_key of the previous page")


@endpoint("chatmessages", Access.SELF)
async def message_roaming(call: Call) -> Response:
    """`POST /users/{u}/messageroaming` (webim-xmpp.md §2.6): one page of a conversation, newest
    first, each message the complete §4.7 stanza (with its XEP-0203 `<delay>`) the SDK parses,
    addressed as the SDK writes JIDs (`{org}#{app}_{user}@{domain}`)."""
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument('the body must be {"queue":"…@…","start":-1,"end":-1}')
    end = body.get("end")
    if end is not None and (isinstance(end, bool) or end not in (-1, "-1")):
        raise errors.illegal_argument("end must be -1")
    other, room = _roaming_queue(call, body.get("queue"))
    key = _roaming_key(body.get("start"))
    user = call.user or await call.node.users.get(call.app, call.arg("username"))
    found, is_last, next_key = await call.node.messages.conversation(call.app, user, other, room, key)
    domain = call.node.settings.xmpp_domain
    to = f"{user_node(call.app.appkey, user.username)}@{domain}"
    msgs = [
        message_stanza(m, prefix=call.app.appkey, domain=domain, to=to, json_body=True, xmlns_attr=XMLNS_CLIENT,
                       delayed=True)
        for m in found
    ]
    return json_response({"data": {"msgs": msgs, "is_last": is_last, "next_key": next_key}})



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
    Route(P + "/rest/message/roaming/chat/user/{user}", _roaming_by_ids("userId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/group/user/{user}", _roaming_by_ids("groupId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/chat/user/{user}/time", _roaming_by_time("userId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/group/user/{user}/time", _roaming_by_time("groupId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/user/{user}/delete/all", roaming_delete_all, methods=["POST"]),
    Route(P + "/users/{username}/user_channel", delete_conversation, methods=["DELETE"]),
    Route(P + "/chatmessages", chatmessages, methods=["GET"]),
    Route(P + "/chatmessages/{time}", history_file, methods=["GET"]),
    Route(P + "/chatmessages/{time}/file", history_file_download, methods=["GET"]),
    Route(P + "/users/{username}/messageroaming", message_roaming, methods=["POST"]),
]
