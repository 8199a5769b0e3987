"""Transactions on groups and chat rooms themselves: creation, details, who belongs, settings, the
owner, dissolution (easemob-rest.md §6, §7). The service of rooms decides what to ask; a change
that the room's state refuses comes back as a `Refused` (`storage.room_checks`), with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from hxim.storage.groups import (
    MEMBER,
    OWNER,
    Room,
    delete_rooms_txn,
    insert_room_txn,
    joined_room_page_txn,
    joined_rooms_txn,
    members_txn,
    owned_rooms_txn,
    roles_txn,
    room_txn,
    rooms_by_ids_txn,
    set_role_txn,
    update_room_txn,
)
from hxim.storage.room_checks import Refusal, Refused, find_user, find_users, over_quota

__all__ = [
    "change_room_txn",
    "create_room_txn",
    "delete_owned_rooms_txn",
    "delete_room_txn",
    "in_room_txn",
    "is_room_member_txn",
    "rooms_with_members_txn",
    "user_rooms_txn",
]

T = TypeVar("T")


def create_room_txn(
    conn: Connection, values: dict[str, Any], owner: str, members: list[str], quota: int, now: int
) -> Room | Refused:
    """Create a room (`values`: its columns but the owner and times) owned by `owner`, with
    `members` (distinct names, none the owner's); each user may be in at most `quota` rooms of
    the kind. Refused: `NO_USER` (the first unknown name), `TOO_MANY_ROOMS`."""
    found_owner = find_user(conn, values["app_uuid"], owner)
    if found_owner is None:
        return Refused(Refusal.NO_USER, (owner,))
    found = find_users(conn, values["app_uuid"], members)
    joining = []
    for name in members:
        user = found.get(name.lower())
        if user is None:
            return Refused(Refusal.NO_USER, (name,))
        if user.id != found_owner.id and user not in joining:
            joining.append(user)
    refused = over_quota(conn, values["kind"], [found_owner, *joining], quota)
    if refused is not None:
        return refused
    row = {**values, "owner_id": found_owner.id, "created": now, "modified": now}
    insert_room_txn(conn, row, [(found_owner.id, OWNER), *((m.id, MEMBER) for m in joining)], now)
    room = room_txn(conn, values["app_uuid"], values["kind"], values["id"])
    assert room is not None
    return room


def rooms_with_members_txn(
    conn: Connection, app_uuid: str, kind: str, ids: list[int]
) -> dict[int, tuple[Room, list[tuple[str, str]]]]:
    """The rooms of these ids that exist, by id, each with its members as (username, role)."""
    return {r.id: (r, members_txn(conn, r.id)) for r in rooms_by_ids_txn(conn, app_uuid, kind, ids)}


def user_rooms_txn(
    conn: Connection, app_uuid: str, kind: str, username: str, offset: int, limit: int | None
) -> list[tuple[int, str]] | None:
    """(room id, name) of the rooms of `kind` the user belongs to; None for no such user."""
    user = find_user(conn, app_uuid, username)
    return joined_rooms_txn(conn, kind, user.id, offset, limit) if user is not None else None


def user_room_page_txn(
    conn: Connection, app_uuid: str, kind: str, username: str, offset: int, limit: int
) -> tuple[int, list[Room]] | None:
    """`joined_room_page_txn` for user `username`; None for no such user."""
    user = find_user(conn, app_uuid, username)
    return joined_room_page_txn(conn, kind, user.id, offset, limit) if user is not None else None


def in_room_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, fn: Callable[..., T], *args: Any) -> T | None:
    """A read of one room's rows: `fn(conn, the room's id, *args)`; None for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id)
    return fn(conn, room.id, *args) if room is not None else None


def _transfer(conn: Connection, app_uuid: str, room: Room, newowner: str, now: int) -> Refused | None:
    user = find_user(conn, app_uuid, newowner)
    if user is None:
        return Refused(Refusal.NO_USER, (newowner,))
    if user.id == room.owner_id:
        return Refused(Refusal.SAME_OWNER, (user.username,))
    if user.id not in roles_txn(conn, room.id, [user.id]):
        return Refused(Refusal.NOT_MEMBER, (user.username,))
    set_role_txn(conn, room.id, [room.owner_id], MEMBER)
    set_role_txn(conn, room.id, [user.id], OWNER)
    update_room_txn(conn, room.id, {"owner_id": user.id, "modified": now})
    return None


def change_room_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, values: dict[str, Any], newowner: str | None, now: int
) -> Refused | None:
    """Change a room's settings (`values`: columns) and, with `newowner`, hand it to that member.
    Refused: `NO_ROOM`, `MAXUSERS_BELOW_MEMBERS`; for the new owner `NO_USER` (an empty name
    too), `SAME_OWNER`, `NOT_MEMBER`."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    if "maxusers" in values and values["maxusers"] < room.members:
        return Refused(Refusal.MAXUSERS_BELOW_MEMBERS)
    if newowner is not None:
        refused = _transfer(conn, app_uuid, room, newowner, now)
        if refused is not None:
            return refused
    if values:
        update_room_txn(conn, room.id, {**values, "modified": now})
    return None


def delete_room_txn(conn: Connection, app_uuid: str, kind: str, room_id: int) -> tuple[Room, list[str]] | None:
    """Dissolve a room: the room and the names of its members until now; None for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return None
    names = [n for n, _ in members_txn(conn, room.id, 0, None)]
    delete_rooms_txn(conn, [room.id])
    return room, names


def delete_owned_rooms_txn(conn: Connection, user_ids: list[int]) -> None:
    """Delete every room (of either kind) owned by one of `user_ids`."""
    delete_rooms_txn(conn, [rid for rid, _ in owned_rooms_txn(conn, user_ids)])


def is_room_member_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, user_id: int) -> bool:
    """Whether the user belongs to the room (any role); False for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id)
    return room is not None and user_id in roles_txn(conn, room.id, [user_id])
