"""Rate limits in a cluster: one budget per caller, spent on whichever node a request reaches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from cluster_helpers import Cluster, new_cluster
from xmpp_helpers import XServer

from conftest import _drop_pg, unique
from hxim.ratelimit import SharedRateLimiter


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = new_cluster(
        tmp_path_factory.mktemp("limited"), HXIM_RATE_LIMITS__status="4", HXIM_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS="5"
    )
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


def test_failed_logins_spread_over_the_nodes_meet_one_limit(limited: Cluster) -> None:
    """Wrong passwords for one account from one address, alternately on both nodes: past the
    per-account-and-address limit (5), both nodes make that address wait, even for the right
    password."""
    n1, n2 = limited.nodes["n1"], limited.nodes["n2"]
    name = unique("lt")
    n1.api.register(name)
    creds = n1.api.creds

    def grant(node: XServer, password: str) -> httpx.Response:
        return httpx.post(f"{node.server.base_url}/{creds.org}/{creds.app}/token",
                          json={"grant_type": "password", "username": name, "password": password}, timeout=10)

    for i in range(5):
        r = grant(n1 if i % 2 == 0 else n2, "wrong")
        assert r.status_code == 400, r.text  # invalid_grant: counted
        time.sleep(0.2)  # (the other node hears of it through Redis, in milliseconds)
    for node in (n1, n2):
        r = grant(node, "secret1")  # even the right password waits now
        assert r.status_code == 429 and r.json()["error"] == "too_many_failed_logins", r.text
