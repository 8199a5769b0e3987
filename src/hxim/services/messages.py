"""Messages: validation, storage, offline entries and hand-off to the router.

easemob-rest.md §5 (sending), §3.9 (offline count and status) and §9.1 (history), and the
Web IM SDK's message roaming, one conversation newest first (webim-xmpp.md §2.6). Persist
first, then route: a message and the offline entries of recipients without a live session
are written in one transaction before any session is handed the message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from hxim import errors
from hxim.config import Settings
from hxim.counters import Counters
from hxim.hub import Notice, Router
from hxim.hub.events import Edited
from hxim.model import INT64_MAX, App, IdGenerator, Message, Recipients, User, decimal_id, now_ms
from hxim.services.blocks import BlockIndex
from hxim.services.callbacks import CallbackService
from hxim.services.moderation import ModerationService
from hxim.services.mutes import GlobalMuteService, globally_muted
from hxim.services.notices import NoticeKind, NoticeService
from hxim.services.push import PushService
from hxim.services.users import UUID_RE, UserService, decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.database import Batcher
from hxim.storage.messages import (
    NEWEST,
    Slice,
    Stored,
    conversation_heads_txn,
    conversation_txn,
    history_txn,
    message_exists_txn,
    message_txn,
    offline_by_conversation_txn,
    offline_count_txn,
    offline_delivered_native,
    offline_delivered_txn,
    offline_messages_txn,
    offline_pending_txn,
    offline_remove_txn,
    offline_restore_txn,
    recall_message_txn,
    rewrite_message_txn,
    store_message_groups_native,
    store_message_groups_txn,
    user_offline_count_native,
)
from hxim.storage.roaming import ALL_CONVERSATIONS, cut_conversation_txn, hide_messages_txn

if TYPE_CHECKING:
    from hxim.services.rooms import RoomService


log = logging.getLogger(__name__)
__all__ = [
    "ADMIN", "ALL_CONVERSATIONS", "CHAT_TYPES", "Conversation", "REWRITABLE", "MessageService", "Rewrite",
    "SendMessage", "Sent", "Slice", "chat_conversation", "room_conversation",
]


def chat_conversation(peer: str) -> str:
    """A user's 1:1 conversation with `peer`, as what they forget of it is kept."""
    return f"chat:{peer.lower()}"


def room_conversation(room_id: str) -> str:
    """A user's conversation in a group or chat room."""
    return f"room:{int(room_id)}" if room_id.isdecimal() else f"room:{room_id}"


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


ROOM_CHAT_TYPES = ("groupchat", "chatroom")
CHAT_TYPES = ("chat", *ROOM_CHAT_TYPES)
ADMIN = "admin"  # the sender of messages the app itself sends
_NOBODY: set[int] = set()  # (never changed)
_NO_KEYS: set[str] = set()  # (never changed)


class SendMessage(NamedTuple):
    """Send one message to each target: users (`chat`), groups (`groupchat`) or chat rooms.

    `sender` is a username, or `admin` for the app itself. A client's message to a full JID names
    its `resource`: that resource gets it even before it is available (RFC 6121 §8.5.3.1), the
    user's available ones get it too (Easemob's multi-device delivery). `from_client` decides what becomes of a
    message to a user who does not exist or blocks the sender: a client's message is refused, not
    stored (`user_not_found`, `recipient_blocks`: XEP-0191 §3.5, the sender is told); the app's is
    stored for every target and reaches nobody there (the REST API answers for every target).

    Immutable and typed as the other commands are, but a named tuple rather than a frozen
    dataclass: one is built for every message, and a tuple is built three times faster."""

    chat_type: str
    targets: tuple[str, ...]
    bodies: tuple[dict[str, Any], ...]
    ext: dict[str, Any] | None = None
    sender: str = ADMIN
    from_client: bool = False
    resource: str | None = None  # a client's message to one resource of its one target
    online_only: bool = False  # reaches only who is online now: no offline copies (ROUTE_ONLINE)
    only: tuple[str, ...] | None = None  # a directed room message: these members only (keys)
    hidden: tuple[str, ...] = ()  # users who do not read it back in their conversation (keys)
    sync_device: bool = False  # the sender's own online sessions get it too (but resource `origin`)
    origin: str | None = None  # the sender's resource that sent it (a client's): no copy back to it
    xml: str | None = None  # an XMPP client's child elements beside the body (`Message.xml`)


