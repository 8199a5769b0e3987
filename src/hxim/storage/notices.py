"""Queries on the notices kept for offline users (the `notices` table)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select

from hxim.storage.database import Query
from hxim.storage.tables import notices

__all__ = ["NoticeRow", "add_notice_txn", "forget_notices_txn", "notices_txn", "remove_notices_txn"]

NoticeRow = tuple[int, str, str, dict[str, Any]]  # (id, kind, sender, payload)


def add_notice_txn(
    conn: Connection, user_id: int, ident: int, kind: str, sender: str, payload: dict[str, Any], replace: bool
) -> None:
    """Keep a notice; with `replace`, drop the user's earlier notices of the same kind and sender."""
    if replace:
        conn.execute(delete(notices).where(notices.c.user_id == user_id, notices.c.kind == kind,
                                           notices.c.sender == sender))
    conn.execute(insert(notices), {"user_id": user_id, "id": ident, "kind": kind, "sender": sender,
                                   "payload": orjson.dumps(payload).decode()})


_SELECT = (
    select(notices.c.id, notices.c.kind, notices.c.sender, notices.c.payload)
    .where(notices.c.user_id == bindparam("user"))
    .order_by(notices.c.id)
)
_BY_LIMIT: dict[int, Query] = {}  # every login reads them: a prebuilt statement per LIMIT


def notices_txn(conn: Connection, user_id: int, limit: int) -> list[NoticeRow]:
    query = _BY_LIMIT.get(limit)
    if query is None:
        query = _BY_LIMIT[limit] = Query(_SELECT.limit(limit))
    rows = query.all(conn, user=user_id)
    return [(ident, kind, sender, orjson.loads(payload)) for ident, kind, sender, payload in rows]


def remove_notices_txn(conn: Connection, user_id: int, ids: list[int]) -> None:
    conn.execute(delete(notices).where(notices.c.user_id == user_id, notices.c.id.in_(ids)))


def forget_notices_txn(conn: Connection, user_id: int, kind: str, sender: str) -> None:
    conn.execute(delete(notices).where(notices.c.user_id == user_id, notices.c.kind == kind,
                                       notices.c.sender == sender))
