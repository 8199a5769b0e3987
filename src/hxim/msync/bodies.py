"""Messages between msync and the one stored model: a client's `MessageBody` becomes the bodies
and `ext` of Easemob's REST API (what every protocol stores and reads), and a stored message
becomes the `Meta` a 4.x client reads (docs/msync.md, "Messages").

| Content type | REST body | fields (REST ← msync) |
|---|---|---|
| TEXT | `txt` | msg ← text |
| IMAGE | `img` | url ← remote_path, secret ← secret_key, filename ← display_name, file_length, size |
| VIDEO | `video` | url, secret, filename, file_length, length ← duration, thumb ← thumbnail_remote_path, thumb_secret |
| VOICE | `audio` | url, secret, filename, file_length, length ← duration |
| FILE | `file` | url, secret, filename, file_length |
| LOCATION | `loc` | lat ← latitude, lng ← longitude, addr ← address, buildingName |
| COMMAND | `cmd` | action |
| CUSTOM | `custom` | customEvent, customExts (string values) |

`ext` travels as `KeyValue`s typed as the SDK types them: objects and lists as JSON text,
booleans, integers, doubles, strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from hxim import errors
from hxim.model import Message
from hxim.msync.wire import CHAT_DOMAIN, ROOM_DOMAIN, pb

__all__ = ["CHAT_TYPE_OF", "BODY_TYPE_OF", "ext_of", "kv_list", "bodies_of", "meta_bytes"]

C = pb.MessageBody.Content
KV = pb.KeyValue

# MessageBody.type ↔ stored chat type
CHAT_TYPE_OF = {pb.MessageBody.CHAT: "chat", pb.MessageBody.GROUPCHAT: "groupchat", pb.MessageBody.CHATROOM: "chatroom"}
BODY_TYPE_OF = {v: k for k, v in CHAT_TYPE_OF.items()}

_INT64 = 1 << 63


# --- ext: KeyValue lists -------------------------------------------------------------------------
def _value(kv: pb.KeyValue) -> Any:
    kind = kv.type
    if kind == KV.STRING:
        return kv.string_value
    if kind == KV.JSON_STRING:
        try:
            return orjson.loads(kv.string_value)
        except orjson.JSONDecodeError:
            return kv.string_value
    if kind == KV.BOOL:
        return kv.varint_value != 0
    if kind in (KV.INT, KV.UINT, KV.LLINT):
        return kv.varint_value
    if kind == KV.FLOAT:
        return kv.float_value
    if kind == KV.DOUBLE:
        return kv.double_value
    return None


def ext_of(kvs: Any) -> dict[str, Any]:
    """A KeyValue list as the JSON object it stands for (entries of unknown types are left out)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        if kv.HasField("type"):
            value = _value(kv)
            if value is not None or kv.type == KV.JSON_STRING:
                out[kv.key] = value
    return out


def kv_list(doc: Mapping[str, Any]) -> list[pb.KeyValue]:
    """A JSON object as KeyValues, typed as the SDK types them when it sends."""
    out = []
    for key, value in doc.items():
        if isinstance(value, bool):
            out.append(KV(key=key, type=KV.BOOL, varint_value=int(value)))
        elif isinstance(value, int) and -_INT64 <= value < _INT64:
            out.append(KV(key=key, type=KV.INT if -(1 << 31) <= value < (1 << 31) else KV.LLINT, varint_value=value))
        elif isinstance(value, float) and math.isfinite(value):
            out.append(KV(key=key, type=KV.DOUBLE, double_value=value))
        elif isinstance(value, str):
            out.append(KV(key=key, type=KV.STRING, string_value=value))
        else:  # objects, lists, null, integers beyond 64 bits
            out.append(KV(key=key, type=KV.JSON_STRING, string_value=orjson.dumps(value).decode()))
    return out


# --- a client's message → stored bodies ---------------------------------------------------------
def _file_fields(c: pb.MessageBody.Content, body: dict[str, Any]) -> dict[str, Any]:
    if c.remote_path:
        body["url"] = c.remote_path
    if c.secret_key:
        body["secret"] = c.secret_key
    if c.display_name:
        body["filename"] = c.display_name
    if c.HasField("file_length"):
        body["file_length"] = c.file_length
    return body


