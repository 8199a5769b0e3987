"""Request rate limits: token buckets per app, API family and caller, held by this node.

A caller is whoever the request authenticated as: the app's admin, one user, or, for a request
that needs no token (the token grants, open registration), the address it came from. Each has a
budget of its own, so that nobody spends another's: requests that fail to authenticate are
refused before they spend anything, and a flood of failed password grants from one address does
not stop the app backend's `client_credentials` grant from another.

A bucket holds one second's worth of requests (at least one request) and refills
continuously; a request that finds it empty is refused (`429 reach_limit` on the REST
surface). Buckets that have filled up again are dropped as new ones come, so memory follows the
number of recent callers.
"""

from __future__ import annotations

import time

__all__ = ["FloodGate", "RateLimiter"]

_PRUNE_EVERY = 4096  # new buckets between two sweeps of the full ones


class RateLimiter:
    def __init__(self, limits: dict[str, float]) -> None:
        self.limits = {family: rate for family, rate in limits.items() if rate > 0}
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._added = 0

    def allow(self, app_id: str, family: str, caller: str) -> bool:
        rate = self.limits.get(family)
        if rate is None:
            return True
        now = time.monotonic()
        key = (app_id, family, caller)
        capacity = max(rate, 1.0)
        found = self._buckets.get(key)
        if found is None:
            self._added += 1
            if self._added % _PRUNE_EVERY == 0:
                self._prune(now)
            tokens, stamp = capacity, now
        else:
            tokens, stamp = found
        tokens = min(capacity, tokens + (now - stamp) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def _prune(self, now: float) -> None:
        """Forget the buckets that have refilled (a new one starts full: nothing is lost)."""
        limits = self.limits
        full = [
            key
            for key, (tokens, stamp) in self._buckets.items()
            if tokens + (now - stamp) * limits[key[1]] >= max(limits[key[1]], 1.0)
        ]
        for key in full:
            del self._buckets[key]


class FloodGate:
    """One client connection's budget of frames (stanzas, msync frames): `rate` per second with
    bursts of `burst`; a rate of 0 lets everything through."""

    __slots__ = ("_rate", "_burst", "_tokens", "_last")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = self._burst
        self._last = time.monotonic()

    def flooding(self) -> bool:
        """Spend one frame's token; True when none was left (the connection sends too fast)."""
        if not self._rate:
            return False
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return True
        self._tokens -= 1
        return False
