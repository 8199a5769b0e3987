"""What was said, read back over the Easemob REST API: the chat history (`GET /chatmessages`,
easemob-rest.md §9.1, and an hour's history as a file, `GET /chatmessages/{time}`), the Web IM
SDK's message roaming (webim-xmpp.md §2.6), and what a user deletes of it for themselves
(`/rest/message/roaming/...`, `DELETE /users/{u}/user_channel`).
"""

from __future__ import annotations

import base64
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
from hxim.http import pipeline
from hxim.http.apidoc import BOOL, HISTORY_MESSAGE, INT, STR, arr, doc, obj, one_of, param, text, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint, limit_param
from hxim.http.messages import invalid_body
from hxim.http.render import json_response
from hxim.model import INT64_MAX, App, Message, User, decimal_id
from hxim.msync.bodies import meta_bytes
from hxim.services.messages import (
    ALL_CONVERSATIONS,
    Slice,
    chat_conversation,
    room_conversation,
)
from hxim.xmpp.jid import JID, muc_domain, user_node
from hxim.xmpp.messages import message_stanza
from hxim.xmpp.namespaces import CLIENT

__all__ = ["history_entity", "parse_ql", "routes"]

SDK_DOMAIN = "easemob.com"  # the domain the Web IM SDK writes in roaming queues (webim-xmpp.md §2.6)
XMLNS_CLIENT = f" xmlns='{CLIENT}'"


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "History"
ROAMING_DONE = obj({"requestStatusCode": STR, "timestamp": INT}, ["requestStatusCode", "timestamp"])


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
    peer = "peer's name" if peer_param == "userId" else "group's or chat room's id"

    @doc(
        "Delete messages of a conversation by id, for one user only",
        tag=TAG,
        paths={"user": "the user"},
        params=[param("msgIdList", "message ids, separated by commas", required=True),
                param(peer_param, f"the conversation: the {peer}", required=True)],
        ok=ROAMING_DONE,
        errors={404: "no such user"},
    )
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
        numbers = [decimal_id(i) for i in ids]
        if None in numbers:
            raise _roaming_error("param exception", "msgIdList must hold message ids")
        await call.node.messages.forget_messages(owner, [n for n in numbers if n is not None])
        return _roaming_done()

    return delete_by_ids


def _roaming_by_time(peer_param: str) -> pipeline.Endpoint:
    peer = "peer's name" if peer_param == "userId" else "group's or chat room's id"

    @doc(
        "Clear a conversation up to a time, for one user only",
        tag=TAG,
        paths={"user": "the user"},
        params=[param("delTime", "up to when (ms)", {"type": "integer", "minimum": 0}, required=True),
                param(peer_param, f"the conversation: the {peer}", required=True)],
        ok=ROAMING_DONE,
        errors={404: "no such user"},
    )
    @endpoint("messages")
    async def delete_by_time(call: Call) -> Response:
        """One-sided clearing of the user's conversation up to `delTime` (ms)."""
        owner, conversation = await _roaming_owner(call, peer_param)
        until = decimal_id(call.request.query_params.get("delTime", ""))
        if until is None:
            raise _roaming_error("Bad Request", "delTime must be a time in milliseconds")
        await call.node.messages.forget_conversation(owner, conversation, until)
        return _roaming_done()

    return delete_by_time


@doc(
    "A user no longer reads back anything sent so far",
    tag=TAG,
    paths={"user": "the user"},
    ok=ROAMING_DONE,
    errors={404: "no such user"},
)
@endpoint("messages")
async def roaming_delete_all(call: Call) -> Response:
    """`POST /rest/message/roaming/user/{u}/delete/all`: the user no longer reads back anything
    sent so far, in any conversation."""
    owner, conversation = await _roaming_owner(call, None)
    await call.node.messages.forget_conversation(owner, conversation)
    return _roaming_done()