def _body(c: pb.MessageBody.Content) -> dict[str, Any]:
    kind = c.type
    if kind == C.TEXT:
        if c.HasField("sub_type") and c.sub_type == C.SUB_COMBINE:
            raise errors.illegal_argument("combined (forwarded) messages are not supported")
        return {"type": "txt", "msg": c.text}
    if kind == C.IMAGE:
        body = _file_fields(c, {"type": "img"})
        if c.HasField("size"):
            body["size"] = {"width": c.size.width, "height": c.size.height}
        return body
    if kind == C.VIDEO:
        body = _file_fields(c, {"type": "video"})
        if c.HasField("duration"):
            body["length"] = c.duration
        if c.thumbnail_remote_path:
            body["thumb"] = c.thumbnail_remote_path
        if c.thumbnail_secret_key:
            body["thumb_secret"] = c.thumbnail_secret_key
        return body
    if kind == C.VOICE:
        body = _file_fields(c, {"type": "audio"})
        if c.HasField("duration"):
            body["length"] = c.duration
        return body
    if kind == C.FILE:
        return _file_fields(c, {"type": "file"})
    if kind == C.LOCATION:
        body = {"type": "loc", "lat": c.latitude, "lng": c.longitude, "addr": c.address}
        if c.building_name:
            body["buildingName"] = c.building_name
        return body
    if kind == C.COMMAND:
        return {"type": "cmd", "action": c.action}
    if kind == C.CUSTOM:
        exts = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in ext_of(c.custom_exts).items()}
        body = {"type": "custom", "customEvent": c.custom_event}
        if exts:
            body["customExts"] = exts
        return body
    raise errors.illegal_argument("this kind of message is not supported")


def bodies_of(msg: pb.MessageBody) -> list[dict[str, Any]]:
    """The stored bodies of a client's message (one content, as the SDK sends)."""
    if not msg.contents:
        raise errors.illegal_argument("the message has no content")
    return [_body(msg.contents[0])]


# --- a stored message → the Meta a client reads --------------------------------------------------
def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _int(value: Any) -> int:
    try:
        return max(-(1 << 31), min((1 << 31) - 1, int(value)))
    except (TypeError, ValueError):
        return 0


def _content(body: Mapping[str, Any]) -> pb.MessageBody.Content:
    kind = body.get("type")
    if kind == "txt":
        return C(type=C.TEXT, text=str(body.get("msg", "")))
    if kind == "loc":
        c = C(type=C.LOCATION, latitude=_num(body.get("lat")), longitude=_num(body.get("lng")),
              address=str(body.get("addr", "")))
        if body.get("buildingName"):
            c.building_name = str(body["buildingName"])
        return c
    if kind == "cmd":
        return C(type=C.COMMAND, action=str(body.get("action", "")))
    if kind == "custom":
        c = C(type=C.CUSTOM, custom_event=str(body.get("customEvent", "")))
        exts = body.get("customExts")
        if isinstance(exts, dict):
            c.custom_exts.extend(kv_list(exts))
        return c
    file_type = {"img": C.IMAGE, "video": C.VIDEO, "audio": C.VOICE, "file": C.FILE}.get(str(kind))
    if file_type is None:  # a type no SDK knows: its text, if any, as a text message
        return C(type=C.TEXT, text=str(body.get("msg", "")))
    c = C(type=file_type, remote_path=str(body.get("url", "")))
    if body.get("secret"):
        c.secret_key = str(body["secret"])
    if body.get("filename"):
        c.display_name = str(body["filename"])
    if body.get("file_length") is not None:
        c.file_length = _int(body["file_length"])
    if body.get("length") is not None:
        c.duration = _int(body["length"])
    size = body.get("size")
    if isinstance(size, dict):
        c.size.width = _num(size.get("width"))
        c.size.height = _num(size.get("height"))
    if body.get("thumb"):
        c.thumbnail_remote_path = str(body["thumb"])
    if body.get("thumb_secret"):
        c.thumbnail_secret_key = str(body["thumb_secret"])
    return c


def meta_bytes(message: Message, app_key: str) -> bytes:
    """A stored message as the `Meta` a 4.x client reads: its id and time, the sender as
    `MessageBody.from`, the user or room as `MessageBody.to` (never a resource)."""
    room = message.chat_type != "chat"
    body = pb.MessageBody(
        type=BODY_TYPE_OF.get(message.chat_type, pb.MessageBody.CHAT),
        contents=[_content(b) for b in message.bodies[:1]],
    )
    body.from_.name = message.sender
    body.to.name = message.to
    if message.ext:
        body.ext.extend(kv_list(message.ext))
    meta = pb.Meta(
        id=message.id,
        timestamp=message.timestamp,
        ns=pb.Meta.CHAT,
        payload=body.SerializeToString(),
    )
    meta.from_.app_key = app_key
    meta.from_.name = message.sender
    meta.from_.domain = CHAT_DOMAIN
    meta.to.app_key = app_key
    meta.to.name = message.to
    meta.to.domain = ROOM_DOMAIN if room else CHAT_DOMAIN
    return meta.SerializeToString()
