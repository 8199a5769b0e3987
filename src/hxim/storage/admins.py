"""Queries on the administrators of the admin console (table `admins`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from hxim.storage.tables import admins

__all__ = [
    "Admin",
    "insert_admin_txn",
    "get_admin_txn",
    "list_admins_txn",
    "count_admins_txn",
    "delete_admin_txn",
    "update_admin_txn",
]


@dataclass(frozen=True, slots=True)
class Admin:
    name: str
    password_hash: str  # bcrypt
    session_epoch: int  # in every session cookie; moving it ends them all
    created: int  # ms


def _admin(row: Any) -> Admin:
    return Admin(row.name, row.password_hash, row.session_epoch, row.created)


def insert_admin_txn(conn: Connection, admin: Admin) -> None:
    conn.execute(insert(admins).values(
        name=admin.name, password_hash=admin.password_hash, session_epoch=admin.session_epoch, created=admin.created
    ))


def get_admin_txn(conn: Connection, name: str) -> Admin | None:
    row = conn.execute(select(admins).where(admins.c.name == name)).first()
    return _admin(row) if row else None


def list_admins_txn(conn: Connection) -> list[Admin]:
    return [_admin(r) for r in conn.execute(select(admins).order_by(admins.c.name))]


def count_admins_txn(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(admins)).scalar_one())


def delete_admin_txn(conn: Connection, name: str) -> bool:
    return conn.execute(delete(admins).where(admins.c.name == name)).rowcount > 0


def update_admin_txn(conn: Connection, name: str, values: dict[str, Any]) -> None:
    """Set `values`; the session epoch moves by one with every change (the sessions end)."""
    conn.execute(
        update(admins).where(admins.c.name == name).values(session_epoch=admins.c.session_epoch + 1, **values)
    )
