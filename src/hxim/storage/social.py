"""Queries on the user-to-user lists: contacts (friends), friend requests still unanswered, and blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from hxim.model import User
from hxim.storage.database import Query, insert_ignore
from hxim.storage.tables import blocks, contact_requests, contacts, jid_blocks, users
from hxim.storage.users import get_user_txn, get_users_by_ids_txn, get_users_by_keys_txn

if TYPE_CHECKING:
    from hxim.storage.native import Native

__all__ = [
    "add_contact_pairs_txn",
    "add_contact_pairs_native",
    "remove_contact_pair_txn",
    "contact_names_txn",
    "roster_txn",
    "ties_txn",
    "block_count_txn",
    "contact_counts_txn",
    "contact_counts_native",
    "add_blocks_txn",
    "blocking_owners_txn",
    "remove_block_txn",
    "block_names_txn",
    "blocked_by_txn",
    "is_contact_txn",
    "add_request_txn",
    "remove_request_txn",
    "has_request_txn",
    "request_count_txn",
    "remove_blocks_txn",
    "contact_page_txn",
    "contact_keys_txn",
    "set_remark_txn",
    "remove_all_contacts_txn",
    "copy_list_txn",
]


_BLOCKERS = Query(
    select(blocks.c.owner_id).where(
        blocks.c.blocked_id == bindparam("sender"), blocks.c.owner_id.in_(bindparam("owners", expanding=True))
    )
)
_CONTACT_COUNTS = Query(
    select(contacts.c.owner_id, func.count())
    .where(contacts.c.owner_id.in_(bindparam("owners", expanding=True)))
    .group_by(contacts.c.owner_id)
)
_BLOCK_COUNT = select(func.count()).select_from(blocks).where(blocks.c.owner_id == bindparam("owner"))


_NAMES = {
    (table.name, other): Query(
        select(users.c.username)
        .join(table, table.c[other] == users.c.id)
        .where(table.c.owner_id == bindparam("owner"))
        .order_by(table.c.created, users.c.id)
    )
    for table, other in ((contacts, "contact_id"), (blocks, "blocked_id"))
}


def _names(conn: Connection, table: Table, other: str, owner_id: int) -> list[str]:
    return [row[0] for row in _NAMES[(table.name, other)].all(conn, owner=owner_id)]


def _named(table: Table, other: str, kind: int) -> Any:
    return (
        select(
            literal_column(str(kind)).label("kind"),
            users.c.username.label("name"),
            table.c.created.label("created"),
            users.c.id.label("id"),
        )
        .join(table, table.c[other] == users.c.id)
        .where(table.c.owner_id == bindparam("owner"))
    )


# contacts (kind 0) and the requests still unanswered (kind 1), each oldest first: one statement
_ROSTER = Query(
    union_all(_named(contacts, "contact_id", 0), _named(contact_requests, "target_id", 1)).order_by(
        "kind", "created", "id"
    )
)


def block_count_txn(conn: Connection, owner_id: int) -> int:
    return conn.execute(_BLOCK_COUNT, {"owner": owner_id}).scalar_one()


def _missing_pairs(conn: Connection, table: Table, other: str, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for owner, target in pairs:
        hit = conn.execute(
            select(table.c.owner_id).where(table.c.owner_id == owner, table.c[other] == target)
        ).first()
        if hit is None:
            out.append((owner, target))
    return out


def contact_counts_txn(conn: Connection, owner_ids: list[int]) -> dict[int, int]:
    """How many contacts each of `owner_ids` has (absent: none)."""
    return {owner: count for owner, count in _CONTACT_COUNTS.all(conn, owners=owner_ids)}


async def contact_counts_native(native: Native, owner_ids: list[int]) -> dict[int, int]:
    """`contact_counts_txn` on the asyncpg pool."""
    return {owner: count for owner, count in await native.fetch(_CONTACT_COUNTS, owners=owner_ids)}


def add_contact_pairs_txn(conn: Connection, pairs: list[tuple[int, int, int]]) -> None:
    """Make each `(a, b, now)` pair contacts of each other (idempotent: a contact already there
    keeps its date). One call holds every add of a group commit."""
    rows = [
        {"owner_id": owner, "contact_id": target, "created": now}
        for a, b, now in pairs
        for owner, target in ((a, b), (b, a))
    ]
    conn.execute(insert_ignore(conn, contacts), rows)
    # a friendship answers every request between the two, whichever way it was made
    pair = tuple_(contact_requests.c.owner_id, contact_requests.c.target_id)
    conn.execute(delete(contact_requests).where(pair.in_([(r["owner_id"], r["contact_id"]) for r in rows])))


_PAIR_OWNERS = bindparam("owners", type_=ARRAY(contacts.c.owner_id.type))
_PAIR_TARGETS = bindparam("targets", type_=ARRAY(contacts.c.contact_id.type))
_PAIRS = func.unnest(_PAIR_OWNERS, _PAIR_TARGETS).table_valued("owner_id", "target_id").render_derived()
# PostgreSQL, on the asyncpg pool: `add_contact_pairs_txn` in one statement
_ADD_PAIRS = Query(
    select(literal_column("1")).add_cte(
        postgresql.insert(contacts)
        .from_select(
            ["owner_id", "contact_id", "created"],
            select(
                func.unnest(
                    _PAIR_OWNERS, _PAIR_TARGETS, bindparam("created", type_=ARRAY(contacts.c.created.type))
                ).table_valued("owner_id", "contact_id", "created").render_derived()
            ),
        )
        .on_conflict_do_nothing()
        .cte("added"),
        delete(contact_requests)
        .where(
            tuple_(contact_requests.c.owner_id, contact_requests.c.target_id).in_(
                select(_PAIRS.c.owner_id, _PAIRS.c.target_id)
            )
        )
        .cte("answered"),
    )
)


async def add_contact_pairs_native(native: Native, pairs: list[tuple[int, int, int]]) -> None:
    """`add_contact_pairs_txn` on the asyncpg pool, in one statement (the same rows, in the same order)."""
    owners: list[int] = []
    targets: list[int] = []
    created: list[int] = []
    for a, b, now in pairs:
        owners += (a, b)
        targets += (b, a)
        created += (now, now)
    await native.execute(_ADD_PAIRS, owners=owners, targets=targets, created=created)


def copy_list_txn(
    conn: Connection, app_uuid: str, owner: str, names: list[str], which: str, now: int
) -> tuple[int, list[str]] | None:
    """Put the users `names` on `owner`'s contacts (`which` "contacts": that direction only, as
    another server stored it) or blocks ("blocks"), those not there yet: (how many were added,
    the names that are no user of the app). None when `owner` is no user of the app."""
    found = get_user_txn(conn, app_uuid, owner.lower())
    if found is None:
        return None
    table, other = (contacts, "contact_id") if which == "contacts" else (blocks, "blocked_id")
    known = {u.key: u.id for u in get_users_by_keys_txn(conn, app_uuid, list({n.lower() for n in names}))}
    unknown = [n for n in names if n.lower() not in known]
    targets = list(dict.fromkeys(known[n.lower()] for n in names if known.get(n.lower(), found.id) != found.id))
    missing = _missing_pairs(conn, table, other, [(found.id, t) for t in targets])
    if missing:
        conn.execute(insert_ignore(conn, table), [{"owner_id": o, other: t, "created": now} for o, t in missing])
    return len(missing), unknown


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


def contact_page_txn(
    conn: Connection, owner_id: int, limit: int, before: tuple[int, int] | None
) -> list[tuple[str, str | None, int, int]]:
    """`owner`'s contacts newest first, from the (created, contact id) position `before` on:
    (username, remark, created, contact id)."""
    query = (
        select(users.c.username, contacts.c.remark, contacts.c.created, contacts.c.contact_id)
        .join(contacts, contacts.c.contact_id == users.c.id)
        .where(contacts.c.owner_id == owner_id)
    )
    if before is not None:
        created, ident = before
        query = query.where(
            or_(contacts.c.created < created, and_(contacts.c.created == created, contacts.c.contact_id < ident))
        )
    query = query.order_by(contacts.c.created.desc(), contacts.c.contact_id.desc()).limit(limit)
    return [(name, remark, created, ident) for name, remark, created, ident in conn.execute(query)]


def contact_keys_txn(conn: Connection, owner_id: int, keys: list[str]) -> set[str]:
    """Which of the (case-folded) usernames `keys` are `owner`'s contacts."""
    if not keys:
        return set()
    query = (
        select(users.c.username_key)
        .join(contacts, contacts.c.contact_id == users.c.id)
        .where(contacts.c.owner_id == owner_id, users.c.username_key.in_(keys))
    )
    return {row[0] for row in conn.execute(query)}


