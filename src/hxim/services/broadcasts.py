"""Broadcasts: one message to every user of an app, to its online users, or to every chat room.

Easemob's broadcast_to_all_users, broadcast_to_online_users and broadcast_to_chatrooms pages. A
broadcast is a job: its row (`storage/broadcasts.py`) is written before the caller is answered
with its id, and a task of the node (`start`, `stop`) works through its targets in batches of
`broadcast_batch_size`, `broadcast_batch_interval_ms` apart, oldest broadcast first.

Each batch goes through `MessageService` as any message does (persist first, then route; the
send rules of the app's messages), with one difference: its messages, their offline entries and
the move of the job's cursor past the batch are one transaction. A node that stops mid-way, even
killed, resumes at the cursor when it starts again: every target gets its message exactly once
in storage (the batch either was written with its cursor move, or not at all, and is then sent
again), and live delivery is what it is for any message. Two nodes that work on one job cannot
both write a batch: the cursor move is conditional on where the cursor was.

- all users: a 1:1 message to each user (offline copies for those without a session);
- online users: a 1:1 message to each user with an available session when their batch comes,
  without offline copies (users who were online when a killed node went down are not online
  when it comes back: they get nothing, as they would have had nothing offline);
- chat rooms: a message to every chat room of the app, as `admin` or the given `from` (who
  need not be a member), its members but the sender reached, no offline copies.

Each kind may be started at most `broadcast_*_per_day` times in 24 hours per app (403).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.hub import Router
from hxim.model import App, IdGenerator, Recipients, now_ms
from hxim.services.messages import ADMIN, MessageService, SendMessage, StoreBatch
from hxim.services.rooms import RoomService
from hxim.storage import Database
from hxim.storage.apps import list_apps_txn
from hxim.storage.broadcasts import (
    RUNNING,
    Broadcast,
    advance_broadcast_txn,
    broadcast_txn,
    chatrooms_after_txn,
    create_broadcast_txn,
    end_broadcast_txn,
    pending_broadcasts_txn,
    running_broadcasts_txn,
    users_after_txn,
)
from hxim.storage.messages import Stored

__all__ = ["ALL_USERS", "BroadcastService", "CHATROOMS", "ONLINE_USERS", "StartBroadcast"]

log = logging.getLogger(__name__)

ALL_USERS, ONLINE_USERS, CHATROOMS = "users", "online_users", "chatrooms"
_DAY_MS = 86_400_000
_LIMIT_TEXT = {  # Easemob's words past the daily allowance
    ALL_USERS: "broadcast message limit exceeded",
    ONLINE_USERS: "online user broadcast limit exceeded",
    CHATROOMS: "chatroom broadcast limit exceeded",
}


@dataclass(frozen=True, slots=True)
class StartBroadcast:
    """Broadcast one message (`body`: its type and fields) from `sender` (a user, or `admin`) to
    the targets of `kind`."""

    kind: str
    sender: str
    body: dict[str, Any]
    ext: dict[str, Any] | None = None


class _Overtaken(Exception):
    """The job's cursor moved elsewhere (another node did the batch) or the job is gone."""