def _delete_conversation(access: Access) -> pipeline.Endpoint:
    @doc(
        "Delete a conversation from a user's list (and with delete_roam, from what they read back)",
        tag=TAG,
        body=obj(
            {"channel": text("the peer, group or chat room"), "type": {"enum": ["chat", "groupchat", "groupChat"]},
             "delete_roam": BOOL},
            ["channel", "type", "delete_roam"],
        ),
        ok=usergrid(data=obj({"result": STR}, ["result"])),
        errors={404: "no such user"},
    )
    @endpoint("messages", access)
    async def delete_conversation(call: Call) -> Response:
        """`DELETE /users/{u}/user_channel` `{"channel", "type": "chat"|"groupchat", "delete_roam"}`
        (Easemob's conversation_delete; the Web SDK 4.x's deleteConversation at `/user/{u}/…`,
        with `type` "groupChat"): with `delete_roam` the user no longer reads the conversation's
        messages back."""
        body = await call.json()
        if not isinstance(body, dict):
            raise invalid_body()
        channel, kind, roam = body.get("channel"), body.get("type"), body.get("delete_roam")
        if not isinstance(channel, str) or not channel:
            raise errors.illegal_argument("field channel cannot be null or empty")
        if not isinstance(kind, str) or not kind:
            raise errors.illegal_argument("field type cannot be null or empty")
        kind = kind.lower()
        if kind not in ("chat", "groupchat"):
            raise errors.illegal_argument("field type must be chat or groupchat")
        if roam is None:
            raise errors.illegal_argument("field delete_roam cannot be null")
        if not isinstance(roam, bool):
            raise invalid_body()
        owner = call.user or await call.node.users.get(call.app, call.arg("username"))
        if roam:
            peer = await call.node.users.find(call.app, channel) if kind == "chat" else None
            conversation = (
                chat_conversation(peer.key if peer is not None else channel) if kind == "chat"
                else room_conversation(channel)
            )
            await call.node.messages.forget_conversation(owner, conversation)
        return call.ok("delete", path="/users/user_channel", entities=[], data={"result": "ok"})

    return delete_conversation


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
            # no time is past INT64_MAX: a larger bound compares as that one does
            conditions.append((cond.group("op"), min(int(cond.group("value")), INT64_MAX)))
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


@doc(
    "A link to one hour's messages as a gzip file",
    tag=TAG,
    paths={"time": "the hour, yyyyMMddHH in history_file_timezone"},
    ok=usergrid(data=arr(obj({"url": STR}, ["url"]))),
    errors={404: "no message that hour"},
)
@endpoint("chatmessages")
async def history_file(call: Call) -> Response:
    """`GET /chatmessages/{yyyyMMddHH}` (Easemob's message_historical): a link to one hour's
    messages as a gzip file, valid for `history_file_link_seconds`; 404 when that hour holds none."""
    text = call.arg("time")
    start, end = _hour(call, text)
    if not await call.node.messages.any_between(call.app, start, end):
        raise errors.HximError(
            404, "storage_object_not_found",
            f"Failed to find chat message history download url for appkey: {call.app.appkey}, "
            f"time: {text}", None, "item-not-found",
        )
    expires = int(time.time()) + call.node.settings.history_file_link_seconds
    query = urlencode({"Expires": expires, "Signature": _file_signature(call, text, expires)})
    url = f"{call.base()}/{call.app.org}/{call.app.name}/chatmessages/{text}/file?{query}"
    return call.ok("get", data=[{"url": url}])


@doc(
    "One hour's messages: gzip, a JSON record per line",
    tag=TAG,
    description="The link `GET /chatmessages/{time}` answers is its own credential, until it expires.",
    paths={"time": "the hour, yyyyMMddHH"},
    params=[param("Expires", "when the link expires (s)", required=True), param("Signature", required=True)],
    ok={"type": "string", "contentMediaType": "application/gzip"},
    ok_type="application/gzip",
    errors={403: "a link that is not valid or has expired"},
)
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


@doc(
    "The app's chat history, a page at a time",
    tag=TAG,
    params=[
        param("ql", "`select * [where timestamp>N [and timestamp<M]] [order by timestamp desc]`"),
        param("limit", "messages per page", {"type": "integer", "minimum": 1}),
        param("cursor", "the page after the one that gave it"),
    ],
    ok=usergrid(entities=HISTORY_MESSAGE),
)
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


# what only the Web SDK 4.x's getHistoryMessages sends
SDK4_FIELDS = ("pull_number", "is_positive", "msgType", "startTime", "endTime", "userId")


def _from_sdk4(call: Call, body: dict[str, Any]) -> bool:
    """Whether the Web SDK 4.x asks (its answer is protobuf metas), not the Web IM SDK 1.8 (XML
    stanzas): 4.x's getHistoryMessages sends fields of its own, and both 4.x calls declare their
    body JSON, which 1.8 never does (its body goes as text/plain)."""
    if any(name in body for name in SDK4_FIELDS):
        return True
    kind = call.request.headers.get("content-type", "")
    return kind.split(";")[0].strip().lower() == "application/json"


