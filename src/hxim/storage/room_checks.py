"""What a transaction on a group or chat room checks before it writes, and how it says no.

A change to a room that depends on what the room holds (its capacity, the members' roles, the
users' quotas) is checked in the transaction that makes it, after the room's row lock is taken, so
that concurrent calls cannot overshoot a limit (easemob-rest.md §6, §7). A transaction that may not
go on writes nothing and returns a `Refused`: which rule stopped it, and the users concerned; the
service of rooms turns it into the error its caller sees. Nothing here names an error text.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from sqlalchemy import Connection

from hxim.model import User
from hxim.storage.groups import OWNER, Room, membership_counts_txn, roles_txn, room_txn
from hxim.storage.room_lists import blocked_ids_txn
from hxim.storage.users import get_user_txn, get_users_by_keys_txn

__all__ = [
    "ItemOutcome",
    "Refusal",
    "Refused",
    "admission",
    "find_user",
    "find_users",
    "member_not_owner",
    "over_quota",
    "room_and_user",
    "room_and_users",
]


class Refusal(Enum):
    """Why a transaction on a room changed nothing (or, in a batch, left one user out)."""

    NO_ROOM = "no room"  # no room of that app, kind and id
    NO_USER = "no user"  # no user of that name
    NOT_MEMBER = "not member"
    ALREADY_MEMBER = "already member"
    OWNER = "owner"  # the operation may not touch the room's owner
    BLOCKED = "blocked"  # on the room's block list
    ROOM_FULL = "room full"  # the newcomers would take the room past its maxusers
    TOO_MANY_ROOMS = "too many rooms"  # the user belongs to as many rooms of the kind as allowed
    NOT_PUBLIC = "not public"  # a private group takes no requests to join
    NOT_APPLIED = "not applied"  # no request to join is pending
    MAXUSERS_BELOW_MEMBERS = "maxusers below members"  # a new maxusers under the member count
    SAME_OWNER = "same owner"  # the new owner already is the owner
    ALREADY_ADMIN = "already admin"
    NOT_ADMIN = "not admin"
    TOO_MANY_ADMINS = "too many admins"  # owner and admins are as many as allowed
    NOT_BLOCKED = "not blocked"
    NOT_WHITELISTED = "not whitelisted"
    ALREADY_SUPER_ADMIN = "already super admin"
    NOT_SUPER_ADMIN = "not super admin"


class Refused(NamedTuple):
    """A room transaction that wrote nothing: `why`, and the users concerned (as registered, or as
    asked for when no such user is registered). `limit`: the room's maxusers (`ROOM_FULL`) or the
    most owner and admins allowed (`TOO_MANY_ADMINS`)."""

    why: Refusal
    names: tuple[str, ...] = ()
    limit: int = 0

    @property
    def name(self) -> str:
        return self.names[0] if self.names else ""


# One user's outcome in a batch: their name (as registered, or as asked for), and why they were
# left out (None: done).
ItemOutcome = tuple[str, Refusal | None]


def find_user(conn: Connection, app_uuid: str, name: str) -> User | None:
    """The user of this name (any case); None for no such user or an empty name."""
    return get_user_txn(conn, app_uuid, name.lower()) if name else None


def find_users(conn: Connection, app_uuid: str, names: list[str]) -> dict[str, User]:
    """The users with these names, by case-folded name (missing ones left out)."""
    return {u.key: u for u in get_users_by_keys_txn(conn, app_uuid, [n.lower() for n in names])}


def room_and_user(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str
) -> tuple[Room, User] | Refused:
    """The room, its row lock taken, and the user: refused `NO_ROOM`, then `NO_USER`."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    user = find_user(conn, app_uuid, username)
    if user is None:
        return Refused(Refusal.NO_USER, (username,))
    return room, user


def room_and_users(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str]
) -> tuple[Room, dict[str, User]] | Refused:
    """The room, locked, and the users of these names by case-folded name: refused `NO_ROOM`."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    return room, find_users(conn, app_uuid, names)


def member_not_owner(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str
) -> tuple[Room, User, str] | Refused:
    """The room, locked, a user and their role there: refused `NO_ROOM`, `NO_USER`, then
    `NOT_MEMBER` and `OWNER`."""
    found = room_and_user(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    role = roles_txn(conn, room.id, [user.id]).get(user.id)
    if role is None:
        return Refused(Refusal.NOT_MEMBER, (user.username,))
    if role == OWNER:
        return Refused(Refusal.OWNER, (user.username,))
    return room, user, role


def over_quota(conn: Connection, kind: str, joining: list[User], quota: int) -> Refused | None:
    """The first of `joining` who already belongs to `quota` rooms of `kind`."""
    counts = membership_counts_txn(conn, kind, [u.id for u in joining])
    for user in joining:
        if counts.get(user.id, 0) >= quota:
            return Refused(Refusal.TOO_MANY_ROOMS, (user.username,))
    return None


def admission(conn: Connection, room: Room, joining: list[User], quota: int) -> Refused | None:
    """Whether `joining` (none of them a member) may come in: not if one is blocked from the room,
    if they would overfill it, or if one of them is at their quota of rooms."""
    blocked = blocked_ids_txn(conn, room.id, [u.id for u in joining])
    for user in joining:
        if user.id in blocked:
            return Refused(Refusal.BLOCKED, (user.username,))
    if room.members + len(joining) > room.maxusers:
        return Refused(Refusal.ROOM_FULL, limit=room.maxusers)
    return over_quota(conn, room.kind, joining, quota)
