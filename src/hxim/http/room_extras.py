"""The Easemob REST calls on what groups and chat rooms hold besides their members: disabling a
group, announcements, a group's shared files, member and room attributes, member tags.

Each call's specification is its page of Easemob's server documentation (docs/rest-today.md names
them): group_ban, group_unban, group_announcement_obtain/modify, chatroom_announcement_get/update,
group_shared_file_upload/_obtain/_download/_delete, group_member_attribute_set/_set_batch/_get/
_get_by_key, chatroom_custom_attribute_set/_set_force/_get/_delete/_delete_force,
chatroom_user_tag_set/_get/_mute. The answers keep each page's shape: the group service's
envelope, the `{"timestamp","data","duration"}` of attributes, or the `{"uri","timestamp",
"action","data"}` of chat-room attributes.

Access: the app admin token calls everything. A group member's own token reads the group's
announcement, shared files and member attributes, uploads shared files, deletes the ones they
uploaded (owner and admins: any), and sets their own attributes (owner and admins: anyone's); the
owner and admins change the announcement (`services.group_policy`). A user's token reads a chat
room's attributes when they are a member, and sets or deletes attributes as themselves; the rest
of chat rooms is the admin token's.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.errors import HximError
from hxim.http import easemob_ops as ops
from hxim.http.apidoc import BOOL, NAMES, STR, arr, doc, obj, param, text, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint, file_response, read_upload
from hxim.http.group_render import GROUPS, ROOMS, Kind
from hxim.http.groups import POSITIVE, actor_of, body_object, int_param, room_ok, room_rule
from hxim.http.render import json_response
from hxim.http.user_metadata import ATTRIBUTES, metadata_answer, metadata_ok
from hxim.services.group_policy import Level
from hxim.services.room_content import file_payload

__all__ = ["routes"]


# --- what the OpenAPI document says of the answers -----------------------------------------------

SHARED_FILE = obj(
    {"file_id": STR, "file_name": STR, "file_owner": STR, "file_size": {"type": "integer"},
     "created": {"type": "integer"}},
    ["file_id", "file_name"],
)
KEY_RESULTS = obj(
    {"successKeys": NAMES, "errorKeys": {"type": "object", "additionalProperties": STR, "description": "key → why"}},
    ["successKeys", "errorKeys"],
)


def room_data(data: dict[str, Any]) -> dict[str, Any]:
    return usergrid(data=data)


def extras_ok(data: dict[str, Any]) -> dict[str, Any]:
    """What `_envelope` answers."""
    return usergrid(data=data, properties=obj())


def ROOM_METADATA(data: dict[str, Any]) -> dict[str, Any]:
    """What `_room_metadata` answers."""
    return obj({"uri": STR, "status": STR, "timestamp": {"type": "integer"}, "action": STR, "data": data},
               ["uri", "timestamp", "action", "data"])


def _envelope(call: Call, action: str, data: Any) -> Response:
    """The group service's envelope with the `properties: {}` these pages show."""
    return json_response({**ops.ok(call, action, entities=[], data=data), "properties": {}})


async def _keys(call: Call) -> Any:
    """`keys` of an optional body `{"keys": [...]}` (None: absent)."""
    body = await call.json()
    if body is not None and not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with keys")
    return body.get("keys") if body else None


# --- groups: disable, enable ---------------------------------------------------------------------


def _disabling(disabled: bool) -> Any:
    @doc(
        "Disable a group: nobody may send to it or change it" if disabled else "Enable a disabled group again",
        tag="Room extras",
        ok=extras_ok(obj({"disabled": BOOL}, ["disabled"])),
        errors={404: "no such group"},
    )
    @endpoint("chatgroups")
    async def handler(call: Call) -> Response:
        await call.node.groups.content.set_disabled(call.app, call.arg("id"), disabled)
        return _envelope(call, "post", {"disabled": disabled})

    handler.__name__ = "disable" if disabled else "enable"
    return handler


