"""Transactions that keep order in groups and chat rooms: admins, the block list, mutes (one
member, or everyone), the whitelist, and chat-room super admins (easemob-rest.md §6, §7;
webim-xmpp.md §7.9–§7.11). Each change takes the room's row lock first; one that the room's state
refuses comes back as a `Refused` (`storage.room_checks`), with nothing written. A batch leaves
out, one by one, the users it may not act on (`ItemOutcome`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from sqlalchemy import Connection

from hxim.storage.groups import (
    ADMIN,
    MEMBER,
    OWNER,
    count_roles_txn,
    roles_txn,
    room_txn,
    set_role_txn,
    update_room_txn,
)
from hxim.storage.room_checks import (
    ItemOutcome,
    Refusal,
    Refused,
    find_user,
    member_not_owner,
    room_and_user,
    room_and_users,
)
from hxim.storage.room_lists import (
    add_room_blocks_txn,
    add_super_admin_txn,
    add_whitelist_txn,
    blocked_ids_txn,
    remove_mutes_txn,
    remove_room_blocks_txn,
    remove_super_admin_txn,
    remove_whitelist_txn,
    set_mutes_txn,
    super_admin_ids_txn,
    whitelist_ids_txn,
)

__all__ = [
    "RoomList",
    "add_admin_txn",
    "grant_super_admin_txn",
    "mute_members_txn",
    "mute_room_txn",
    "put_on_list_txn",
    "remove_admin_txn",
    "revoke_super_admin_txn",
    "take_off_list_txn",
    "unmute_members_txn",
]


# --- admins -------------------------------------------------------------------------------------------


def add_admin_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str, limit: int
) -> str | Refused:
    """Make a member an admin, while owner and admins are fewer than `limit`; their name.
    Refused: `NO_ROOM`, `NO_USER`, `NOT_MEMBER`, `OWNER`, `ALREADY_ADMIN`, `TOO_MANY_ADMINS`."""
    found = member_not_owner(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user, role = found
    if role == ADMIN:
        return Refused(Refusal.ALREADY_ADMIN, (user.username,))
    if count_roles_txn(conn, room.id, (OWNER, ADMIN)) >= limit:
        return Refused(Refusal.TOO_MANY_ADMINS, limit=limit)
    set_role_txn(conn, room.id, [user.id], ADMIN)
    return user.username


def remove_admin_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, username: str) -> str | Refused:
    """Make an admin a plain member again; their name. Refused: `NO_ROOM`, `NO_USER`, `NOT_ADMIN`."""
    found = room_and_user(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    if roles_txn(conn, room.id, [user.id]).get(user.id) != ADMIN:
        return Refused(Refusal.NOT_ADMIN, (user.username,))
    set_role_txn(conn, room.id, [user.id], MEMBER)
    return user.username


# --- the block list and the whitelist --------------------------------------------------------------

class RoomList(Enum):
    """The room's lists of users that a batch puts users on or takes them off."""

    BLOCKS = "blocks"  # the block list: who may not be a member
    WHITELIST = "whitelist"  # who may post while everyone is muted


# each list: who of some users is on it, put users on it (with the time), take them off it, and
# why a user is left out who is not on it
_LISTS: dict[RoomList, tuple[Callable[..., set[int]], Callable[..., None], Callable[..., None], Refusal]] = {
    RoomList.BLOCKS: (blocked_ids_txn, add_room_blocks_txn, remove_room_blocks_txn, Refusal.NOT_BLOCKED),
    RoomList.WHITELIST: (whitelist_ids_txn, add_whitelist_txn, remove_whitelist_txn, Refusal.NOT_WHITELISTED),
}


def put_on_list_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, which: RoomList, names: list[str], now: int
) -> list[ItemOutcome] | Refused:
    """Put the members named on one of the room's lists; those on it count as done. Blocked users
    stop being members, and a user already blocked (so no member) counts as done. Left out:
    `NO_USER`, `NOT_MEMBER`, and from the block list `OWNER`. Refused: `NO_ROOM`."""
    listed_ids, add, _, _ = _LISTS[which]
    blocking = which is RoomList.BLOCKS
    got = room_and_users(conn, app_uuid, kind, room_id, names)
    if isinstance(got, Refused):
        return got
    room, found = got
    ids = [u.id for u in found.values()]
    roles = roles_txn(conn, room.id, ids)
    listed = listed_ids(conn, room.id, ids)
    out: list[ItemOutcome] = []
    new: list[int] = []
    for name in names:
        user = found.get(name.lower())
        if user is None:
            out.append((name, Refusal.NO_USER))
            continue
        role = roles.get(user.id)
        if blocking and user.id in listed:  # blocked already, and so no member
            out.append((user.username, None))
        elif blocking and role == OWNER:
            out.append((user.username, Refusal.OWNER))
        elif role is None:
            out.append((user.username, Refusal.NOT_MEMBER))
        else:
            if user.id not in listed:
                new.append(user.id)
            out.append((user.username, None))
    add(conn, room.id, new, now)
    return out


