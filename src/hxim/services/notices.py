"""Notices: what a user is told besides stored messages, delivered now or kept for their next
login (webim-xmpp.md §5.1, §7.6, §7.11, §9(d).4).

`send` is the one rule for every notice, whoever causes it (REST or a client): the router hands
it to the user's available sessions; when none takes it, it is kept (unless the caller says it is
not worth keeping: chat-room news, join announcements) and the user's next session replays it
after logging in (`pending`, then `remove`). A notice is protocol-neutral (`hub.Notice`: a kind,
the user it comes from, a JSON payload); each session kind renders it. Messages have their own
offline queue (`MessageService`).
"""

from __future__ import annotations

import asyncio

from hxim.hub import Notice, Router
from hxim.model import App, IdGenerator, User
from hxim.storage import Database
from hxim.storage.notices import add_notice_txn, forget_notices_txn, notices_txn, remove_notices_txn

__all__ = ["NoticeKind", "NoticeService", "Pending"]

Pending = tuple[int, Notice]  # (storage id, the notice) of a kept notice


class NoticeKind:
    """The kinds of notice and what their payload holds."""

    SUBSCRIPTION = "subscription"  # a friend request or its answer: {"type", "status"}
    RECEIPT = "receipt"  # a delivery or read ack: {"ack": "delivery"|"acked", "mid", "body"}
    RECALL = "recall"  # a message withdrawn: {"mid", "room"?}
    ROOM_REMOVED = "room-removed"  # kicked or banned: {"room", "nick", "code": "307"|"321"}
    ROOM_DESTROYED = "room-destroyed"  # {"room", "reason"}
    ROOM_ROLE = "room-role"  # {"room", "event": "admin_added"|"admin_removed"|"muted"|"unmuted"}
    ROOM_APPLY = "room-apply"  # to the owner and admins: {"room", "name", "reason"}
    ROOM_ACCEPT = "room-accept"  # to the applicant: {"room"}
    ROOM_DECLINE = "room-decline"  # to the applicant: {"room", "reason"}
    ROOM_INVITE = "room-invite"  # {"room", "reason"}
    ROOM_JOIN = "room-join"  # a member joined, to the others (never kept): {"room", "chatroom"}
    # a member left by themself, to the others (never kept; no XMPP form): {"room", "chatroom"}
    ROOM_LEAVE = "room-leave"
    # What a room holds changed: told to its online members (never kept: the REST reads answer a
    # member who was away). `room` is the id; the notice's sender is who acted (the owner when
    # the app did).
    ROOM_ANNOUNCEMENT = "room-announcement"  # {"room", "chatroom": bool, "announcement"}
    ROOM_DISABLED = "room-disabled"  # a group disabled or enabled: {"room", "disabled": bool}
    # a group's shared file added or removed:
    # {"room", "event": "added"|"removed", "file_id", "file_name", "file_owner", "file_size", "created"}
    ROOM_FILE = "room-file"
    # a group member's attributes changed: {"room", "user", "attributes": {name: value, "" when removed}}
    ROOM_MEMBER_ATTRIBUTES = "room-member-attributes"
    # a chat room's attributes set or removed by `user`:
    # {"room", "user", "event": "set"|"removed", "attributes": {name: value} (set), "keys": [names] (removed)}
    ROOM_ATTRIBUTES = "room-attributes"
    # a reaction added or taken back, to the conversation's online users (never kept):
    # {"mid", "chat_type", "from", "to", "reaction", "op": "add"|"remove", "count", "mine"}
    # (services.reactions)
    REACTION = "reaction"
    # Threads of a group (services.threads; never kept: a member who was away reads them over
    # REST). Each payload is the thread: {"thread", "group", "name", "owner", "msg_id",
    # "created"}, plus "user" (who joined, left or was removed) for the member events.
    # Created, renamed and destroyed are told to the group's online members; joined and left to
    # the thread's other online members; removed to the user removed.
    THREAD_CREATED = "thread-created"
    THREAD_UPDATED = "thread-updated"
    THREAD_DESTROYED = "thread-destroyed"
    THREAD_JOINED = "thread-joined"
    THREAD_LEFT = "thread-left"
    THREAD_KICKED = "thread-kicked"


class NoticeService:
    def __init__(self, db: Database, ids: IdGenerator, router: Router) -> None:
        self.db = db
        self.ids = ids
        self.router = router
        self._keeping: set[asyncio.Future[None]] = set()  # notices being written

    async def send(
        self, app: App, user: User, notice: Notice, *, keep: bool = True, replace: bool = False
    ) -> bool:
        """Tell `user` now (True), or keep the notice for their next login (unless `keep` is
        False); `replace` drops earlier kept ones of the same kind and sender."""
        if self.router.push(app.uuid, user.key, notice):
            return True
        if keep:
            await self.keep(user, notice, replace=replace)
        return False

    async def keep(self, user: User, notice: Notice, *, replace: bool = False) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._keeping.add(done)
        try:
            await self.db.write(
                add_notice_txn, user.id, self.ids.next(), notice.kind, notice.sender, dict(notice.payload), replace
            )
        finally:
            self._keeping.discard(done)
            done.set_result(None)

    async def settled(self) -> None:
        """Wait until every notice being kept is written: a session that has just become
        available calls it before it reads its kept notices, so that one decided a moment before
        (while the user was not yet available) is replayed now, not at the next login."""
        keeping = list(self._keeping)
        if keeping:
            await asyncio.wait(keeping)

    async def pending(self, user: User, limit: int) -> list[Pending]:
        """The oldest `limit` notices kept for the user."""
        rows = await self.db.read(notices_txn, user.id, limit)
        return [(ident, Notice(kind, sender, payload)) for ident, kind, sender, payload in rows]

    async def remove(self, user: User, ids: list[int]) -> None:
        if ids:
            await self.db.write(remove_notices_txn, user.id, ids)

    async def forget(self, user: User, kind: str, sender: str) -> None:
        """Drop the notices of one kind from one sender still kept for `user` (a withdrawn request)."""
        await self.db.write(forget_notices_txn, user.id, kind, sender)

