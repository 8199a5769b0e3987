"""The callback delivery process: post-send callbacks delivered by a child process of the node,
so that the core serving messages spends on a callback only the row its message's transaction
writes (docs/callbacks.md; `callback_sender = "process"`, the default).

The child (`python -m hxim.services.callback_sender`) opens its own connection to the node's
database and runs the whole outbox worker, `CallbackDelivery`: it claims due rows with leases,
POSTs them, deletes the delivered ones and records failures and backoff itself, with the
storage functions and rules of the worker inline. The node (`DeliveryProcess`) keeps what only
it knows: it writes the event callbacks its services queue (logins, recalls, room operations),
keeps the rules it needs for writing rows and for pre-send current, and wakes the child when it
has written rows. Nothing durable crosses the pipes:

- node → child: the node's settings as one JSON line, then one byte per wake (`_COALESCE`
  apart at least, a timer of the node's loop: a stored message costs the node no task switch);
  the end of its input stops the child (the node stopped, or died): in-flight POSTs get a few
  seconds, taken rows are released, it exits.
- child → node: a JSON line of what it counted since it started (`CallbackDelivery.report`:
  delivered, failed tries, given up, failed tries by rule id, the rules backed off now) when
  something changed, at most every `_REPORT_SECONDS`. The node adds the increases to its own
  counters, which `/metrics` reads; the outbox depth is read from the database at scrape time.
  The child's log lines go to the node's standard error, in the node's format.

The node starts the child once an app has a post-send rule (a node without any runs none), and
again, at most once a second, after it ended; what a child that died held is due again when
its leases end (seconds), so at least once holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from typing import Any

import orjson

from hxim.config import Settings
from hxim.logs import configure as configure_logging
from hxim.model import IdGenerator, now_ms
from hxim.services.callback_delivery import CallbackDelivery
from hxim.services.callbacks import CallbackService
from hxim.storage import Database
from hxim.storage.apps import server_key_txn

__all__ = ["DeliveryProcess"]

log = logging.getLogger(__name__)
_LINE_MAX = 64 * 1024 * 1024  # a report line: counters by rule
_COALESCE = 0.005  # seconds between two wakes of the child
_RESTART_PAUSE = 1.0  # seconds between two starts of the child
_REPORT_SECONDS = 0.2
_COUNTERS = ("delivered", "failed_tries", "given_up")


class DeliveryProcess:
    """The node's side: writes its event callbacks, starts the child and wakes it, and counts
    what it reports."""

    def __init__(self, db: Database, settings: Settings, callbacks: CallbackService) -> None:
        self.db = db
        self.settings = settings
        self.callbacks = callbacks
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._started = 0.0  # monotonic time of the last start
        self._last: dict[str, Any] = {}  # the running child's last report
        self._backed_off: list[int] = []
        self._poke_at = 0.0  # loop time of the wake scheduled (0: none)
        self._poked = 0.0  # loop time of the last wake
        self.counters = dict.fromkeys(_COUNTERS, 0)
        callbacks.wake = self.wake

    def wake(self) -> None:
        """Rows were written (or are to be): wake the child, at most once every `_COALESCE`. Called
        after each stored message that has callbacks: no task switch, one timer at most."""
        if self.callbacks.pending:  # event callbacks: the task writes them first
            self._wake.set()
        elif not self._poke_at:
            loop = asyncio.get_running_loop()
            self._poke_at = max(loop.time(), self._poked + _COALESCE)
            loop.call_at(self._poke_at, self._poke)

    def _poke(self) -> None:
        self._poke_at = 0.0
        self._poked = asyncio.get_running_loop().time()
        proc = self._proc
        if proc is not None and proc.returncode is None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(b"w")
        else:
            self._wake.set()  # none running: the task starts one

    def start(self) -> None:
        if self._task is None:
            self._halt.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hxim-callbacks")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the child: its POSTs in flight get `timeout`, it releases what it had taken."""
        task, self._task = self._task, None
        if task is None:
            return
        self._halt.set()
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await self.callbacks.write_pending()
        except Exception:
            log.exception("callbacks: writing the last event callbacks failed")
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                async with asyncio.timeout(timeout + 5):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader  # its last report
        self.callbacks.close()

    async def _run(self) -> None:
        reload_ms = self.settings.callback_rules_reload_ms
        next_reload = 0
        while not self._halt.is_set():
            self._wake.clear()
            try:
                now = now_ms()
                if now >= next_reload:
                    await self.callbacks.refresh()
                    next_reload = now + int(reload_ms)
                await self.callbacks.write_pending()
                if await self._child() is not None:
                    self._poke()
            except Exception:
                log.exception("callbacks: waking the callback delivery process failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), reload_ms / 1000)
            await asyncio.sleep(_COALESCE)  # event callbacks queued meanwhile share one transaction

    async def _child(self) -> asyncio.subprocess.Process | None:
        """The running child; started when an app has post-send rules and the last start is
        `_RESTART_PAUSE` ago."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        if not self.callbacks.post:
            return None
        pause = self._started + _RESTART_PAUSE - time.monotonic()
        if pause > 0:
            asyncio.get_running_loop().call_later(pause, self.wake)
            return None
        self._started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hxim.services.callback_sender",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_LINE_MAX,
        )
        assert proc.stdin is not None
        proc.stdin.write(self.settings.model_dump_json().encode() + b"\n")
        self._proc = proc
        self._last = {}
        self._reader = asyncio.get_running_loop().create_task(self._read(proc), name="hxim-callback-reports")
        return proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                self._take(orjson.loads(line))
        except Exception:
            log.exception("callbacks: reading the callback delivery process failed")
        finally:
            with contextlib.suppress(ProcessLookupError):
                if proc.returncode is None:
                    proc.kill()
            await proc.wait()
            self._backed_off = []
            if not self._halt.is_set():
                log.warning("callbacks: the callback delivery process ended (exit status %s); it is started "
                            "again", proc.returncode)
                self.wake()

    def _take(self, report: dict[str, Any]) -> None:
        """A report of the child: what rose since its last one is added to the node's counters."""
        last = self._last
        for key in _COUNTERS:
            self.counters[key] += max(0, report[key] - last.get(key, 0))
        failures = self.callbacks.failures
        before = last.get("failures", {})
        for key, count in report["failures"].items():
            rise = count - before.get(key, 0)
            if rise > 0:
                failures[int(key)] = failures.get(int(key), 0) + rise
        self._backed_off = report["backed_off"]
        self._last = report

    def stats(self) -> dict[str, Any]:
        """Counters, and the rules held back now (their names)."""
        rules = self.callbacks.rules
        held = [rules[i].name for i in self._backed_off if i in rules]
        return {**self.counters, **self.callbacks.counters, "backed_off_rules": held}


# --- the child ---------------------------------------------------------------------------------------
async def _serve() -> None:
    """Read the node's settings, deliver until the input ends, report now and then."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_MAX)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, sys.stdout.buffer)
    first = await reader.readline()
    if not first:
        return
    settings = Settings.model_validate_json(first)
    configure_logging(settings.log_level, settings.log_format)
    db = Database(
        settings.resolved_database_url,
        pool_size=2,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_checkpoint_seconds=settings.sqlite_checkpoint_seconds,
        sqlite_checkpointer=False,
    )
    callbacks = CallbackService(db, settings, IdGenerator(settings.node_number or 0))
    callbacks.open_sync(db.run_sync(server_key_txn, "callback-secret", secrets.token_bytes(32)))
    delivery = CallbackDelivery(db, settings, callbacks, settings.callback_batch_ms / 1000)
    sent: dict[str, Any] = {}

    def report() -> None:
        nonlocal sent
        now = delivery.report()
        if now != sent and not transport.is_closing():
            transport.write(orjson.dumps(now) + b"\n")
            sent = now

    async def reporting() -> None:
        while True:
            await asyncio.sleep(_REPORT_SECONDS)
            report()

    delivery.start()
    reports = loop.create_task(reporting())
    try:
        while await reader.read(4096):
            delivery.wake()
    finally:
        reports.cancel()
        await delivery.stop()
        report()
        db.dispose()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(_serve())
    except KeyboardInterrupt:
        pass