# --- announcements -------------------------------------------------------------------------------


def _announcements(kind: Kind) -> tuple[Any, Any]:
    tag, noun = "Room extras", "group" if kind.is_group else "chat room"

    @doc(
        f"A {noun}'s announcement",
        tag=tag,
        ok=room_data(obj({"announcement": STR}, ["announcement"])),
        errors={404: f"no such {noun}"},
    )
    @room_rule(kind, Level.MEMBER)
    async def get_announcement(call: Call) -> Response:
        text = await kind.service(call).content.announcement(call.app, call.arg("id"))
        return room_ok(call, {"announcement": text})

    @doc(
        f"Set a {noun}'s announcement",
        tag=tag,
        body=obj({"announcement": STR}, ["announcement"]),
        ok=room_data(obj({"id": STR, "result": BOOL}, ["id", "result"])),
        errors={404: f"no such {noun}"},
    )
    @room_rule(kind, Level.ADMIN)
    async def set_announcement(call: Call) -> Response:
        rid = call.arg("id")
        body = await body_object(call)
        await kind.service(call).content.set_announcement(call.app, rid, body.get("announcement"), actor_of(call))
        return room_ok(call, {"id": rid, "result": True})

    return get_announcement, set_announcement


# --- a group's shared files ----------------------------------------------------------------------


@doc(
    "Share a file in a group",
    tag="Room extras",
    body=obj({"file": {"type": "string", "contentMediaType": "application/octet-stream"}}, ["file"]),
    body_type="multipart/form-data",
    ok=room_data(obj({**SHARED_FILE["properties"], "file_url": STR, "group_id": STR}, ["file_id", "file_url"])),
    errors={404: "no such group", 413: "past chatfile_max_bytes"},
)
@room_rule(GROUPS, Level.MEMBER)
async def upload_file(call: Call) -> Response:
    rid = call.arg("id")
    await call.node.groups.content.room(call.app, rid)  # 404 for the group before reading the upload
    filename, content_type, content = await read_upload(call, "file must be provided.")
    uploader = None if call.is_admin or call.user is None else call.user.username
    found = await call.node.groups.content.add_file(call.app, rid, uploader, filename, content_type, content)
    data = {
        "file_url": call.uri(f"/chatgroups/{rid}/share_files/{found.file_id}"),
        "group_id": rid,
        "file_name": found.file_name,
        "created": found.created,
        "file_id": found.file_id,
        "file_size": found.file_size,
    }
    return room_ok(call, data)


@doc(
    "A group's shared files, a page at a time",
    tag="Room extras",
    params=[param("pagenum", "the page, from 1", POSITIVE), param("pagesize", "files per page", POSITIVE)],
    ok=room_data(arr(SHARED_FILE)),
    errors={404: "no such group"},
)
@room_rule(GROUPS, Level.MEMBER)
async def list_files(call: Call) -> Response:
    most = call.node.settings.group_shared_files_page_max
    pagenum = int_param(call, "pagenum", 1, 1_000_000_000) or 1
    pagesize = min(int_param(call, "pagesize", 1, 1 << 31) or most, most)
    found = await call.node.groups.content.file_list(call.app, call.arg("id"), pagenum, pagesize)
    return room_ok(call, [file_payload(f) for f in found], params=bool(call.request.query_params))


@doc(
    "Download a group's shared file",
    tag="Room extras",
    paths={"file": "the file's id"},
    ok={"type": "string", "contentMediaType": "application/octet-stream"},
    ok_type="application/octet-stream",
    errors={404: "no such group or file"},
)
@room_rule(GROUPS, Level.MEMBER)
async def download_file(call: Call) -> Response:
    return file_response(await call.node.groups.content.file(call.app, call.arg("id"), call.arg("file")))


