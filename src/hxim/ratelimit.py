"""Request rate limits: token buckets per app, API family and caller, held by this node.

A caller is whoever the request authenticated as: the app's admin, one user, or, for a request
that needs no token (the token grants, open registration), the address it came from. Each has a
budget of its own, so that nobody spends another's: requests that fail to authenticate are
refused before they spend anything, and a flood of failed password grants from one address does
not stop the app backend's `client_credentials` grant from another.

In a cluster the buckets live in Redis (`SharedRateLimiter`), shared by every node.

A bucket holds one second's worth of requests (at least one request) and refills
continuously; a request that finds it empty is refused (`429 reach_limit` on the REST
surface). Buckets that have filled up again are dropped as new ones come, so memory follows the
number of recent callers.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["FloodGate", "RateLimiter", "SharedRateLimiter"]

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

    async def check(self, app_id: str, family: str, caller: str) -> bool:
        """`allow`, for callers that may wait (a cluster's budgets are in Redis)."""
        return self.allow(app_id, family, caller)

    async def aclose(self) -> None:
        """Nothing to close: the buckets are this node's."""

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


# A token bucket in Redis: tokens and the time they were counted, on Redis's own clock (nodes'
# clocks may differ); forgotten once it would have refilled.
_BUCKET = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local found = redis.call('HMGET', KEYS[1], 't', 's')
local tokens = tonumber(found[1]) or capacity
local stamp = tonumber(found[2]) or now
tokens = math.min(capacity, tokens + (now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return allowed
"""


class SharedRateLimiter(RateLimiter):
    """The budgets of a cluster, in Redis: every node spends from the same bucket, so a caller
    gets its rate in all, whichever nodes its requests reach. When Redis does not answer, each
    node falls back on budgets of its own (the limit then holds per node)."""

    def __init__(self, limits: dict[str, float], redis_url: str, prefix: str) -> None:
        super().__init__(limits)
        self._prefix = f"{prefix}:rate"
        self._redis = aioredis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self._bucket = self._redis.register_script(_BUCKET)

    async def check(self, app_id: str, family: str, caller: str) -> bool:
        rate = self.limits.get(family)
        if rate is None:
            return True
        try:
            key = f"{self._prefix}:{app_id}:{family}:{caller}"
            return bool(await self._bucket(keys=[key], args=[rate, max(rate, 1.0)]))
        except (RedisError, OSError):
            return self.allow(app_id, family, caller)

    async def aclose(self) -> None:
        await self._redis.aclose()


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