def take_off_list_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, which: RoomList, names: list[str]
) -> list[ItemOutcome] | Refused:
    """Take the users named off one of the room's lists. Left out: `NO_USER`, and who is not on
    it (`NOT_BLOCKED`, `NOT_WHITELISTED`). Refused: `NO_ROOM`."""
    listed_ids, _, remove, unlisted = _LISTS[which]
    got = room_and_users(conn, app_uuid, kind, room_id, names)
    if isinstance(got, Refused):
        return got
    room, found = got
    listed = listed_ids(conn, room.id, [u.id for u in found.values()])
    out: list[ItemOutcome] = []
    for name in names:
        user = found.get(name.lower())
        if user is None:
            out.append((name, Refusal.NO_USER))
        else:
            out.append((user.username, None if user.id in listed else unlisted))
    remove(conn, room.id, list(listed))
    return out


# --- mutes ----------------------------------------------------------------------------------------------


def mute_members_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str], expire: int
) -> list[str] | Refused:
    """Mute the members named until `expire` (ms); their names. Refused: `NO_ROOM`, `NOT_MEMBER`
    (naming every user named who is not a member, or not a user), `OWNER`."""
    got = room_and_users(conn, app_uuid, kind, room_id, names)
    if isinstance(got, Refused):
        return got
    room, found = got
    roles = roles_txn(conn, room.id, [u.id for u in found.values()])
    outsiders = tuple(
        found[n.lower()].username if n.lower() in found else n
        for n in names
        if n.lower() not in found or found[n.lower()].id not in roles
    )
    if outsiders:
        return Refused(Refusal.NOT_MEMBER, outsiders)
    users = [found[n.lower()] for n in names]
    owner = next((u for u in users if roles[u.id] == OWNER), None)
    if owner is not None:
        return Refused(Refusal.OWNER, (owner.username,))
    set_mutes_txn(conn, room.id, [(u.id, expire) for u in users])
    return [u.username for u in users]


def unmute_members_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str]
) -> list[ItemOutcome] | Refused:
    """Lift the mutes of the users named. Left out: `NO_USER`. Refused: `NO_ROOM`."""
    got = room_and_users(conn, app_uuid, kind, room_id, names)
    if isinstance(got, Refused):
        return got
    room, found = got
    remove_mutes_txn(conn, room.id, [u.id for u in found.values()])
    return [(found[n.lower()].username, None) if n.lower() in found else (n, Refusal.NO_USER) for n in names]


def mute_room_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, until: int, now: int) -> bool:
    """Mute everyone but the owner, the admins and the whitelist until `until` (0: unmute);
    False for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return False
    update_room_txn(conn, room.id, {"mute_until": until, "modified": now})
    return True


# --- chat-room super admins (per app) -------------------------------------------------------------------


def grant_super_admin_txn(conn: Connection, app_uuid: str, username: str, now: int) -> str | Refused:
    """Make a user a super admin of the app's chat rooms; their name. Refused: `NO_USER`,
    `ALREADY_SUPER_ADMIN`."""
    user = find_user(conn, app_uuid, username)
    if user is None:
        return Refused(Refusal.NO_USER, (username,))
    if super_admin_ids_txn(conn, [user.id]):
        return Refused(Refusal.ALREADY_SUPER_ADMIN, (user.username,))
    add_super_admin_txn(conn, app_uuid, user.id, now)
    return user.username


def revoke_super_admin_txn(conn: Connection, app_uuid: str, username: str) -> str | Refused:
    """A super admin is one no more; their name. Refused: `NO_USER`, `NOT_SUPER_ADMIN`."""
    user = find_user(conn, app_uuid, username)
    if user is None:
        return Refused(Refusal.NO_USER, (username,))
    if not super_admin_ids_txn(conn, [user.id]):
        return Refused(Refusal.NOT_SUPER_ADMIN, (user.username,))
    remove_super_admin_txn(conn, user.id)
    return user.username
