"""Message reactions: the emoji (or any string of the app's) users add to 1:1 and group messages.

Easemob's reaction_add, reaction_get_by_msg_id, reaction_get_by_msg_id_emoji_id and
reaction_delete pages. A reaction is a string of at most `reaction_max_length` (128)
characters; one user adds a given reaction to a message once, and a message carries at most
`reactions_per_message_max` (20) different reactions. Only the two sides of a 1:1 message, and
the members of a group, react to it; chat-room messages have none (as at Easemob). The
reactions go with their message (a recall) and with their users.

Every change is told at once to the conversation's online users (both sides of a 1:1 message,
every member of the group, the reacting user's own sessions included): a `NoticeKind.REACTION`
notice, never kept for later (the lists above are read on demand), whose payload is

    {"mid": message id (int), "chat_type": "chat" | "groupchat", "from": the message's sender,
     "to": its recipient (user or group id), "reaction": the reaction changed,
     "op": "add" | "remove", "count": how many users have that reaction now,
     "mine": every reaction the reacting user has on the message now, in the order added}

and whose sender is the reacting user. XMPP sessions render it as XEP-0444 (`c2s/reactions.py`).

Errors are 400 with the pages' words (`reaction_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.hub import Notice, Router
from hxim.model import App, IdGenerator, Message, User, now_ms
from hxim.services.messages import ADMIN, MessageService
from hxim.services.notices import NoticeKind
from hxim.services.room_common import parse_room_id
from hxim.services.rooms import RoomService
from hxim.services.users import UserService
from hxim.storage import Database
from hxim.storage.reactions import (
    ALREADY,
    FULL,
    Reaction,
    add_reaction_txn,
    reaction_users_txn,
    reactions_of_txn,
    remove_reaction_txn,
)

__all__ = ["Added", "Reaction", "ReactionService", "reaction_error"]

REACTION_TYPES = ("chat", "groupchat")


def reaction_error(description: str) -> errors.HximError:
    """A refusal in the reaction pages' words (400, type `Bad Request`)."""
    return errors.bad_request(description)


def illegal() -> errors.HximError:
    return reaction_error("the user operation is illegal!")


@dataclass(frozen=True, slots=True)
class Added:
    """A reaction just added: its id, the message it is on, when."""

    reaction_id: int
    message: Message
    reaction: str
    created: int


