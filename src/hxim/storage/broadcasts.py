"""Broadcast jobs (Easemob's broadcast_to_* pages): starting one within the app's daily allowance,
reading its progress, the next batch of its targets, and moving its cursor together with the
batch's stored messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, update

from hxim.storage.messages import Stored, store_messages_txn
from hxim.storage.tables import apps, broadcasts, rooms, users

__all__ = [
    "Broadcast",
    "RUNNING",
    "FINISHED",
    "create_broadcast_txn",
    "broadcast_txn",
    "running_broadcasts_txn",
    "pending_broadcasts_txn",
    "users_after_txn",
    "chatrooms_after_txn",
    "advance_broadcast_txn",
    "end_broadcast_txn",
]

RUNNING = "running"
FINISHED = "finished"
_CHATROOM = "chatroom"  # rooms.kind of chat rooms


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One broadcast: what it sends (`sender`, `bodies`, `ext`), to which kind of targets, and
    how far it got."""

    id: int
    app_uuid: str
    kind: str
    sender: str
    bodies: list[dict[str, Any]]
    ext: dict[str, Any] | None
    cursor: str
    total: int
    done: int
    sent: int
    state: str
    created: int
    ended: int | None


def _broadcast(row: Any) -> Broadcast:
    doc = orjson.loads(row.message)
    return Broadcast(
        row.id, row.app_uuid, row.kind, doc["from"], doc["bodies"], doc.get("ext"), row.cursor, row.total,
        row.done, row.sent, row.state, row.created, row.ended,
    )


def _total(conn: Connection, app_uuid: str, kind: str) -> int:
    if kind == "chatrooms":
        query = select(func.count()).select_from(rooms).where(rooms.c.app_uuid == app_uuid, rooms.c.kind == _CHATROOM)
    else:
        query = select(func.count()).select_from(users).where(users.c.app_uuid == app_uuid)
    return int(conn.execute(query).scalar_one())


def create_broadcast_txn(conn: Connection, job: Broadcast, since: int, allowed: int) -> bool:
    """Record `job` (its `total` counted now) unless the app has started `allowed` broadcasts of
    its kind since `since` (0: no limit); False then. The app's row is locked meanwhile, so two
    requests cannot both take the last one."""
    conn.execute(select(apps.c.uuid).where(apps.c.uuid == job.app_uuid).with_for_update())
    if allowed:
        started = conn.execute(
            select(func.count()).select_from(broadcasts).where(
                broadcasts.c.app_uuid == job.app_uuid, broadcasts.c.kind == job.kind, broadcasts.c.created >= since
            )
        ).scalar_one()
        if started >= allowed:
            return False
    message: dict[str, Any] = {"from": job.sender, "bodies": job.bodies}
    if job.ext is not None:
        message["ext"] = job.ext
    conn.execute(
        insert(broadcasts).values(
            id=job.id, app_uuid=job.app_uuid, kind=job.kind, message=orjson.dumps(message).decode(), cursor="",
            total=_total(conn, job.app_uuid, job.kind), done=0, sent=0, state=RUNNING, created=job.created,
        )
    )
    return True


def broadcast_txn(conn: Connection, app_uuid: str, ident: int) -> Broadcast | None:
    row = conn.execute(select(broadcasts).where(broadcasts.c.id == ident, broadcasts.c.app_uuid == app_uuid)).first()
    return _broadcast(row) if row is not None else None


def running_broadcasts_txn(conn: Connection) -> list[Broadcast]:
    """Every broadcast not finished yet, of every app, oldest first."""
    rows = conn.execute(select(broadcasts).where(broadcasts.c.state == RUNNING).order_by(broadcasts.c.id))
    return [_broadcast(r) for r in rows]


def pending_broadcasts_txn(conn: Connection) -> tuple[int, int]:
    """How many broadcasts are not finished, and how many of their targets they have still to reach."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(broadcasts.c.total - broadcasts.c.done), 0)).where(
            broadcasts.c.state == RUNNING
        )
    ).one()
    return int(row[0]), max(int(row[1]), 0)


def users_after_txn(conn: Connection, app_uuid: str, after: int, limit: int) -> list[tuple[int, str]]:
    """(id, username) of up to `limit` users of the app with ids above `after`, in id order."""
    query = (
        select(users.c.id, users.c.username)
        .where(users.c.app_uuid == app_uuid, users.c.id > after)
        .order_by(users.c.id)
        .limit(limit)
    )
    return [(r.id, r.username) for r in conn.execute(query)]


def chatrooms_after_txn(conn: Connection, app_uuid: str, after: int, limit: int) -> list[int]:
    """The ids of up to `limit` chat rooms of the app above `after`, in order."""
    query = (
        select(rooms.c.id)
        .where(rooms.c.app_uuid == app_uuid, rooms.c.kind == _CHATROOM, rooms.c.id > after)
        .order_by(rooms.c.id)
        .limit(limit)
    )
    return [r.id for r in conn.execute(query)]


def advance_broadcast_txn(
    conn: Connection, ident: int, cursor: str, to: str, targets: int, batch: list[Stored]
) -> bool:
    """Move the broadcast's cursor from `cursor` to `to` past `targets` targets and store the
    batch's messages with their offline entries, all or nothing. False (nothing written) when
    the cursor is no longer at `cursor` or the broadcast is gone: someone else did this batch."""
    moved = conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == ident, broadcasts.c.cursor == cursor, broadcasts.c.state == RUNNING)
        .values(cursor=to, done=broadcasts.c.done + targets, sent=broadcasts.c.sent + len(batch))
    )
    if moved.rowcount != 1:
        return False
    store_messages_txn(conn, batch)
    return True


def end_broadcast_txn(conn: Connection, ident: int, cursor: str, ended: int) -> None:
    """The broadcast is done (its cursor still at `cursor`: nobody went on meanwhile)."""
    conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == ident, broadcasts.c.cursor == cursor, broadcasts.c.state == RUNNING)
        .values(state=FINISHED, ended=ended)
    )
