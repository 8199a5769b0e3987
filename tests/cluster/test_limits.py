"""Rate limits in a cluster: one budget per caller, spent on whichever node a request reaches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from cluster_helpers import Cluster, new_cluster

from conftest import _drop_pg, unique
from hxim.ratelimit import SharedRateLimiter


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = new_cluster(tmp_path_factory.mktemp("limited"), HXIM_RATE_LIMITS__status="4")
    try:
        yield c
    finally:
        c.close()
        _drop_pg(c.pg_name)


def test_a_callers_budget_is_shared_by_the_nodes(limited: Cluster) -> None:
    n1, n2 = limited.nodes["n1"], limited.nodes["n2"]
    name = unique("s")
    n1.api.register(name)
    # one second's budget is 4 requests, spent alternately on both nodes: the fifth is refused
    codes = [(n1 if i % 2 == 0 else n2).api.get(f"/users/{name}/status").status_code for i in range(10)]
    assert codes[:4] == [200] * 4, codes
    assert codes.count(429) >= 5, codes
    assert sum(1 for c in codes if c == 200) <= 6, codes  # (a refill of 4/s while the calls run)


def test_without_redis_each_node_keeps_a_budget_of_its_own() -> None:
    async def scenario() -> list[bool]:
        limiter = SharedRateLimiter({"status": 2.0}, "redis://127.0.0.1:1/0", "nowhere")
        try:
            return [await limiter.check("app", "status", "admin") for _ in range(4)]
        finally:
            await limiter.aclose()

    assert asyncio.run(scenario()) == [True, True, False, False]
