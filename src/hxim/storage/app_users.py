"""Queries on the app API's own data: app users and group faces (tables `app_users`, `app_group_faces`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from hxim.storage.tables import app_group_faces, app_users

__all__ = [
    "AppUser",
    "JSON_FIELDS",
    "get_app_user_txn",
    "app_users_by_ids_txn",
    "upsert_app_user_txn",
    "delete_app_user_txn",
    "app_user_ids_txn",
    "group_faces_txn",
    "set_group_face_txn",
    "delete_group_face_txn",
    "profiles_and_faces_txn",
]

# Profile fields that hold any JSON value (the original's "dictionary" fields).
JSON_FIELDS = ("avatar", "bg", "verified", "extra", "certification")


@dataclass(slots=True)
class AppUser:
    """An app's own account: numeric id, bcrypt password hash (or None), profile, admin flag."""

    id: int
    password_hash: str | None
    name: str | None
    bio: str | None
    sex: int
    location: str | None
    avatar: Any
    bg: Any
    verified: Any
    extra: Any
    certification: Any
    is_admin: bool
    created_at: int  # ms
    updated_at: int  # ms


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _user(row: Any) -> AppUser:
    return AppUser(
        id=int(row.id),
        password_hash=row.password_hash,
        name=row.name,
        bio=row.bio,
        sex=int(row.sex),
        location=row.location,
        avatar=_loads(row.avatar),
        bg=_loads(row.bg),
        verified=_loads(row.verified),
        extra=_loads(row.extra),
        certification=_loads(row.certification),
        is_admin=bool(row.is_admin),
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
    )


def _row_values(values: dict[str, Any]) -> dict[str, Any]:
    """Column values from service values: JSON fields become JSON text (None stays NULL)."""
    out = dict(values)
    for name in JSON_FIELDS:
        if name in out and out[name] is not None:
            out[name] = orjson.dumps(out[name]).decode()
    return out


def get_app_user_txn(conn: Connection, app_uuid: str, uid: int) -> AppUser | None:
    row = conn.execute(select(app_users).where(app_users.c.app_uuid == app_uuid, app_users.c.id == uid)).first()
    return _user(row) if row is not None else None


def app_users_by_ids_txn(conn: Connection, app_uuid: str, ids: list[int]) -> list[AppUser]:
    if not ids:
        return []
    rows = conn.execute(select(app_users).where(app_users.c.app_uuid == app_uuid, app_users.c.id.in_(ids)))
    return [_user(r) for r in rows]


def upsert_app_user_txn(
    conn: Connection, app_uuid: str, uid: int, values: dict[str, Any], now: int
) -> tuple[AppUser, bool]:
    """Create the app user with `values`, or change only the given fields. Returns (user, created)."""
    exists = conn.execute(select(app_users.c.id).where(app_users.c.app_uuid == app_uuid, app_users.c.id == uid)).first()
    row = _row_values(values)
    if exists is None:
        conn.execute(insert(app_users).values(app_uuid=app_uuid, id=uid, created_at=now, updated_at=now, **row))
    else:
        conn.execute(
            update(app_users)
            .where(app_users.c.app_uuid == app_uuid, app_users.c.id == uid)
            .values(updated_at=now, **row)
        )
    user = get_app_user_txn(conn, app_uuid, uid)
    assert user is not None
    return user, exists is None


def delete_app_user_txn(conn: Connection, app_uuid: str, uid: int) -> AppUser | None:
    user = get_app_user_txn(conn, app_uuid, uid)
    if user is not None:
        conn.execute(delete(app_users).where(app_users.c.app_uuid == app_uuid, app_users.c.id == uid))
    return user


def app_user_ids_txn(conn: Connection, app_uuid: str) -> list[int]:
    rows = conn.execute(select(app_users.c.id).where(app_users.c.app_uuid == app_uuid).order_by(app_users.c.id))
    return [int(r.id) for r in rows]


def group_faces_txn(conn: Connection, app_uuid: str, group_ids: list[str]) -> dict[str, str]:
    if not group_ids:
        return {}
    rows = conn.execute(
        select(app_group_faces.c.group_id, app_group_faces.c.face).where(
            app_group_faces.c.app_uuid == app_uuid, app_group_faces.c.group_id.in_(group_ids)
        )
    )
    return {r.group_id: r.face for r in rows}


def set_group_face_txn(conn: Connection, app_uuid: str, group_id: str, face: str, now: int) -> None:
    done = conn.execute(
        update(app_group_faces)
        .where(app_group_faces.c.app_uuid == app_uuid, app_group_faces.c.group_id == group_id)
        .values(face=face, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(insert(app_group_faces).values(app_uuid=app_uuid, group_id=group_id, face=face, updated_at=now))


def delete_group_face_txn(conn: Connection, app_uuid: str, group_id: str) -> None:
    conn.execute(
        delete(app_group_faces).where(app_group_faces.c.app_uuid == app_uuid, app_group_faces.c.group_id == group_id)
    )


def profiles_and_faces_txn(
    conn: Connection, app_uuid: str, ids: list[int], group_ids: list[str]
) -> tuple[list[AppUser], dict[str, str]]:
    """The app users with these ids and the faces of these groups, in one transaction."""
    return app_users_by_ids_txn(conn, app_uuid, ids), group_faces_txn(conn, app_uuid, group_ids)