@doc(
    "Delete a group's shared file",
    tag="Room extras",
    paths={"file": "the file's id"},
    ok=room_data(obj({"group_id": STR, "file_id": STR, "result": BOOL}, ["file_id", "result"])),
    errors={404: "no such group or file"},
)
@room_rule(GROUPS, Level.MEMBER)
async def delete_file(call: Call) -> Response:
    rid, file_id = call.arg("id"), call.arg("file")
    by = None if call.is_admin or call.user is None else call.user
    may_any = by is None
    if by is not None:
        try:
            await call.node.groups.members.permit(call.app, [rid], by, Level.ADMIN)
            may_any = True
        except HximError:
            may_any = False
    found = await call.node.groups.content.delete_file(
        call.app, rid, file_id, by.username if by else None, may_any
    )
    return room_ok(call, {"group_id": rid, "file_id": found.file_id, "result": True})


# --- a group member's attributes -----------------------------------------------------------------


async def _may_set_for(call: Call, rid: str, username: str) -> None:
    """A member sets their own attributes; another's need the owner or an admin."""
    if call.user is not None and not call.is_admin and call.user.key != username.lower():
        await call.node.groups.members.permit(call.app, [rid], call.user, Level.ADMIN)


@doc(
    "Set a group member's attributes",
    tag="Room extras",
    body=obj({"metaData": ATTRIBUTES}, ["metaData"]),
    ok=metadata_ok(ATTRIBUTES),
    errors={404: "no such group or member"},
)
@room_rule(GROUPS, Level.MEMBER, "metadata")
async def set_member_attributes(call: Call) -> Response:
    rid, username = call.arg("id"), call.arg("username")
    await _may_set_for(call, rid, username)
    body = await call.json()
    meta = body.get("metaData", body.get("metadata")) if isinstance(body, dict) else None
    attributes = call.node.groups.attributes
    [(_, after)] = await attributes.set_member(call.app, rid, [(username, meta)], actor_of(call))
    if after is None:
        raise errors.HximError(400, "metadata_error", "exceeds chatgroup user metadata total size limit", None)
    return metadata_answer(call, meta)


@doc(
    "Set several group members' attributes",
    tag="Room extras",
    body=arr(obj({"username": STR, "metadata": ATTRIBUTES}, ["username", "metadata"]), min_items=1),
    ok=metadata_ok(obj({"updateMetadataFailed:": arr(obj({"username": STR, "error": STR})),
                        "updateMetadataSucceeded:": arr(obj({"username": STR, "metadata": ATTRIBUTES}))})),
    errors={404: "no such group"},
)
@room_rule(GROUPS, Level.ADMIN, "metadata")
async def set_member_attributes_batch(call: Call) -> Response:
    attributes = call.node.groups.attributes
    done = await attributes.set_member_batch(call.app, call.arg("id"), await call.json(), actor_of(call))
    # the keys as Easemob's page shows them, colon included
    data = {
        "updateMetadataFailed:": [
            {"username": n, "error": "exceeds chatgroup user metadata total size limit"} for n, a in done if a is None
        ],
        "updateMetadataSucceeded:": [{"username": n, "metadata": a} for n, a in done if a is not None],
    }
    return metadata_answer(call, data)


@doc(
    "A group member's attributes",
    tag="Room extras",
    ok=metadata_ok(ATTRIBUTES),
    errors={404: "no such group"},
)
@room_rule(GROUPS, Level.MEMBER, "metadata")
async def get_member_attributes(call: Call) -> Response:
    return metadata_answer(
        call, await call.node.groups.attributes.member(call.app, call.arg("id"), call.arg("username"))
    )