class BroadcastService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        messages: MessageService,
        chatrooms: RoomService,
        router: Router,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.messages = messages
        self.chatrooms = chatrooms
        self.router = router
        self._wake = asyncio.Event()  # a broadcast was started, or the node stops
        self._halt = asyncio.Event()  # the node stops
        self._task: asyncio.Task[None] | None = None

    # --- starting and reading ---------------------------------------------------------------------
    async def start_broadcast(self, app: App, cmd: StartBroadcast) -> Broadcast:
        """Record the broadcast and wake the worker; answers the recorded job (progress 0)."""
        if cmd.kind not in _LIMIT_TEXT:
            raise ValueError(cmd.kind)
        self.messages.check_body(cmd.body)
        allowed = {
            ALL_USERS: self.settings.broadcast_users_per_day,
            ONLINE_USERS: self.settings.broadcast_online_users_per_day,
            CHATROOMS: self.settings.broadcast_chatrooms_per_day,
        }[cmd.kind]
        now = now_ms()
        job = Broadcast(
            self.ids.next(), app.id, cmd.kind, cmd.sender, [cmd.body], cmd.ext, "", 0, 0, 0, RUNNING, now, None
        )
        if not await self.db.write(create_broadcast_txn, job, now - _DAY_MS, allowed):
            raise errors.forbidden_op(_LIMIT_TEXT[cmd.kind])
        self._wake.set()
        return job

    async def get(self, app: App, ident: int) -> Broadcast:
        found = await self.db.read(broadcast_txn, app.id, ident)
        if found is None:
            raise errors.resource_not_found(f"broadcast [{ident}] not found")
        return found

    async def pending(self) -> tuple[int, int]:
        """Broadcasts not finished, of every app, and the targets they have still to reach."""
        return await self.db.read(pending_broadcasts_txn)

    # --- the worker -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start working (on the running loop): broadcasts a stopped node left unfinished first."""
        if self._task is None:
            self._halt.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hxim-broadcasts")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop after the batch in progress (cancelled past `timeout`: what was written stays, the
        rest is done at the next start)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._halt.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._halt.is_set():
            self._wake.clear()
            try:
                jobs = await self.db.read(running_broadcasts_txn)
                apps = {a.id: a for a in await self.db.read(list_apps_txn)} if jobs else {}
                for job in jobs:
                    app = apps.get(job.app_uuid)
                    if app is not None and not self._halt.is_set():
                        await self._work(app, job)
            except Exception:  # the database failed: try again a little later
                log.exception("broadcasts: working through the broadcasts failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), 1.0)
                continue
            await self._wake.wait()

    async def _work(self, app: App, job: Broadcast) -> None:
        """Send `job`'s remaining batches, then mark it finished."""
        size = self.settings.broadcast_batch_size
        if job.kind != CHATROOMS:
            size = min(size, self.settings.message_targets_max)
        pause = self.settings.broadcast_batch_interval_ms / 1000
        cursor = job.cursor
        while not self._halt.is_set():
            after = int(cursor) if cursor else 0
            targets: list[str]
            if job.kind == CHATROOMS:
                room_ids = await self.db.read(chatrooms_after_txn, app.id, after, size)
                targets, last = [str(r) for r in room_ids], (room_ids[-1] if room_ids else after)
            else:
                found = await self.db.read(users_after_txn, app.id, after, size)
                targets, last = [name for _, name in found], (found[-1][0] if found else after)
            if not targets:
                await self.db.write(end_broadcast_txn, job.id, cursor, now_ms())
                return
            if not await self._batch(app, job, targets, cursor, str(last)):
                return
            cursor = str(last)
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), pause)

    async def _batch(self, app: App, job: Broadcast, targets: list[str], cursor: str, to: str) -> bool:
        """Send `job`'s message to one batch of targets, moving the cursor from `cursor` to `to`
        in the same transaction; False when another worker did this batch (or the job is gone)."""

        async def store(batch: list[Stored]) -> None:
            if not await self.db.write(advance_broadcast_txn, job.id, cursor, to, len(targets), batch):
                raise _Overtaken

        try:
            try:
                reached = await self._send(app, job, targets, store)
            except errors.HximError as exc:  # refused as a whole (cannot happen to a checked body)
                log.warning("broadcast %s: a batch was refused (%s); its targets are passed over", job.id, exc)
                reached = False
            if not reached:
                await store([])  # nobody in this batch to reach: only the cursor moves
        except _Overtaken:
            return False
        return True

    async def _send(self, app: App, job: Broadcast, targets: list[str], store: StoreBatch) -> bool:
        """Send `job`'s message to the batch's targets, written by `store`; False when nobody in
        the batch is to be reached (nothing sent)."""
        sender_key = job.sender.lower()
        if job.kind == CHATROOMS:
            plans = await self._room_plans(app, targets, sender_key)
            if not plans:
                return False
            await self.messages.store_and_route(app, job.sender, plans, list(job.bodies), job.ext, store=store)
            return True
        keys = [t.lower() for t in targets]
        online = self.router.online(app.uuid, keys) if job.kind == ONLINE_USERS else None
        reach = tuple(
            t for t, k in zip(targets, keys, strict=True) if k != sender_key and (online is None or k in online)
        )
        if not reach:
            return False
        cmd = SendMessage("chat", reach, tuple(job.bodies), job.ext, job.sender, online_only=online is not None)
        await self.messages.send(app, cmd, store=store)
        return True

    async def _room_plans(self, app: App, room_ids: list[str], sender_key: str) -> list[Recipients]:
        """Whom the broadcast reaches in each chat room: every member but its sender (who need
        not be one); rooms deleted meanwhile are passed over."""
        plans = []
        for rid in room_ids:
            try:
                plan = await self.chatrooms.resolve(app, rid, ADMIN)
            except errors.HximError:
                continue
            plan.users = [u for u in plan.users if u.key != sender_key]
            plans.append(plan)
        return plans
