"""Queries on user collections (table `user_collections`): each user's saved items.

Rows hang on the user's id and go with the user (ON DELETE CASCADE). A collection's id is
unique for its user; pages run in (created, id) order, either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from hxim.storage.tables import user_collections, users

__all__ = [
    "Collection",
    "AddCheck",
    "add_collections_txn",
    "collection_txn",
    "set_collection_ext_txn",
    "collections_page_txn",
    "delete_collections_txn",
]


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    type: int
    data: str
    ext: str | None
    created: int
    updated: int


# Called inside the write with the ids among the new ones that the user already has and the
# number of collections the user would then have; raising aborts the write.
AddCheck = Callable[[set[str], int], None]

_COLUMNS = (
    user_collections.c.id,
    user_collections.c.type,
    user_collections.c.data,
    user_collections.c.ext,
    user_collections.c.created,
    user_collections.c.updated,
)


def _collection(row: object) -> Collection:
    return Collection(*row)  # type: ignore[misc]


def add_collections_txn(conn: Connection, user_id: int, items: list[Collection], check: AddCheck) -> None:
    """Add `items` to the user's collections, all or none. The user's row is locked first
    (PostgreSQL; SQLite writes one at a time), so that adds to one user are checked against
    each other's."""
    conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
    ids = [c.id for c in items]
    taken = set(
        conn.execute(
            select(user_collections.c.id).where(user_collections.c.user_id == user_id, user_collections.c.id.in_(ids))
        ).scalars()
    )
    held = conn.execute(
        select(func.count()).select_from(user_collections).where(user_collections.c.user_id == user_id)
    ).scalar_one()
    check(taken, held + len(items))
    rows = [
        {"user_id": user_id, "id": c.id, "type": c.type, "data": c.data, "ext": c.ext, "created": c.created,
         "updated": c.updated}
        for c in items
    ]
    conn.execute(insert(user_collections), rows)


def collection_txn(conn: Connection, user_id: int, collection_id: str) -> Collection | None:
    row = conn.execute(
        select(*_COLUMNS).where(user_collections.c.user_id == user_id, user_collections.c.id == collection_id)
    ).first()
    return _collection(row) if row is not None else None


def set_collection_ext_txn(
    conn: Connection, user_id: int, collection_id: str, ext: str | None, updated: int
) -> Collection | None:
    """Set one collection's `ext`; the collection as it is now, or None when there is none."""
    done = conn.execute(
        update(user_collections)
        .where(user_collections.c.user_id == user_id, user_collections.c.id == collection_id)
        .values(ext=ext, updated=updated)
    )
    return collection_txn(conn, user_id, collection_id) if done.rowcount else None


def collections_page_txn(
    conn: Connection,
    user_id: int,
    descending: bool,
    limit: int,
    kind: int | None,
    begin: int,
    end: int,
    anchor: Collection | None,
) -> list[Collection]:
    """Up to `limit` of the user's collections (of type `kind`, if given) in (created, id) order
    (`descending`: newest first): from `anchor` on, itself included, when given; else those
    created from `begin` to `end`, both included."""
    order = (user_collections.c.created, user_collections.c.id)
    query = select(*_COLUMNS).where(user_collections.c.user_id == user_id)
    if kind is not None:
        query = query.where(user_collections.c.type == kind)
    if anchor is not None:
        at_or_before = or_(
            user_collections.c.created < anchor.created,
            and_(user_collections.c.created == anchor.created, user_collections.c.id <= anchor.id),
        )
        at_or_after = or_(
            user_collections.c.created > anchor.created,
            and_(user_collections.c.created == anchor.created, user_collections.c.id >= anchor.id),
        )
        query = query.where(at_or_before if descending else at_or_after)
    else:
        query = query.where(user_collections.c.created >= begin, user_collections.c.created <= end)
    query = query.order_by(*(c.desc() for c in order) if descending else order).limit(limit)
    return [_collection(r) for r in conn.execute(query)]


def delete_collections_txn(conn: Connection, user_id: int, ids: list[str]) -> bool:
    """Remove these collections of the user, all or none: False (nothing removed) when one of
    them does not exist."""
    where = and_(user_collections.c.user_id == user_id, user_collections.c.id.in_(ids))
    found = conn.execute(select(func.count()).select_from(user_collections).where(where)).scalar_one()
    if found != len(set(ids)):
        return False
    conn.execute(delete(user_collections).where(where))
    return True
