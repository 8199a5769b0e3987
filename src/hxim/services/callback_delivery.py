"""Delivering post-send callbacks from the outbox (docs/callbacks.md), at least once.

`CallbackDelivery` is the outbox worker. It runs in the node's delivery process, a child of the
node with its own database connection (`callback_sender = "process"`, the default;
`services.callback_sender`), or on the node's own event loop (`inline`). One task (`start`,
`stop`) reloads changed rules and, once a turn, in one transaction: writes the event callbacks
services queued (`CallbackService.take_pending`; in the delivery process the node writes its
own), deletes the rows delivered, records the failed tries, extends the leases of the rows it
still holds, and takes the callbacks due into a queue per rule, `callback_claim_batch` at most.
One transaction a turn keeps the worker's share of SQLite's one writer small. In the delivery
process turns are `callback_batch_ms` apart at least (on the node's loop, 5 ms): on SQLite each
commit of another process makes the node's connection read its pages afresh, which costs the
core serving messages a fraction of a millisecond each time.

At most `callback_concurrency_per_rule` senders per rule send the queue (a slow receiver holds
its own rows only, never memory or sockets beyond that). Each callback is a JSON POST with
Easemob's `securityVersion` and `security` (md5 of callId, the rule's secret and the body's
timestamp) appended, sent with `CallbackHttp`; only a 200 whose answer is at most
`callback_answer_max_chars` long counts as delivered (the row is deleted). Anything else moves
it later, `callback_retry_base_seconds` doubled at each failure up to
`callback_retry_max_delay_seconds`; past `callback_retry_max_age_seconds` it is kept as failed,
listed by `GET /callbacks/storage/info` and replayed by `POST /callbacks/storage/retry` (a replay
is tried once; a failed one stays failed). After `callback_rule_backoff_after` failures in a row
a rule is backed off as a whole (logged), never disabled: the rows it held are released until
the pause ends.

A row taken is leased: its `due` moved ahead by twice what a try and two turns can take
(`callback_timeout_seconds` + 2 × (`callback_poll_ms` + the time between turns) + 0.5 s, twice),
and moved again at a turn when it runs short while the row still waits, so that a try begun,
and the writing of its outcome, always end within the lease. Two workers (nodes, or a delivery
process and the one started after it) never post the same callback within a lease; rows held by
a worker that died are due again within seconds of its end; a worker that stops releases at
once those it had not tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from hxim.config import Settings
from hxim.model import now_ms
from hxim.services.callback_http import AnswerTooLong, HttpFailure
from hxim.services.callbacks import SECURITY_VERSION, CallbackService, Rule, signature
from hxim.storage import Database
from hxim.storage.callbacks import (
    FAILED,
    PENDING,
    Claimed,
    claim_txn,
    delivered_txn,
    insert_outbox,
    purge_failed_txn,
    release_txn,
    tried_txn,
)

__all__ = ["CallbackDelivery"]

log = logging.getLogger(__name__)
_PURGE_EVERY_MS = 60_000
_COALESCE = 0.005  # seconds the worker lets work gather between two turns, at least


@dataclass(slots=True)
class _RuleState:
    queue: deque[Claimed] = field(default_factory=deque)  # taken from storage, not yet sent
    senders: int = 0  # tasks sending the queue's callbacks, at most `callback_concurrency_per_rule`
    failures: int = 0  # in a row
    held_until: int = 0  # ms: backed off until then
    backoffs: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass(slots=True)
class _Turn:
    """What one turn writes, in one transaction."""

    pending: list[dict[str, Any]]  # new event callbacks
    delivered: list[int]
    tried: list[dict[str, Any]]  # failed tries (`tried_txn`)
    released: list[tuple[list[int], int]]  # rows given back: due again at
    renew: list[int]  # held rows whose lease is extended to `lease`
    lease: int
    claims: list[tuple[int, int]]  # (rule id, how many at most)
    now: int

    def empty(self) -> bool:
        return not (self.pending or self.delivered or self.tried or self.released or self.renew or self.claims)


def _turn_txn(conn: Connection, turn: _Turn) -> dict[int, list[Claimed]]:
    if turn.pending:
        insert_outbox(conn, turn.pending)
    if turn.delivered:
        delivered_txn(conn, turn.delivered)
    if turn.tried:
        tried_txn(conn, turn.tried)
    for ids, due in turn.released:
        release_txn(conn, ids, due)
    if turn.renew:
        release_txn(conn, turn.renew, turn.lease)
    return {rule_id: claim_txn(conn, rule_id, turn.now, turn.lease, limit) for rule_id, limit in turn.claims}


class CallbackDelivery:
    def __init__(
        self, db: Database, settings: Settings, callbacks: CallbackService, batch_seconds: float = _COALESCE
    ) -> None:
        self.db = db
        self.settings = settings
        self.callbacks = callbacks
        self.batch_seconds = max(batch_seconds, _COALESCE)  # between two turns, at least
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._states: dict[int, _RuleState] = {}
        self._delivered: list[int] = []
        self._tried: list[dict[str, Any]] = []
        self._released: list[tuple[list[int], int]] = []
        self._leases: dict[int, int] = {}  # rows held (queued or being sent): lease end, ms
        # A lease ending sooner than this is extended at a turn: a try begun before the next turn
        # (at most a poll and a batch away) ends in it, and what became of it is written by the
        # turn after, also in it. A lease is twice that.
        gap = settings.callback_poll_ms + self.batch_seconds * 1000
        self._renew_within = int(settings.callback_timeout_seconds * 1000 + 2 * gap) + 500
        self._lease_ms = 2 * self._renew_within
        self.counters = {"delivered": 0, "failed_tries": 0, "given_up": 0}
        callbacks.wake = self.wake

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
        if unsent:
            self._released.append((unsent, now_ms()))
        try:
            await self._turn(claim=False)
        except Exception:  # leases end on their own: nothing is lost
            log.exception("callbacks: recording the last outcomes failed")
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
                await self._turn(claim=True)
            except Exception:  # the database failed: try again a little later
                log.exception("callbacks: working through the outbox failed; trying again")
            turned = asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(poll, reload_ms / 1000))
            # what arrives meanwhile shares the next transaction
            await asyncio.sleep(max(_COALESCE, turned + self.batch_seconds - asyncio.get_running_loop().time()))

    async def _turn(self, claim: bool) -> None:
        """Write what the last turns decided (new event callbacks, deliveries, failed tries,
        releases), extend the leases running out, and refill each rule's queue that runs low:
        one transaction. What could not be written is kept for the next turn."""
        s = self.settings
        now = now_ms()
        leases = self._leases
        turn = _Turn(self.callbacks.take_pending(), self._delivered, self._tried, self._released, [],
                     now + self._lease_ms, [], now)
        self._delivered, self._tried, self._released = [], [], []
        done = {*turn.delivered, *(tried["ident"] for tried in turn.tried)}
        if claim:
            horizon = now + self._renew_within
            turn.renew = [ident for ident, until in leases.items() if until < horizon and ident not in done]
            size = s.callback_concurrency_per_rule
            for rule in self.callbacks.rules.values():
                if rule.kind != "post":
                    continue
                state = self._states.setdefault(rule.id, _RuleState())
                if state.held_until <= now and len(state.queue) < size:
                    turn.claims.append((rule.id, s.callback_claim_batch - len(state.queue)))
        if turn.empty():
            return
        try:
            claimed = await self.db.write(_turn_txn, turn)
        except BaseException:
            self.callbacks.put_back(turn.pending)
            self._delivered[:0] = turn.delivered
            self._tried[:0] = turn.tried
            self._released[:0] = turn.released
            raise
        for ident in done:  # (held until written: their leases are extended until then)
            leases.pop(ident, None)
        for ident in turn.renew:
            if ident in leases:
                leases[ident] = turn.lease
        loop = asyncio.get_running_loop()
        for rule_id, rows in claimed.items():
            known, held = self.callbacks.rules.get(rule_id), self._states.get(rule_id)
            if known is None or held is None:  # removed meanwhile: its rows went with it
                continue
            rule, state = known, held
            for row in rows:
                ours = row.id in leases  # one of ours whose lease ran out: queued or being sent already
                leases[row.id] = turn.lease
                if not ours:
                    state.queue.append(row)
            while state.senders < min(s.callback_concurrency_per_rule, len(state.queue)):
                state.senders += 1
                task = loop.create_task(self._send(rule, state))
                state.tasks.add(task)
                task.add_done_callback(state.tasks.discard)
        for gone in set(self._states) - set(self.callbacks.rules):  # removed rules: their rows went too
            state = self._states[gone]
            for row in state.queue:
                leases.pop(row.id, None)
            state.queue.clear()
            if not state.tasks:
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
            status, _ = await self.callbacks.http.post(
                row.target_url or rule.url, content, self.settings.callback_timeout_seconds, limit
            )
        except TimeoutError:
            return "timeout"
        except AnswerTooLong:
            return f"answer over {limit} characters"
        except (HttpFailure, OSError) as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a URL the client cannot use, say: a failure of this callback
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
            if state.queue:  # due again when the pause ends, for whichever worker is there then
                ids = [r.id for r in state.queue]
                state.queue.clear()
                for ident in ids:
                    self._leases.pop(ident, None)
                self._released.append((ids, state.held_until))
            log.warning("callbacks: rule %s (%s) failed %d times in a row (last: %s); backed off for %.1f s",
                        rule.name, rule.url, state.failures, why, hold)

    def backed_off(self) -> list[int]:
        """The rules held back now (their ids)."""
        now = now_ms()
        return [i for i, s in self._states.items() if s.held_until > now and i in self.callbacks.rules]

    def report(self) -> dict[str, Any]:
        """What the worker counted since it started, and the rules it holds back now: what the
        delivery process tells the node (`services.callback_sender`)."""
        return {**self.counters, "failures": {str(k): v for k, v in self.callbacks.failures.items()},
                "backed_off": self.backed_off()}

    def stats(self) -> dict[str, Any]:
        """Counters, and the rules held back now (their names)."""
        held = [self.callbacks.rules[i].name for i in self.backed_off()]
        return {**self.counters, **self.callbacks.counters, "backed_off_rules": held}
