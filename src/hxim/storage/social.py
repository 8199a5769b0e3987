"""Queries on the two user-to-user lists: contacts (friends) and blocks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from hxim.storage.database import Query
from hxim.storage.tables import blocks, contacts, users

__all__ = [
    "add_contact_pair_txn",
    "remove_contact_pair_txn",
    "contact_names_txn",
    "count_txn",
    "add_blocks_txn",
    "remove_block_txn",
    "block_names_txn",
    "blocked_by_txn",
    "is_contact_txn",
]


_BLOCKERS = Query(
    select(blocks.c.owner_id).where(
        blocks.c.blocked_id == bindparam("sender"), blocks.c.owner_id.in_(bindparam("owners", expanding=True))
    )
)
_CONTACT_PAIRS = select(contacts.c.owner_id, contacts.c.contact_id).where(
    contacts.c.owner_id.in_(bindparam("owners", expanding=True)),
    contacts.c.contact_id.in_(bindparam("targets", expanding=True)),
)
_INSERT_CONTACTS = insert(contacts)
_CONTACT_COUNT = select(func.count()).select_from(contacts).where(contacts.c.owner_id == bindparam("owner"))
_BLOCK_COUNT = select(func.count()).select_from(blocks).where(blocks.c.owner_id == bindparam("owner"))


_INSERT_IGNORE: dict[tuple[str, str], Any] = {}


def _insert_ignore(conn: Connection, table: Table) -> Any:
    """An INSERT that skips rows already present: a concurrent request (the same add, or the
    other user adding back) may have inserted them since this transaction looked."""
    key = (conn.dialect.name, table.name)
    stmt = _INSERT_IGNORE.get(key)
    if stmt is None:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = _INSERT_IGNORE[key] = dialect_insert(table).on_conflict_do_nothing()
    return stmt


def _names(conn: Connection, table: Table, other: str, owner_id: int) -> list[str]:
    rows = conn.execute(
        select(users.c.username)
        .join(table, table.c[other] == users.c.id)
        .where(table.c.owner_id == owner_id)
        .order_by(table.c.created, users.c.id)
    )
    return [r.username for r in rows]


def count_txn(conn: Connection, which: str, owner_id: int) -> int:
    stmt = _CONTACT_COUNT if which == "contacts" else _BLOCK_COUNT
    return conn.execute(stmt, {"owner": owner_id}).scalar_one()


def _missing_pairs(conn: Connection, table: Table, other: str, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for owner, target in pairs:
        hit = conn.execute(
            select(table.c.owner_id).where(table.c.owner_id == owner, table.c[other] == target)
        ).first()
        if hit is None:
            out.append((owner, target))
    return out


def add_contact_pair_txn(conn: Connection, a: int, b: int, now: int) -> None:
    """Make a and b contacts of each other (idempotent)."""
    present = {(r.owner_id, r.contact_id) for r in conn.execute(_CONTACT_PAIRS, {"owners": [a, b], "targets": [a, b]})}
    missing = [pair for pair in ((a, b), (b, a)) if pair not in present]
    if missing:
        rows = [{"owner_id": o, "contact_id": t, "created": now} for o, t in missing]
        conn.execute(_insert_ignore(conn, contacts), rows)


def remove_contact_pair_txn(conn: Connection, a: int, b: int) -> None:
    conn.execute(
        delete(contacts).where(
            ((contacts.c.owner_id == a) & (contacts.c.contact_id == b))
            | ((contacts.c.owner_id == b) & (contacts.c.contact_id == a))
        )
    )


def is_contact_txn(conn: Connection, owner: int, other: int) -> bool:
    return (
        conn.execute(
            select(contacts.c.owner_id).where(contacts.c.owner_id == owner, contacts.c.contact_id == other)
        ).first()
        is not None
    )


def contact_names_txn(conn: Connection, owner_id: int) -> list[str]:
    return _names(conn, contacts, "contact_id", owner_id)


def add_blocks_txn(conn: Connection, owner_id: int, blocked_ids: list[int], now: int) -> None:
    missing = _missing_pairs(conn, blocks, "blocked_id", [(owner_id, b) for b in blocked_ids])
    if missing:
        rows = [{"owner_id": o, "blocked_id": t, "created": now} for o, t in missing]
        conn.execute(_insert_ignore(conn, blocks), rows)


def remove_block_txn(conn: Connection, owner_id: int, blocked_id: int) -> None:
    conn.execute(delete(blocks).where(blocks.c.owner_id == owner_id, blocks.c.blocked_id == blocked_id))


def block_names_txn(conn: Connection, owner_id: int) -> list[str]:
    return _names(conn, blocks, "blocked_id", owner_id)


def blocked_by_txn(conn: Connection, sender_id: int, owner_ids: list[int]) -> set[int]:
    """Which of `owner_ids` have blocked `sender_id`."""
    if not owner_ids:
        return set()
    return {row[0] for row in _BLOCKERS.all(conn, sender=sender_id, owners=owner_ids)}
