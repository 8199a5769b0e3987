"""Per-app, per-API-family request rate limits: token buckets held by this node.

A bucket holds one second's worth of requests (at least one request) and refills
continuously; a request that finds it empty is refused (`429 reach_limit` on the REST
surface).
"""

from __future__ import annotations

import time

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, limits: dict[str, float]) -> None:
        self.limits = {family: rate for family, rate in limits.items() if rate > 0}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def allow(self, app_id: str, family: str) -> bool:
        rate = self.limits.get(family)
        if rate is None:
            return True
        now = time.monotonic()
        key = (app_id, family)
        capacity = max(rate, 1.0)
        tokens, stamp = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - stamp) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
