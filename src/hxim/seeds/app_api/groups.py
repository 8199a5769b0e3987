"""The app API's groups (环信群组管理): Easemob groups with the app users' profiles and faces.

Groups live in Easemob (through `EasemobApi`); their faces (`group_face`) are kept on this node.
Who may change a group is judged from Easemob's answers: its owner, its admins, and for adding
members anyone in a group that allows invites. Each change is announced to the group by a notice
from `admin` (seed-wrappers.md §2.9); when that notice cannot be sent the answer is 202.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from hxim.http.apidoc import NAMES, OBJ, STR, arr, doc, obj, one_of, param, text
from hxim.http.pipeline import Refused
from hxim.http.render import json_response
from hxim.seeds.app_api import fields
from hxim.seeds.app_api.face import FORBIDDEN, NO_USER, Caller, app_api, engine_error, invalid, messages
from hxim.seeds.app_api.fields import IDS, USER_ID
from hxim.seeds.easemob_api import Reply
from hxim.services.app_users import AppUser, parse_app_user_id

__all__ = [
    "create_group",
    "update_group",
    "delete_group",
    "get_group",
    "get_groups",
    "group_faces",
    "add_members",
    "remove_members",
]

# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "App API"
FLAG = one_of({"type": "boolean"}, {"enum": [0, 1, "0", "1", "true", "false"]})
GROUP_SETTINGS = {
    "groupname": STR, "desc": STR, "public": FLAG, "members_only": FLAG, "allowinvites": FLAG,
    "maxusers": one_of({"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]+$"}),
}
GROUP_ID = one_of({"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"},
                  description="the group's id")
GROUP_IDS_PARAM = param("im_group_id", "group ids, separated by commas", required=True)
PROFILE = obj(
    {"id": {"type": "integer"}, "name": {}, "bio": {}, "sex": {}, "location": {}, "created_at": STR,
     "updated_at": STR, "is_owner": {"enum": [0, 1]}, "avatar": {}, "bg": {}, "verified": {}, "extra": {},
     "certification": {}},
    ["id", "is_owner"],
)


NO_GROUP = "该群组不存在或已被删除"
NOTICE_FAILED = "消息发送失败"
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FACE_URL_MAX = 2048


def _display(user: AppUser | None, uid: int) -> str:
    return user.name if user is not None and user.name else str(uid)


def _display_names(found: dict[int, AppUser], names: list[str]) -> str:
    """The app users' names joined with '、' (their ids where they have no name)."""
    out = []
    for name in names:
        uid = parse_app_user_id(name)
        user = found.get(uid) if uid is not None else None
        out.append(user.name if user is not None and user.name else name)
    return "、".join(out)


async def _notice(c: Caller, group_id: str, text: str, ext: dict[str, Any]) -> bool:
    """A group notice: a text message from `admin` to the group with `ext.type` (§2.9)."""
    reply = await c.api.send_message(
        None,
        {
            "target_type": "chatgroups",
            "target": [group_id],
            "msg": {"type": "txt", "msg": text},
            "from": "admin",
            "ext": ext,
        },
    )
    return reply[0] == 200


def _notice_failed(group_id: str) -> Refused:
    return messages(202, NOTICE_FAILED, im_group_id=group_id)


async def _group(c: Caller, group_id: str) -> dict[str, Any] | None:
    """The group's Easemob details, or None when Easemob does not know it."""
    reply = await c.api.groups(None, [group_id])
    if reply[0] == 404:
        return None
    if reply[0] != 200 or not isinstance(reply[1], dict):
        raise engine_error(reply)
    data = reply[1].get("data") or []
    first = data[0] if data else None
    if not isinstance(first, dict) or "error" in first:
        return None
    return first


def _roles(group: dict[str, Any]) -> tuple[str, set[str]]:
    """(owner, every member including the owner) of a group's details."""
    owner = str(group.get("owner", ""))
    members = {owner}
    for entry in group.get("affiliations") or []:
        if isinstance(entry, dict):
            members.update(str(v) for v in entry.values())
    return owner, members


