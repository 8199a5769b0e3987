"""One msync connection (Easemob's Web SDK 4.x, Agora Chat): login, sync by queue, sends, and
the hub events rendered as the metas the SDK reads (docs/msync.md).

A session logs in with PROVISION (a user token, `$t$…`, or a password), is bound in the hub and
available at once (the SDK has no presence step), and from then on:

* **Queues.** What the user is to read waits in per-queue lists, one queue per conversation
  (the sender of a 1:1 message, the group or chat room) as the SDK expects them. UNREAD lists the
  queues with something waiting; a pull (`CommSyncUL{queue, key}`) answers one page and the
  next pull, whose `key` is the last id of that page, acknowledges it. A queue that receives
  something while the client is not pulling it gets a NOTICE.
* **Persist first, then route.** Offline messages are read from storage at the first UNREAD
  and leave it only once acknowledged; live messages the router hands over wait in memory, and
  those not acknowledged when the session ends go back to offline storage (as for XMPP).
* **Sends** go through `MessageService.send` like every other client's, and are answered with
  the stored message's id (`serverId`) or the status the SDK maps to its error.

The session is the hub's `Session`: `deliver` and `push` never wait.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Protocol

import orjson

from hxim import errors
from hxim.hub import Event, PresenceChanged
from hxim.model import App, Message, User
from hxim.msync import bodies, wire
from hxim.msync.wire import pb
from hxim.ratelimit import FloodGate

if TYPE_CHECKING:
    from hxim.msync.context import Msync

__all__ = ["MsyncSession", "Transport", "QueueKey", "queue_key"]

log = logging.getLogger("hxim.msync")

QueueKey = tuple[bool, str]  # (a room's queue, the case-folded user name or room id)

# What the SDK maps to its login errors (docs/msync.md, "Login")
BAD_CREDENTIALS = "Sorry, token or password does not match login info"
TOKEN_EXPIRED = "Sorry, token expired"
NO_USER = "Sorry, user not found"


class Transport(Protocol):
    def write(self, frames: list[bytes]) -> None: ...

    @property
    def paused(self) -> bool: ...

    def close(self) -> None: ...


def queue_key(message: Message, own_key: str) -> tuple[QueueKey, str]:
    """The queue a stored message waits in for user `own_key`, and the name the queue carries:
    1:1 messages in their sender's (the peer's, for the user's own messages), room messages in
    the room's."""
    if message.chat_type != "chat":
        return (True, message.to), message.to
    if message.sender.lower() == own_key:
        return (False, message.to.lower()), message.to
    return (False, message.sender.lower()), message.sender


class _Item:
    """One meta waiting in a queue: a stored message (kept offline in storage, or handed over
    live), or a kept notice; `data` is the serialised `Meta`, built when first sent."""

    __slots__ = ("id", "message", "data", "offline", "notice_id")

    def __init__(
        self, ident: int, message: Message | None, data: bytes | None, offline: bool = False, notice_id: int = 0
    ) -> None:
        self.id = ident
        self.message = message
        self.data = data
        self.offline = offline
        self.notice_id = notice_id


class _Queue:
    __slots__ = ("jid", "items", "inflight", "reading")

    def __init__(self, jid: pb.JID) -> None:
        self.jid = jid
        self.items: list[_Item] = []  # not yet sent, oldest first
        self.inflight: list[_Item] = []  # sent in the last page, not yet acknowledged
        self.reading = False  # a page sent or listed by UNREAD: the client reads it; no unasked page until drained


