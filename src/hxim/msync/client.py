"""A minimal msync client, as Easemob's Web SDK 4.x speaks to a server: for hxim's own scenario
tests and its msync load generator (bench/msync_load.py), not for applications.

`MsyncClient.login` sends PROVISION with a `$t$` token and waits for the answer; `send` sends
a message and waits for its acknowledgement (the server's id); `sync` asks UNREAD and pulls
every queue it lists; a NOTICE is answered with a pull of its queue (as the SDK does), and what
the pulls bring arrives in `received`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from hxim.msync import bodies, wire
from hxim.msync.wire import pb

__all__ = ["MsyncClient", "Received", "SendRefused"]

_IDS = itertools.count(int(time.time() * 1000) * 1000)


class SendRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class Received:
    """One meta the client read: its namespace, id, time and decoded payload."""

    ns: int
    id: int
    timestamp: int
    body: Any
    queue: str

    @property
    def text(self) -> str:
        return str(self.body.contents[0].text) if self.ns == pb.Meta.CHAT and self.body.contents else ""


@dataclass
class MsyncClient:
    url: str
    app_key: str
    user: str
    resource: str = "webim_web_test"
    received: list[Received] = field(default_factory=list)
    statuses: list[pb.Status] = field(default_factory=list)
    # when set, each meta read is handed here as it came (and not kept in `received`)
    on_meta: Callable[[pb.Meta], None] | None = None
    # False: pages are read but never acknowledged (a client that drops before it answers)
    acknowledging: bool = True

    def __post_init__(self) -> None:
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[pb.CommSyncDL]] = {}
        self._provision: asyncio.Future[pb.Provision] | None = None
        self._unread: asyncio.Future[pb.CommUnreadDL] | None = None
        self._pulling: set[str] = set()
        self._arrived = asyncio.Event()
        self.closed = asyncio.Event()
        self.synced = asyncio.Event()
        self._sync_left: set[str] | None = None

    # --- connection ------------------------------------------------------------------------------
    async def login(self, token: str, *, timeout: float = 10) -> pb.Provision:
        """Connect and log in with a user token (`$t$` is added); returns the server's answer."""
        self._ws = await websockets.connect(self.url, max_size=None, compression=None)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._provision = asyncio.get_running_loop().create_future()
        provision = pb.Provision(
            os_type=pb.Provision.OS_OTHER, version="4.21.1", resource=self.resource, action_version="v5.2"
        )
        frame = pb.MSync(
            version=pb.MSync.MSYNC_V1, command=wire.PROVISION, auth="$t$" + token,
            guid=pb.JID(app_key=self.app_key, name=self.user, domain=wire.CHAT_DOMAIN, client_resource=self.resource),
            payload=provision.SerializeToString(),
        )
        await self._ws.send(frame.SerializeToString())
        return await asyncio.wait_for(self._provision, timeout)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _write(self, command: int, payload: bytes) -> None:
        await self._ws.send(pb.MSync(command=command, payload=payload).SerializeToString())  # type: ignore[arg-type]

    # --- sending ---------------------------------------------------------------------------------
    async def send(
        self, to: str, text: str = "", *, chat_type: int = pb.MessageBody.CHAT, content: Any = None,
        ext: dict[str, Any] | None = None, kind: int | None = None, ack_id: int = 0, timeout: float = 15,
    ) -> pb.CommSyncDL:
        """Send a message (or an ack, a recall: `kind`); returns the server's acknowledgement,
        or raises `SendRefused` with its status."""
        body = pb.MessageBody(type=kind if kind is not None else chat_type)  # type: ignore[arg-type]
        body.from_.name = self.user
        body.to.name = to
        if kind is None:
            body.contents.append(content if content is not None else pb.MessageBody.Content(type=0, text=text))  # type: ignore[arg-type]
        if ack_id:
            body.ack_message_id = ack_id
        if ext:
            body.ext.extend(bodies.kv_list(ext))
        room = chat_type != pb.MessageBody.CHAT
        meta = pb.Meta(id=next(_IDS), ns=pb.Meta.CHAT, payload=body.SerializeToString())
        meta.to.CopyFrom(wire.jid(self.app_key, to, wire.ROOM_DOMAIN if room else wire.CHAT_DOMAIN))
        return await self._meta(meta, timeout)

    async def post(self, to: str, text: str) -> None:
        """Send a text message without waiting for its acknowledgement (a load generator's send)."""
        body = pb.MessageBody(type=pb.MessageBody.CHAT, contents=[pb.MessageBody.Content(type=0, text=text)])  # type: ignore[arg-type]
        body.from_.name = self.user
        body.to.name = to
        meta = pb.Meta(id=next(_IDS), ns=pb.Meta.CHAT, payload=body.SerializeToString())
        meta.to.CopyFrom(wire.jid(self.app_key, to))
        await self._write(wire.SYNC, pb.CommSyncUL(meta=meta).SerializeToString())

    async def muc(self, room: str, operation: int, timeout: float = 15) -> pb.CommSyncDL:
        """A chat-room join or leave, as the SDK's joinChatRoom and leaveChatRoom send it."""
        body = pb.MUCBody(operation=operation, is_chatroom=True)  # type: ignore[arg-type]
        body.muc_id.CopyFrom(wire.jid(self.app_key, room, wire.ROOM_DOMAIN))
        body.from_.name = self.user
        meta = pb.Meta(id=next(_IDS), ns=pb.Meta.MUC, payload=body.SerializeToString())
        meta.to.domain = wire.CHAT_DOMAIN
        return await self._meta(meta, timeout)

    async def _meta(self, meta: pb.Meta, timeout: float) -> pb.CommSyncDL:
        fut: asyncio.Future[pb.CommSyncDL] = asyncio.get_running_loop().create_future()
        self._acks[meta.id] = fut
        await self._write(wire.SYNC, pb.CommSyncUL(meta=meta).SerializeToString())
        try:
            answer = await asyncio.wait_for(fut, timeout)
        finally:
            self._acks.pop(meta.id, None)
        if answer.status.error_code:
            raise SendRefused(answer.status.error_code, answer.status.reason)
        return answer

    # --- reading ---------------------------------------------------------------------------------
    async def sync(self, timeout: float = 10) -> pb.CommUnreadDL:
        """UNREAD, then pull every queue it lists until each says it is the last page."""
        self._unread = asyncio.get_running_loop().create_future()
        await self._write(wire.UNREAD, b"")
        unread = await asyncio.wait_for(self._unread, timeout)
        self._sync_left = {q.queue.name for q in unread.unread}
        if not self._sync_left:
            self.synced.set()
        for entry in unread.unread:
            await self._pull(entry.queue, 0)
        await asyncio.wait_for(self.synced.wait(), timeout)
        return unread

    async def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Until `count` metas have been received in all."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.user} received {len(self.received)} of {count}")
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue
        return self.received

    async def _pull(self, queue: pb.JID, key: int) -> None:
        self._pulling.add(queue.name)
        ul = pb.CommSyncUL(queue=queue)
        if key:
            ul.key = key
        await self._write(wire.SYNC, ul.SerializeToString())

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                frame = wire.decode(data)
                if frame.command == wire.PROVISION and self._provision is not None:
                    answer = pb.Provision()
                    answer.ParseFromString(frame.payload)
                    if not self._provision.done():
                        self._provision.set_result(answer)
                elif frame.command == wire.UNREAD and self._unread is not None:
                    unread = pb.CommUnreadDL()
                    unread.ParseFromString(frame.payload)
                    if not self._unread.done():
                        self._unread.set_result(unread)
                elif frame.command == wire.NOTICE:
                    note = pb.CommNotice()
                    note.ParseFromString(frame.payload)
                    if note.queue.name not in self._pulling:
                        await self._pull(note.queue, 0)
                elif frame.command == wire.SYNC:
                    await self._on_sync(frame.payload)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._arrived.set()

    async def _on_sync(self, payload: bytes) -> None:
        dl = pb.CommSyncDL()
        dl.ParseFromString(payload)
        if dl.meta_id:
            fut = self._acks.get(dl.meta_id)
            if fut is not None and not fut.done():
                fut.set_result(dl)
            return
        if self.on_meta is not None:
            for meta in dl.metas:
                self.on_meta(meta)
        else:
            self.statuses.append(dl.status)
            for meta in dl.metas:
                self.received.append(Received(meta.ns, meta.id, meta.timestamp, _payload(meta), dl.queue.name))
        if dl.metas:
            self._arrived.set()
        name = dl.queue.name
        if dl.is_last or not dl.metas:
            self._pulling.discard(name)
            if self._sync_left is not None and name in self._sync_left:
                self._sync_left.discard(name)
                if not self._sync_left:
                    self.synced.set()
        elif dl.HasField("queue") and self.acknowledging:
            await self._pull(dl.queue, dl.next_key)


def _payload(meta: pb.Meta) -> Any:
    kind = {
        pb.Meta.STATISTIC: pb.StatisticsBody, pb.Meta.CHAT: pb.MessageBody, pb.Meta.MUC: pb.MUCBody,
        pb.Meta.ROSTER: pb.RosterBody,
    }.get(meta.ns)
    if kind is None:
        return meta.payload
    body = kind()
    body.ParseFromString(meta.payload)
    return body
