"""Who may act on a group with an IM user's token: Easemob's per-group authorization, in one place.

The Web IM SDK 1.8 calls the group REST API with the logged-in user's token (webim-xmpp.md §2.7);
Easemob then judges each call by the caller's role in the group (owner > admin > member,
easemob-rest.md §6.1). The app admin token is not judged here: it may do everything. Each group
route names one `Level`; `refusal` says whether a user with a role may act at that level:

| level     | who                                                     | calls                              |
|-----------|---------------------------------------------------------|------------------------------------|
| `ANYONE`  | any user of the app (the service checks the rest)       | apply                              |
| `VIEWER`  | members; anyone for a public group                      | details                            |
| `MEMBER`  | members, the owner included                             | member/admin/mute/block lists, quit |
| `INVITER` | owner and admins; members when the group allows invites | invite, add members                |
| `ADMIN`   | owner and admins                                        | mute, block, remove members,       |
|           |                                                         | apply_verify, mute all, whitelist  |
| `OWNER`   | the owner                                               | modify, transfer, dissolve, admins |

A disabled group takes no change from its users (every level but the reads, `VIEWER` and
`MEMBER`); the app admin token still manages it. An admin acts on plain members only: muting,
blocking or removing another admin (or the owner) needs the owner (`target_refusal`). Refusals
are the group service's 403 `forbidden_op`.
"""

from __future__ import annotations

from enum import Enum

from hxim import errors
from hxim.errors import HximError
from hxim.storage.groups import ADMIN, MEMBER, OWNER, Room

__all__ = ["Level", "disabled", "refusal", "target_refusal"]


class Level(Enum):
    ANYONE = "anyone"
    VIEWER = "viewer"
    MEMBER = "member"
    INVITER = "inviter"
    ADMIN = "admin"
    OWNER = "owner"


def refusal(level: Level, room: Room, username: str, role: str | None) -> HximError | None:
    """None when a user with `role` in `room` (None: not a member) may act at `level`, else the error."""
    gid = room.room_id
    if room.disabled and level not in (Level.VIEWER, Level.MEMBER):
        return disabled(room)
    if level is Level.ANYONE or (level is Level.VIEWER and room.public):
        return None
    if role is None:
        return errors.forbidden_op(f"user: {username} doesn't exist in group: {gid}")
    if level in (Level.VIEWER, Level.MEMBER) or role == OWNER:
        return None
    if level is Level.INVITER and (role == ADMIN or room.allowinvites):
        return None
    if level is Level.OWNER:
        return errors.forbidden_op(f"user: {username} is not owner of group: {gid}")
    if role == ADMIN:
        return None
    assert role == MEMBER
    return errors.forbidden_op(f"user: {username} is not admin or owner of group: {gid}")


def disabled(room: Room) -> HximError:
    """A change asked of a disabled group by one of its users (Easemob's group_ban page)."""
    return errors.forbidden_op(f"group: {room.room_id} is disabled, it can not be changed")


def target_refusal(room: Room, role: str | None, targets: dict[str, str]) -> HximError | None:
    """An admin (`role`) acting on users with these roles (by name; non-members left out): only
    plain members. The owner acts on anyone; the service refuses what nobody may do."""
    if role != ADMIN:
        return None
    for name, target_role in targets.items():
        if target_role in (ADMIN, OWNER):
            return errors.forbidden_op(
                f"user: {name} is {target_role} of group: {room.room_id}, only the owner can do this"
            )
    return None
