"""What a user no longer reads back of their conversations (message roaming): messages they
deleted one by one (`roaming_deleted`) and conversations they cleared up to a time
(`roaming_cuts`). One-sided: the other users of the conversation keep reading everything.
`conversation_txn` in storage/messages.py reads through both.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy.sql.elements import ColumnElement

from hxim.storage.database import insert_ignore
from hxim.storage.tables import messages, roaming_cuts, roaming_deleted

__all__ = ["ALL_CONVERSATIONS", "cut_conversation_txn", "hide_messages_txn", "visible_to"]

ALL_CONVERSATIONS = "*"


def hide_messages_txn(conn: Connection, user_id: int, message_ids: list[int]) -> None:
    """The user no longer reads these messages back (ids already hidden are left as they are)."""
    if message_ids:
        rows = [{"user_id": user_id, "message_id": m} for m in sorted(set(message_ids))]
        conn.execute(insert_ignore(conn, roaming_deleted), rows)


def cut_conversation_txn(conn: Connection, user_id: int, conversation: str, until: int) -> None:
    """The user no longer reads back the messages of `conversation` (or of every one: `*`) sent at
    or before `until` (ms). A later cut moves it forward; an earlier one changes nothing."""
    found = conn.execute(
        select(roaming_cuts.c.until).where(
            roaming_cuts.c.user_id == user_id, roaming_cuts.c.conversation == conversation
        )
    ).scalar()
    if found is None:
        conn.execute(roaming_cuts.insert().values(user_id=user_id, conversation=conversation, until=until))
    elif until > found:
        conn.execute(
            update(roaming_cuts)
            .where(roaming_cuts.c.user_id == user_id, roaming_cuts.c.conversation == conversation)
            .values(until=until)
        )


def visible_to(conn: Connection, user_id: int, conversation: str) -> list[ColumnElement[bool]]:
    """Conditions on `messages` that keep what user `user_id` still reads of `conversation`."""
    cut = conn.execute(
        select(roaming_cuts.c.until)
        .where(
            roaming_cuts.c.user_id == user_id,
            roaming_cuts.c.conversation.in_((conversation, ALL_CONVERSATIONS)),
        )
        .order_by(roaming_cuts.c.until.desc())
        .limit(1)
    ).scalar()
    hidden = select(roaming_deleted.c.message_id).where(
        roaming_deleted.c.user_id == user_id, roaming_deleted.c.message_id == messages.c.id
    )
    conditions: list[ColumnElement[bool]] = [~hidden.exists()]
    if cut is not None:
        conditions.append(messages.c.timestamp > cut)
    return conditions
