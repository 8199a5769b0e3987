"""The answers of the group and chat-room operations of the Easemob REST API (easemob-rest.md §6,
§7), built once.

The REST handlers (`http/groups.py`) and the seed APIs' local `EasemobApi` (`seeds/local.py`)
both answer with these functions, so that an operation's `data` is the same whichever asked. A
`Kind` says whether the rooms are groups or chat rooms: which service holds them and which key
names a room in answers (`groupid` for groups, `id` for chat rooms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hxim import errors
from hxim.http.easemob_ops import OpContext
from hxim.model import now_ms
from hxim.services.room_common import OWNER, ItemResult, Room
from hxim.services.rooms import RoomServices

__all__ = [
    "Kind",
    "GROUPS",
    "ROOMS",
    "room_details",
    "details",
    "created",
    "deleted",
    "members_added",
    "member_result",
    "item_result",
]


@dataclass(frozen=True, slots=True)
class Kind:
    family: str  # the path segment and API family: "chatgroups" | "chatrooms"
    id_key: str  # how answers name a room: "groupid" | "id"

    def service(self, ctx: OpContext) -> RoomServices:
        return ctx.node.groups if self.family == "chatgroups" else ctx.node.chatrooms

    @property
    def is_group(self) -> bool:
        return self.family == "chatgroups"


GROUPS = Kind("chatgroups", "groupid")
ROOMS = Kind("chatrooms", "id")


def room_details(kind: Kind, room: Room, members: list[tuple[str, str]], now_mute: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": room.room_id,
        "name": room.name,
        "description": room.description,
        "membersonly": room.membersonly,
        "allowinvites": room.allowinvites,
    }
    if kind.is_group:
        out["invite_need_confirm"] = room.invite_need_confirm
    out.update(
        {
            "public": room.public,
            "maxusers": room.maxusers,
            "owner": room.owner,
            "created": room.created,
            "custom": room.custom,
            "mute": now_mute,
            "affiliations_count": len(members),
            "affiliations": [{OWNER if role == OWNER else "member": name} for name, role in members],
        }
    )
    return out


def details(
    kind: Kind, rids: list[str], found: Sequence[tuple[str, Room | None, list[tuple[str, str]]]], asked: str
) -> list[dict[str, Any]]:
    """The `data` of `GET /{kind}/{ids}` from what the service found for `rids` (`asked` is the
    path segment). One unknown id: 404 `do not find this group:X`; in a multi-id answer each
    unknown id gets `{"id": X, "error": "group id doesn't exist"}`."""
    if len(rids) <= 1 and (not found or found[0][1] is None):
        raise errors.group_not_found(rids[0] if rids else asked)
    now = now_ms()
    data: list[dict[str, Any]] = []
    for rid, room, members in found:
        if room is None:
            data.append({"id": rid, "error": "group id doesn't exist"})
        else:
            data.append(room_details(kind, room, members, room.muted_all(now)))
    return data


def created(kind: Kind, room: Room) -> dict[str, Any]:
    return {kind.id_key: room.room_id}


def deleted(kind: Kind, room: Room) -> dict[str, Any]:
    return {"success": True, kind.id_key: room.room_id}


def members_added(kind: Kind, rid: str, added: list[str]) -> dict[str, Any]:
    return {"newmembers": added, "action": "add_member", kind.id_key: rid}


def member_result(kind: Kind, rid: str, action: str, username: str) -> dict[str, Any]:
    """The answer of a one-user operation that succeeded (`remove_member`, …)."""
    return {"result": True, "action": action, kind.id_key: rid, "user": username}


def item_result(kind: Kind, rid: str, action: str, item: ItemResult) -> dict[str, Any]:
    """One user's entry in the answer of a batch operation."""
    out: dict[str, Any] = {"result": item.result, "action": action}
    if item.reason is not None:
        out["reason"] = item.reason
    out["user"] = item.user
    out[kind.id_key] = rid
    return out
