"""Queries on stored messages and the offline queue that points into them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from hxim.model import Message, User
from hxim.storage.callbacks import OUTBOX_COLUMNS, insert_outbox
from hxim.storage.database import Query, insert_ignore
from hxim.storage.roaming import visible_to
from hxim.storage.tables import callback_outbox, messages, offline, users
from hxim.storage.users import _ENTITY_COLUMNS, _user

if TYPE_CHECKING:
    from hxim.storage.native import Native

__all__ = [
    "Stored",
    "store_messages_txn",
    "store_message_groups_txn",
    "store_message_groups_native",
    "offline_delivered_native",
    "offline_count_txn",
    "user_offline_count_native",
    "offline_pending_txn",
    "offline_messages_txn",
    "offline_remove_txn",
    "offline_restore_txn",
    "message_exists_txn",
    "message_txn",
    "recall_message_txn",
    "rewrite_message_txn",
    "history_txn",
    "NEWEST",
    "Slice",
    "conversation_txn",
    "conversation_heads_txn",
    "offline_by_conversation_txn",
]


_INSERT_MESSAGE = Query(insert(messages).values({c.name: bindparam(c.name) for c in messages.c}))
_INSERT_OFFLINE = Query(insert(offline).values(user_id=bindparam("user_id"), message_id=bindparam("message_id")))
_OFFLINE_COUNT = Query(select(func.count()).select_from(offline).where(offline.c.user_id == bindparam("user")))
_OFFLINE_SELECT = (
    select(*messages.c)
    .join(offline, offline.c.message_id == messages.c.id)
    .where(offline.c.user_id == bindparam("user"), offline.c.message_id > bindparam("after"))
    .order_by(messages.c.id)
)
_OFFLINE_MESSAGES: dict[int, Query] = {}  # by LIMIT (in practice the one `xmpp_offline_batch`)
_OFFLINE_PENDING = select(offline.c.message_id).where(
    offline.c.user_id == bindparam("user"), offline.c.message_id == bindparam("message")
)


_UUID_TEXT: dict[int, str] = {}  # an app's uuid as stored, by its int (UUID's __str__ and __hash__ are Python code)


def _uuid_text(u: uuid.UUID) -> str:
    text = _UUID_TEXT.get(u.int)
    if text is None:
        if len(_UUID_TEXT) > 4096:
            _UUID_TEXT.clear()
        text = _UUID_TEXT[u.int] = str(u)
    return text


def _row(m: Message) -> dict[str, Any]:
    doc = m.payload()
    if m.only is not None:  # who reads it back: kept beside the payload, never shown with it
        doc["only"] = m.only
    if m.hidden:
        doc["hidden"] = m.hidden
    if m.xml:
        doc["xml"] = m.xml
    return {
        "id": m.id,
        "app_uuid": _uuid_text(m.app_uuid),
        "chat_type": m.chat_type,
        "sender": m.sender,
        "recipient": m.to,
        "timestamp": m.timestamp,
        "payload": orjson.dumps(doc).decode(),
    }


def _message(row: Any) -> Message:
    """A Message from a row of every `messages` column in table order (a Row or a plain tuple)."""
    ident, app_uuid, chat_type, sender, to, stamp, payload = row[:7]
    doc = orjson.loads(payload)
    only = doc.get("only")
    return Message(
        ident, uuid.UUID(app_uuid), chat_type, sender, to, stamp, doc.get("bodies", []), doc.get("ext"),
        tuple(only) if only is not None else None, tuple(doc.get("hidden", ())), doc.get("edited"), doc.get("xml"),
    )


class Stored(NamedTuple):
    """A message to store, the users (ids) it waits offline for, and the post-send callbacks it
    causes (outbox rows: `storage.callbacks.insert_outbox`), all written in one transaction."""

    message: Message
    offline: list[int]
    callbacks: tuple[dict[str, Any], ...] = ()


def store_messages_txn(conn: Connection, batch: list[Stored]) -> None:
    """Store each message once, with an offline entry for each of its user ids and its callbacks."""
    _INSERT_MESSAGE.many(conn, [_row(e.message) for e in batch])
    _INSERT_OFFLINE.many(conn, [{"user_id": uid, "message_id": e.message.id} for e in batch for uid in e.offline])
    outbox = [row for e in batch for row in e.callbacks]
    if outbox:
        insert_outbox(conn, outbox)


def store_message_groups_txn(conn: Connection, groups: list[list[Stored]]) -> None:
    """`store_messages_txn` for the requests of one group commit."""
    store_messages_txn(conn, [entry for group in groups for entry in group])


def _unnest_insert(table: Table, columns: list[str], prefix: str) -> Any:
    """INSERT INTO table (columns) SELECT * FROM unnest($…[], …): one row per index of the arrays
    bound as `{prefix}{column}`, in their order."""
    arrays = [bindparam(prefix + name, type_=ARRAY(table.c[name].type)) for name in columns]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived()
    return insert(table).from_select(columns, select(rows)).cte(prefix + "rows")


_MESSAGE_COLUMNS = [c.name for c in messages.c]
# PostgreSQL, on the asyncpg pool: a group commit's messages, offline entries and callbacks (outbox
# rows) in one statement, one round trip, rows in the order the sync path inserts them
_STORE_ALL = Query(
    select(literal_column("1")).add_cte(
        _unnest_insert(messages, _MESSAGE_COLUMNS, "m_"),
        _unnest_insert(offline, ["user_id", "message_id"], "o_"),
        _unnest_insert(callback_outbox, list(OUTBOX_COLUMNS), "c_"),
    )
)


async def store_message_groups_native(native: Native, groups: list[list[Stored]]) -> None:
    """`store_message_groups_txn` on the asyncpg pool, in one statement."""
    batch = [entry for group in groups for entry in group]
    params: dict[str, list[Any]] = {f"m_{name}": [] for name in _MESSAGE_COLUMNS}
    columns = [params[f"m_{name}"] for name in _MESSAGE_COLUMNS]
    for entry in batch:
        row = _row(entry.message)
        for name, column in zip(_MESSAGE_COLUMNS, columns, strict=True):
            column.append(row[name])
    params["o_user_id"] = [uid for e in batch for uid in e.offline]
    params["o_message_id"] = [e.message.id for e in batch for _ in e.offline]
    outbox = [row for e in batch for row in e.callbacks]
    for name in OUTBOX_COLUMNS:
        params[f"c_{name}"] = [row[name] for row in outbox]
    await native.execute(_STORE_ALL, **params)


def offline_count_txn(conn: Connection, user_id: int) -> int:
    return int(_OFFLINE_COUNT.scalar(conn, user=user_id))


_COUNTED = select(func.count()).select_from(offline).where(offline.c.user_id == users.c.id).scalar_subquery()
_USER_COUNT_BY_KEY = Query(
    select(*_ENTITY_COLUMNS, _COUNTED).where(
        users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key")
    )
)
_USER_COUNT_BY_UUID = Query(
    select(*_ENTITY_COLUMNS, _COUNTED).where(users.c.app_uuid == bindparam("app"), users.c.uuid == bindparam("uuid"))
)


async def user_offline_count_native(
    native: Native, app_uuid: str, key: str | None, user_uuid: str | None = None
) -> tuple[User, int] | None:
    """A user (by case-folded name `key`, or by `user_uuid`) and how many offline messages wait for
    them, in one read on the asyncpg pool: `get_user_txn` and `offline_count_txn` at once. None:
    no such user."""
    if user_uuid is not None:
        row = await native.fetchrow(_USER_COUNT_BY_UUID, app=app_uuid, uuid=user_uuid)
    else:
        row = await native.fetchrow(_USER_COUNT_BY_KEY, app=app_uuid, key=key)
    return (_user(row), int(row[10])) if row is not None else None


def offline_pending_txn(conn: Connection, user_id: int, message_id: int) -> bool:
    return (
        conn.execute(_OFFLINE_PENDING, {"user": user_id, "message": message_id}).first()
        is not None
    )


def offline_messages_txn(conn: Connection, user_id: int, limit: int, after: int = 0) -> list[Message]:
    """The user's offline messages with ids above `after`, oldest first."""
    query = _OFFLINE_MESSAGES.get(limit)
    if query is None:
        query = _OFFLINE_MESSAGES[limit] = Query(_OFFLINE_SELECT.limit(limit))
    return [_message(row) for row in query.all(conn, user=user_id, after=after)]