async def _is_group_admin(c: Caller, group_id: str) -> bool:
    reply = await c.api.group_admins(None, group_id)
    return reply[0] == 200 and isinstance(reply[1], dict) and str(c.user.id) in (reply[1].get("data") or [])


def _face_url(c: Caller, face: str | None) -> str:
    if not face:
        return ""
    if face.startswith(("http://", "https://")):
        return face
    return c.api.chatfile_url(face, c.base)


async def _check_face(c: Caller, errors: dict[str, list[str]]) -> str | None:
    """`group_face`: a chat-file UUID of the app or an http(s) URL; "" or null clears it."""
    value = c.inputs.get("group_face")
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= FACE_URL_MAX:
        return value
    if isinstance(value, str) and UUID_RE.fullmatch(value) and await c.api.chatfile_exists(value):
        return value.lower()
    errors["group_face"] = ["文件不存在或已经被使用"]
    return None


def _settings(
    c: Caller, errors: dict[str, list[str]], required: bool
) -> tuple[str | None, str | None, bool | None, bool | None, bool | None, int | None]:
    """A group's `groupname`, `desc` (both `required` on creation), `public`, `members_only`,
    `allowinvites` and `maxusers` from the inputs (None where not given), the invalid ones in `errors`."""
    return (
        fields.text(c.inputs, "groupname", "群组名称不能为空", errors, required),
        fields.text(c.inputs, "desc", "群组简介不能为空", errors, required),
        fields.boolean(c.inputs, "public", errors),
        fields.boolean(c.inputs, "members_only", errors),
        fields.boolean(c.inputs, "allowinvites", errors),
        fields.maxusers(c.inputs, c.node.settings.app_api_group_maxusers_max, errors),
    )


@doc(
    "Create a group the caller owns",
    tag=TAG,
    body=obj({**GROUP_SETTINGS, "members": IDS}, ["groupname", "desc"]),
    ok=obj({"message": NAMES, "im_group_id": STR}, ["im_group_id"]),
    ok_status=201,
    errors={202: "created, but its notice could not be sent", 422: "missing or bad fields"},
)
@app_api
async def create_group(c: Caller) -> Response:
    """`POST /group`: the caller owns the new group; `members` are app user ids."""
    errors: dict[str, list[str]] = {}
    name, desc, public, members_only, allowinvites, maxusers = _settings(c, errors, True)
    members: list[int] = []
    if c.inputs.get("members") not in (None, "", []):
        try:
            high = c.node.settings.room_create_members_max
            members = fields.ids(c.inputs["members"], "members", "群成员不能为空", high)
        except Refused as refused:
            errors.update(refused.detail["errors"])
    if errors:
        raise invalid(errors)
    body: dict[str, Any] = {
        "groupname": name,
        "desc": desc,
        "public": True if public is None else public,
        "members_only": bool(members_only),
        "allowinvites": True if allowinvites is None else allowinvites,
        "owner": str(c.user.id),
    }
    if maxusers is not None:
        body["maxusers"] = maxusers
    others = [str(i) for i in members if i != c.user.id]
    if others:
        body["members"] = others
    reply = await c.api.create_group(None, body)
    if reply[0] != 200:
        raise engine_error(reply)
    group_id = str(reply[1]["data"]["groupid"])
    text = f"{_display(c.user, c.user.id)}创建了群聊！"
    if not await _notice(c, group_id, text, {"type": "ts_group_create", "group_id": group_id}):
        raise _notice_failed(group_id)
    return json_response({"message": ["成功"], "im_group_id": group_id}, 201)