class ReactionService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        users: UserService,
        messages: MessageService,
        groups: RoomService,
        router: Router,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.users = users
        self.messages = messages
        self.groups = groups
        self.router = router

    def _check(self, reaction: str) -> str:
        most = self.settings.reaction_max_length
        if not reaction:
            raise reaction_error("message can not be empty!")
        if len(reaction) > most:
            raise reaction_error(f"message length can not exceed {most}!")
        return reaction

    async def _message(self, app: App, msg_id: str) -> Message:
        if not msg_id:
            raise reaction_error("msgId can not be empty!")
        message = await self.messages.find(app, int(msg_id)) if msg_id.isdecimal() and len(msg_id) < 20 else None
        if message is None:
            raise reaction_error("the message is not exist!")
        return message

    async def _party(self, app: App, message: Message, user: User) -> None:
        """The user must be a side of the 1:1 message, or a member of the message's group."""
        if message.chat_type == "chat":
            if user.key not in (message.sender.lower(), message.to.lower()):
                raise illegal()
        elif message.chat_type != "groupchat" or not await self.groups.is_member(app, message.to, user):
            raise illegal()

    async def add(self, app: App, username: str, msg_id: str, reaction: str) -> Added:
        """`username` adds `reaction` to message `msg_id`; the conversation's online users are told."""
        reaction = self._check(reaction)
        user = await self.users.get(app, username)
        message = await self._message(app, msg_id)
        await self._party(app, message, user)
        row_id, now = self.ids.next(), now_ms()
        outcome, reaction_id, count, mine = await self.db.write(
            add_reaction_txn, message.id, reaction, user.id, row_id, now, self.settings.reactions_per_message_max
        )
        if outcome == ALREADY:
            raise reaction_error("the user is already operation this message")
        if outcome == FULL:
            raise reaction_error("The quantity has exceeded the limit!")
        await self._tell(app, message, user, reaction, "add", count, mine)
        return Added(reaction_id, message, reaction, now)

    async def remove(self, app: App, username: str, msg_id: str, reaction: str) -> None:
        """`username` takes back their `reaction` on message `msg_id`; the conversation's online
        users are told."""
        reaction = self._check(reaction)
        user = await self.users.get(app, username)
        message = await self._message(app, msg_id)
        await self._party(app, message, user)
        done = await self.db.write(remove_reaction_txn, message.id, reaction, user.id)
        if done is None:
            raise illegal()
        count, mine = done
        await self._tell(app, message, user, reaction, "remove", count, mine)

    async def _tell(
        self, app: App, message: Message, user: User, reaction: str, op: str, count: int, mine: list[str]
    ) -> None:
        payload: dict[str, Any] = {
            "mid": message.id, "chat_type": message.chat_type, "from": message.sender, "to": message.to,
            "reaction": reaction, "op": op, "count": count, "mine": mine,
        }
        notice = Notice(NoticeKind.REACTION, user.username, payload)
        keys = {u.key for u in await self.messages.audience(app, message)}
        if message.sender != ADMIN:
            keys.add(message.sender.lower())
        push = self.router.push
        for key in keys:
            push(app.uuid, key, notice)

    async def of_messages(
        self, app: App, username: str, msg_ids: list[str], chat_type: str, group_id: str | None
    ) -> list[tuple[str, list[Reaction]]]:
        """The reactions on each of these messages of the user's conversations (`chat_type`; a
        group's messages name their group), in the order asked; messages without any, or not of
        the user's conversations, are left out."""
        most = self.settings.reaction_messages_per_query_max
        if chat_type not in REACTION_TYPES:
            raise reaction_error("msgType must be chat or groupchat!")
        if not msg_ids:
            raise reaction_error("msgIdList can not be empty!")
        if len(msg_ids) > most:
            raise reaction_error("msgIdList exceeds the maximum number limit")
        if chat_type == "groupchat" and not group_id:
            raise reaction_error("groupId can not be null!")
        user = await self.users.get(app, username)
        if chat_type == "groupchat" and not await self.groups.is_member(app, group_id or "", user):
            raise illegal()
        wanted: dict[int, str] = {}
        for raw in msg_ids:
            if raw.isdecimal() and len(raw) < 20:
                message = await self.messages.find(app, int(raw))
                if message is None or message.chat_type != chat_type:
                    continue
                if chat_type == "chat" and user.key not in (message.sender.lower(), message.to.lower()):
                    continue
                if chat_type == "groupchat" and message.to != str(parse_room_id(group_id or "")):
                    continue
                wanted[message.id] = raw
        if not wanted:
            return []
        found = await self.db.read(
            reactions_of_txn, list(wanted), user.id, self.settings.reaction_users_preview
        )
        by_message: dict[int, list[Reaction]] = {}
        for r in found:
            by_message.setdefault(r.message_id, []).append(r)
        return [(wanted[m], by_message[m]) for m in wanted if m in by_message]

    async def detail(
        self, app: App, username: str, msg_id: str, reaction: str, limit: int | None, cursor: str | None
    ) -> tuple[Reaction | None, list[str], str | None]:
        """One reaction on one message, and a page of the users who added it (earliest first,
        after `cursor`): (the reaction, None when nobody has it; the page's users; the cursor of
        the next page, None when this one is empty)."""
        most = self.settings.reaction_detail_page_max
        if limit is None:
            limit = most
        if not 1 <= limit <= most:
            raise reaction_error("Limit exceeds the maximum quantity limit")
        reaction = self._check(reaction)
        after = None
        if cursor:
            if not cursor.isdecimal() or len(cursor) > 19:
                raise reaction_error("cursor is illegal!")
            after = int(cursor)
        user = await self.users.get(app, username)
        message = await self._message(app, msg_id)
        await self._party(app, message, user)
        found = await self.db.read(reaction_users_txn, message.id, reaction, user.id, after, limit)
        if found is None:
            return None, [], None
        head, rows = found
        return head, [name for _, name in rows], str(rows[-1][0]) if rows else None
