"""Message import over the Easemob REST surface: `POST /messages/users/import` and
`/messages/chatgroups/import` (Easemob's message_import_single and message_import_group pages),
one message a call, stored as it was and delivered to nobody (`ImportService`). The app admin
token is needed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http import pipeline
from hxim.http.apidoc import BOOL, INT, OBJ, STR, doc, obj, one_of, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.http.messages import invalid_body, today_command
from hxim.services.message_import import ImportMessage

__all__ = ["routes"]

_MAX_ID = (1 << 63) - 1


def import_command(body: Any, kind: str, call: Call) -> ImportMessage:
    """The body of an import: `from`, `target` (a user, or a group id), `type` and `body` (as a
    send route takes them, and checked alike), `ext`, `msg_timestamp` (ms), `need_download` and
    `is_ack_read` (accepted; hxim fetches no attachment), and `msg_id` (hxim's: the id to keep)."""
    if not isinstance(body, dict):
        raise invalid_body()
    if not body.get("body"):
        raise errors.illegal_argument("message body not allow empty")
    if not body.get("type"):
        raise errors.illegal_argument("type not allow empty")
    sender, target = body.get("from"), body.get("target")
    if not isinstance(sender, str) or not sender:
        raise errors.illegal_argument("from not allow empty")
    if not isinstance(target, str) or not target:
        raise errors.illegal_argument("target not allow empty")
    stamp, msg_id = body.get("msg_timestamp"), body.get("msg_id")
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int) or not 1000 <= stamp <= _MAX_ID):
        raise errors.illegal_argument("msg_timestamp must be a time in milliseconds (1000 or more)")
    if isinstance(msg_id, str) and msg_id.isdecimal() and len(msg_id) < 20:
        msg_id = int(msg_id)
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, int) or not 0 < msg_id <= _MAX_ID):
        raise errors.illegal_argument("msg_id must be a message id: digits")
    if any(not isinstance(body.get(flag, False), bool) for flag in ("need_download", "is_ack_read")):
        raise invalid_body()
    send = {"from": sender, "to": [target], "type": body["type"], "body": body["body"]}
    if "ext" in body:
        send["ext"] = body["ext"]
    cmd = today_command(send, kind, False, call.node.settings)  # type, body and ext as the send routes take them
    return ImportMessage(cmd.chat_type, sender, target, cmd.bodies[0], cmd.ext, stamp, msg_id)


def _importer(kind: str) -> pipeline.Endpoint:
    path = f"/messages/{kind}/import"

    @doc(
        f"Import a past message {'between users' if kind == 'users' else 'of a group'}: stored, delivered to nobody",
        tag="Messages",
        body=obj(
            {
                "from": STR,
                "target": STR,
                "type": text("txt, img, loc, audio, video, file, cmd or custom"),
                "body": {**OBJ, "minProperties": 1},
                "ext": OBJ,
                "msg_timestamp": text("when it was sent (ms)", type="integer"),
                "msg_id": one_of(STR, INT, description="the id to keep"),
                "need_download": BOOL,
                "is_ack_read": BOOL,
            },
            ["from", "target", "type", "body"],
        ),
        ok=usergrid(data=obj({"msg_id": STR}, ["msg_id"])),
    )
    @endpoint("messages")
    async def import_message(call: Call) -> Response:
        cmd = import_command(await call.json(call.node.settings.message_max_body_bytes), kind, call)
        message = await call.node.imports.import_message(call.app, cmd)
        return call.ok("post", path=path, entities=[], data={"msg_id": message.msg_id})

    import_message.__name__ = import_message.__qualname__ = f"import_{kind}"
    return import_message


P = "/{org}/{app}"
routes = [Route(P + f"/messages/{kind}/import", _importer(kind), methods=["POST"]) for kind in ("users", "chatgroups")]