class MsyncSession:
    """A client connection from its first frame to its close; a hub `Session` once logged in."""

    def __init__(self, ctx: Msync, transport: Transport, peer: str = "") -> None:
        self.ctx = ctx
        self.transport = transport
        self.peer = peer
        self.device = "msync"
        # the hub's Session protocol
        self.app_uuid = uuid.UUID(int=0)
        self.user_key = ""
        self.resource = ""
        self.app: App | None = None
        self.user: User | None = None
        self.presence: PresenceChanged | None = None
        self.app_key = ""
        self._available = False
        self._ended = False
        self._synced = False  # the first UNREAD read the offline messages and kept notices
        self._queues: dict[QueueKey, _Queue] = {}
        self._pending = 0  # items waiting in every queue (bounded by `msync_queue_max`)
        self._unasked: list[_Queue] = []  # queues with news whose first page is to go out this turn
        self._out: list[bytes] = []
        self._write_scheduled = False
        self._flood = FloodGate(ctx.settings.msync_flood_rate, ctx.settings.msync_flood_burst)

    # --- the hub's Session protocol -------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._available and not self._ended

    @property
    def queued(self) -> int:
        """Metas waiting in the session's queues for the client, and frames not yet written."""
        return self._pending + len(self._out)

    def deliver(self, message: Message) -> bool:
        if not self.available:
            return False
        if self._pending >= self.ctx.settings.msync_queue_max:
            self.close("policy-violation")
            return False
        key, name = queue_key(message, self.user_key)
        self._add(key, name, _Item(message.id, message, None))
        return True

    def push(self, event: Event) -> bool:
        if self._ended:
            return False
        render = self.ctx.renderers.get(type(event))
        if render is not None:
            render(self, event)
        return True

    # --- queues ---------------------------------------------------------------------------------------
    def _queue(self, key: QueueKey, name: str) -> _Queue:
        q = self._queues.get(key)
        if q is None:
            domain = wire.ROOM_DOMAIN if key[0] else wire.CHAT_DOMAIN
            q = self._queues[key] = _Queue(wire.jid(self.app_key, name, domain))
        return q

    def _add(self, key: QueueKey, name: str, item: _Item) -> None:
        q = self._queue(key, name)
        q.items.append(item)
        self._pending += 1
        if not q.reading and self._synced:
            # the client is not reading this queue: its first page goes out unasked at the end of
            # this turn of the loop (with whatever else arrives for it meanwhile), and the
            # client's next pull acknowledges it, as after a NOTICE and a pull, in two fewer frames
            q.reading = True
            self._unasked.append(q)
            if len(self._unasked) == 1:
                asyncio.get_running_loop().call_soon(self._send_unasked)

    def _send_unasked(self) -> None:
        queues, self._unasked = self._unasked, []
        for q in queues:
            if not self._ended and q.items and not q.inflight:
                self._page(q)

    def add_meta(self, key: QueueKey, name: str, ident: int, data: bytes, notice_id: int = 0) -> None:
        """Queue a meta other than a stored message (a notice rendered for this client)."""
        if self._pending >= self.ctx.settings.msync_queue_max:
            self.close("policy-violation")
            return
        self._add(key, name, _Item(ident, None, data, notice_id=notice_id))

    # --- output ---------------------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        if self._ended:
            return
        self._out.append(frame)
        if not self._write_scheduled:
            self._write_scheduled = True
            asyncio.get_running_loop().call_soon(self._write_out)

    def _write_out(self) -> None:
        self._write_scheduled = False
        out, self._out = self._out, []
        if out:
            try:
                self.transport.write(out)
            except Exception as exc:  # the connection broke: connection_lost follows
                log.debug("msync: write to %s failed: %s", self.peer, exc)

    # --- life cycle -----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._ended

    def start(self) -> None:
        self.ctx.open_sessions.add(self)

    def close(self, reason: str | None = None) -> None:
        """End the session (a kick's reason, if any, was rendered before) and the connection."""
        if self._ended:
            return
        self._write_out()
        self._end()
        self.transport.close()

    def connection_lost(self) -> None:
        self._end()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.ctx.open_sessions.discard(self)
        was_available, self._available = self._available, False
        if self.user is None or self.app is None:
            return
        if self.resource:
            self.ctx.node.router.unbind(self)
        lost = [i.message for q in self._queues.values() for i in (*q.inflight, *q.items)
                if i.message is not None and not i.offline and i.message.chat_type != "chatroom"]
        self._queues.clear()
        self.ctx.background(self._after_end(self.app, self.user, lost, was_available))

    async def _after_end(self, app: App, user: User, lost: list[Message], was_available: bool) -> None:
        node = self.ctx.node
        if lost and not node.router.online(app.uuid, (user.key,)):
            await node.messages.restore_offline([(user.id, m.id) for m in lost])
        if was_available:
            event = PresenceChanged(user.username, self.resource, False)
            await node.presence.broadcast(app, user, event, await self._contacts(user))

    async def _contacts(self, user: User) -> list[str]:
        friends, _ = await self.ctx.node.contacts.roster(user)
        return [f.lower() for f in friends]

    # --- input ----------------------------------------------------------------------------------------
    async def received(self, data: bytes | str) -> None:
        if self._ended:
            return
        if isinstance(data, str):  # a text message: not msync
            self.close("bad-format")
            return
        if self._flood.flooding():
            self.close("policy-violation")
            return
        try:
            frame = wire.decode(data)
        except wire.FrameError:
            log.info("msync: %s sent a frame that is not msync; closing", self.peer)
            self.close("bad-format")
            return
        try:
            await self._on_frame(frame)
        except wire.FrameError as exc:
            log.info("msync: %s: %s; closing", self.peer, exc)
            self.close("bad-format")
        except Exception:
            log.exception("msync: failure while handling a frame from %s", self.user_key or self.peer)
            self.ctx.node.counters.errors["msync"] += 1
            self.close("internal-server-error")

    async def _on_frame(self, frame: pb.MSync) -> None:
        command = frame.command
        if command == wire.PROVISION:
            await self._provision(frame)
        elif self.user is None:
            # nothing but a login before a login: the SDK's own order, so this is not an SDK
            self.send(wire.provision_answer(pb.Status.UNAUTHORIZED, "log in first"))
            self.close()
        elif command == wire.SYNC:
            ul = wire.payload_of(frame, pb.CommSyncUL)
            assert isinstance(ul, pb.CommSyncUL)
            if ul.HasField("meta"):
                await self.ctx.handle_meta(self, ul.meta)
            elif ul.HasField("queue"):
                await self._pull(ul.queue, ul.key)
        elif command == wire.UNREAD:
            await self._unread()
        elif command == wire.LOGOUT:
            self.send(wire.logout_answer())
            self.close()

    # --- login ----------------------------------------------------------------------------------------
    async def _provision(self, frame: pb.MSync) -> None:
        if self.user is not None:
            return  # one login per connection: a repeat is answered by the first
        provision = wire.payload_of(frame, pb.Provision)
        assert isinstance(provision, pb.Provision)
        secret = frame.auth or _token_in(provision.auth_token) or provision.password
        guid = frame.guid
        node = self.ctx.node
        org, _, name = guid.app_key.partition("#")
        app = (node.apps.cached(org, name) or await node.apps.find(org, name)) if org and name else None
        key = guid.name.lower()
        if app is None or not key:
            self._refuse(pb.Status.FAIL, NO_USER if app is not None else "Sorry, appkey not found")
            return
        address = self.peer.rsplit(":", 1)[0]
        wait = node.logins.wait(app.id, key, address)
        if wait:
            self._refuse(pb.Status.FAIL, f"Sorry, too many failed logins: try again in {wait} seconds")
            return
        try:
            user = await node.users.log_in(app, guid.name, secret, node.tokens)
        except errors.HximError as exc:
            node.logins.failed(app.id, key, address)
            if exc.error == "expired_token":
                self._refuse(pb.Status.FAIL, TOKEN_EXPIRED)
            elif exc.error == "unauthorized":
                self._refuse(pb.Status.UNAUTHORIZED, f"Sorry, user {guid.name} is deactivated")
            elif await node.users.find(app, key) is None:
                self._refuse(pb.Status.FAIL, NO_USER)
            else:
                self._refuse(pb.Status.FAIL, BAD_CREDENTIALS)
            return
        node.logins.succeeded(app.id, key, address)
        node.counters.login(self.device, True)
        if self._ended:
            return
        self.app, self.user, self.app_uuid, self.user_key = app, user, app.uuid, user.key
        self.app_key = app.appkey
        self.resource = _resource(provision.resource, guid.client_resource, provision.device_uuid)
        node.router.bind(self)  # a session bound to the same resource ends (`conflict`)
        self._available = True
        self.presence = PresenceChanged(user.username, self.resource, True)
        self.send(wire.provision_answer(resource=self.resource))
        await node.presence.broadcast(app, user, self.presence, await self._contacts(user), arrived=True)

    def _refuse(self, code: int, reason: str) -> None:
        """A login refused: the answer, then the end of the connection."""
        self.ctx.node.counters.login(self.device, False)
        self.send(wire.provision_answer(code, reason))
        self.close()

    # --- sync -----------------------------------------------------------------------------------------
    async def _unread(self) -> None:
        if not self._synced:
            await self._load_stored()
            self._synced = True
        out = []
        for q in self._queues.values():
            n = len(q.items) + len(q.inflight)
            if n:
                q.reading = True  # the client pulls what UNREAD lists
                out.append((q.jid, n))
        self.send(wire.unread_answer(out))

    async def _load_stored(self) -> None:
        """The offline messages and kept notices, into their queues (oldest first)."""
        user = self.user
        assert user is not None
        node = self.ctx.node
        await node.messages.settled()
        await node.notices.settled()
        limit = self.ctx.settings.msync_offline_max
        after = 0
        loaded: list[Message] = []
        batch = self.ctx.settings.xmpp_offline_batch
        while len(loaded) < limit:
            page = await node.messages.offline_messages(user, min(batch, limit - len(loaded)), after)
            loaded += page
            if len(page) < batch:
                break
            after = page[-1].id
        for message in loaded:
            key, name = queue_key(message, self.user_key)
            q = self._queue(key, name)
            q.items.append(_Item(message.id, message, None, offline=True))
            self._pending += 1
        for notice_id, notice in await node.notices.pending(user, self.ctx.settings.msync_offline_max):
            self.ctx.render_kept(self, notice_id, notice)
        for q in self._queues.values():
            q.items.sort(key=lambda i: i.id)

    async def _pull(self, queue: pb.JID, key: int) -> None:
        name = queue.name
        qkey: QueueKey = ("conference" in queue.domain, name.lower())
        q = self._queues.get(qkey)
        if q is None:
            self.send(wire.batch_answer(queue, (), key, True))
            return
        if key:
            await self._acknowledge(q, key)
        elif q.inflight:  # asked from the start again: what was sent comes again
            q.items[:0] = q.inflight
            q.inflight = []
        if not q.items:
            q.reading = False
            self.send(wire.batch_answer(q.jid, (), key, True))
            if not q.inflight:
                del self._queues[qkey]
            return
        self._page(q)

    def _page(self, q: _Queue) -> None:
        """Send the queue's next page; it waits as sent until the client's next pull names its key."""
        page = q.items[: self.ctx.settings.msync_page_size]
        del q.items[: len(page)]
        q.inflight.extend(page)
        app_key = self.app_key
        metas = []
        for item in page:
            if item.data is None:
                assert item.message is not None
                item.data = bodies.meta_bytes(item.message, app_key)
            metas.append(item.data)
        self.send(wire.batch_answer(q.jid, metas, page[-1].id, False))

    async def _acknowledge(self, q: _Queue, key: int) -> None:
        done = [i for i in q.inflight if i.id <= key]
        if not done:
            return
        q.inflight = [i for i in q.inflight if i.id > key]
        self._pending -= len(done)
        user = self.user
        assert user is not None
        node = self.ctx.node
        stored = [i.id for i in done if i.offline]
        if stored:
            await node.messages.mark_delivered(user, stored)
        notices = [i.notice_id for i in done if i.notice_id]
        if notices:
            await node.notices.remove(user, notices)


def _token_in(auth_token: str) -> str:
    """The token of `Provision.auth_token` (`{"token":"$t$…"}`, the UI kit's SDK)."""
    if not auth_token.startswith("{"):
        return auth_token
    try:
        doc = orjson.loads(auth_token)
    except orjson.JSONDecodeError:
        return ""
    token = doc.get("token") if isinstance(doc, dict) else None
    return token if isinstance(token, str) else ""


def _resource(*candidates: str) -> str:
    for c in candidates:
        if c and len(c) <= 256:
            return c
    return "msync_" + uuid.uuid4().hex[:12]

