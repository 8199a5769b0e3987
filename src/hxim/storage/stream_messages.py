"""Stream messages in progress (Easemob's message_stream_send_* pages): the first chunk stored with
its stream's row, and each next chunk checked against that row and appended to the stored
message, in one transaction each."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, insert, select, update

from hxim.model import Message
from hxim.storage.messages import Stored, message_txn, rewrite_message_txn, store_messages_txn
from hxim.storage.tables import stream_messages

__all__ = ["StreamLimits", "start_stream_txn", "append_stream_txn", "stream_marker"]


class StreamLimits(NamedTuple):
    """Longest wait between two chunks, longest whole stream (ms), most bytes of text."""

    interval_ms: int
    total_ms: int
    max_bytes: int


def stream_marker(seq: int, fmt: str, finished: bool, reason: int | None) -> dict[str, Any]:
    """What a stream message's body says of its stream: the text format, the last chunk's
    `seq`, and whether it ended (with the sender's `finishReason`)."""
    marker: dict[str, Any] = {"format": fmt, "seq": seq, "finished": finished}
    if finished and reason is not None:
        marker["finishReason"] = reason
    return marker


def start_stream_txn(
    conn: Connection, batch: list[Stored], seq: int, length: int, now: int, stale: int
) -> None:
    """Store the first chunk's message (one target) and start its stream; streams of the app
    whose last chunk came before `stale` are forgotten (later chunks find no stream)."""
    store_messages_txn(conn, batch)
    message = batch[0][0]
    app_uuid = str(message.app_uuid)
    conn.execute(delete(stream_messages).where(stream_messages.c.app_uuid == app_uuid, stream_messages.c.last < stale))
    finished = bool(message.bodies[0]["stream"]["finished"])
    conn.execute(
        insert(stream_messages).values(
            id=message.id, app_uuid=app_uuid, chat_type=message.chat_type, sender=message.sender,
            recipient=message.to, seq=seq, chunks=1, length=length, started=now, last=now, finished=finished,
        )
    )


def append_stream_txn(
    conn: Connection,
    app_uuid: str,
    ident: int,
    chunk: tuple[str, str, str, str, int, bool, int | None],
    now: int,
    limits: StreamLimits,
) -> tuple[str, Message | None, int]:
    """Append `chunk` (chat type, sender, recipient, text, seq, finish, finish reason) to stream
    `ident`: (outcome, the message as it is now, the chunks it has had). The outcome is `ok`, or
    why the chunk is refused: `missing`, `finished`, `from`, `to`, `seq`; or why the stream ends
    with it refused: `interval`, `total`, `length` (the message is returned then, ended)."""
    chat_type, sender, to, text, seq, finish, reason = chunk
    row = conn.execute(
        select(stream_messages)
        .where(stream_messages.c.id == ident, stream_messages.c.app_uuid == app_uuid)
        .with_for_update()
    ).first()
    if row is None or row.chat_type != chat_type:
        return "missing", None, 0
    if row.finished:
        return "finished", None, row.chunks
    if sender.lower() != row.sender.lower():
        return "from", None, row.chunks
    if to.lower() != row.recipient.lower():
        return "to", None, row.chunks
    if seq <= row.seq:
        return "seq", None, row.chunks
    message = message_txn(conn, app_uuid, ident)
    if message is None:  # recalled meanwhile
        return "missing", None, 0
    body = message.bodies[0]
    marker = body.get("stream") or {}
    fmt, length = str(marker.get("format", "text")), row.length + len(text.encode())
    outcome = "ok"
    if now - row.last > limits.interval_ms:
        outcome = "interval"
    elif now - row.started > limits.total_ms:
        outcome = "total"
    elif length > limits.max_bytes:
        outcome = "length"
    if outcome == "ok":
        new_body = {**body, "msg": str(body.get("msg", "")) + text, "stream": stream_marker(seq, fmt, finish, reason)}
        values: dict[str, Any] = {"seq": seq, "length": length, "last": now, "finished": finish}
    else:  # the stream ends as it was
        new_body = {**body, "stream": stream_marker(row.seq, fmt, True, None)}
        values = {"finished": True}
    chunks = row.chunks + 1
    new = replace(message, bodies=[new_body, *message.bodies[1:]])
    rewrite_message_txn(conn, app_uuid, int((message.edited or {}).get("count", 0)), new)
    conn.execute(update(stream_messages).where(stream_messages.c.id == ident).values(chunks=chunks, **values))
    return outcome, new, chunks
