"""Clients and checks the cluster tests share: each node's REST view of a user (`status`,
`offline_count`), waits until every node agrees, and an msync client logged in on a given node.

A session bound on one node is known to the others a moment later (its announcement crosses
Redis), so a test that needs a live delivery across nodes first waits until the sending node
reads the recipient `online` (`seen_online`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))

from xmpp_helpers import TIMEOUT, XServer

from hxim.msync.client import MsyncClient, Received


def status(xs: XServer, name: str) -> str:
    """REST `status` of `name` as node `xs` sees it: `online` or `offline`."""
    r = xs.api.get(f"/users/{name}/status")
    assert r.status_code == 200, r.text
    return str(r.json()["data"][name])


def offline_count(xs: XServer, name: str) -> int:
    """REST `offline_msg_count` of `name` asked of node `xs`."""
    r = xs.api.get(f"/users/{name}/offline_msg_count")
    assert r.status_code == 200, r.text
    return int(r.json()["data"][name])


def wait_until(check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll `check` until it returns something truthy (blocking: for the synchronous clients)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def everywhere(nodes: list[XServer], check: Callable[[XServer], bool]) -> Callable[[], bool]:
    """A check that holds on every node."""
    return lambda: all(check(xs) for xs in nodes)


def seen_online(nodes: list[XServer], *names: str) -> Callable[[], bool]:
    """Every node reads every one of `names` online."""
    return everywhere(nodes, lambda xs: all(status(xs, n) == "online" for n in names))


def seen_offline(nodes: list[XServer], *names: str) -> Callable[[], bool]:
    return everywhere(nodes, lambda xs: all(status(xs, n) == "offline" for n in names))


def counts(nodes: list[XServer], name: str, expected: int) -> Callable[[], bool]:
    """Every node reads `expected` messages waiting offline for `name`."""
    return everywhere(nodes, lambda xs: offline_count(xs, name) == expected)


def msync_url(xs: XServer) -> str:
    return xs.server.base_url.replace("http://", "ws://") + "/websocket"


def appkey(xs: XServer) -> str:
    creds = xs.api.creds
    return f"{creds.org}#{creds.app}"


async def msync(xs: XServer, user: str, resource: str = "webim_web_1") -> MsyncClient:
    """An msync client of `user` logged in on node `xs` (with a token that node issued) and
    synced."""
    client = MsyncClient(msync_url(xs), appkey(xs), user, resource)
    token = await asyncio.to_thread(xs.api.user_token, user)
    answer = await client.login(token)
    assert answer.status.error_code == 0, answer.status
    await client.sync()
    return client


async def metas(client: MsyncClient, ns: int, count: int, timeout: float = TIMEOUT) -> list[Received]:
    """The first `count` metas of namespace `ns` (`pb.Meta.CHAT`, `ROSTER`…) the client read,
    waiting for them: whatever else arrives meanwhile is left aside."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in client.received if r.ns == ns]
        if len(found) >= count:
            return found[:count]
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{client.user} read {len(found)} of {count} metas of namespace {ns}")
        await client.wait_for(len(client.received) + 1, timeout=left)