@doc(
    "Change a group the caller owns (new_owner_user hands it over)",
    tag=TAG,
    body=obj({**GROUP_SETTINGS, "im_group_id": GROUP_ID, "new_owner_user": USER_ID,
              "group_face": text("a chat file's UUID or an http(s) URL; empty clears it")}, ["im_group_id"]),
    ok=obj({"groupname": {}, "desc": {}, "public": {}, "maxusers": {}, "members_only": {}, "allowinvites": {},
            "newowner": STR, "group_face": STR, "im_group_id": STR}, ["im_group_id", "group_face"]),
    ok_status=201,
    errors={202: "changed, but its notice could not be sent", 400: "no such group", 403: "not the owner",
            422: "bad fields"},
)
@app_api
async def update_group(c: Caller) -> Response:
    """`PATCH /group`: a partial update by the owner; `new_owner_user` transfers the group."""
    group_id = fields.group_id(c.inputs)
    errors: dict[str, list[str]] = {}
    name, desc, public, members_only, allowinvites, maxusers = _settings(c, errors, False)
    face = await _check_face(c, errors) if "group_face" in c.inputs else None
    new_owner: AppUser | None = None
    if c.inputs.get("new_owner_user") not in (None, "", 0, "0"):
        uid = parse_app_user_id(c.inputs["new_owner_user"])
        new_owner = await c.node.app_users.get(c.app, uid) if uid is not None else None
        if new_owner is None:
            errors["new_owner_user"] = ["被转让用户不存在或已被删除"]
    if errors:
        raise invalid(errors)
    group = await _group(c, group_id)
    if group is None:
        raise messages(400, NO_GROUP)
    if str(group.get("owner")) != str(c.user.id):
        raise messages(403, FORBIDDEN)
    changes: dict[str, Any] = {}
    for key, value in (
        ("groupname", name),
        ("description", desc),
        ("public", public),
        ("maxusers", maxusers),
        ("membersonly", members_only),
        ("allowinvites", allowinvites),
    ):
        if value is not None:
            changes[key] = value
    if changes:
        reply = await c.api.modify_group(None, group_id, changes)
        if reply[0] != 200:
            raise engine_error(reply)
    if new_owner is not None:
        reply = await c.api.modify_group(None, group_id, {"newowner": str(new_owner.id)})
        if reply[0] != 200:
            raise engine_error(reply)
    if face is not None:
        await c.node.app_users.set_face(c.app, group_id, face or None)
        stored = face
    else:
        stored = (await c.node.app_users.faces(c.app, [group_id])).get(group_id, "")
    if changes or new_owner is not None or face is not None:
        if new_owner is not None:
            text = f"{_display(new_owner, new_owner.id)}已成为新群主！"
        else:
            text = f"{_display(c.user, c.user.id)}修改了群信息！"
        if not await _notice(c, group_id, text, {"type": "ts_group_change", "group_id": group_id}):
            raise _notice_failed(group_id)
    out: dict[str, Any] = {
        "groupname": name if name is not None else group.get("name"),
        "desc": desc if desc is not None else group.get("description"),
        "public": public if public is not None else group.get("public"),
        "maxusers": maxusers if maxusers is not None else group.get("maxusers"),
        "members_only": members_only if members_only is not None else group.get("membersonly"),
        "allowinvites": allowinvites if allowinvites is not None else group.get("allowinvites"),
    }
    if new_owner is not None:
        out["newowner"] = str(new_owner.id)
    out["group_face"] = _face_url(c, stored)
    out["im_group_id"] = group_id
    return json_response(out, 201)


@doc(
    "Delete a group the caller owns",
    tag=TAG,
    params=[param("im_group_id", "the group (or in the body)")],
    body=obj({"im_group_id": GROUP_ID}),
    body_required=False,
    ok=None,
    ok_status=204,
    errors={400: "no such group, or not the owner", 422: "no im_group_id"},
)
@app_api
async def delete_group(c: Caller) -> Response:
    """`DELETE /group`: the owner deletes the group; `im_group_id` from the query or the body."""
    group_id = fields.group_id(c.inputs)
    group = await _group(c, group_id)
    if group is None or str(group.get("owner")) != str(c.user.id):
        raise messages(400, NO_GROUP)
    reply = await c.api.delete_group(None, group_id)
    if reply[0] != 200:
        raise engine_error(reply)
    await c.node.app_users.set_face(c.app, group_id, None)
    return Response(status_code=204)