Sent = tuple[str, Message]  # (the target as the command named it, the stored message)
StoreBatch = Callable[[list[Stored]], Awaitable[None]]  # (message, offline user ids, callbacks)

# What a modification may change, per message type (Easemob's message_modify page): the `ext`
# of all of these, and these fields of the body. Command messages cannot be modified.
REWRITABLE: dict[str, frozenset[str]] = {
    "txt": frozenset({"msg"}),
    "custom": frozenset({"customEvent", "customExts"}),
    **{t: frozenset() for t in ("img", "audio", "video", "file", "loc")},
}


@dataclass(frozen=True, slots=True)
class Conversation:
    """One of a user's conversations, as their conversation list shows it."""

    chat_type: str  # "chat" or "groupchat"
    peer: str  # the other user's name, or the group id
    last: Message  # the newest message the user reads back in it
    unread: int  # the user's offline messages in it


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A modification of a stored message: by whom (a user, or `admin`), the body's type as the
    caller names it, the body fields to change, and the new `ext`, merged into the old one or
    replacing it."""

    by: str
    type: str
    fields: Mapping[str, Any]
    ext: Mapping[str, Any] | None = None
    combine_ext: bool = True


class MessageService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        users: UserService,
        router: Router,
        blocks: BlockIndex,
        notices: NoticeService,
        groups: RoomService,
        chatrooms: RoomService,
        mutes: GlobalMuteService,
        moderation: ModerationService,
        callbacks: CallbackService,
        counters: Counters,
        push: PushService | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.users = users
        self.router = router
        self.blocks = blocks
        self.notices = notices
        self.rooms = {"groupchat": groups, "chatroom": chatrooms}
        self.mutes = mutes
        self.moderation = moderation
        self.callbacks = callbacks
        self.counters = counters  # messages stored, routed to sessions and kept offline (/metrics)
        # offline pushes; None when no push gateway is configured (push_url)
        self.push = push if push is not None and push.provider is not None else None
        self._store = Batcher(db, store_message_groups_txn, native=store_message_groups_native)
        self._restoring: set[asyncio.Future[None]] = set()  # offline entries being given back
        # offline entries of messages that sessions here took for another node (cluster), to remove
        self._delivered: set[tuple[int, int]] = set()
        self._forgetting: asyncio.Future[None] | None = None  # the removal being written
        self._forget_task: asyncio.Task[None] | None = None

    # --- validation -------------------------------------------------------------------------------
    def check_body(self, msg: Any) -> dict[str, Any]:
        if type(msg) is dict and len(msg) == 2 and msg.get("type") == "txt" and type(msg.get("msg")) is str:
            return msg  # a plain text, as every plain XMPP body is
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
        self, app: App, cmd: SendMessage, sender: User | None = None, *, store: StoreBatch | None = None
    ) -> list[Sent]:
        """Send `cmd`'s message to each of its targets (`sender`: the sending user, when the caller
        has them at hand); returns the stored message of each target, in order. `store`: as for
        `store_and_route`."""
        if self.mutes.active and cmd.sender != ADMIN and self.mutes.muted(app, cmd.sender.lower(), cmd.chat_type):
            raise globally_muted()  # on every path, REST and XMPP (services.mutes)
        targets = cmd.targets
        if len(targets) > self.settings.message_targets_max:
            raise errors.illegal_argument("params to's size can't exceed limit")
        check = self.check_body
        for body in cmd.bodies:
            check(body)
        cmd = self.moderation.screen(app, cmd)  # keyword lists: refused, or words replaced (services.moderation)
        if cmd.chat_type == "chat":
            plans = await self._user_plans(app, cmd, sender)
        else:
            rooms = self.rooms.get(cmd.chat_type)
            if rooms is None:
                raise errors.illegal_argument(f"chat type {cmd.chat_type} is not one of {', '.join(CHAT_TYPES)}")
            plans = [await rooms.resolve(app, t, cmd.sender) for t in targets]
            if cmd.only is not None:
                only = set(cmd.only)
                for plan in plans:
                    plan.users = [u for u in plan.users if u.key in only]
        if cmd.online_only:
            for plan in plans:
                plan.offline = False
        bodies, ext, idents = cmd.bodies, cmd.ext, None
        pre = self.callbacks.pre
        if pre and cmd.from_client and cmd.only is None and app.id in pre:  # pre-send callbacks judge it
            idents = [self.ids.next() for _ in plans]
            bodies, ext = await self.callbacks.judge(app, cmd.sender, cmd.chat_type, plans, idents, bodies, ext)
        stored = await self.store_and_route(
            app, cmd.sender, plans, list(bodies), ext, only=cmd.only, hidden=cmd.hidden, store=store,
            xml=cmd.xml, idents=idents,
        )
        if cmd.sync_device and cmd.sender != ADMIN:
            self._sync_sender(app, cmd.sender.lower(), plans, stored, cmd.origin)
        # each target as the caller wrote it (a user's stored name may differ in case)
        return list(zip(targets, stored, strict=True))

    def _sync_sender(
        self, app: App, key: str, plans: list[Recipients], stored: list[Message], origin: str | None
    ) -> None:
        """A copy of each message for the sender's own online sessions but `origin`, the one that
        sent it (not one that already reached them as a recipient: a message to oneself)."""
        deliver = self.router.deliver
        for plan, message in zip(plans, stored, strict=True):
            if all(u.key != key for u in plan.users):
                deliver(app.uuid, message, (key,), skip=origin)

    async def _user_plans(self, app: App, cmd: SendMessage, sender: User | None) -> list[Recipients]:
        """Whom a 1:1 message reaches. Users with a session come as their session loaded them
        (deleting or deactivating a user ends their sessions, so it is current): no query for the
        recipients who are connected, and none at all for a client's message to one of them."""
        blocks = self.blocks
        if sender is not None and len(cmd.targets) == 1:  # a client's message: the common case, kept short
            target = cmd.targets[0]
            user = self._connected(app, target.lower())
            if user is not None:
                blockers = _NOBODY
                if user.id != sender.id and blocks.may_block((user,)):
                    blockers = await blocks.blockers_of(sender, [user])
                return [self._plan(cmd, target, user, blockers)]
        keys = [t.lower() for t in cmd.targets]
        users: dict[str, User] = {}
        missing: list[str] = []
        for key in keys:
            if key not in users:
                found = self._connected(app, key)
                if found is not None:
                    users[key] = found
                else:
                    missing.append(key)
        if sender is None and cmd.sender != ADMIN:
            missing.append(cmd.sender.lower())
        if missing:
            users.update((u.key, u) for u in await self.users.get_many(app, missing))
        if sender is None:
            sender = users.get(cmd.sender.lower())
        blockers = _NOBODY
        if sender is not None:
            others = [u for u in users.values() if u.id != sender.id]
            blockers = await blocks.blockers_of(sender, others) if blocks.may_block(others) else _NOBODY
        return [self._plan(cmd, t, users.get(k), blockers) for t, k in zip(cmd.targets, keys, strict=True)]

    def _connected(self, app: App, key: str) -> User | None:
        for s in self.router.sessions(app.uuid, key):
            if s.user is not None:
                return s.user
        return None

    @staticmethod
    def _plan(cmd: SendMessage, target: str, user: User | None, blockers: set[int]) -> Recipients:
        """The one block rule for 1:1 messages: a user who blocks the sender is not reached, and a
        client's message to them is refused, as one to no such user."""
        if user is None:
            if cmd.from_client:
                raise errors.user_not_found()
            return Recipients("chat", target, [], True)
        if user.id in blockers:
            if cmd.from_client:
                raise errors.recipient_blocks(user.username)
            return Recipients("chat", user.username, [], True)
        return Recipients("chat", user.username, [user], True, cmd.resource)

    async def store_and_route(
        self,
        app: App,
        sender: str,
        plans: list[Recipients],
        bodies: list[dict[str, Any]],
        ext: dict[str, Any] | None,
        *,
        only: tuple[str, ...] | None = None,
        hidden: tuple[str, ...] = (),
        store: StoreBatch | None = None,
        xml: str | None = None,
        idents: list[int] | None = None,
    ) -> list[Message]:
        """Persist first, then route: store one message per plan with the offline entries of its
        recipients who have no available session and the app's post-send callbacks of it, then
        hand it to the others' sessions. `store` writes the batch in a transaction of the caller's
        (with more in it) instead of the group commit; it runs inside `writing()`, and what it
        raises stops the routing. `idents`: the messages' ids, when given out before (pre-send)."""
        batch: list[Stored] = []
        online_by_msg: list[tuple[Message, list[User], set[str], bool]] = []
        reach = self.router.reach
        post = self.callbacks.post.get(app.id) if self.callbacks.post else None
        called = False
        push = self.push
        pushes: list[tuple[Message, list[User]]] = []
        for i, plan in enumerate(plans):
            ident = self.ids.next() if idents is None else idents[i]
            # the timestamp is the id's own millisecond, so ids and timestamps order alike
            stamp = IdGenerator.timestamp_of(ident)
            message = Message(
                ident, app.uuid, plan.chat_type, sender, plan.to, stamp, bodies, ext, only, hidden, None, xml
            )
            keys = [u.key for u in plan.users]
            # `here`: reached by a session of this node; `online`: by a session anywhere. Those
            # reached only on other nodes keep an offline entry until that node has the message
            # (the entry is what survives a node or Redis going away); the same set on one node.
            here, online = reach(app.uuid, keys, plan.resource) if keys else (_NO_KEYS, _NO_KEYS)
            offline_ids = [u.id for u in plan.users if u.key not in here] if plan.offline else []
            # those with no session anywhere (for offline pushes and `chat_offline` callbacks)
            absent = (
                offline_ids if here is online or not offline_ids else [u.id for u in plan.users if u.key not in online]
            )
            if push is not None and absent:
                pushes.append((message, [u for u in plan.users if u.key not in online]))
            if post:
                rows = self.callbacks.message_rows(app, post, message, bool(absent))
                called = called or bool(rows)
                batch.append(Stored(message, offline_ids, rows))
            else:
                batch.append(Stored(message, offline_ids))
            online_by_msg.append((message, [u for u in plan.users if u.key in online], here, plan.offline))
        if store is None:
            await self._store.submit(batch)
        else:
            async with self.writing():
                await store(batch)
        if called:
            self.callbacks.wake()
        counters = self.counters
        stored = counters.stored
        for entry in batch:
            chat_type = entry.message.chat_type
            stored[chat_type] = stored.get(chat_type, 0) + 1
            counters.offline += len(entry.offline)
        if push is not None:
            for message, offline_users in pushes:
                push.offer(app, message, offline_users)
        # A user whose sessions ended while the batch was written, or refused the message (a full
        # queue), gets the offline entry they were spared: nothing accepted is lost.
        missed: list[tuple[int, int]] = []
        deliver = self.router.deliver
        routed = 0
        for (message, users, here, keeps_offline), plan in zip(online_by_msg, plans, strict=True):
            for user in users:
                kept = keeps_offline and user.key not in here
                queued = deliver(app.uuid, message, (user.key,), plan.resource, None, kept)
                if queued:
                    routed += queued
                elif keeps_offline and not kept:
                    missed.append((user.id, message.id))
        counters.routed += routed
        if missed:
            counters.offline += len(missed)
            await self.restore_offline(missed)
        return [e.message for e in batch]

    # --- offline ----------------------------------------------------------------------------------
    async def offline_count(self, app: App, ident: str) -> tuple[User, int]:
        native = self.db.native
        if native is not None:  # the user and the count in one read
            by_uuid = UUID_RE.fullmatch(ident) is not None
            found = await user_offline_count_native(
                native, app.id, None if by_uuid else ident.lower(), ident.lower() if by_uuid else None
            )
            if found is None:
                raise errors.user_not_found()
            return found
        user = await self.users.get(app, ident)
        return user, await self.db.read(offline_count_txn, user.id)

    async def offline_status(self, app: App, ident: str, msg_id: str) -> tuple[User, bool]:
        """Whether message `msg_id` has been delivered to the user (no offline copy waits)."""
        user = await self.users.get(app, ident)
        number = decimal_id(msg_id)
        if number is None or not await self.db.read(message_exists_txn, app.id, number):
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

    def delivered_here(self, entries: list[tuple[int, int]]) -> None:
        """`(user id, message id)`: messages another node stored with offline entries for users
        whose sessions are on this node, and that those sessions took: the entries go, in
        batches. (Until they are gone a second login would replay them: at least once.)"""
        self._delivered.update(entries)
        if self._forget_task is None:
            self._forget_task = asyncio.get_running_loop().create_task(self._forget())

    async def _forget(self) -> None:
        batch_max = self.settings.cluster_delivery_batch
        try:
            while self._delivered:
                batch = [self._delivered.pop() for _ in range(min(batch_max, len(self._delivered)))]
                self._forgetting = asyncio.get_running_loop().create_future()
                try:
                    await self.db.write(offline_delivered_txn, batch, native=offline_delivered_native)
                except Exception as exc:  # the entries stay: replayed at the next login
                    log.warning("removing the offline entries of %d delivered messages failed: %s", len(batch), exc)
                finally:
                    self._forgetting.set_result(None)
                    self._forgetting = None
        finally:
            self._forget_task = None

    async def restore_offline(self, entries: list[tuple[int, int]]) -> None:
        """`(user id, message id)`: messages that went to a session which never wrote them (it
        ended, or refused them) wait offline again, to be replayed at the next login."""
        if entries:
            if self._delivered or self._forgetting is not None:  # not removed after being given back
                self._delivered.difference_update(entries)
                if self._forgetting is not None:
                    await asyncio.shield(self._forgetting)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._restoring.add(done)
            try:
                await self.db.write(offline_restore_txn, entries)
            finally:
                self._restoring.discard(done)
                done.set_result(None)

    async def settled(self) -> None:
        """Wait until every message accepted so far, and every offline entry given back so far,
        is written. A session that has just become available calls it before it reads its
        offline messages: a message decided offline a moment before (while the user was not yet
        available) is then in storage, replayed now, not at the next login."""
        restoring = list(self._restoring)
        await self._store.settled()
        if restoring:
            await asyncio.wait(restoring)

    # --- recall -----------------------------------------------------------------------------------
    async def find(self, app: App, msg_id: int) -> Message | None:
        if not 0 <= msg_id <= INT64_MAX:  # no message has it, and storage cannot compare with it
            return None
        return await self.db.read(message_txn, app.id, msg_id)

    async def recall(
        self,
        app: App,
        message: Message,
        by: str,
        *,
        force: bool = False,
        tell_sender: bool = False,
        skip: str | None = None,
    ) -> None:
        """Withdraw `message`: it leaves the history and the offline queues, and each recipient
        who had it is told (a `recall` notice, kept for their next login, except in chat rooms);
        in a cluster, so is one still waiting offline for it but online on another node.

        `by` is the user who recalls it, who must be its sender, or `admin` (the app) who may
        recall any message. Past `message_recall_seconds` only a `force`d recall (the app's)
        goes through. `tell_sender`: the sender's own sessions are told too (but resource
        `skip`, the one that asked), as Easemob's `sync_device` does."""
        if by != ADMIN and message.sender.lower() != by.lower():
            raise errors.forbidden_op("only the sender can recall a message")
        window = self.settings.message_recall_seconds
        if window and not force and now_ms() - message.timestamp > window * 1000:
            raise errors.recall_window(window)
        recipients = await self._recipients(app, message)
        pending = set(await self.db.write(recall_message_txn, message.id, [u.id for u in recipients]))
        self.callbacks.recalled(app, message, by)
        room = message.chat_type in ROOM_CHAT_TYPES
        payload: dict[str, Any] = {"mid": message.id, "room": message.to} if room else {"mid": message.id}
        notice = Notice(NoticeKind.RECALL, message.sender, payload)
        sender_key = message.sender.lower()
        elsewhere: set[str] = set()
        if pending:
            # In a cluster, the offline entry of a recipient reached only on another node stays
            # until that node has removed it: one who is online there may have the message (taken,
            # or on its way, ahead of this notice), so is told too. (None on a single node.)
            here, anywhere = self.router.reach(app.uuid, [u.key for u in recipients if u.id in pending])
            elsewhere = anywhere - here
        for peer in recipients:
            if peer.key == sender_key or (peer.id in pending and peer.key not in elsewhere):
                continue  # never received it: gone from their queue
            await self.notices.send(app, peer, notice, keep=message.chat_type != "chatroom")
        if tell_sender:  # a 1:1 recall reaches the sender's devices from the conversation's peer
            own = notice if room else Notice(NoticeKind.RECALL, message.to, payload)
            self.router.push(app.uuid, sender_key, own, skip=skip)

    async def _recipients(self, app: App, message: Message) -> list[User]:
        """The users a stored message was for: its peer, or the room's (or thread's) members but
        the sender."""
        rooms = self.rooms.get(message.chat_type)
        if rooms is None:
            peer = await self.users.find(app, message.to)
            return [peer] if peer is not None else []
        names = [n.lower() for n in await rooms.audience(app, message.to)]  # [] when the room is gone
        sender = message.sender.lower()
        return await self.users.get_many(app, [n for n in names if n != sender])

    # --- modify -----------------------------------------------------------------------------------
    async def rewrite(self, app: App, message: Message, change: Rewrite) -> Message:
        """Modify a stored message (Easemob's message_modify): a text's `msg`, a custom message's
        `customEvent` and `customExts`, and the `ext` of any message but a command, merged into
        the old one or replacing it. At most `message_edit_max` times. The users it was for and
        its sender are told at once (an `Edited` event); whoever reads it later reads it changed."""
        body = message.bodies[0] if len(message.bodies) == 1 else {}
        mtype = body.get("type")
        if mtype not in REWRITABLE or change.type != mtype:
            raise errors.rewrite_error(
                400, "The message is of a type that is currently not supported for modification."
            )
        edits = int((message.edited or {}).get("count", 0))
        if edits >= self.settings.message_edit_max:
            raise errors.rewrite_error(403, "The message has reached its edit limit and cannot be modified further.")
        new_body = {**body, **{k: v for k, v in change.fields.items() if k in REWRITABLE[mtype]}}
        self.check_body(new_body)
        ext = message.ext
        if change.ext is not None:
            ext = {**(message.ext or {}), **change.ext} if change.combine_ext else dict(change.ext)
        edited = {"by": change.by, "at": now_ms(), "count": edits + 1}
        new = replace(message, bodies=[new_body], ext=ext, edited=edited)
        if not await self.db.write(rewrite_message_txn, str(app.uuid), edits, new):
            if await self.find(app, message.id) is None:
                raise errors.rewrite_error(404, "The message is unavailable or has expired.")
            raise errors.HximError(
                409, "concurrent_operation_error", "The message has been edited by another.", None, "conflict"
            )
        event = Edited(new.to_doc())
        keys = {u.key for u in await self._recipients(app, message)}
        if message.sender != ADMIN:
            keys.add(message.sender.lower())
        for key in keys:
            self.router.push(app.uuid, key, event)
        return new

    # --- what a user no longer reads back (one-sided) ------------------------------------------------
    async def forget_messages(self, user: User, message_ids: list[int]) -> None:
        """`user` no longer reads these messages back; the other side still does."""
        await self.db.write(hide_messages_txn, user.id, message_ids)

    async def forget_conversation(self, user: User, conversation: str, until: int | None = None) -> None:
        """`user` no longer reads back what `conversation` (`chat_conversation`,
        `room_conversation`, or `ALL_CONVERSATIONS`) held up to `until` (ms; None: now)."""
        await self.db.write(cut_conversation_txn, user.id, conversation, now_ms() if until is None else until)

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

    async def any_between(self, app: App, start: int, end: int) -> bool:
        """Whether the app has a message sent in [start, end) (ms)."""
        return bool(await self.db.read(history_txn, app.id, [(">=", start), ("<", end)], False, None, 1))

    async def between(self, app: App, start: int, end: int) -> AsyncIterator[list[Message]]:
        """Every message of the app sent in [start, end) (ms), oldest first, a page at a time."""
        after: tuple[int, int] | None = None
        page = self.settings.history_page_max
        while True:
            found = await self.db.read(history_txn, app.id, [(">=", start), ("<", end)], False, after, page)
            if found:
                yield found
            if len(found) < page:
                return
            after = (found[-1].timestamp, found[-1].id)

    async def conversation(
        self, app: App, user: User, other: str, room: bool, key: str | None
    ) -> tuple[list[Message], bool, str]:
        """One page of `user`'s conversation with user `other`, or in room `other` (of which the
        user must be a member), newest first, before the position `key` (None: the newest):
        (messages, whether this is the last page, the key of the next page). The Web IM SDK's
        message roaming (webim-xmpp.md §2.6); a page holds `message_roaming_page_size`."""
        before = decode_cursor(key, 1)[0] if key else None
        page, last = await self.read_back(
            app, user, other, room, Slice(start=before), self.settings.message_roaming_page_size
        )
        next_key = encode_cursor(page[-1].id) if page else (key or "")
        return page, last, next_key

    async def read_back(
        self, app: App, user: User, other: str, room: bool, part: Slice, limit: int
    ) -> tuple[list[Message], bool]:
        """Up to `limit` messages of `part` of `user`'s conversation with user `other`, or in room
        `other` (of which the user must be a member now): what the user reads back of it (not what
        they deleted for themselves, nor messages meant for others), and whether nothing more of
        it remains past them. The one rule of every history a user reads (the Web IM SDK 1.8's
        and 4.x's message roaming, the 4.x conversation list)."""
        if room:
            for rooms in self.rooms.values():
                if await rooms.is_member(app, other, user):
                    break
            else:  # no such room and not a member read alike: a room's existence is not revealed
                raise errors.forbidden_op(f"user: {user.username} doesn't exist in group: {other}")
            sides: list[tuple[str, str | None]] = [(str(int(other)), None)]  # as stored: "012" is 12
            chat_types: tuple[str, ...] = ROOM_CHAT_TYPES
            conversation = room_conversation(other)
        else:
            peer = await self.users.find(app, other)
            name, peer_key = (peer.username, peer.key) if peer is not None else (other, other.lower())
            sides = [(name, user.key)] if peer_key == user.key else [(name, user.key), (user.username, peer_key)]
            chat_types = ("chat",)
            conversation = chat_conversation(peer_key)
        found = await self.db.read(
            conversation_txn, app.id, sides, chat_types, part, limit + 1, user.key, user.id, conversation
        )
        return found[:limit], len(found) <= limit

    async def conversations(
        self, app: App, user: User, limit: int, cursor: str | None
    ) -> tuple[list[Conversation], str | None]:
        """A page of `user`'s conversations (1:1 and groups) that hold a message they read back,
        the newest activity first, each with that message and the user's offline messages in it;
        and the next page's cursor while more remain. 1:1 conversations are those of the user's
        newest `conversations_scan_max` messages received and as many sent; groups those the
        user belongs to now."""
        below = decode_cursor(cursor, 1)[0] if cursor else None
        groups = [str(int(r)) for r, _ in await self.rooms["groupchat"].joined(app, user.username) if r.isdecimal()]
        heads = await self.db.read(
            conversation_heads_txn, app.id, user.username, groups, self.settings.conversations_scan_max
        )
        heads.sort(key=lambda h: h[2], reverse=True)
        found: list[tuple[int, str, str, Message]] = []  # (last id, chat type, peer, last message)
        for chat_type, peer, newest in heads:
            if len(found) > limit and newest < found[limit][0]:
                break  # no later conversation can be newer than those kept
            newest_read, _ = await self.read_back(app, user, peer, chat_type != "chat", NEWEST, 1)
            if newest_read and (below is None or newest_read[0].id < below):
                found.append((newest_read[0].id, chat_type, peer, newest_read[0]))
                found.sort(key=lambda f: f[0], reverse=True)
        page = found[:limit]
        unread = await self._unread(user)
        out = [
            Conversation(
                chat_type,
                peer if chat_type != "chat" else await self._peer_name(app, peer),
                last,
                unread.get((chat_type, peer), 0),
            )
            for _, chat_type, peer, last in page
        ]
        return out, encode_cursor(page[-1][0]) if len(found) > limit else None

    async def _peer_name(self, app: App, key: str) -> str:
        peer = await self.users.find(app, key)
        return peer.username if peer is not None else key

    async def _unread(self, user: User) -> dict[tuple[str, str], int]:
        """The user's offline messages counted by conversation ((chat type, peer key or group id))."""
        out: dict[tuple[str, str], int] = {}
        for chat_type, sender, recipient, count in await self.db.read(offline_by_conversation_txn, user.id):
            where = (chat_type, sender) if chat_type == "chat" else (chat_type, recipient)
            out[where] = out.get(where, 0) + count
        return out

    # --- for other services -----------------------------------------------------------------------
    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Around a write that stores messages outside the group commit: `settled()` waits for it
        as for the rest."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._restoring.add(done)
        try:
            yield
        finally:
            self._restoring.discard(done)
            done.set_result(None)

    async def audience(self, app: App, message: Message) -> list[User]:
        """The users a stored message was for (its peer, or its room's members but the sender)."""
        return await self._recipients(app, message)
