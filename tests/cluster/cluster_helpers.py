"""Clusters for the tests (import the `cluster` fixture into a test module): two or three real
`hxim serve` processes on one fresh PostgreSQL database and one Redis, each cluster under a name
of its own (Redis channels are shared by every database of a Redis server).

`cluster` is a module's cluster of two nodes; `Cluster.start`, `kill` and `stop` change it. Each
node is an `XServer` (tests/scenarios/xmpp_helpers.py): XMPP on plain TCP, the `main` app.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))

from xmpp_helpers import XServer, xmpp_env, xmpp_port

from conftest import HXIM, Api, AppCreds, Server, _drop_pg, _pg_database, serve, server_env

REDIS_URL = os.environ.get("HXIM_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Cluster:
    tmp: Path
    base_env: dict[str, str]
    apps: dict[str, AppCreds]
    pg_name: str
    name: str
    nodes: dict[str, XServer] = field(default_factory=dict)

    def start(self, node: str, **extra: str) -> XServer:
        tmp = self.tmp / node
        tmp.mkdir(parents=True, exist_ok=True)
        env, _ = server_env(tmp, "sqlite", {**xmpp_env(), **extra})
        env.update({k: v for k, v in self.base_env.items() if k.startswith("HXIM_") and k not in _OWN})
        env.update(extra)
        env["HXIM_NODE_ID"] = node
        base = f"http://127.0.0.1:{env['HXIM_HTTP_PORT']}"
        srv = Server("postgresql", base, env, self.apps, serve(env, base, tmp / "server.log"))
        xs = XServer(srv, xmpp_port(srv), Api(srv))
        self.nodes[node] = xs
        return xs

    def kill(self, node: str) -> None:
        """kill -9: the node stops beating and says nothing."""
        proc = self.nodes.pop(node).server.process
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=15)

    def stop(self, node: str) -> None:
        proc = self.nodes.pop(node).server.process
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()

    def log(self, node: str) -> str:
        return (self.tmp / node / "server.log").read_text()

    def close(self) -> None:
        for node in list(self.nodes):
            self.stop(node)


_OWN = ("HXIM_HTTP_PORT", "HXIM_DATA_DIR", "HXIM_CONFIG", "HXIM_XMPP_PORT", "HXIM_NODE_ID")  # per node


def new_cluster(tmp: Path, nodes: int = 2, **extra: str) -> Cluster:
    pg_name, url = _pg_database()
    name = f"hximtest-{uuid.uuid4().hex[:10]}"
    base_env, _ = server_env(tmp, "sqlite")
    base_env.update(
        {
            "HXIM_DATABASE_URL": url,
            "HXIM_REDIS_URL": REDIS_URL,
            "HXIM_CLUSTER_NAME": name,
            "HXIM_CLUSTER_HEARTBEAT_SECONDS": "0.5",
            "HXIM_CLUSTER_NODE_TIMEOUT_SECONDS": "3",
            "HXIM_XMPP_FLOOD_RATE": "1000",
            "HXIM_XMPP_FLOOD_BURST": "2000",
            # every test's client comes from 127.0.0.1 and the nodes count one another's failed
            # logins: the tests that refuse logins on purpose must not lock the others out
            "HXIM_LOGIN_FAILURES_PER_ADDRESS": "100000",
            "HXIM_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": "1000",
            **extra,
        }
    )
    apps: dict[str, AppCreds] = {}
    for key, args in (("main", ["test", "main"]), ("other", ["test", "other"])):
        r = subprocess.run(
            [*HXIM, "app", "create", *args, "--json"], env=base_env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        apps[key] = AppCreds(data["org"], data["app"], data["client_id"], data["client_secret"], data["application"])
    cluster = Cluster(tmp, base_env, apps, pg_name, name)
    try:
        for i in range(nodes):
            cluster.start(f"n{i + 1}")
    except BaseException:
        cluster.close()
        _drop_pg(pg_name)
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = new_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.close()
        _drop_pg(c.pg_name)