@doc(
    "Some attributes of several group members",
    tag="Room extras",
    body=obj({"targets": NAMES, "properties": NAMES}, ["targets", "properties"]),
    ok=metadata_ok({"type": "object", "additionalProperties": ATTRIBUTES}),
    errors={404: "no such group"},
)
@room_rule(GROUPS, Level.MEMBER, "metadata")
async def get_members_attributes(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with targets and properties")
    found = await call.node.groups.attributes.members_by_keys(
        call.app, call.arg("id"), body.get("targets"), body.get("properties")
    )
    return metadata_answer(call, found)


# --- a chat room's attributes --------------------------------------------------------------------


def _room_metadata(call: Call, action: str, data: Any, status: bool = False) -> Response:
    body: dict[str, Any] = {"uri": call.uri("/metadata/chatroom")}
    if status:
        body["status"] = "ok"
    body.update(timestamp=int(time.time() * 1000), action=action, data=data)
    return json_response(body)


def _as_self(call: Call, username: str) -> None:
    """A user's token sets and deletes attributes as that user only (chatroom_custom_attribute_set)."""
    if not call.is_admin and call.user is not None and call.user.key != username.lower():
        raise errors.illegal_argument("others are not allowed to be set")


def _room_attribute_setter(forced: bool) -> Any:
    @doc(
        "Set chat-room attributes, others' too" if forced else "Set chat-room attributes (not another user's)",
        tag="Room extras",
        body=obj(
            {"metaData": ATTRIBUTES, "autoDelete": {"enum": ["DELETE", "NO_DELETE"],
                                                    "description": "DELETE: they go when the user leaves"}},
            ["metaData"],
        ),
        ok=ROOM_METADATA(KEY_RESULTS),
        errors={404: "no such chat room"},
    )
    @endpoint("metadata", Access.ANY)
    async def handler(call: Call) -> Response:
        username = call.arg("username")
        _as_self(call, username)
        body = await body_object(call)
        done, wrong = await call.node.chatrooms.attributes.set_room(
            call.app, call.arg("id"), username, body.get("metaData"), body.get("autoDelete"), forced, actor_of(call)
        )
        return _room_metadata(call, "put", {"successKeys": done, "errorKeys": wrong})

    handler.__name__ = "force_set_room_attributes" if forced else "set_room_attributes"
    return handler


def _room_attribute_remover(forced: bool) -> Any:
    @doc(
        "Delete chat-room attributes, others' too" if forced else "Delete chat-room attributes the user set",
        tag="Room extras",
        body=obj({"keys": NAMES}),
        body_required=False,
        ok=ROOM_METADATA(KEY_RESULTS),
        errors={404: "no such chat room"},
    )
    @endpoint("metadata", Access.ANY)
    async def handler(call: Call) -> Response:
        username = call.arg("username")
        _as_self(call, username)
        keys = await _keys(call)
        done, wrong = await call.node.chatrooms.attributes.delete_room(
            call.app, call.arg("id"), username, keys, forced, actor_of(call)
        )
        return _room_metadata(call, "delete", {"successKeys": done, "errorKeys": wrong}, status=True)

    handler.__name__ = "force_delete_room_attributes" if forced else "delete_room_attributes"
    return handler


@doc(
    "A chat room's attributes (all, or the keys named)",
    tag="Room extras",
    body=obj({"keys": NAMES}),
    body_required=False,
    ok=ROOM_METADATA(ATTRIBUTES),
    errors={404: "no such chat room"},
)
@endpoint("metadata", Access.ANY)
async def get_room_attributes(call: Call) -> Response:
    rid = call.arg("id")
    rooms = call.node.chatrooms.rooms
    if not call.is_admin and call.user is not None and not await rooms.is_member(call.app, rid, call.user):
        await call.node.chatrooms.content.room(call.app, rid)  # 404 for no such room
        raise HximError(401, "MetadataException", "user is not in chatroom", None, "forbidden")
    found = await call.node.chatrooms.attributes.room_attributes(call.app, rid, await _keys(call))
    return _room_metadata(call, "post", found)


# --- chat-room member tags -----------------------------------------------------------------------


@doc(
    "Set a chat-room member's tags",
    tag="Room extras",
    body=obj({"tags": NAMES}, ["tags"]),
    ok=extras_ok(obj({"result": BOOL}, ["result"])),
    errors={403: "past chatroom_member_tags_max", 404: "no such chat room or member"},
)
@room_rule(ROOMS, Level.ADMIN)
async def set_tags(call: Call) -> Response:
    body = await body_object(call)
    await call.node.chatrooms.attributes.set_tags(call.app, call.arg("id"), call.arg("username"), body.get("tags"))
    return _envelope(call, "put", {"result": True})


@doc(
    "A chat-room member's tags, each with when a mute by it ends (ms; -1 for ever, 0 none)",
    tag="Room extras",
    ok=extras_ok({"type": "object", "additionalProperties": STR}),
    errors={404: "no such chat room or member"},
)
@room_rule(ROOMS, Level.ADMIN)
async def get_tags(call: Call) -> Response:
    found = await call.node.chatrooms.attributes.tags(call.app, call.arg("id"), call.arg("username"))
    return _envelope(call, "get", {tag: str(expire) for tag, expire in found.items()})


@doc(
    "Mute the chat-room members with a tag",
    tag="Room extras",
    body=obj({"tag": STR, "mute_duration": text("seconds; 0 unmutes, -1 for ever", type="integer")},
             ["tag", "mute_duration"]),
    ok=extras_ok(obj({"result": BOOL}, ["result"])),
    errors={404: "no such chat room"},
)
@room_rule(ROOMS, Level.ADMIN)
async def mute_tag(call: Call) -> Response:
    body = await body_object(call)
    await call.node.chatrooms.attributes.mute_tag(
        call.app, call.arg("id"), body.get("tag"), body.get("mute_duration")
    )
    return _envelope(call, "put", {"result": True})


# --- the route table -----------------------------------------------------------------------------

P = "/{org}/{app}"
G = P + "/chatgroups/{id}"
R = P + "/chatrooms/{id}"
MG = P + "/metadata/chatgroup/{id}"
MR = P + "/metadata/chatroom/{id}"
_group_announcement = _announcements(GROUPS)
_room_announcement = _announcements(ROOMS)
routes = [
    Route(G + "/disable", _disabling(True), methods=["POST"]),
    Route(G + "/enable", _disabling(False), methods=["POST"]),
    Route(G + "/announcement", _group_announcement[0], methods=["GET"]),
    Route(G + "/announcement", _group_announcement[1], methods=["POST"]),
    Route(G + "/share_files", upload_file, methods=["POST"]),
    Route(G + "/share_files", list_files, methods=["GET"]),
    Route(G + "/share_files/{file}", download_file, methods=["GET"]),
    Route(G + "/share_files/{file}", delete_file, methods=["DELETE"]),
    Route(MG + "/users/batch", set_member_attributes_batch, methods=["PUT"]),
    Route(MG + "/get", get_members_attributes, methods=["POST"]),
    Route(MG + "/user/{username}", set_member_attributes, methods=["PUT"]),
    Route(MG + "/user/{username}", get_member_attributes, methods=["GET"]),
    Route(R + "/announcement", _room_announcement[0], methods=["GET"]),
    Route(R + "/announcement", _room_announcement[1], methods=["POST"]),
    Route(R + "/users/{username}/tag", set_tags, methods=["PUT"]),
    Route(R + "/users/{username}/tag", get_tags, methods=["GET"]),
    Route(R + "/tag/mute", mute_tag, methods=["PUT"]),
    Route(MR, get_room_attributes, methods=["POST"]),
    Route(MR + "/user/{username}", _room_attribute_setter(False), methods=["PUT"]),
    Route(MR + "/user/{username}/forced", _room_attribute_setter(True), methods=["PUT"]),
    Route(MR + "/user/{username}", _room_attribute_remover(False), methods=["DELETE"]),
    Route(MR + "/user/{username}/forced", _room_attribute_remover(True), methods=["DELETE"]),
]
