"""The request bodies that create and change groups and chat rooms (easemob-rest.md §6.3, §7),
read into the room service's commands (`NewRoom`, `RoomChanges`).

The field names, their aliases (`desc`/`description`, `membersonly`/`members_only`/`approval`), the
fields each kind accepts and Easemob's error texts are this surface's; the limits are the
service's too, checked again there for every surface. The REST handlers (`http/groups.py`) and
the seed APIs' local `EasemobApi` (`seeds/local.py`) read bodies here.
"""

from __future__ import annotations

from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.http.apidoc import BOOL, NAMES, STR, obj, text
from hxim.services.rooms import NewRoom, RoomChanges

__all__ = ["GROUP_CHANGES", "GROUP_FIELDS", "NEW_GROUP", "NEW_ROOM", "ROOM_CHANGES", "ROOM_FIELDS", "new_room",
           "room_changes"]

GROUP_FIELDS = (
    "groupname",
    "description",
    "maxusers",
    "membersonly",
    "members_only",
    "approval",
    "allowinvites",
    "invite_need_confirm",
    "custom",
    "public",
)
ROOM_FIELDS = ("name", "description", "maxusers")
_FLAGS: dict[str, str] = {"members_only": "membersonly", "approval": "membersonly"}

# The bodies, for the OpenAPI document.
_MAXUSERS = {"type": "integer", "minimum": 1, "description": "at most group_maxusers_max / chatroom_maxusers_max"}
_OWNER = text("the owner's name (required with the app token; a user token's own by default)")
_MEMBERS = {**NAMES, "minItems": 1, "description": "members added at once"}
_JOIN_APPROVAL = text("joining needs an admin's approval (aliases `members_only`, `approval`)", type="boolean")
NEW_GROUP = obj(
    {
        "groupname": STR, "description": text("alias `desc`"), "desc": STR, "public": BOOL, "maxusers": _MAXUSERS,
        "owner": _OWNER, "members": _MEMBERS, "membersonly": _JOIN_APPROVAL, "members_only": BOOL,
        "approval": BOOL, "allowinvites": text("members may invite", type="boolean"),
        "invite_need_confirm": text("an invitee must accept", type="boolean"), "custom": STR,
    },
    ["groupname", "public"],
)
NEW_ROOM = obj(
    {"name": STR, "description": text("alias `desc`"), "desc": STR, "maxusers": _MAXUSERS, "owner": _OWNER,
     "members": _MEMBERS, "custom": STR},
    ["name"],
)
_NEW_OWNER = text("hand the room to this member")
GROUP_CHANGES = {
    **obj({
        "groupname": STR, "description": STR, "maxusers": _MAXUSERS, "membersonly": BOOL, "members_only": BOOL,
        "approval": BOOL, "allowinvites": BOOL, "invite_need_confirm": BOOL, "custom": STR, "public": BOOL,
        "newowner": _NEW_OWNER,
    }),
    "minProperties": 1,
    "additionalProperties": False,
}
ROOM_CHANGES = {
    **obj({"name": STR, "description": STR, "maxusers": _MAXUSERS, "newowner": _NEW_OWNER}),
    "minProperties": 1,
    "additionalProperties": False,
}


def _bool(body: dict[str, Any], *names: str, default: bool | None = None) -> bool | None:
    for name in names:
        if name in body:
            value = body[name]
            if not isinstance(value, bool):
                raise errors.invalid_parameter(f"{name} must be true or false")
            return value
    return default


def _text(body: dict[str, Any], names: tuple[str, ...], limit: int, default: str | None) -> str | None:
    for name in names:
        if name in body:
            value = body[name]
            if not isinstance(value, str) or len(value) > limit:
                raise errors.invalid_parameter(f"{name} must be a string of at most {limit} characters")
            return value
    return default


