"""Stream messages over the Easemob REST surface: `POST /stream_message/user` and
`/stream_message/chatgroup` (Easemob's message_stream_send_single and message_stream_send_group
pages), one chunk a call. The first chunk (no `body.msgId`) answers the stream's `msgId`; the
next ones name it. `StreamService` sends, stores and tells. The app admin token is needed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim.http import pipeline
from hxim.http.apidoc import BOOL, INT, OBJ, STR, doc, obj, one_of, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.http.messages import invalid_body
from hxim.model import INT64_MAX, decimal_id
from hxim.services.messages import ADMIN
from hxim.services.stream_messages import Chunk, stream_error

__all__ = ["routes"]

_FORMATS = ("text", "markdown")
_KINDS = {"user": "chat", "chatgroup": "groupchat"}


def chunk_command(body: Any, chat_type: str) -> Chunk:
    """The body of a stream call: `from` (default `admin`), `to` (a user, or a group id), `ext`
    (the first chunk's is kept), and `body`: `msg` (this chunk's text), `seq`, `msgId` (none on
    the first chunk), `finish`, `finishReason`, `type` (`text` or `markdown`, on the first)."""
    if not isinstance(body, dict):
        raise invalid_body()
    sender, to, part = body.get("from", ADMIN), body.get("to"), body.get("body")
    if not isinstance(sender, str) or not sender:
        raise stream_error("param from can't be empty")
    if not isinstance(to, str) or not to:
        raise stream_error("param to can't be empty")
    if not isinstance(part, dict) or not part:
        raise stream_error("param body can't be empty")
    ext = body.get("ext")
    if "ext" in body and not isinstance(ext, dict):
        raise stream_error("param ext must be JSONObject")
    seq, text = part.get("seq"), part.get("msg")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 62:
        raise stream_error("param body.seq is illegal")
    if not isinstance(text, str):
        raise stream_error("param body.msg must be a string")
    msg_id = part.get("msgId")
    if isinstance(msg_id, int) and not isinstance(msg_id, bool):
        msg_id = str(msg_id)
    number = decimal_id(msg_id) if isinstance(msg_id, str) and msg_id else None
    if msg_id is not None and msg_id != "" and number is None:
        raise stream_error("can not find stream message by msgId")
    finish, reason, fmt = part.get("finish", False), part.get("finishReason"), part.get("type", "text")
    if not isinstance(finish, bool) or isinstance(reason, bool) or not isinstance(reason, int | None):
        raise invalid_body()
    if reason is not None and abs(reason) > INT64_MAX:
        raise stream_error("param body.finishReason is illegal")
    if fmt not in _FORMATS:
        raise stream_error("param body.type must be text or markdown")
    return Chunk(
        chat_type, sender, to, text, seq, number, finish, reason, str(fmt),
        ext if isinstance(ext, dict) else None,
    )


def _streamer(kind: str) -> pipeline.Endpoint:
    path = f"/stream_message/{kind}"

    @doc(
        f"Send one chunk of a streamed message to a {'user' if kind == 'user' else 'group'}",
        tag="Messages",
        description="The first chunk (no `body.msgId`) answers the stream's `msgId`; the next ones name it.",
        body=obj(
            {
                "from": text("the sender (admin by default)"),
                "to": STR,
                "ext": OBJ,
                "body": obj(
                    {"msg": text("this chunk's text"), "seq": {"type": "integer", "minimum": 0},
                     "msgId": one_of(STR, INT, description="the stream's id, from the second chunk on"),
                     "finish": BOOL, "finishReason": INT, "type": {"enum": ["text", "markdown"]}},
                    ["msg", "seq"],
                ),
            },
            ["to", "body"],
        ),
        ok=usergrid(data=obj({"msgId": STR})),
        errors={400: "a bad chunk"},
    )
    @endpoint("messages")
    async def stream(call: Call) -> Response:
        chunk = chunk_command(await call.json(call.node.settings.message_max_body_bytes), _KINDS[kind])
        message = await call.node.streams.send(call.app, chunk)
        return call.ok("post", path=path, data={"msgId": message.msg_id} if chunk.msg_id is None else {})

    stream.__name__ = stream.__qualname__ = f"stream_to_{kind}"
    return stream


P = "/{org}/{app}"
routes = [Route(P + f"/stream_message/{kind}", _streamer(kind), methods=["POST"]) for kind in _KINDS]