def _profile(user: AppUser, is_owner: bool) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "bio": user.bio,
        "sex": user.sex,
        "location": user.location,
        "created_at": _datetime(user.created_at),
        "updated_at": _datetime(user.updated_at),
        "is_owner": 1 if is_owner else 0,
        "avatar": user.avatar,
        "bg": user.bg,
        "verified": user.verified,
        "extra": user.extra,
        "certification": user.certification,
    }


@functools.lru_cache(maxsize=65_536)
def _datetime(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _member_ids(group: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(IM username, app user id or None) of the owner, then the other members in Easemob's order."""
    owner = str(group.get("owner", ""))
    names = [owner]
    for entry in group.get("affiliations") or ():
        if isinstance(entry, dict):
            names.extend(str(v) for v in entry.values())
    return [(name, parse_app_user_id(name)) for name in dict.fromkeys(names)]


def _visible(group: dict[str, Any], me: str) -> dict[str, Any]:
    """A private group's details only for its members, as the REST API shows them; anyone else
    reads it as a group that does not exist (its existence is not revealed)."""
    if "error" in group or group.get("public") is not False or me in _roles(group)[1]:
        return group
    return {"id": group.get("id"), "error": "group id doesn't exist"}


async def _details(c: Caller, profiles: bool) -> Response:
    ids = fields.group_ids(c.inputs, c.node.settings.app_api_ids_max)
    reply = await c.api.groups(None, ids)
    if reply[0] != 200 or not isinstance(reply[1], dict):
        raise engine_error(reply)
    me = str(c.user.id)
    groups = [_visible(g, me) for g in reply[1].get("data") or () if isinstance(g, dict)]
    if len(ids) == 1 and groups and "error" in groups[0]:  # one id: answered as one unknown id is
        raise engine_error((404, {"error_description": f"do not find this group:{ids[0]}"}))
    members = [_member_ids(g) if profiles and "error" not in g else [] for g in groups]
    wanted = [uid for listed in members for _, uid in listed if uid is not None]
    users, faces = await c.node.app_users.profiles_and_faces(c.app, wanted, ids)
    out = []
    for g, listed in zip(groups, members, strict=True):
        if "error" in g:
            out.append(g)
            continue
        entry = dict(g)
        if profiles:
            shown = []
            for index, (_, uid) in enumerate(listed):
                user = users.get(uid) if uid is not None else None
                if user is not None:
                    shown.append(_profile(user, index == 0))  # the owner comes first
            entry["affiliations"] = shown
        entry["group_face"] = _face_url(c, faces.get(str(g.get("id"))))
        out.append(entry)
    return json_response(out, 200)


@doc(
    "Groups' details with their members' app-user profiles, owner first",
    tag=TAG,
    params=[GROUP_IDS_PARAM],
    ok=arr(obj({"id": STR, "affiliations": arr(PROFILE), "group_face": STR, "error": STR}, ["id"])),
    errors={404: "one id, of no group", 422: "no im_group_id"},
)
@app_api
async def get_group(c: Caller) -> Response:
    """`GET /group?im_group_id=1,2`: details with the members' app-user profiles, owner first."""
    return await _details(c, True)


@doc(
    "Groups' details as Easemob answers them",
    tag=TAG,
    params=[GROUP_IDS_PARAM],
    ok=arr(obj({"id": STR, "affiliations": arr(OBJ), "group_face": STR, "error": STR}, ["id"])),
    errors={404: "one id, of no group", 422: "no im_group_id"},
)
@app_api
async def get_groups(c: Caller) -> Response:
    """`GET /groups?im_group_id=1,2`: details with Easemob's raw affiliations."""
    return await _details(c, False)


@doc(
    "Groups' faces",
    tag=TAG,
    params=[GROUP_IDS_PARAM],
    ok=arr(obj({"im_group_id": STR, "group_face": one_of(STR, {"type": "null"})}, ["im_group_id", "group_face"])),
    errors={422: "no im_group_id"},
)
@app_api
async def group_faces(c: Caller) -> Response:
    """`GET /group/face?im_group_id=1,2`: the stored face of each group (null when none)."""
    ids = fields.group_ids(c.inputs, c.node.settings.app_api_ids_max)
    faces = await c.node.app_users.faces(c.app, ids)
    return json_response([{"im_group_id": i, "group_face": faces.get(i)} for i in ids], 200)


@dataclass(slots=True)
class _MemberChange:
    """What a change of members names: the group (its details, owner and members) and the app users."""

    group_id: str
    ids: list[int]
    found: dict[int, AppUser]
    group: dict[str, Any]
    owner: str
    members: set[str]


async def _member_change(c: Caller) -> _MemberChange:
    group_id = fields.group_id(c.inputs)
    ids = fields.ids(c.inputs.get("members"), "members", "群成员不能为空", c.node.settings.room_batch_max)
    found = await c.node.app_users.many(c.app, ids)
    if any(i not in found for i in ids):
        raise invalid({"members": [NO_USER]})
    group = await _group(c, group_id)
    if group is None:
        raise messages(400, NO_GROUP)
    owner, members = _roles(group)
    return _MemberChange(group_id, ids, found, group, owner, members)


def _data(reply: Reply) -> Any:
    """The `data` of an Easemob answer; 500 when Easemob refused."""
    if reply[0] != 200:
        raise engine_error(reply)
    return reply[1].get("data") if isinstance(reply[1], dict) else None


@doc(
    "Add app users to a group",
    tag=TAG,
    body=obj({"im_group_id": GROUP_ID, "members": IDS}, ["im_group_id", "members"]),
    ok=arr({}, max_items=0),
    ok_status=201,
    errors={202: "added, but the notice could not be sent", 400: "no such group", 403: "may not invite",
            422: "bad fields"},
)
@app_api
async def add_members(c: Caller) -> Response:
    """`POST /group/member`: the owner, an admin (app or group), or a member when `allowinvites`."""
    change = await _member_change(c)
    group_id, me = change.group_id, str(c.user.id)
    allowed = (
        me == change.owner
        or c.user.is_admin
        or (me in change.members and change.group.get("allowinvites") is True)
        or (me in change.members and await _is_group_admin(c, group_id))
    )
    if not allowed:
        raise messages(403, FORBIDDEN)
    data = _data(await c.api.add_members(None, group_id, [str(i) for i in change.ids]))
    added = [str(n) for n in (data.get("newmembers") if isinstance(data, dict) else None) or []]
    if added:
        text = f"{_display(c.user, c.user.id)}邀请了{_display_names(change.found, added)}加入了群聊。"
        if not await _notice(c, group_id, text, {"type": "ts_user_join", "uid": added}):
            raise _notice_failed(group_id)
    return json_response([], 201)


@doc(
    "Remove app users from a group (or leave it)",
    tag=TAG,
    body=obj({"im_group_id": GROUP_ID, "members": IDS}, ["im_group_id", "members"]),
    ok=None,
    ok_status=204,
    errors={202: "removed, but the notice could not be sent", 400: "no such group", 403: "may not remove them",
            422: "bad fields"},
)
@app_api
async def remove_members(c: Caller) -> Response:
    """`DELETE /group/member`: the owner or an admin removes members; a member may leave."""
    change = await _member_change(c)
    group_id, me = change.group_id, str(c.user.id)
    leaving = change.ids == [c.user.id] and me in change.members and me != change.owner
    manager = me == change.owner or c.user.is_admin or (me in change.members and await _is_group_admin(c, group_id))
    if not (manager or leaving):
        raise messages(403, FORBIDDEN)
    data = _data(await c.api.remove_members(None, group_id, [str(i) for i in change.ids]))
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    removed = [str(i.get("user")) for i in items if isinstance(i, dict) and i.get("result") is True]
    if removed:
        if leaving and not manager:
            text = f"{_display(c.user, c.user.id)}退出了群聊。"
        else:
            text = f"{_display(c.user, c.user.id)}已将{_display_names(change.found, removed)}移出群聊。"
        if not await _notice(c, group_id, text, {"type": "ts_user_exit", "uid": ",".join(removed)}):
            raise _notice_failed(group_id)
    return Response(status_code=204)

