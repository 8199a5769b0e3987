"""Queries on uploaded chat files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from hxim.storage.tables import chatfiles

__all__ = ["insert_file_txn", "get_file_txn"]


def insert_file_txn(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(chatfiles).values(**values))


def get_file_txn(conn: Connection, app_uuid: str, file_uuid: str) -> Any:
    return conn.execute(
        select(chatfiles).where(chatfiles.c.uuid == file_uuid, chatfiles.c.app_uuid == app_uuid)
    ).first()
