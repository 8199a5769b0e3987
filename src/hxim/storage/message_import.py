"""Imported messages (Easemob's message_import_single and message_import_group pages): stored with
the id and time they had elsewhere, never twice."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection, func, select

from hxim.model import IdGenerator, Message
from hxim.storage.messages import Stored, store_messages_txn
from hxim.storage.tables import messages

__all__ = ["import_message_txn"]

_SEQUENCE = 1 << 12  # ids of one millisecond and one node (`IdGenerator`)


def import_message_txn(conn: Connection, message: Message, node: int | None) -> Message | None:
    """Store `message` without offline entries. With `node`, its id is made here: the next free
    id of its timestamp's millisecond and that node (ids then order as the timestamps do), None
    when the millisecond has no id left; else it keeps its own id, None when that id is taken."""
    if node is not None:
        base = ((message.timestamp - IdGenerator.EPOCH_MS) << 22) | (node << 12)
        top = conn.execute(
            select(func.max(messages.c.id)).where(messages.c.id >= base, messages.c.id < base + _SEQUENCE)
        ).scalar()
        ident = base if top is None else int(top) + 1
        if ident >= base + _SEQUENCE:
            return None
        message = replace(message, id=ident)
    elif conn.execute(select(messages.c.id).where(messages.c.id == message.id)).first() is not None:
        return None  # ids are unique across apps
    store_messages_txn(conn, [Stored(message, [])])
    return message
