"""Queries on user attributes (table `user_metadata`): each user's key-value pairs and their sizes.

A user is named by the case-folded username within the app; the rows hang on the user's id and
go with the user (ON DELETE CASCADE). A row's `size` is `attribute_size(key, value)`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from hxim.storage.database import Query
from hxim.storage.tables import user_metadata, users

__all__ = [
    "SizeCheck",
    "attribute_size",
    "set_attributes_txn",
    "attributes_txn",
    "attributes_of_many_txn",
    "app_attributes_size_txn",
    "delete_attributes_txn",
]

# Called inside the write with the user's total after it and, when the write makes the app's
# attributes grow, the app's total after it (None otherwise); raising aborts the write.
SizeCheck = Callable[[int, int | None], None]

_USER_ID = select(users.c.id).where(users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key"))
_OF_USER = Query(
    select(user_metadata.c.key, user_metadata.c.value)
    .join(users, users.c.id == user_metadata.c.user_id)
    .where(users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key"))
    .order_by(user_metadata.c.key)
)
_OF_USERS = Query(
    select(users.c.username_key, user_metadata.c.key, user_metadata.c.value)
    .join(users, users.c.id == user_metadata.c.user_id)
    .where(users.c.app_uuid == bindparam("app"), users.c.username_key.in_(bindparam("keys", expanding=True)))
    .order_by(users.c.username_key, user_metadata.c.key)
)
_APP_SIZE = Query(
    select(func.coalesce(func.sum(user_metadata.c.size), 0)).where(user_metadata.c.app_uuid == bindparam("app"))
)


def attribute_size(key: str, value: str) -> int:
    """What one attribute counts towards the limits: the UTF-8 bytes of its name and value."""
    return len(key.encode()) + len(value.encode())


def set_attributes_txn(
    conn: Connection, app_uuid: str, user_key: str, pairs: dict[str, str], check: SizeCheck
) -> bool:
    """Set `pairs` on the user (other attributes stay); False when there is no such user.

    The user's row is locked first (PostgreSQL; SQLite writes one at a time), so that concurrent
    writes to one user's attributes are checked against each other's totals."""
    user_id = conn.execute(_USER_ID.with_for_update(), {"app": app_uuid, "key": user_key}).scalar()
    if user_id is None:
        return False
    current = dict(
        conn.execute(select(user_metadata.c.key, user_metadata.c.size).where(user_metadata.c.user_id == user_id)).all()
    )
    rows = [
        {"user_id": user_id, "key": k, "app_uuid": app_uuid, "value": v, "size": attribute_size(k, v)}
        for k, v in pairs.items()
    ]
    before = sum(current.values())
    after = before - sum(current.get(k, 0) for k in pairs) + sum(r["size"] for r in rows)
    app_after = _APP_SIZE.scalar(conn, app=app_uuid) + after - before if after > before else None
    check(after, app_after)
    replaced = [k for k in pairs if k in current]
    if replaced:
        conn.execute(delete(user_metadata).where(user_metadata.c.user_id == user_id, user_metadata.c.key.in_(replaced)))
    conn.execute(insert(user_metadata), rows)
    return True


def attributes_txn(conn: Connection, app_uuid: str, user_key: str) -> dict[str, str]:
    """The user's attributes by name (none for a user that does not exist)."""
    return dict(_OF_USER.all(conn, app=app_uuid, key=user_key))


def attributes_of_many_txn(conn: Connection, app_uuid: str, user_keys: list[str]) -> dict[str, dict[str, str]]:
    """The attributes of each of these users that has any, by case-folded username."""
    out: dict[str, dict[str, str]] = {}
    for user_key, key, value in _OF_USERS.all(conn, app=app_uuid, keys=user_keys):
        out.setdefault(user_key, {})[key] = value
    return out


def app_attributes_size_txn(conn: Connection, app_uuid: str) -> int:
    """The sizes of all attributes of the app's users, added up."""
    return int(_APP_SIZE.scalar(conn, app=app_uuid))


def delete_attributes_txn(conn: Connection, app_uuid: str, user_key: str) -> None:
    """Remove all the user's attributes (nothing happens for a user that does not exist)."""
    user_id = conn.execute(_USER_ID, {"app": app_uuid, "key": user_key}).scalar()
    if user_id is not None:
        conn.execute(delete(user_metadata).where(user_metadata.c.user_id == user_id))
