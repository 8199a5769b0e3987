"""Queries on global mutes (table `user_mutes`): per user and chat type, until when.

A user is named by the case-folded username within the app; the rows hang on the user's id and
go with the user (ON DELETE CASCADE). `expire` is milliseconds since the epoch, or `FOREVER`;
a mute in force at `now` is one with `expire` FOREVER or past `now`.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, insert, or_, select

from hxim.storage.tables import user_mutes, users

__all__ = ["FOREVER", "set_mutes_txn", "mutes_of_txn", "active_mutes_txn", "mutes_page_txn"]

FOREVER = -1

_USER = select(users.c.id, users.c.username).where(
    users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key")
)


def _in_force(now: int) -> ColumnElement[bool]:
    return or_(user_mutes.c.expire == FOREVER, user_mutes.c.expire > now)


def set_mutes_txn(conn: Connection, app_uuid: str, user_key: str, changes: dict[str, int | None]) -> bool:
    """Set the user's mutes, chat type -> expire (None: unmuted); False when there is no such user."""
    found = conn.execute(_USER, {"app": app_uuid, "key": user_key}).first()
    if found is None:
        return False
    user_id = found[0]
    if changes:
        conn.execute(delete(user_mutes).where(user_mutes.c.user_id == user_id, user_mutes.c.chat_type.in_(changes)))
    rows = [
        {"user_id": user_id, "chat_type": chat_type, "app_uuid": app_uuid, "expire": expire}
        for chat_type, expire in changes.items()
        if expire is not None
    ]
    if rows:
        conn.execute(insert(user_mutes), rows)
    return True


def mutes_of_txn(conn: Connection, app_uuid: str, user_key: str, now: int) -> tuple[str, dict[str, int]] | None:
    """(the username as registered, chat type -> expire of each mute in force), or None when
    there is no such user."""
    found = conn.execute(_USER, {"app": app_uuid, "key": user_key}).first()
    if found is None:
        return None
    query = select(user_mutes.c.chat_type, user_mutes.c.expire).where(
        user_mutes.c.user_id == found[0], _in_force(now)
    )
    return found[1], {chat_type: expire for chat_type, expire in conn.execute(query)}


def active_mutes_txn(conn: Connection, now: int) -> list[tuple[str, str, str, int]]:
    """(app uuid, user key, chat type, expire) of every mute in force at `now`, in every app."""
    query = (
        select(user_mutes.c.app_uuid, users.c.username_key, user_mutes.c.chat_type, user_mutes.c.expire)
        .join(users, users.c.id == user_mutes.c.user_id)
        .where(_in_force(now))
    )
    return [(a, k, t, e) for a, k, t, e in conn.execute(query)]


def mutes_page_txn(
    conn: Connection, app_uuid: str, now: int, offset: int, limit: int
) -> list[tuple[str, str, int]]:
    """(username, chat type, expire) of the app's mutes in force at `now`, by username then chat
    type, `limit` of them after the first `offset`."""
    query = (
        select(users.c.username, user_mutes.c.chat_type, user_mutes.c.expire)
        .join(users, users.c.id == user_mutes.c.user_id)
        .where(and_(user_mutes.c.app_uuid == app_uuid, _in_force(now)))
        .order_by(users.c.username_key, user_mutes.c.chat_type)
        .offset(offset)
        .limit(limit)
    )
    return [(u, t, e) for u, t, e in conn.execute(query)]