def set_remark_txn(conn: Connection, owner_id: int, contact_id: int, remark: str) -> bool:
    """`owner`'s remark on their contact; False when the two are not contacts."""
    stmt = (
        update(contacts)
        .where(contacts.c.owner_id == owner_id, contacts.c.contact_id == contact_id)
        .values(remark=remark)
    )
    return bool(conn.execute(stmt).rowcount)


def remove_all_contacts_txn(conn: Connection, owner_id: int) -> list[User]:
    """End every friendship of `owner` (both sides' rows, remarks with them); returns the former
    contacts, oldest first."""
    mine = select(contacts.c.contact_id.label("other"), contacts.c.created).where(contacts.c.owner_id == owner_id)
    theirs = select(contacts.c.owner_id.label("other"), contacts.c.created).where(contacts.c.contact_id == owner_id)
    ids = list(dict.fromkeys(row[0] for row in conn.execute(union_all(mine, theirs).order_by("created", "other"))))
    if not ids:
        return []
    conn.execute(delete(contacts).where(or_(contacts.c.owner_id == owner_id, contacts.c.contact_id == owner_id)))
    found = get_users_by_ids_txn(conn, ids)
    return [found[i] for i in ids if i in found]


def roster_txn(conn: Connection, owner_id: int) -> tuple[list[str], list[str]]:
    """`owner`'s contacts and the users they asked to be friends with and who have not answered
    yet, each oldest first, in one statement (what an XMPP login needs)."""
    rows = _ROSTER.all(conn, owner=owner_id)
    return [name for kind, name, *_ in rows if kind == 0], [name for kind, name, *_ in rows if kind == 1]


