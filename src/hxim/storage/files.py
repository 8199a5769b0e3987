"""Queries on uploaded chat files.

A file's lifetime: kept for ever (`forever`), or counted from `refreshed` (null: from
`created`); `since` below is the oldest such start still alive (None: every file is).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, or_, select, true, update

from hxim.storage.tables import chatfiles

__all__ = ["insert_file_txn", "get_file_txn", "delete_file_txn", "set_lifetime_txn", "purge_expired_txn"]


def insert_file_txn(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(chatfiles).values(**values))


def get_file_txn(conn: Connection, app_uuid: str, file_uuid: str) -> Any:
    return conn.execute(
        select(chatfiles).where(chatfiles.c.uuid == file_uuid, chatfiles.c.app_uuid == app_uuid)
    ).first()


def _alive(since: int | None) -> ColumnElement[bool]:
    if since is None:
        return true()
    return or_(chatfiles.c.forever == true(), func.coalesce(chatfiles.c.refreshed, chatfiles.c.created) > since)


def delete_file_txn(conn: Connection, app_uuid: str, file_uuid: str) -> None:
    conn.execute(delete(chatfiles).where(chatfiles.c.uuid == file_uuid, chatfiles.c.app_uuid == app_uuid))


def set_lifetime_txn(
    conn: Connection,
    app_uuid: str,
    file_uuids: list[str],
    uploader: str | None,
    forever: bool,
    refreshed: int | None,
    since: int | None,
) -> set[str]:
    """Give these files of the app that are still alive at `since` (and that `uploader` uploaded,
    when given) their new lifetime; returns the ids of the files changed."""
    query = select(chatfiles.c.uuid).where(
        chatfiles.c.app_uuid == app_uuid, chatfiles.c.uuid.in_(file_uuids), _alive(since)
    )
    if uploader is not None:
        query = query.where(chatfiles.c.uploader == uploader)
    found = set(conn.execute(query).scalars())
    if found:
        conn.execute(
            update(chatfiles)
            .where(chatfiles.c.app_uuid == app_uuid, chatfiles.c.uuid.in_(found))
            .values(forever=forever, refreshed=refreshed)
        )
    return found


def purge_expired_txn(conn: Connection, since: int) -> int:
    """Remove every file, of every app, whose lifetime ended by `since`; how many went."""
    done = conn.execute(delete(chatfiles).where(~_alive(since)))
    return int(done.rowcount or 0)
