"""Callback rules and the outbox of post-send callbacks (docs/callbacks.md).

A rule change bumps the one row of `callback_version`, which every node compares with what it
loaded. An outbox row is one callback to one rule's URL: written in the transaction of what
caused it (a stored message: `store_messages_txn`), taken by a delivery worker for a while
(`due` moved past the try: a lease, so a worker that dies mid-try leaves it due again), deleted
once delivered, moved later after a failure, and kept as `failed` once its retry budget is spent.
Workers of several processes may claim at once: on PostgreSQL a claim skips the rows another
one is claiming (`FOR UPDATE SKIP LOCKED`), on SQLite claims are serialized by the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from hxim.storage.database import Query
from hxim.storage.tables import callback_outbox, callback_rules, callback_version

__all__ = [
    "OUTBOX_COLUMNS",
    "FAILED",
    "PENDING",
    "Claimed",
    "RuleRow",
    "add_rule_txn",
    "callbacks_version_txn",
    "claim_txn",
    "delivered_txn",
    "failed_slots_txn",
    "insert_outbox",
    "outbox_depth_txn",
    "outbox_insert_txn",
    "purge_failed_txn",
    "release_txn",
    "remove_rule_txn",
    "replay_slot_txn",
    "rules_changed_txn",
    "rules_txn",
    "tried_txn",
]

PENDING, FAILED = "pending", "failed"


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    app_uuid: str
    name: str
    kind: str
    url: str
    secret: bytes  # sealed
    events: str
    chat_types: str
    msg_types: str
    on_failure: str
    timeout_ms: int
    created: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row taken for one try."""

    id: int
    call_id: str
    stamp: int
    body: str
    created: int
    attempts: int
    retries: int
    target_url: str | None


def _bump(conn: Connection) -> None:
    if conn.execute(update(callback_version).values(version=callback_version.c.version + 1)).rowcount == 0:
        conn.execute(insert(callback_version).values(id=1, version=1))


def rules_changed_txn(conn: Connection) -> None:
    """Tell every node that an app's rules changed (they were written by other means: an import)."""
    _bump(conn)


def callbacks_version_txn(conn: Connection) -> int:
    return int(conn.execute(select(callback_version.c.version)).scalar() or 0)


def add_rule_txn(conn: Connection, values: dict[str, Any], per_app_max: int) -> str | None:
    """Add a rule; None, or why not: `exists` (the app has a rule of that name) or `full`."""
    app_uuid = values["app_uuid"]
    names = [r.name for r in conn.execute(select(callback_rules.c.name).where(callback_rules.c.app_uuid == app_uuid))]
    if values["name"] in names:
        return "exists"
    if len(names) >= per_app_max:
        return "full"
    conn.execute(insert(callback_rules).values(values))
    _bump(conn)
    return None


def remove_rule_txn(conn: Connection, app_uuid: str, name: str) -> bool:
    """Remove a rule (and what of its outbox is left); False when there is none of that name."""
    found = conn.execute(
        select(callback_rules.c.id).where(callback_rules.c.app_uuid == app_uuid, callback_rules.c.name == name)
    ).first()
    if found is None:
        return False
    conn.execute(delete(callback_outbox).where(callback_outbox.c.rule_id == found.id))
    conn.execute(delete(callback_rules).where(callback_rules.c.id == found.id))
    _bump(conn)
    return True


def rules_txn(conn: Connection, app_uuid: str | None = None) -> list[RuleRow]:
    """Every rule (of one app when given), by app and name."""
    query = select(*callback_rules.c).order_by(callback_rules.c.app_uuid, callback_rules.c.name)
    if app_uuid is not None:
        query = query.where(callback_rules.c.app_uuid == app_uuid)
    return [RuleRow(*row) for row in conn.execute(query)]


# --- the outbox -------------------------------------------------------------------------------------
# the columns a new outbox row is given (storage/messages.py writes them too, on the asyncpg pool)
OUTBOX_COLUMNS = ("rule_id", "call_id", "stamp", "body", "created", "due", "state")
_INSERT = Query(insert(callback_outbox).values({name: bindparam(name) for name in OUTBOX_COLUMNS}))


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Outbox rows (`rule_id`, `call_id`, `stamp`, `body`, `created`, `due`, `state`), inside the
    caller's transaction."""
    _INSERT.many(conn, rows)