def ties_txn(conn: Connection, user_ids: list[int]) -> list[tuple[bool, User, int]]:
    """Who has one of `user_ids` on their lists: `(False, owner, id)` for a contact, `(True,
    requester, id)` for a request still unanswered. Owners among `user_ids` are left out."""
    found = [
        (kind, owner, other)
        for table, other_col, kind in ((contacts, "contact_id", False), (contact_requests, "target_id", True))
        for owner, other in conn.execute(
            select(table.c.owner_id, table.c[other_col]).where(
                table.c[other_col].in_(user_ids), table.c.owner_id.not_in(user_ids)
            )
        )
    ]
    owners = get_users_by_ids_txn(conn, sorted({owner for _, owner, _ in found}))
    return [(kind, owners[owner], other) for kind, owner, other in found if owner in owners]


def add_blocks_txn(conn: Connection, owner_id: int, blocked_ids: list[int], now: int) -> None:
    missing = _missing_pairs(conn, blocks, "blocked_id", [(owner_id, b) for b in blocked_ids])
    if missing:
        rows = [{"owner_id": o, "blocked_id": t, "created": now} for o, t in missing]
        conn.execute(insert_ignore(conn, blocks), rows)


def remove_block_txn(conn: Connection, owner_id: int, blocked_id: int) -> None:
    conn.execute(delete(blocks).where(blocks.c.owner_id == owner_id, blocks.c.blocked_id == blocked_id))


def remove_blocks_txn(conn: Connection, owner_id: int, blocked_ids: list[int]) -> None:
    conn.execute(delete(blocks).where(blocks.c.owner_id == owner_id, blocks.c.blocked_id.in_(blocked_ids)))


def block_names_txn(conn: Connection, owner_id: int) -> list[str]:
    return _names(conn, blocks, "blocked_id", owner_id)


def blocking_owners_txn(conn: Connection) -> set[int]:
    """Ids of the users who block anyone."""
    return {row[0] for row in conn.execute(select(blocks.c.owner_id).distinct())}


def blocked_by_txn(conn: Connection, sender_id: int, owner_ids: list[int]) -> set[int]:
    """Which of `owner_ids` have blocked `sender_id`."""
    if not owner_ids:
        return set()
    return {row[0] for row in _BLOCKERS.all(conn, sender=sender_id, owners=owner_ids)}


def jid_blocks_txn(conn: Connection, owner_id: int) -> list[str]:
    """The addresses (not users of the app) `owner` blocks, in the order they were blocked."""
    stmt = select(jid_blocks.c.jid).where(jid_blocks.c.owner_id == owner_id).order_by(jid_blocks.c.created)
    return [row[0] for row in conn.execute(stmt)]


def add_jid_blocks_txn(conn: Connection, owner_id: int, jids: list[str], now: int) -> None:
    rows = [{"owner_id": owner_id, "jid": jid, "created": now} for jid in jids]
    if rows:
        conn.execute(insert_ignore(conn, jid_blocks), rows)


def remove_jid_blocks_txn(conn: Connection, owner_id: int, jids: list[str] | None) -> list[str]:
    """Unblock `jids` (None: all of them); returns those that were blocked."""
    where = [jid_blocks.c.owner_id == owner_id]
    if jids is not None:
        where.append(jid_blocks.c.jid.in_(jids))
    gone = [row[0] for row in conn.execute(select(jid_blocks.c.jid).where(*where))]
    if gone:
        conn.execute(delete(jid_blocks).where(*where))
    return gone


# --- friend requests still unanswered ---------------------------------------------------------------
def add_request_txn(conn: Connection, owner_id: int, target_id: int, now: int) -> bool:
    """Record `owner`'s request to `target`; False when it was already pending."""
    row = {"owner_id": owner_id, "target_id": target_id, "created": now}
    return bool(conn.execute(insert_ignore(conn, contact_requests), row).rowcount)


def remove_request_txn(conn: Connection, owner_id: int, target_id: int) -> bool:
    """Forget `owner`'s request to `target`; False when there was none."""
    stmt = delete(contact_requests).where(
        contact_requests.c.owner_id == owner_id, contact_requests.c.target_id == target_id
    )
    return bool(conn.execute(stmt).rowcount)


def has_request_txn(conn: Connection, owner_id: int, target_id: int) -> bool:
    stmt = select(contact_requests.c.owner_id).where(
        contact_requests.c.owner_id == owner_id, contact_requests.c.target_id == target_id
    )
    return conn.execute(stmt).first() is not None


def request_count_txn(conn: Connection, owner_id: int) -> int:
    stmt = select(func.count()).select_from(contact_requests).where(contact_requests.c.owner_id == owner_id)
    return conn.execute(stmt).scalar_one()
