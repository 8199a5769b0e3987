"""Queries on message reactions (table `message_reactions`): who added which reaction to which
message.

A row per (message, reaction, user); the rows of one (message, reaction) share its
`reaction_id`, the id of the first row that added it. Rows go with their message and their user
(ON DELETE CASCADE). Users are read back by name through `users`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select

from hxim.storage.tables import message_reactions, messages, users

__all__ = [
    "ADDED",
    "ALREADY",
    "FULL",
    "Reaction",
    "add_reaction_txn",
    "mine_txn",
    "reaction_users_txn",
    "reactions_of_txn",
    "remove_reaction_txn",
]

ADDED, ALREADY, FULL = "added", "already", "full"
R = message_reactions


@dataclass(frozen=True, slots=True)
class Reaction:
    """One reaction on one message: its id, how many users added it, whether the asking user is
    one of them, and some of the users (by name, earliest first)."""

    message_id: int
    reaction: str
    reaction_id: int
    count: int
    state: bool
    users: list[str]


def _count(conn: Connection, message_id: int, reaction: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(R).where(R.c.message_id == message_id, R.c.reaction == reaction)
        ).scalar_one()
    )


def mine_txn(conn: Connection, message_id: int, user_id: int) -> list[str]:
    """The reactions the user has on the message, in the order they were added."""
    query = select(R.c.reaction).where(R.c.message_id == message_id, R.c.user_id == user_id).order_by(R.c.id)
    return list(conn.execute(query).scalars())


def add_reaction_txn(
    conn: Connection, message_id: int, reaction: str, user_id: int, row_id: int, now: int, most: int
) -> tuple[str, int, int, list[str]]:
    """Add the user's `reaction` to the message, unless they have it already (ALREADY) or the
    message carries `most` other reactions (FULL); (outcome, the reaction's id, how many users
    have it now, the user's reactions on the message now). The message's row is locked first
    (PostgreSQL; SQLite writes one at a time), so that adds to one message see each other's."""
    conn.execute(select(messages.c.id).where(messages.c.id == message_id).with_for_update())
    ids = conn.execute(
        select(R.c.reaction_id, R.c.user_id).where(R.c.message_id == message_id, R.c.reaction == reaction)
    ).all()
    if any(uid == user_id for _, uid in ids):
        return ALREADY, ids[0][0], len(ids), mine_txn(conn, message_id, user_id)
    if ids:
        reaction_id = ids[0][0]
    else:
        held = conn.execute(
            select(func.count(func.distinct(R.c.reaction))).where(R.c.message_id == message_id)
        ).scalar_one()
        if held >= most:
            return FULL, 0, 0, []
        reaction_id = row_id
    conn.execute(
        insert(R).values(
            message_id=message_id, reaction=reaction, user_id=user_id, reaction_id=reaction_id, id=row_id,
            created=now,
        )
    )
    return ADDED, reaction_id, len(ids) + 1, mine_txn(conn, message_id, user_id)


def remove_reaction_txn(
    conn: Connection, message_id: int, reaction: str, user_id: int
) -> tuple[int, list[str]] | None:
    """Remove the user's `reaction` from the message: (how many users still have it, the user's
    reactions on the message now), or None when the user had not added it."""
    done = conn.execute(
        delete(R).where(R.c.message_id == message_id, R.c.reaction == reaction, R.c.user_id == user_id)
    )
    if not done.rowcount:
        return None
    return _count(conn, message_id, reaction), mine_txn(conn, message_id, user_id)


def reactions_of_txn(conn: Connection, message_ids: list[int], user_id: int | None, preview: int) -> list[Reaction]:
    """Every reaction on these messages, by message then in the order each was first added, with
    its count, whether user `user_id` added it and its first `preview` users."""
    totals = conn.execute(
        select(R.c.message_id, R.c.reaction, func.min(R.c.reaction_id), func.count(), func.min(R.c.id))
        .where(R.c.message_id.in_(message_ids))
        .group_by(R.c.message_id, R.c.reaction)
        .order_by(R.c.message_id, func.min(R.c.id))
    ).all()
    if not totals:
        return []
    mine: set[tuple[int, str]] = set()
    if user_id is not None:
        mine = {
            (m, r)
            for m, r in conn.execute(
                select(R.c.message_id, R.c.reaction).where(R.c.message_id.in_(message_ids), R.c.user_id == user_id)
            )
        }
    first: dict[tuple[int, str], list[str]] = {}
    if preview > 0:
        rank = (
            func.row_number().over(partition_by=(R.c.message_id, R.c.reaction), order_by=R.c.id).label("rank")
        )
        ranked = (
            select(R.c.message_id, R.c.reaction, R.c.id, users.c.username, rank)
            .join(users, users.c.id == R.c.user_id)
            .where(R.c.message_id.in_(message_ids))
            .subquery()
        )
        rows = conn.execute(
            select(ranked.c.message_id, ranked.c.reaction, ranked.c.username)
            .where(ranked.c.rank <= preview)
            .order_by(ranked.c.message_id, ranked.c.reaction, ranked.c.id)
        )
        for m, r, name in rows:
            first.setdefault((m, r), []).append(name)
    return [
        Reaction(m, r, int(rid), int(n), (m, r) in mine, first.get((m, r), []))
        for m, r, rid, n, _ in totals
    ]


def reaction_users_txn(
    conn: Connection, message_id: int, reaction: str, user_id: int | None, after: int | None, limit: int
) -> tuple[Reaction, list[tuple[int, str]]] | None:
    """One reaction on one message (None when nobody has it) and up to `limit` of its users in
    the order they added it, after row `after`: (row id, username) each."""
    where = and_(R.c.message_id == message_id, R.c.reaction == reaction)
    head = conn.execute(select(func.min(R.c.reaction_id), func.count()).where(where)).one()
    if not head[1]:
        return None
    state = user_id is not None and conn.execute(
        select(R.c.id).where(where, R.c.user_id == user_id)
    ).first() is not None
    query = select(R.c.id, users.c.username).join(users, users.c.id == R.c.user_id).where(where)
    if after is not None:
        query = query.where(R.c.id > after)
    rows = [(int(i), name) for i, name in conn.execute(query.order_by(R.c.id).limit(limit))]
    return Reaction(message_id, reaction, int(head[0]), int(head[1]), state, []), rows