def outbox_insert_txn(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_outbox(conn, rows)


_DUE = (
    select(
        callback_outbox.c.id, callback_outbox.c.call_id, callback_outbox.c.stamp, callback_outbox.c.body,
        callback_outbox.c.created, callback_outbox.c.attempts, callback_outbox.c.retries,
        callback_outbox.c.target_url,
    )
    .where(
        callback_outbox.c.rule_id == bindparam("rule"), callback_outbox.c.state == PENDING,
        callback_outbox.c.due <= bindparam("now"),
    )
    .order_by(callback_outbox.c.due, callback_outbox.c.id)
)
# (SQLite renders no FOR UPDATE: there BEGIN IMMEDIATE has the claim alone already)
_DUE_BY_LIMIT: dict[int, Query] = {}


# statements on lists of ids, run in chunks of at most _CHUNK (one compiled form per length)
_CHUNK = 256
_SET_DUE = Query(
    update(callback_outbox)
    .where(callback_outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(due=bindparam("due"))
)
_DELETE = Query(delete(callback_outbox).where(callback_outbox.c.id.in_(bindparam("ids", expanding=True))))


def claim_txn(conn: Connection, rule_id: int, now: int, lease_until: int, limit: int) -> list[Claimed]:
    """Up to `limit` callbacks of the rule due by `now`, oldest first, taken until `lease_until`."""
    query = _DUE_BY_LIMIT.get(limit)
    if query is None:
        query = _DUE_BY_LIMIT[limit] = Query(_DUE.limit(limit).with_for_update(skip_locked=True))
    found = [Claimed(*row) for row in query.all(conn, rule=rule_id, now=now)]
    if found:
        release_txn(conn, [c.id for c in found], lease_until)
    return found


def release_txn(conn: Connection, ids: list[int], due: int) -> None:
    """Callbacks taken: due (again) at `due`. Released (the worker stops, their rule is backed
    off), or their lease extended (they wait to be sent)."""
    for i in range(0, len(ids), _CHUNK):
        _SET_DUE.execute(conn, ids=ids[i : i + _CHUNK], due=due)


def delivered_txn(conn: Connection, ids: list[int]) -> None:
    for i in range(0, len(ids), _CHUNK):
        _DELETE.execute(conn, ids=ids[i : i + _CHUNK])


_TRIED = Query(
    update(callback_outbox)
    .where(callback_outbox.c.id == bindparam("ident"))
    .values(due=bindparam("due"), attempts=bindparam("attempts"), state=bindparam("state"), error=bindparam("error"))
)


def tried_txn(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Failed tries: `ident`, the next `due`, `attempts`, `state` (pending, or failed for good), `error`."""
    _TRIED.many(conn, rows)


_SLOT_MS = 600_000  # Easemob's date keys: ten-minute slices


def failed_slots_txn(conn: Connection, app_uuid: str) -> list[tuple[int, int, int]]:
    """The app's failed callbacks by ten-minute slice of their creation: (slice start ms, how
    many, replays asked for so far), oldest first."""
    slot = (callback_outbox.c.created // _SLOT_MS).label("slot")
    query = (
        select(slot, func.count(), func.max(callback_outbox.c.retries))
        .join(callback_rules, callback_rules.c.id == callback_outbox.c.rule_id)
        .where(callback_rules.c.app_uuid == app_uuid, callback_rules.c.kind == "post",
               callback_outbox.c.state == FAILED)
        .group_by(slot)
        .order_by(slot)
    )
    return [(int(s) * _SLOT_MS, int(n), int(r or 0)) for s, n, r in conn.execute(query)]


def replay_slot_txn(conn: Connection, app_uuid: str, start: int, target_url: str | None, now: int) -> int:
    """Make the app's failed callbacks created in the ten minutes from `start` due now (each tried
    once more, to `target_url` when given); how many."""
    rule_ids = select(callback_rules.c.id).where(callback_rules.c.app_uuid == app_uuid).scalar_subquery()
    result = conn.execute(
        update(callback_outbox)
        .where(
            callback_outbox.c.rule_id.in_(rule_ids), callback_outbox.c.state == FAILED,
            callback_outbox.c.created >= start, callback_outbox.c.created < start + _SLOT_MS,
        )
        .values(state=PENDING, due=now, retries=callback_outbox.c.retries + 1, target_url=target_url)
    )
    return int(result.rowcount)


def purge_failed_txn(conn: Connection, before: int) -> int:
    """Forget failed callbacks created before `before` (ms); how many."""
    result = conn.execute(
        delete(callback_outbox).where(callback_outbox.c.state == FAILED, callback_outbox.c.created < before)
    )
    return int(result.rowcount)


def outbox_depth_txn(conn: Connection) -> dict[str, int]:
    """Post-send callbacks in the outbox by state: `pending` (to be sent) and `failed` (given up)."""
    found = dict.fromkeys((PENDING, FAILED), 0)
    rows = conn.execute(select(callback_outbox.c.state, func.count()).group_by(callback_outbox.c.state))
    for state, count in rows:
        found[state] = int(count)
    return found
