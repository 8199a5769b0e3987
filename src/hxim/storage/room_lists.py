"""Per-room lists of users, each a table of its own: the room's block list, pending requests to
join, mutes with their expiry, the whitelist (who may post while everyone is muted); and the
chat-room super admins of an app (easemob-rest.md §6, §7).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from hxim.storage.groups import remove_members_txn
from hxim.storage.tables import room_applications, room_blocks, room_mutes, room_super_admins, room_whitelist, users

__all__ = [
    "add_application_txn",
    "add_room_blocks_txn",
    "add_super_admin_txn",
    "add_whitelist_txn",
    "applied_ids_txn",
    "blocked_ids_txn",
    "muted_ids_txn",
    "mutes_txn",
    "remove_applications_txn",
    "remove_mutes_txn",
    "remove_room_blocks_txn",
    "remove_super_admin_txn",
    "remove_whitelist_txn",
    "room_block_names_txn",
    "set_mutes_txn",
    "super_admin_ids_txn",
    "super_admin_names_txn",
    "whitelist_ids_txn",
    "whitelist_names_txn",
]


# --- per-room lists: blocks, mutes, whitelist ------------------------------------------------------


def _ids_in(conn: Connection, table: Any, room_id: int, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = conn.execute(select(table.c.user_id).where(table.c.room_id == room_id, table.c.user_id.in_(user_ids)))
    return {r.user_id for r in rows}


def _names_in(conn: Connection, table: Any, room_id: int) -> list[str]:
    rows = conn.execute(
        select(users.c.username)
        .join(table, table.c.user_id == users.c.id)
        .where(table.c.room_id == room_id)
        .order_by(table.c.created, users.c.id)
    )
    return [r.username for r in rows]


def blocked_ids_txn(conn: Connection, room_id: int, user_ids: list[int]) -> set[int]:
    return _ids_in(conn, room_blocks, room_id, user_ids)


def add_room_blocks_txn(conn: Connection, room_id: int, user_ids: list[int], now: int) -> None:
    """Block users from a room; they stop being members."""
    if user_ids:
        remove_members_txn(conn, room_id, user_ids)
        conn.execute(insert(room_blocks), [{"room_id": room_id, "user_id": u, "created": now} for u in user_ids])


def remove_room_blocks_txn(conn: Connection, room_id: int, user_ids: list[int]) -> None:
    if user_ids:
        conn.execute(delete(room_blocks).where(room_blocks.c.room_id == room_id, room_blocks.c.user_id.in_(user_ids)))


def room_block_names_txn(conn: Connection, room_id: int) -> list[str]:
    return _names_in(conn, room_blocks, room_id)


# --- applications (pending requests to join) --------------------------------------------------------


def add_application_txn(conn: Connection, room_id: int, user_id: int, reason: str, now: int) -> None:
    """Keep a user's request to join; a repeated request replaces the earlier one."""
    remove_applications_txn(conn, room_id, [user_id])
    conn.execute(insert(room_applications), [{"room_id": room_id, "user_id": user_id, "reason": reason,
                                              "created": now}])


def applied_ids_txn(conn: Connection, room_id: int, user_ids: list[int]) -> set[int]:
    """Which of `user_ids` have a pending request to join the room."""
    return _ids_in(conn, room_applications, room_id, user_ids)


def remove_applications_txn(conn: Connection, room_id: int, user_ids: list[int]) -> None:
    if user_ids:
        conn.execute(delete(room_applications).where(room_applications.c.room_id == room_id,
                                                     room_applications.c.user_id.in_(user_ids)))


def set_mutes_txn(conn: Connection, room_id: int, expires: list[tuple[int, int]]) -> None:
    """Mute (user id, expire ms) pairs, replacing earlier mutes of the same users."""
    if not expires:
        return
    ids = [u for u, _ in expires]
    conn.execute(delete(room_mutes).where(room_mutes.c.room_id == room_id, room_mutes.c.user_id.in_(ids)))
    conn.execute(insert(room_mutes), [{"room_id": room_id, "user_id": u, "expire": e} for u, e in expires])


def remove_mutes_txn(conn: Connection, room_id: int, user_ids: list[int]) -> None:
    if user_ids:
        conn.execute(delete(room_mutes).where(room_mutes.c.room_id == room_id, room_mutes.c.user_id.in_(user_ids)))


def muted_ids_txn(conn: Connection, room_id: int, user_ids: list[int], now: int) -> set[int]:
    if not user_ids:
        return set()
    rows = conn.execute(
        select(room_mutes.c.user_id).where(
            room_mutes.c.room_id == room_id, room_mutes.c.user_id.in_(user_ids), room_mutes.c.expire > now
        )
    )
    return {r.user_id for r in rows}


def mutes_txn(conn: Connection, room_id: int, now: int) -> list[tuple[str, int]]:
    """(username, expire) of the mutes still in force, earliest expiry first."""
    rows = conn.execute(
        select(users.c.username, room_mutes.c.expire)
        .join(room_mutes, room_mutes.c.user_id == users.c.id)
        .where(room_mutes.c.room_id == room_id, room_mutes.c.expire > now)
        .order_by(room_mutes.c.expire, users.c.id)
    )
    return [(r.username, r.expire) for r in rows]


def whitelist_ids_txn(conn: Connection, room_id: int, user_ids: list[int]) -> set[int]:
    return _ids_in(conn, room_whitelist, room_id, user_ids)


def add_whitelist_txn(conn: Connection, room_id: int, user_ids: list[int], now: int) -> None:
    if user_ids:
        conn.execute(insert(room_whitelist), [{"room_id": room_id, "user_id": u, "created": now} for u in user_ids])


def remove_whitelist_txn(conn: Connection, room_id: int, user_ids: list[int]) -> None:
    if user_ids:
        conn.execute(
            delete(room_whitelist).where(room_whitelist.c.room_id == room_id, room_whitelist.c.user_id.in_(user_ids))
        )


def whitelist_names_txn(conn: Connection, room_id: int) -> list[str]:
    return _names_in(conn, room_whitelist, room_id)


# --- chat-room super admins (per app) --------------------------------------------------------------


def super_admin_ids_txn(conn: Connection, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    rows = conn.execute(select(room_super_admins.c.user_id).where(room_super_admins.c.user_id.in_(user_ids)))
    return {r.user_id for r in rows}


def add_super_admin_txn(conn: Connection, app_uuid: str, user_id: int, now: int) -> None:
    conn.execute(insert(room_super_admins), [{"user_id": user_id, "app_uuid": app_uuid, "created": now}])


def remove_super_admin_txn(conn: Connection, user_id: int) -> None:
    conn.execute(delete(room_super_admins).where(room_super_admins.c.user_id == user_id))


def super_admin_names_txn(conn: Connection, app_uuid: str, offset: int = 0, limit: int | None = None) -> list[str]:
    query = (
        select(users.c.username)
        .join(room_super_admins, room_super_admins.c.user_id == users.c.id)
        .where(room_super_admins.c.app_uuid == app_uuid)
        .order_by(room_super_admins.c.created, users.c.id)
    )
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return [r.username for r in conn.execute(query)]


