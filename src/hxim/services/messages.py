"""Messages: validation, storage, offline entries and hand-off to the router.

easemob-rest.md §5 (sending), §3.9 (offline count and status) and §9.1 (history), and the
Web IM SDK's message roaming, one conversation newest first (webim-xmpp.md §2.6). Persist
first, then route: a message and the offline entries of recipients without a live session
are written in one transaction before any session is handed the message.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.hub import Registry, Router
from hxim.model import App, IdGenerator, Message, User, now_ms
from hxim.services.users import UserService, decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.database import Batcher
from hxim.storage.messages import (
    conversation_txn,
    history_txn,
    message_exists_txn,
    message_txn,
    offline_count_txn,
    offline_messages_txn,
    offline_pending_txn,
    offline_remove_txn,
    offline_restore_txn,
    recall_message_txn,
    store_message_groups_txn,
)
from hxim.storage.social import blocked_by_txn

__all__ = ["MessageService", "TARGET_TYPES", "Recipients"]

TARGET_TYPES = ("users", "chatgroups", "chatrooms")
CUSTOM_EVENT_RE = re.compile(r"[a-zA-Z0-9\-_/.]{1,32}")

# Required fields and their JSON types, per message type (easemob-rest.md §5.1).
_STR = (str,)
_NUM = (int, float)
_NUM_OR_STR = (int, float, str)
MSG_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "txt": {"msg": _STR},
    "img": {"url": _STR},
    "audio": {"url": _STR},
    "video": {"url": _STR},
    "file": {"url": _STR},
    "loc": {"lat": _NUM_OR_STR, "lng": _NUM_OR_STR, "addr": _STR},
    "cmd": {"action": _STR},
    "custom": {"customEvent": _STR},
}
OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {
    "filename": _STR,
    "secret": _STR,
    "length": _NUM,
    "file_length": _NUM,
    "thumb": _STR,
    "thumb_secret": _STR,
    "size": (dict,),
    "customExts": (dict,),
}


class Recipients:
    """Who a message to one target goes to: recipients' users and whether to keep offline copies."""

    __slots__ = ("chat_type", "to", "users", "offline")

    def __init__(self, chat_type: str, to: str, users: list[User], offline: bool) -> None:
        self.chat_type = chat_type
        self.to = to
        self.users = users
        self.offline = offline


# Resolves a group or chat-room target for a sender: (app, target id, sender name) -> Recipients.
TargetResolver = Callable[[App, str, str], Awaitable[Recipients]]
# Whether a user belongs to a group or chat room: (app, room id, user) -> bool.
RoomCheck = Callable[[App, str, User], Awaitable[bool]]
ROOM_CHAT_TYPES = ("groupchat", "chatroom")