def offline_remove_txn(conn: Connection, user_id: int, message_ids: list[int]) -> None:
    conn.execute(delete(offline).where(offline.c.user_id == user_id, offline.c.message_id.in_(message_ids)))


_DELIVERED_PG = text(
    "DELETE FROM offline WHERE (user_id, message_id) IN "
    "(SELECT * FROM unnest(CAST(:u AS bigint[]), CAST(:m AS bigint[])))"
)


_DELIVERED_NATIVE = Query(_DELIVERED_PG)


async def offline_delivered_native(native: Native, entries: list[tuple[int, int]]) -> None:
    """`offline_delivered_txn` on the asyncpg pool (PostgreSQL's one statement)."""
    if entries:
        await native.execute(_DELIVERED_NATIVE, u=[u for u, _ in entries], m=[m for _, m in entries])


def offline_delivered_txn(conn: Connection, entries: list[tuple[int, int]]) -> None:
    """Remove offline entries `(user id, message id)`: their messages reached a session (one
    statement for the lot on PostgreSQL)."""
    if not entries:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_DELIVERED_PG, {"u": [u for u, _ in entries], "m": [m for _, m in entries]})
        return
    conn.execute(
        delete(offline).where(offline.c.user_id == bindparam("u"), offline.c.message_id == bindparam("m")),
        [{"u": u, "m": m} for u, m in entries],
    )


