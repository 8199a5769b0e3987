"""Queries on stored messages and the offline queue that points into them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select

from hxim.model import Message
from hxim.storage.database import Query
from hxim.storage.tables import messages, offline

__all__ = [
    "store_messages_txn",
    "store_message_groups_txn",
    "offline_count_txn",
    "offline_pending_txn",
    "offline_messages_txn",
    "offline_remove_txn",
    "message_exists_txn",
    "history_txn",
]


_INSERT_MESSAGE = insert(messages)
_INSERT_OFFLINE = insert(offline)
_OFFLINE_COUNT = Query(select(func.count()).select_from(offline).where(offline.c.user_id == bindparam("user")))
_OFFLINE_PENDING = select(offline.c.message_id).where(
    offline.c.user_id == bindparam("user"), offline.c.message_id == bindparam("message")
)


def _row(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "app_uuid": str(m.app_uuid),
        "chat_type": m.chat_type,
        "sender": m.sender,
        "recipient": m.to,
        "timestamp": m.timestamp,
        "payload": orjson.dumps(m.payload()).decode(),
    }


def _message(row: Any) -> Message:
    payload = orjson.loads(row.payload)
    return Message(
        id=row.id,
        app_uuid=uuid.UUID(row.app_uuid),
        chat_type=row.chat_type,
        sender=row.sender,
        to=row.recipient,
        timestamp=row.timestamp,
        bodies=payload.get("bodies", []),
        ext=payload.get("ext"),
    )


def store_messages_txn(conn: Connection, batch: list[tuple[Message, list[int]]]) -> None:
    """Store each message once, with an offline entry for each of its user ids."""
    conn.execute(_INSERT_MESSAGE, [_row(m) for m, _ in batch])
    entries = [{"user_id": uid, "message_id": m.id} for m, uids in batch for uid in uids]
    if entries:
        conn.execute(_INSERT_OFFLINE, entries)


def store_message_groups_txn(conn: Connection, groups: list[list[tuple[Message, list[int]]]]) -> None:
    """`store_messages_txn` for the requests of one group commit."""
    store_messages_txn(conn, [entry for group in groups for entry in group])


def offline_count_txn(conn: Connection, user_id: int) -> int:
    return int(_OFFLINE_COUNT.scalar(conn, user=user_id))


def offline_pending_txn(conn: Connection, user_id: int, message_id: int) -> bool:
    return (
        conn.execute(_OFFLINE_PENDING, {"user": user_id, "message": message_id}).first()
        is not None
    )


def offline_messages_txn(conn: Connection, user_id: int, limit: int) -> list[Message]:
    rows = conn.execute(
        select(messages)
        .join(offline, offline.c.message_id == messages.c.id)
        .where(offline.c.user_id == user_id)
        .order_by(messages.c.id)
        .limit(limit)
    )
    return [_message(r) for r in rows]


def offline_remove_txn(conn: Connection, user_id: int, message_ids: list[int]) -> None:
    conn.execute(delete(offline).where(offline.c.user_id == user_id, offline.c.message_id.in_(message_ids)))


def message_exists_txn(conn: Connection, app_uuid: str, message_id: int) -> bool:
    return (
        conn.execute(select(messages.c.id).where(messages.c.id == message_id, messages.c.app_uuid == app_uuid)).first()
        is not None
    )


def history_txn(
    conn: Connection,
    app_uuid: str,
    conditions: list[tuple[str, int]],
    descending: bool,
    after: tuple[int, int] | None,
    limit: int,
) -> list[Message]:
    """Messages of the app matching timestamp `conditions` ((op, value) pairs, all must hold),
    ordered by (timestamp, id), starting after the position `after`."""
    query = select(messages).where(messages.c.app_uuid == app_uuid)
    ts = messages.c.timestamp
    for op, value in conditions:
        query = query.where(
            {"<": ts < value, "<=": ts <= value, ">": ts > value, ">=": ts >= value, "=": ts == value}[op]
        )
    if after is not None:
        t, ident = after
        if descending:
            query = query.where(or_(ts < t, and_(ts == t, messages.c.id < ident)))
        else:
            query = query.where(or_(ts > t, and_(ts == t, messages.c.id > ident)))
    order = (ts.desc(), messages.c.id.desc()) if descending else (ts, messages.c.id)
    return [_message(r) for r in conn.execute(query.order_by(*order).limit(limit))]