@doc(
    "One page of a conversation, as the Web IM SDK (XMPP stanzas) or the Web SDK 4.x (msync metas) reads it",
    tag=TAG,
    body=obj(
        {
            "queue": text("`{peer}@easemob.com` or `{group id}@conference.easemob.com`"),
            "start": one_of(INT, STR, description="-1 for the newest, or the next_key of the previous page"),
            "end": one_of(INT, STR, description="-1"),
            "pull_number": INT,
            "is_positive": text("oldest first", type="boolean"),
            "msgType": text("body types, separated by commas"),
            "startTime": INT,
            "endTime": INT,
            "userId": text("a group member's messages only"),
        },
        ["queue"],
    ),
    ok=obj(
        {
            "data": obj(
                {
                    "msgs": arr(one_of(STR, obj({"msg": text("a protobuf Meta, base64")}, ["msg"]))),
                    "is_last": BOOL,
                    "next_key": one_of(STR, {"type": "null"}),
                },
                ["msgs", "is_last"],
            )
        },
        ["data"],
    ),
    errors={404: "no such user"},
)
@endpoint("chatmessages", Access.SELF)
async def message_roaming(call: Call) -> Response:
    """`POST /users/{u}/messageroaming` (webim-xmpp.md §2.6): one page of a conversation, newest
    first, each message the complete §4.7 stanza (with its XEP-0203 `<delay>`) the SDK parses,
    addressed as the SDK writes JIDs (`{org}#{app}_{user}@{domain}`); for the Web SDK 4.x the
    page it reads (`_roaming_sdk4`)."""
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument('the body must be {"queue":"…@…","start":-1,"end":-1}')
    end = body.get("end")
    if end is not None and (isinstance(end, bool) or end not in (-1, "-1")):
        raise errors.illegal_argument("end must be -1")
    other, room = _roaming_queue(call, body.get("queue"))
    if _from_sdk4(call, body):
        return await _roaming_sdk4(call, body, other, room)
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


def _number(body: dict[str, Any], name: str) -> int | None:
    """An optional whole number of the body (absent or null: None)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > INT64_MAX:
        raise errors.illegal_argument(f"{name} must be a number")
    return value


def _sdk4_slice(call: Call, body: dict[str, Any], room: bool) -> tuple[Slice, int]:
    """What the Web SDK 4.x asks of the conversation, and how many messages (`pull_number`)."""
    start = body.get("start")
    if start in (None, "", -1, "-1"):
        position = None
    elif isinstance(start, str) and decimal_id(start) is not None:
        position = decimal_id(start)
    elif isinstance(start, int) and not isinstance(start, bool) and 0 <= start <= INT64_MAX:
        position = start
    else:
        raise errors.illegal_argument("start must be -1 or the id of a message")
    most = call.node.settings.message_roaming_pull_max
    limit = _number(body, "pull_number")
    if limit is None:
        limit = call.node.settings.message_roaming_page_size
    if not 1 <= limit <= most:
        raise errors.illegal_argument(f"pull_number must be a number from 1 to {most}")
    ascending = body.get("is_positive", False)
    if not isinstance(ascending, bool):
        raise errors.illegal_argument("is_positive must be true or false")
    types = body.get("msgType") or None
    if types is not None and not isinstance(types, str):
        raise errors.illegal_argument("msgType must be message types separated by commas")
    sender = body.get("userId") or None
    if sender is not None and not isinstance(sender, str):
        raise errors.illegal_argument("userId must be a username")
    since, until = _number(body, "startTime"), _number(body, "endTime")
    part = Slice(
        start=position,
        ascending=ascending,
        since=since if since is not None and since >= 0 else None,
        until=until if until is not None and until >= 0 else None,
        sender_key=sender.lower() if sender is not None and room else None,
        types=frozenset(t.strip() for t in types.split(",") if t.strip()) if types else None,
    )
    return part, limit


async def _roaming_sdk4(call: Call, body: dict[str, Any], other: str, room: bool) -> Response:
    """The Web SDK 4.x's history (getHistoryMessages; the older fetchHistoryMessages sends only
    queue, start and end): `data.msgs[].msg` each message as the protobuf `Meta` the SDK reads live
    (base64), newest first or, with `is_positive`, oldest first; `next_key` the id of the page's
    last message (the `start` of the next page), `is_last` once nothing remains past it."""
    part, limit = _sdk4_slice(call, body, room)
    user = call.user or await call.node.users.get(call.app, call.arg("username"))
    found, is_last = await call.node.messages.read_back(call.app, user, other, room, part, limit)
    appkey = call.app.appkey
    msgs = [{"msg": base64.b64encode(meta_bytes(m, appkey)).decode()} for m in found]
    next_key = found[-1].msg_id if found else ("" if part.start is None else str(part.start))
    return json_response({"data": {"msgs": msgs, "next_key": next_key, "is_last": is_last}})


P = "/{org}/{app}"
routes = [
    Route(P + "/rest/message/roaming/chat/user/{user}", _roaming_by_ids("userId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/group/user/{user}", _roaming_by_ids("groupId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/chat/user/{user}/time", _roaming_by_time("userId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/group/user/{user}/time", _roaming_by_time("groupId"), methods=["DELETE"]),
    Route(P + "/rest/message/roaming/user/{user}/delete/all", roaming_delete_all, methods=["POST"]),
    Route(P + "/users/{username}/user_channel", _delete_conversation(Access.ADMIN), methods=["DELETE"]),
    Route(P + "/user/{username}/user_channel", _delete_conversation(Access.SELF), methods=["DELETE"]),
    Route(P + "/chatmessages", chatmessages, methods=["GET"]),
    Route(P + "/chatmessages/{time}", history_file, methods=["GET"]),
    Route(P + "/chatmessages/{time}/file", history_file_download, methods=["GET"]),
    Route(P + "/users/{username}/messageroaming", message_roaming, methods=["POST"]),
]