def message_txn(conn: Connection, app_uuid: str, message_id: int) -> Message | None:
    row = conn.execute(select(messages).where(messages.c.id == message_id, messages.c.app_uuid == app_uuid)).first()
    return _message(row) if row is not None else None


def rewrite_message_txn(conn: Connection, app_uuid: str, edits: int, new: Message) -> bool:
    """Replace a message's content with `new`'s if it has been edited `edits` times so far (the
    row locked meanwhile); False when it is gone or someone edited it first."""
    row = conn.execute(
        select(messages.c.payload).where(messages.c.id == new.id, messages.c.app_uuid == app_uuid).with_for_update()
    ).first()
    if row is None or (orjson.loads(row.payload).get("edited") or {}).get("count", 0) != edits:
        return False
    conn.execute(update(messages).where(messages.c.id == new.id).values(payload=_row(new)["payload"]))
    return True


def recall_message_txn(conn: Connection, message_id: int, user_ids: list[int]) -> list[int]:
    """Delete a message and its offline entries for `user_ids` (its recipients); the ids of the
    users whose entry was still there (they never received it)."""
    pending = [
        r.user_id
        for r in conn.execute(
            select(offline.c.user_id).where(offline.c.user_id.in_(user_ids), offline.c.message_id == message_id)
        )
    ] if user_ids else []
    if pending:
        conn.execute(delete(offline).where(offline.c.user_id.in_(pending), offline.c.message_id == message_id))
    conn.execute(delete(messages).where(messages.c.id == message_id))
    return pending


def offline_restore_txn(conn: Connection, entries: list[tuple[int, int]]) -> None:
    """Offline entries `(user id, message id)` again (entries still there stay as they are)."""
    if entries:
        conn.execute(insert_ignore(conn, offline), [{"user_id": u, "message_id": m} for u, m in entries])


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


@dataclass(frozen=True, slots=True)
class Slice:
    """Which part of a conversation to read: from `start` (a message id, not included; None: the
    newest, or with `ascending` the oldest), in which direction, and only what matches: sent in
    [`since`, `until`] (ms), by `sender_key` (case-folded), of a body type in `types`."""

    start: int | None = None
    ascending: bool = False
    since: int | None = None
    until: int | None = None
    sender_key: str | None = None
    types: frozenset[str] | None = None

    def keeps(self, message: Message, reader: str) -> bool:
        if not message.roams_to(reader):
            return False
        if self.types is not None:
            kind = message.bodies[0].get("type") if message.bodies and isinstance(message.bodies[0], dict) else None
            return kind in self.types
        return True


NEWEST = Slice()


def _past(end: int, ascending: bool) -> ColumnElement[bool]:
    return messages.c.id > end if ascending else messages.c.id < end


