"""Whether this node can serve (`GET /ready`, docs/operating.md): a list of named checks.

Each check is a probe that must answer within `ready_timeout_seconds`; the node is ready when
every one does. Today there is one, `database` (`Database.ping`); a node of a cluster adds its
Redis as another with `add`. A probe still running from an earlier call is waited for again
rather than started twice, so that a database that hangs does not collect one stuck probe per
call. A check that starts or stops failing is logged once, in plain words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckResult", "Readiness"]

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # what failed, in plain words ("" when it answered)
    seconds: float  # how long the answer (or the wait for it) took


class Readiness:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.checks: dict[str, Probe] = {}
        self._running: dict[str, asyncio.Future[Any]] = {}
        self._failing: set[str] = set()

    def add(self, name: str, probe: Probe) -> None:
        """Check `probe` under `name` from now on (`database`, `redis`…)."""
        self.checks[name] = probe

    async def check(self) -> list[CheckResult]:
        """Run every check at once; each result says whether it answered in time."""
        results = await asyncio.gather(*(self._one(name, probe) for name, probe in self.checks.items()))
        for result in results:
            if not result.ok and result.name not in self._failing:
                self._failing.add(result.name)
                log.warning("not ready: %s", result.detail)
            elif result.ok and result.name in self._failing:
                self._failing.discard(result.name)
                log.info("ready again: %s answers", result.name)
        return results

    async def _one(self, name: str, probe: Probe) -> CheckResult:
        started = time.perf_counter()
        running = self._running.get(name)
        if running is None or running.done():
            running = self._running[name] = asyncio.ensure_future(probe())
            running.add_done_callback(_retrieve)
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.shield(running)
        except TimeoutError:
            detail = f"{name} unreachable: no answer within {self.timeout:g} s"
        except Exception as exc:
            detail = f"{name} unreachable: {plain(exc)}"
        else:
            detail = ""
        return CheckResult(name, not detail, detail, time.perf_counter() - started)


def plain(exc: BaseException) -> str:
    """The first line of what the driver said (SQLAlchemy wraps it in `orig`, and adds the SQL
    and a link below), or the exception's kind when it said nothing."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A probe's failure is reported by `_one`; a late one nobody awaits any more is dropped here
    rather than logged by asyncio as never retrieved."""
    if not future.cancelled():
        future.exception()