def _maxusers(value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise errors.invalid_parameter(f"maxusers must be a number from 1 to {maximum}")
    return value


def new_room(is_group: bool, body: Any, settings: Settings, default_owner: str | None = None) -> NewRoom:
    """`POST /chatgroups` or `POST /chatrooms`."""
    if not isinstance(body, dict):
        raise errors.invalid_parameter("the request body must be a JSON object")
    s = settings
    flags: dict[str, Any] = {}
    if is_group:
        if body.get("groupname") is None or body.get("groupname") == "":
            raise errors.invalid_parameter("group must contain groupname field!")
        if "public" not in body:
            raise errors.invalid_parameter("group must contain public field!")
        flags = {
            "public": _bool(body, "public"),
            "membersonly": _bool(body, "membersonly", "members_only", "approval", default=False),
            "allowinvites": _bool(body, "allowinvites", default=False),
            "invite_need_confirm": _bool(body, "invite_need_confirm", default=True),
        }
        name = _text(body, ("groupname",), s.room_name_max_length, "")
        description = _text(body, ("desc", "description"), s.room_description_max_length, "")
    else:
        if body.get("name") is None or body.get("name") == "":
            raise errors.invalid_parameter("chatroom must contain title/name field!")
        name = _text(body, ("name",), s.room_name_max_length, "")
        description = _text(body, ("description", "desc"), s.room_description_max_length, "")
    custom = _text(body, ("custom",), s.room_custom_max_length, "")
    owner = body.get("owner", default_owner)
    if owner is None or owner == "":
        raise errors.invalid_parameter("owner must be provided")
    if not isinstance(owner, str):
        raise errors.invalid_parameter("owner must be a user name")
    maximum = s.group_maxusers_max if is_group else s.chatroom_maxusers_max
    maxusers = _maxusers(body["maxusers"], maximum) if "maxusers" in body else None
    members: tuple[str, ...] = ()
    if "members" in body:
        raw = body["members"]
        if not isinstance(raw, list) or not raw or not all(isinstance(n, str) and n for n in raw):
            raise errors.invalid_parameter("members must be a non-empty array of user names")
        members = tuple(raw)
    return NewRoom(
        name=name or "", owner=owner, description=description or "", maxusers=maxusers, custom=custom or "",
        members=members, **flags
    )


def room_changes(is_group: bool, body: Any, settings: Settings) -> tuple[RoomChanges, dict[str, bool]]:
    """`PUT /chatgroups/{id}` or `PUT /chatrooms/{id}`: the changes, and the answer's `data` (one
    `true` per field changed; chat rooms answer `groupname` for `name`, as Easemob did from 2018).
    `newowner` hands the room to that member (group_owner_transfer, chatroom_owner_transfer)."""
    if not isinstance(body, dict) or not body:
        raise errors.invalid_parameter("the request body must be a JSON object with the fields to change")
    allowed = GROUP_FIELDS if is_group else ROOM_FIELDS
    bad = [k for k in body if k not in allowed and k != "newowner"]
    if bad:
        raise errors.invalid_parameter(f"some of [{', '.join(bad)}] are not valid fields")
    s = settings
    changes: dict[str, Any] = {}
    data: dict[str, bool] = {}
    for key in body:
        if key == "newowner":
            continue
        if key in ("groupname", "name"):
            changes["name"] = _text(body, (key,), s.room_name_max_length, None)
            data["groupname" if not is_group else key] = True
        elif key in ("description", "custom"):
            limit = s.room_description_max_length if key == "description" else s.room_custom_max_length
            changes[key] = _text(body, (key,), limit, None)
            data[key] = True
        elif key == "maxusers":
            changes[key] = _maxusers(body[key], s.group_maxusers_max if is_group else s.chatroom_maxusers_max)
            data[key] = True
        else:
            column: str = _FLAGS.get(key) or key
            changes[column] = _bool(body, key)
            data[key] = True
    if "newowner" in body:
        newowner = body["newowner"]
        if not isinstance(newowner, str) or not newowner:
            raise errors.invalid_parameter("newowner must be a user name")
        changes["newowner"] = newowner
        data["newowner"] = True
    return RoomChanges(**changes), data
