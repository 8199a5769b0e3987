"""Delivering post-send callbacks from the outbox (docs/callbacks.md), at least once.

One task of the node (`start`, `stop`) writes the event callbacks that services queued
(`CallbackService.take_pending`), reloads changed rules, and takes the callbacks due from storage
into a queue per rule, `callback_claim_batch` at most; at most `callback_concurrency_per_rule`
senders per rule send them (a slow receiver holds its own rows only, never memory or sockets
beyond that). Deliveries and failures are written a turn of the worker at a time. Each
callback is a JSON POST with Easemob's `securityVersion` and `security` (md5 of callId, the
rule's secret and the body's timestamp) appended, POSTed from a child process of the node
(`callback_sender`, `services.callback_sender`) or from the node's own loop; only a 200 whose answer is at most
`callback_answer_max_chars` long counts as delivered (the row is deleted).
Anything else moves it later, `callback_retry_base_seconds` doubled at each failure up to
`callback_retry_max_delay_seconds`; past `callback_retry_max_age_seconds` it is kept as failed,
listed by `GET /callbacks/storage/info` and replayed by `POST /callbacks/storage/retry` (a replay
is tried once; a failed one stays failed). After `callback_rule_backoff_after` failures in a row a
rule is backed off as a whole (its callbacks wait; logged), never disabled. A row taken is leased
(its `due` moved past the time its queue may take), so callbacks a node held when it died become
due again after the lease and are sent after a restart; a node that stops releases at once those
it had not tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hxim.config import Settings
from hxim.model import now_ms
from hxim.services.callback_http import AnswerTooLong, HttpFailure
from hxim.services.callback_sender import ChildSender
from hxim.services.callbacks import SECURITY_VERSION, CallbackService, Rule, signature
from hxim.storage import Database
from hxim.storage.callbacks import (
    FAILED,
    PENDING,
    Claimed,
    claim_txn,
    delivered_txn,
    outbox_insert_txn,
    purge_failed_txn,
    release_txn,
    tried_txn,
)

__all__ = ["CallbackDelivery"]

log = logging.getLogger(__name__)
_PURGE_EVERY_MS = 60_000
_COALESCE = 0.005  # seconds the worker lets work gather between two turns


@dataclass(slots=True)
class _RuleState:
    queue: deque[Claimed] = field(default_factory=deque)  # taken from storage, not yet sent
    senders: int = 0  # tasks sending the queue's callbacks, at most `callback_concurrency_per_rule`
    failures: int = 0  # in a row
    held_until: int = 0  # ms: backed off until then
    backoffs: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class CallbackDelivery:
    def __init__(self, db: Database, settings: Settings, callbacks: CallbackService) -> None:
        self.db = db
        self.settings = settings
        self.callbacks = callbacks
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._states: dict[int, _RuleState] = {}
        self._delivered: list[int] = []
        self._tried: list[dict[str, Any]] = []
        self.counters = {"delivered": 0, "failed_tries": 0, "given_up": 0}
        callbacks.wake = self.wake
        # where the POSTs leave from: a child process, or this event loop (the pre-send client)
        self.sender: ChildSender | None = (
            ChildSender(settings.callback_concurrency_per_rule) if settings.callback_sender == "process" else None
        )

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._halt.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hxim-callbacks")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop: callbacks in flight get `timeout` to end; those taken but not sent are due again
        at once (for the next start)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._halt.set()
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        flying = [t for s in self._states.values() for t in s.tasks]
        if flying:
            _, late = await asyncio.wait(flying, timeout=timeout)
            for t in late:
                t.cancel()
        unsent = [row.id for state in self._states.values() for row in state.queue]
        for state in self._states.values():
            state.queue.clear()
        await self._save()
        if unsent:
            await self.db.write(release_txn, unsent, now_ms())
        if self.sender is not None:
            await self.sender.aclose()
        self.callbacks.close()

    async def _run(self) -> None:
        poll = self.settings.callback_poll_ms / 1000
        reload_ms = self.settings.callback_rules_reload_ms
        next_reload = 0
        next_purge = 0
        while not self._halt.is_set():
            self._wake.clear()
            try:
                now = now_ms()
                if now >= next_reload:
                    await self.callbacks.refresh()
                    next_reload = now + int(reload_ms)
                if now >= next_purge:
                    keep = int(self.settings.callback_failed_keep_seconds * 1000)
                    if await self.db.write(purge_failed_txn, now - keep):
                        log.info("callbacks: failed callbacks older than %s s forgotten", keep // 1000)
                    next_purge = now + _PURGE_EVERY_MS
                await self._save()
                await self._claim()
            except Exception:  # the database failed: try again a little later
                log.exception("callbacks: working through the outbox failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(poll, reload_ms / 1000))
            await asyncio.sleep(_COALESCE)  # what arrives meanwhile shares the next transactions

    async def _save(self) -> None:
        """Write what the last turns decided: new event callbacks, deliveries, failed tries."""
        pending = self.callbacks.take_pending()
        if pending:
            await self.db.write(outbox_insert_txn, pending)
        done, self._delivered = self._delivered, []
        if done:
            await self.db.write(delivered_txn, done)
        tried, self._tried = self._tried, []
        if tried:
            await self.db.write(tried_txn, tried)

    async def _claim(self) -> None:
        """Refill each rule's queue from storage when it runs low, and start its senders."""
        s = self.settings
        size = s.callback_concurrency_per_rule
        now = now_ms()
        # a row waits in the queue while the ones before it are sent: its lease covers that
        lease = now + int(((s.callback_claim_batch // size + 1) * s.callback_timeout_seconds
                           + s.callback_retry_max_delay_seconds) * 1000)
        for rule in list(self.callbacks.rules.values()):
            if rule.kind != "post":
                continue
            state = self._states.setdefault(rule.id, _RuleState())
            if state.held_until > now:
                continue
            if len(state.queue) < size:
                wanted = s.callback_claim_batch - len(state.queue)
                state.queue.extend(await self.db.write(claim_txn, rule.id, now, lease, wanted))
            while state.senders < min(size, len(state.queue)):
                state.senders += 1
                task = asyncio.get_running_loop().create_task(self._send(rule, state))
                state.tasks.add(task)
                task.add_done_callback(state.tasks.discard)
        for gone in set(self._states) - set(self.callbacks.rules):
            if not self._states[gone].tasks:
                del self._states[gone]

    async def _send(self, rule: Rule, state: _RuleState) -> None:
        """Send the rule's queued callbacks one after the other (one of its senders)."""
        try:
            while state.queue and not self._halt.is_set() and state.held_until <= now_ms():
                row = state.queue.popleft()
                why = await self._post(rule, row)
                if why is None:
                    self._delivered.append(row.id)
                    self.counters["delivered"] += 1
                    state.failures = state.backoffs = 0
                else:
                    self._failed(rule, state, row, why, now_ms())
        finally:
            state.senders -= 1
            if not state.queue or self._delivered or self._tried:
                self._wake.set()

    async def _post(self, rule: Rule, row: Claimed) -> str | None:
        """One try: None when delivered, else why not."""
        sig = signature(row.call_id, rule.secret, row.stamp)
        content = f'{row.body[:-1]},"securityVersion":"{SECURITY_VERSION}","security":"{sig}"}}'.encode()
        limit = self.settings.callback_answer_max_chars
        try:
            status, _ = await (self.sender or self.callbacks.http).post(
                row.target_url or rule.url, content, self.settings.callback_timeout_seconds, limit
            )
        except TimeoutError:
            return "timeout"
        except AnswerTooLong:
            return f"answer over {limit} characters"
        except (HttpFailure, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None if status == 200 else f"HTTP {status}"

    def _failed(self, rule: Rule, state: _RuleState, row: Claimed, why: str, now: int) -> None:
        s = self.settings
        self.counters["failed_tries"] += 1
        self.callbacks.failed_try(rule)
        attempts = row.attempts + 1
        delay = min(s.callback_retry_base_seconds * 2 ** min(attempts - 1, 40), s.callback_retry_max_delay_seconds)
        due = now + int(delay * 1000)
        spent = row.retries > 0 or due - row.created > s.callback_retry_max_age_seconds * 1000
        if spent:
            self.counters["given_up"] += 1
        self._tried.append({"ident": row.id, "due": due, "attempts": attempts, "state": FAILED if spent else PENDING,
                            "error": why[:255]})
        state.failures += 1
        if state.failures >= s.callback_rule_backoff_after and state.held_until <= now:
            state.backoffs += 1
            hold = min(s.callback_retry_base_seconds * 2 ** min(state.backoffs, 40), s.callback_retry_max_delay_seconds)
            state.held_until = now + int(hold * 1000)
            log.warning("callbacks: rule %s (%s) failed %d times in a row (last: %s); backed off for %.1f s",
                        rule.name, rule.url, state.failures, why, hold)

    def stats(self) -> dict[str, Any]:
        """Counters, and the rules held back now (their names)."""
        now = now_ms()
        held = [self.callbacks.rules[i].name for i, s in self._states.items()
                if s.held_until > now and i in self.callbacks.rules]
        return {**self.counters, **self.callbacks.counters, "backed_off_rules": held}
