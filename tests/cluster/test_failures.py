"""A cluster that loses a node, or its Redis, under load: nothing accepted is lost, a dead node's
users are offline everywhere within 10 s, and routing recovers by itself."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_helpers import Cluster, new_cluster
from xmpp_helpers import Client, XServer, run, until

from conftest import _drop_pg, free_port, unique


def _status(xs: XServer, name: str) -> str:
    return xs.api.get(f"/users/{name}/status").json()["data"][name]


def _send(xs: XServer, to: str, text: str) -> str | None:
    """A REST message from the app; its id when the node accepted it (200), else None."""
    try:
        r = xs.api.post("/messages", json={"target_type": "users", "target": [to], "msg": {"type": "txt", "msg": text},
                                           "from": "admin"})
    except httpx.TransportError:
        return None
    if r.status_code != 200:
        return None
    return str(r.json()["data"][to])


async def _drain(client: Client, seen: set[str], quiet: float = 1.0) -> None:
    """Everything the client receives until it has been quiet for `quiet` seconds."""
    while True:
        try:
            msg = await asyncio.wait_for(client.messages.get(), quiet)
        except TimeoutError:
            return
        seen.add(msg["body"])


async def _load(xs: XServer, users: list[str], count: int, accepted: dict[str, str]) -> None:
    """`count` REST messages asked of `xs`, to `users` in turn; `accepted`: text -> recipient, for
    those the node accepted."""
    loop = asyncio.get_running_loop()
    for i in range(count):
        to = users[i % len(users)]
        text = f"m{i}-{to}"
        if await loop.run_in_executor(None, _send, xs, to, text) is not None:
            accepted[text] = to


async def _log_in_again(xs: XServer, users: list[str], seen: dict[str, set[str]], resource: str = "test") -> None:
    """The users log in on `xs`: what waits offline for them is replayed into `seen`."""
    back = [Client(xs, u, resource=resource) for u in users]
    for c in back:
        await c.online()
    for c in back:
        await _drain(c, seen[c.name])
        c.disconnect()


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[Cluster]:
    c = new_cluster(tmp_path, nodes=2)
    try:
        yield c
    finally:
        c.close()
        _drop_pg(c.pg_name)


def test_a_killed_node_loses_no_accepted_message_and_its_users_go_offline(trio: Cluster) -> None:
    n1, n2 = trio.nodes["n1"], trio.nodes["n2"]
    users = [unique("r") for _ in range(4)]
    n1.api.register(*users)
    accepted: dict[str, str] = {}  # text -> recipient
    seen: dict[str, set[str]] = {u: set() for u in users}

    async def scenario() -> None:
        clients = [Client(n2, u) for u in users]
        for c in clients:
            await c.online()
        await until(lambda: all(_status(n1, u) == "online" for u in users))
        task = asyncio.create_task(_load(n1, users, 400, accepted))
        while len(accepted) < 120:
            await asyncio.sleep(0.01)
        trio.kill("n2")
        killed_at = time.monotonic()
        for c in clients:
            # what each session had written before the node died counts as delivered
            while not c.messages.empty():
                seen[c.name].add(c.messages.get_nowait()["body"])
        await until(lambda: all(_status(n1, u) == "offline" for u in users), timeout=12)
        assert time.monotonic() - killed_at < 10
        await task
        for c in clients:
            c.abort()
        # the users come back on the surviving node: the rest is replayed from offline storage
        await _log_in_again(n1, users, seen)

    run(scenario, timeout=120)
    assert len(accepted) == 400
    for text, to in accepted.items():
        assert text in seen[to], f"{text} was accepted for {to} and never delivered"


def test_redis_restarting_under_load_loses_nothing_and_routing_recovers(tmp_path: Path) -> None:
    port = free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()

    def redis_up() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(redis_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
                return proc
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    redis = redis_up()
    c = new_cluster(tmp_path / "c", nodes=2, HXIM_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        n1, n2 = c.nodes["n1"], c.nodes["n2"]
        users = [unique("q") for _ in range(3)]
        n1.api.register(*users)
        accepted: dict[str, str] = {}
        seen: dict[str, set[str]] = {u: set() for u in users}

        async def scenario() -> None:
            nonlocal redis
            clients = [Client(n2, u) for u in users]
            for cl in clients:
                await cl.online()
            await until(lambda: all(_status(n1, u) == "online" for u in users))
            loop = asyncio.get_running_loop()
            task = asyncio.create_task(_load(n1, users, 300, accepted))
            while len(accepted) < 80:
                await asyncio.sleep(0.01)
            redis.kill()
            redis.wait()
            await asyncio.sleep(1.5)
            redis = redis_up()  # an empty Redis: the nodes write their sessions again
            await task
            # routing recovers by itself: a new message reaches the session on the other node live
            for cl in clients:
                await _drain(cl, seen[cl.name], quiet=0.5)

            async def live() -> bool:
                text = unique("after")
                await loop.run_in_executor(None, _send, n1, users[0], text)
                try:
                    while True:
                        msg = await asyncio.wait_for(clients[0].messages.get(), 1.0)
                        seen[users[0]].add(msg["body"])
                        if msg["body"] == text:
                            return True
                except TimeoutError:
                    return False

            deadline = time.monotonic() + 15
            while not await live():
                assert time.monotonic() < deadline, "routing did not recover after Redis restarted"
            # messages that could not cross while Redis was away wait offline: a new login gets them
            for cl in clients:
                cl.disconnect()
            await until(lambda: all(_status(n1, u) == "offline" for u in users))
            await _log_in_again(n1, users, seen, resource="again")

        run(scenario, timeout=150)
        assert len(accepted) == 300
        for text, to in accepted.items():
            assert text in seen[to], f"{text} was accepted for {to} and never delivered"
    finally:
        c.close()
        _drop_pg(c.pg_name)
        redis.kill()