class MessageService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        users: UserService,
        registry: Registry,
        router: Router,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.users = users
        self.registry = registry
        self.router = router
        self.resolvers: dict[str, TargetResolver] = {}
        self.room_checks: list[RoomCheck] = []  # membership, for the history of a room
        self._store = Batcher(db, store_message_groups_txn)

    # --- validation -------------------------------------------------------------------------------
    def check_body(self, msg: Any) -> dict[str, Any]:
        if not isinstance(msg, dict):
            raise errors.illegal_argument("msg must be a JSON object with a type")
        kind = msg.get("type")
        if kind not in MSG_FIELDS:
            raise errors.illegal_argument(
                f"msg type [{kind}] is not supported: use one of {', '.join(MSG_FIELDS)}"
            )
        for name, types in MSG_FIELDS[kind].items():
            value = msg.get(name)
            if value is None or isinstance(value, bool) or not isinstance(value, types):
                raise errors.illegal_argument(f"msg of type {kind} requires the field {name}")
        for name, types in OPTIONAL_FIELDS.items():
            value = msg.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
                raise errors.illegal_argument(f"msg field {name} has a value of the wrong type")
        if kind == "custom":
            if not CUSTOM_EVENT_RE.fullmatch(msg["customEvent"]):
                raise errors.illegal_argument("customEvent must match [a-zA-Z0-9-_/.]{1,32}")
            exts = msg.get("customExts", {})
            if len(exts) > 16 or not all(isinstance(v, str) for v in exts.values()):
                raise errors.illegal_argument("customExts is a map of at most 16 string values")
        return msg

    # --- sending ----------------------------------------------------------------------------------
    async def send(
        self,
        app: App,
        target_type: Any,
        targets: Any,
        msg: Any,
        sender: Any = None,
        ext: Any = None,
        has_ext: bool = False,
    ) -> list[tuple[str, Message | None]]:
        """Send one message to each target; returns (target, stored message or None) in order."""
        if target_type not in TARGET_TYPES:
            raise errors.illegal_argument("target_type can only be 'users' or 'chatgroups' or 'chatrooms'")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
            raise errors.illegal_argument("target must be a non-empty array of strings")
        if len(targets) > self.settings.message_targets_max:
            raise errors.illegal_argument("params to's size can't exceed limit")
        if sender is None:
            sender = "admin"
        if not isinstance(sender, str) or sender == "":
            raise errors.illegal_argument("from can't be empty")
        if has_ext and not isinstance(ext, dict):
            raise errors.illegal_argument("ext must be a JSON object")
        body = self.check_body(msg)

        if target_type == "users":
            plans = await self._user_plans(app, sender, targets)
        else:
            resolver = self.resolvers.get(target_type)
            if resolver is None:
                raise errors.illegal_argument(f"target_type {target_type} is not served by this node")
            plans = [await resolver(app, t, sender) for t in targets]
        sent = await self.store_and_route(app, sender, plans, [body], ext)
        # answer for each target as the caller wrote it (a user's stored name may differ in case)
        return [(target, m) for target, (_, m) in zip(targets, sent, strict=True)]

    async def _user_plans(self, app: App, sender: str, targets: list[str]) -> list[Recipients]:
        keys = {t.lower() for t in targets} | {sender.lower()}
        users = {u.key: u for u in await self.users.get_many(app, list(keys))}
        sender_user = users.get(sender.lower())
        blockers: set[int] = set()
        if sender_user is not None:
            others = [u for k, u in users.items() if k != sender_user.key]
            blockers = await self.db.read(blocked_by_txn, sender_user.id, [u.id for u in others])
        plans = []
        for target in targets:
            user = users.get(target.lower())
            reach = [user] if user is not None and user.id not in blockers else []
            plans.append(Recipients("chat", user.username if user else target, reach, True))
        return plans

    async def store_and_route(
        self,
        app: App,
        sender: str,
        plans: list[Recipients],
        bodies: list[dict[str, Any]],
        ext: dict[str, Any] | None,
    ) -> list[tuple[str, Message | None]]:
        batch: list[tuple[Message, list[int]]] = []
        online_by_msg: list[tuple[Message, list[User], bool]] = []
        for plan in plans:
            ident = self.ids.next()
            # the timestamp is the id's own millisecond, so ids and timestamps order alike
            stamp = IdGenerator.timestamp_of(ident)
            message = Message(ident, app.uuid, plan.chat_type, sender, plan.to, stamp, bodies, ext)
            keys = [u.key for u in plan.users]
            online = self.registry.online(app.uuid, keys) if keys else set()
            offline_ids = [u.id for u in plan.users if u.key not in online] if plan.offline else []
            batch.append((message, offline_ids))
            online_by_msg.append((message, [u for u in plan.users if u.key in online], plan.offline))
        await self._store.submit(batch)
        # A user whose sessions ended while the batch was written, or refused the message (a full
        # queue), gets the offline entry they were spared: nothing accepted is lost.
        missed: list[tuple[int, int]] = []
        deliver = self.router.deliver
        for message, users, keeps_offline in online_by_msg:
            for user in users:
                if not deliver(app.uuid, message, (user.key,)) and keeps_offline:
                    missed.append((user.id, message.id))
        if missed:
            await self.restore_offline(missed)
        return [(plan.to, m) for plan, (m, _) in zip(plans, batch, strict=True)]

    # --- offline ----------------------------------------------------------------------------------
    async def offline_count(self, app: App, ident: str) -> tuple[User, int]:
        user = await self.users.get(app, ident)
        return user, await self.db.read(offline_count_txn, user.id)

    async def offline_status(self, app: App, ident: str, msg_id: str) -> tuple[User, bool]:
        """Whether message `msg_id` has been delivered to the user (no offline copy waits)."""
        user = await self.users.get(app, ident)
        if not msg_id.isdigit() or not await self.db.read(message_exists_txn, app.id, int(msg_id)):
            raise errors.HximError(
                404,
                "service_resource_not_found",
                f"message [{msg_id}] not found",
                "org.apache.usergrid.services.exceptions.ServiceResourceNotFoundException",
                "item-not-found",
            )
        pending = await self.db.read(offline_pending_txn, user.id, int(msg_id))
        return user, not pending

    async def offline_messages(self, user: User, limit: int, after: int = 0) -> list[Message]:
        """Up to `limit` offline messages of the user with ids above `after`, oldest first."""
        return await self.db.read(offline_messages_txn, user.id, limit, after)

    async def mark_delivered(self, user: User, message_ids: list[int]) -> None:
        if message_ids:
            await self.db.write(offline_remove_txn, user.id, message_ids)

    async def restore_offline(self, entries: list[tuple[int, int]]) -> None:
        """`(user id, message id)`: messages that went to a session which never wrote them (it
        ended, or refused them) wait offline again, to be replayed at the next login."""
        if entries:
            await self.db.write(offline_restore_txn, entries)

    # --- recall -----------------------------------------------------------------------------------
    async def find(self, app: App, msg_id: int) -> Message | None:
        return await self.db.read(message_txn, app.id, msg_id)

    async def recall(self, app: App, sender: User, message: Message, recipients: list[User]) -> list[int]:
        """Withdraw a message its sender sent within `message_recall_seconds`: it leaves the
        history and the offline queues. Returns the ids of the recipients who never got it."""
        if message.sender.lower() != sender.key:
            raise errors.forbidden_op("only the sender can recall a message")
        window = self.settings.message_recall_seconds
        if window and now_ms() - message.timestamp > window * 1000:
            raise errors.forbidden_op(f"a message can only be recalled within {window} seconds")
        return await self.db.write(recall_message_txn, message.id, [u.id for u in recipients])

    # --- history ----------------------------------------------------------------------------------
    async def history(
        self,
        app: App,
        conditions: list[tuple[str, int]],
        descending: bool,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Message], str | None]:
        after = decode_cursor(cursor, 2) if cursor else None
        found = await self.db.read(history_txn, app.id, conditions, descending, after, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        next_cursor = encode_cursor(found[-1].timestamp, found[-1].id) if more and found else None
        return found, next_cursor

    async def conversation(
        self, app: App, user: User, other: str, room: bool, key: str | None
    ) -> tuple[list[Message], bool, str]:
        """One page of `user`'s conversation with user `other`, or in room `other` (of which the
        user must be a member), newest first, before the position `key` (None: the newest):
        (messages, whether this is the last page, the key of the next page). The Web IM SDK's
        message roaming (webim-xmpp.md §2.6); a page holds `message_roaming_page_size`."""
        before = decode_cursor(key, 1)[0] if key else None
        if room:
            for check in self.room_checks:
                if await check(app, other, user):
                    break
            else:  # no such room and not a member read alike: a room's existence is not revealed
                raise errors.forbidden_op(f"user: {user.username} doesn't exist in group: {other}")
            sides: list[tuple[str, str | None]] = [(str(int(other)), None)]  # as stored: "012" is 12
            chat_types: tuple[str, ...] = ROOM_CHAT_TYPES
        else:
            peer = await self.users.find(app, other)
            name, peer_key = (peer.username, peer.key) if peer is not None else (other, other.lower())
            sides = [(name, user.key)] if peer_key == user.key else [(name, user.key), (user.username, peer_key)]
            chat_types = ("chat",)
        limit = self.settings.message_roaming_page_size
        found = await self.db.read(conversation_txn, app.id, sides, chat_types, before, limit + 1)
        page = found[:limit]
        next_key = encode_cursor(page[-1].id) if page else (key or "")
        return page, len(found) <= limit, next_key
