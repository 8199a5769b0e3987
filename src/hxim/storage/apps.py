"""Queries on apps (tenants) and the server's own keys."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hxim.model import App
from hxim.storage.tables import apps, server_keys

__all__ = [
    "insert_app_txn",
    "get_app_txn",
    "list_apps_txn",
    "update_app_txn",
    "server_key_txn",
]


def _app(row: Any) -> App:
    return App(
        uuid=uuid.UUID(row.uuid),
        org=row.org,
        name=row.name,
        secret_hash=row.secret_hash,
        token_epoch=row.token_epoch,
        open_registration=bool(row.open_registration),
        created=row.created,
    )


def insert_app_txn(conn: Connection, app: App) -> None:
    conn.execute(
        insert(apps).values(
            uuid=app.id,
            org=app.org,
            name=app.name,
            secret_hash=app.secret_hash,
            token_epoch=app.token_epoch,
            open_registration=app.open_registration,
            created=app.created,
        )
    )


def get_app_txn(conn: Connection, org: str, name: str) -> App | None:
    row = conn.execute(select(apps).where(apps.c.org == org, apps.c.name == name)).first()
    return _app(row) if row else None


# the PostgreSQL advisory lock under which a new database gets its first app: "hxim" in the high 32
# bits, 2 in the low ones (1 is the migrations')
FIRST_APP_LOCK = 0x6878696D_00000002


def insert_first_app_txn(conn: Connection, app: App) -> bool:
    """Insert `app` if the database has no app yet; False (nothing written) if it has one. Nodes
    starting at once on a new PostgreSQL database take turns, so only one creates it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({FIRST_APP_LOCK})")
    if conn.execute(select(apps.c.uuid).limit(1)).first() is not None:
        return False
    insert_app_txn(conn, app)
    return True


def list_apps_txn(conn: Connection) -> list[App]:
    return [_app(r) for r in conn.execute(select(apps).order_by(apps.c.created, apps.c.uuid))]


def update_app_txn(conn: Connection, app_uuid: str, values: dict[str, Any]) -> None:
    conn.execute(update(apps).where(apps.c.uuid == app_uuid).values(**values))


def server_key_txn(conn: Connection, name: str, fresh: bytes) -> bytes:
    """The named server key, created with `fresh` if this is the first time it is asked for.

    Nodes that ask at once on a new database all get the one key written first: an insert that
    finds the name taken does nothing (on PostgreSQL it waits for the other's commit), and the key
    is read after it."""
    query = select(server_keys.c.value).where(server_keys.c.name == name)
    row = conn.execute(query).first()
    if row:
        return bytes(row.value)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(server_keys).values(name=name, value=fresh).on_conflict_do_nothing())
    return bytes(conn.execute(query).scalar_one())