def conversation_txn(
    conn: Connection,
    app_uuid: str,
    sides: list[tuple[str, str | None]],
    chat_types: tuple[str, ...],
    part: Slice,
    limit: int,
    reader: str,
    reader_id: int,
    conversation: str,
) -> list[Message]:
    """Up to `limit` messages of one conversation, as user `reader` reads it back: the `part`
    asked for, newest first (oldest first when `part.ascending`).

    `sides` are (recipient, sender key or None for any sender): a 1:1 chat has two (each user
    as the recipient of the other, senders compared case-folded, as REST `from` keeps the case
    its caller wrote), a group one. Each side is range scans of the (app_uuid, recipient, id)
    index, past the messages the reader does not see (`conversation` names it for what the
    reader deleted of it: storage/roaming.py); the sides are merged here.
    """
    found: dict[int, Message] = {}
    visible = visible_to(conn, reader_id, conversation)
    order = messages.c.id if part.ascending else messages.c.id.desc()
    for recipient, sender_key in sides:
        query = select(messages).where(
            messages.c.app_uuid == app_uuid,
            messages.c.recipient == recipient,
            messages.c.chat_type.in_(chat_types),
            *visible,
        )
        if sender_key is not None:
            query = query.where(func.lower(messages.c.sender) == sender_key)
        if part.sender_key is not None:
            query = query.where(func.lower(messages.c.sender) == part.sender_key)
        if part.since is not None:
            query = query.where(messages.c.timestamp >= part.since)
        if part.until is not None:
            query = query.where(messages.c.timestamp <= part.until)
        end, kept = part.start, 0
        while kept < limit:
            scan = query if end is None else query.where(_past(end, part.ascending))
            rows = conn.execute(scan.order_by(order).limit(limit)).all()
            for row in rows:
                message = _message(row)
                if part.keeps(message, reader):
                    found[row.id] = message
                    kept += 1
            if len(rows) < limit:
                break
            end = rows[-1].id
    return [found[i] for i in sorted(found, reverse=not part.ascending)[:limit]]


def conversation_heads_txn(
    conn: Connection, app_uuid: str, username: str, room_ids: list[str], scan: int
) -> list[tuple[str, str, int]]:
    """The conversations of user `username` that hold messages, each with the id of its newest
    message (whoever may read it): ("chat", peer, id) for the peers of the user's newest `scan`
    1:1 messages received and `scan` sent (the peer as stored: its case-folded name for a
    sender), ("groupchat", group id, id) for each of `room_ids` (stored form) with messages."""
    key = username.lower()
    chat = messages.c.chat_type == "chat"
    received = (
        select(func.lower(messages.c.sender).label("peer"), messages.c.id)
        .where(messages.c.app_uuid == app_uuid, messages.c.recipient == username, chat)
        .order_by(messages.c.id.desc()).limit(scan).subquery()
    )
    sent = (
        select(func.lower(messages.c.recipient).label("peer"), messages.c.id)
        .where(messages.c.app_uuid == app_uuid, func.lower(messages.c.sender) == key, chat)
        .order_by(messages.c.id.desc()).limit(scan).subquery()
    )
    heads: dict[str, int] = {}
    for part in (received, sent):
        for peer, newest in conn.execute(select(part.c.peer, func.max(part.c.id)).group_by(part.c.peer)):
            heads[peer] = max(heads.get(peer, 0), newest)
    out = [("chat", peer, newest) for peer, newest in heads.items()]
    for rid in room_ids:
        newest = conn.execute(
            select(messages.c.id)
            .where(messages.c.app_uuid == app_uuid, messages.c.recipient == rid, messages.c.chat_type == "groupchat")
            .order_by(messages.c.id.desc()).limit(1)
        ).scalar()
        if newest is not None:
            out.append(("groupchat", rid, newest))
    return out


def offline_by_conversation_txn(conn: Connection, user_id: int) -> list[tuple[str, str, str, int]]:
    """The user's offline messages counted by conversation: (chat type, sender case-folded,
    recipient, how many)."""
    sender = func.lower(messages.c.sender)
    query = (
        select(messages.c.chat_type, sender, messages.c.recipient, func.count())
        .join(offline, offline.c.message_id == messages.c.id)
        .where(offline.c.user_id == user_id)
        .group_by(messages.c.chat_type, sender, messages.c.recipient)
    )
    return [(t, s, r, int(n)) for t, s, r, n in conn.execute(query)]
