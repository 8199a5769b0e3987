"""Importing messages from another system: one 1:1, group or chat-room message a call, kept as
it was.

Easemob's message_import_single and message_import_group pages (REST imports 1:1 and group
messages; `hxim migrate-from-easemob` chat-room messages too). The message is stored with the
time it was sent (`msg_timestamp`; now without one) and read back like any message (history,
roaming) but reaches nobody: no live delivery, no offline copy. Its body is checked as a sent
message's is (`MessageService.check_body`); a group or chat room must exist, and the message be
later than its creation.

Its id: the one it had (an hxim addition for migrations, `msg_id`: an id already stored is
refused, 400 `duplicate_unique_property_exists`), or one made from its time, so that it sorts
among the conversation's messages by time. Timestamps are never later than now; a message
without `msg_id` is after 2014 (the ids' epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from hxim import errors
from hxim.config import Settings
from hxim.model import App, IdGenerator, Message, now_ms
from hxim.services.messages import MessageService
from hxim.services.rooms import RoomService
from hxim.storage import Database
from hxim.storage.message_import import import_message_txn

__all__ = ["ImportMessage", "ImportService"]

_RECENT_MS = 1000  # the id generator may still give ids of the last second: an import there takes one from it
_TRIES = 3  # concurrent imports of one millisecond may pick the same id: the loser tries again


@dataclass(frozen=True, slots=True)
class ImportMessage:
    """One message from `sender` to a user (`chat`), a group (`groupchat`) or a chat room
    (`chatroom`), with its body (type and fields), `ext`, and the time (`timestamp`, ms) and id
    (`msg_id`) it had, when known."""

    chat_type: str
    sender: str
    target: str
    body: dict[str, Any]
    ext: dict[str, Any] | None = None
    timestamp: int | None = None
    msg_id: int | None = None


def _duplicate(msg_id: int) -> errors.HximError:
    return errors.HximError(
        400,
        "duplicate_unique_property_exists",
        f"message with msg_id [{msg_id}] already exists",
        "org.apache.usergrid.persistence.exceptions.DuplicateUniquePropertyExistsException",
        "conflict",
    )


class ImportService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        messages: MessageService,
        groups: RoomService,
        chatrooms: RoomService,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.messages = messages
        self.rooms = {"groupchat": groups, "chatroom": chatrooms}

    async def import_message(self, app: App, cmd: ImportMessage) -> Message:
        self.messages.check_body(cmd.body)
        now = now_ms()
        stamp = cmd.timestamp if cmd.timestamp is not None else now
        if stamp > now:
            raise errors.illegal_argument("msg_timestamp must not be later than now")
        to = cmd.target
        rooms = self.rooms.get(cmd.chat_type)
        if rooms is not None:
            room = await rooms.get(app, cmd.target)
            if cmd.timestamp is not None and stamp <= room.created:
                what = "group" if cmd.chat_type == "groupchat" else "chat room"
                raise errors.illegal_argument(f"msg_timestamp must be later than the {what}'s creation")
            to = room.room_id
        ident, node = cmd.msg_id, None
        if ident is not None:
            if IdGenerator.timestamp_of(ident) > now - _RECENT_MS:
                raise errors.illegal_argument(f"msg_id [{ident}] is an id this server may still give")
        elif now - stamp <= _RECENT_MS:  # (without msg_timestamp too) an id as a sent message gets
            ident = self.ids.next()
            stamp = stamp if cmd.timestamp is not None else IdGenerator.timestamp_of(ident)
        elif stamp < IdGenerator.EPOCH_MS:
            raise errors.illegal_argument("msg_timestamp must be in 2014 or later (or the message needs its msg_id)")
        else:
            node = self.ids.node
        message = Message(ident or 0, app.uuid, cmd.chat_type, cmd.sender, to, stamp, [cmd.body], cmd.ext)
        for _ in range(_TRIES):
            try:
                stored = await self.db.write(import_message_txn, message, node)
            except IntegrityError:  # another request took the id first
                if node is None:
                    raise _duplicate(message.id) from None
                continue
            if stored is None:
                if node is None:
                    raise _duplicate(message.id)
                break
            return stored
        raise errors.HximError(
            409, "concurrent_operation_error", "too many messages imported for this millisecond; try again",
            None, "conflict",
        )
