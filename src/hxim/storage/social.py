"""Queries on the two user-to-user lists: contacts (friends) and blocks."""

from __future__ import annotations

from sqlalchemy import Connection, Table, delete, func, insert, select

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


def _names(conn: Connection, table: Table, other: str, owner_id: int) -> list[str]:
    rows = conn.execute(
        select(users.c.username)
        .join(table, table.c[other] == users.c.id)
        .where(table.c.owner_id == owner_id)
        .order_by(table.c.created, users.c.id)
    )
    return [r.username for r in rows]


def count_txn(conn: Connection, which: str, owner_id: int) -> int:
    table = contacts if which == "contacts" else blocks
    return conn.execute(select(func.count()).select_from(table).where(table.c.owner_id == owner_id)).scalar_one()


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
    missing = _missing_pairs(conn, contacts, "contact_id", [(a, b), (b, a)])
    if missing:
        conn.execute(
            insert(contacts), [{"owner_id": o, "contact_id": t, "created": now} for o, t in missing]
        )


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
        conn.execute(insert(blocks), [{"owner_id": o, "blocked_id": t, "created": now} for o, t in missing])


def remove_block_txn(conn: Connection, owner_id: int, blocked_id: int) -> None:
    conn.execute(delete(blocks).where(blocks.c.owner_id == owner_id, blocks.c.blocked_id == blocked_id))


def block_names_txn(conn: Connection, owner_id: int) -> list[str]:
    return _names(conn, blocks, "blocked_id", owner_id)


def blocked_by_txn(conn: Connection, sender_id: int, owner_ids: list[int]) -> set[int]:
    """Which of `owner_ids` have blocked `sender_id`."""
    if not owner_ids:
        return set()
    rows = conn.execute(
        select(blocks.c.owner_id).where(blocks.c.blocked_id == sender_id, blocks.c.owner_id.in_(owner_ids))
    )
    return {r.owner_id for r in rows}
