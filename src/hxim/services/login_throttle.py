"""Failed logins, counted so that passwords cannot be guessed at speed.

Every surface that checks a password (SASL PLAIN and SCRAM over XMPP, the password grant of
`/token`) asks `LoginThrottle.wait` first and reports each failure (`failed`) and success
(`succeeded`). Failures are counted over `login_failure_window_seconds` three ways:

* per account and address: past `login_failures_per_account_address`, that address may not try
  that account for `login_lockout_seconds`, doubled at each lockout in a row up to
  `login_lockout_max_seconds` (a success from that address starts over);
* per address: past `login_failures_per_address`, the address may not try any account for
  `login_lockout_seconds` (guessing many accounts from one place);
* per account: past `login_failures_per_account`, nobody may try the account for
  `login_lockout_seconds` (guessing from many places). This one can keep the real user out, so its
  limit is high and its lockout never grows: short and rare.

The counts live in this process and are forgotten on restart; entries older than the window are
dropped as new ones come, so memory stays bounded by the rate of failures. In a cluster each
node tells the others of every failure and success (`tell_nodes`), and each keeps the same
counts: a guesser who spreads attempts over the nodes meets the limits of one node.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from hxim.config import Settings
from hxim.hub.router import nowhere

__all__ = ["LoginThrottle"]

K = TypeVar("K")


class _Count:
    __slots__ = ("start", "failures", "until", "lockouts")

    def __init__(self, now: float) -> None:
        self.start = now
        self.failures = 0
        self.until = 0.0
        self.lockouts = 0


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pairs: dict[tuple[str, str, str], _Count] = {}
        self._addresses: dict[str, _Count] = {}
        self._accounts: dict[tuple[str, str], _Count] = {}
        self._clock = time.monotonic
        # tells a cluster's other nodes of a failure or success (`Router.tell_nodes`; nothing on one node)
        self.tell_nodes: Callable[..., None] = nowhere

    def wait(self, app_id: str, key: str, address: str) -> int:
        """Seconds before this address may try this account again (0: now)."""
        now = self._clock()
        found = (
            self._pairs.get((app_id, key, address)),
            self._addresses.get(address),
            self._accounts.get((app_id, key)),
        )
        until = max((c.until for c in found if c is not None), default=0.0)
        return math.ceil(until - now) if until > now else 0

    def failed(self, app_id: str, key: str, address: str) -> None:
        self.failed_elsewhere(app_id, key, address)
        self.tell_nodes("login-failed", app_id, key, address)

    def succeeded(self, app_id: str, key: str, address: str) -> None:
        # the others hold the same counts: they are told only when there was one to forget
        if self._pairs.pop((app_id, key, address), None) is not None:
            self.tell_nodes("login-succeeded", app_id, key, address)

    def failed_elsewhere(self, app_id: str, key: str, address: str) -> None:
        """Count a failure (on this node, or told by another)."""
        s = self.settings
        now = self._clock()
        base, ceiling = s.login_lockout_seconds, s.login_lockout_max_seconds
        pair = self._count(self._pairs, (app_id, key, address), now)
        if pair.failures >= s.login_failures_per_account_address:
            pair.until = now + min(ceiling, base * 2**pair.lockouts)
            pair.lockouts += 1
            pair.failures = 0
        for count, limit in (
            (self._count(self._addresses, address, now), s.login_failures_per_address),
            (self._count(self._accounts, (app_id, key), now), s.login_failures_per_account),
        ):
            if count.failures >= limit:
                count.until = now + base
                count.failures = 0

    def succeeded_elsewhere(self, app_id: str, key: str, address: str) -> None:
        """A success: that address starts over on that account."""
        self._pairs.pop((app_id, key, address), None)

    def _count(self, table: dict[K, _Count], key: K, now: float) -> _Count:
        """The entry of `key`, its window started over when it has run out; one failure added."""
        window = self.settings.login_failure_window_seconds
        found = table.get(key)
        if found is None or (now - found.start > window and found.until <= now):
            lockouts = found.lockouts if found is not None and now - found.start <= 4 * window else 0
            found = table[key] = _Count(now)
            found.lockouts = lockouts
            if len(table) > 1024 and len(table) % 1024 == 0:
                self._prune(table, now, window)
        found.failures += 1
        return found

    @staticmethod
    def _prune(table: dict[K, _Count], now: float, window: float) -> None:
        for key in [k for k, c in table.items() if now - c.start > 4 * window and c.until <= now]:
            del table[key]
