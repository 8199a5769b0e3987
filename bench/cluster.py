"""A cluster's message rate against one node's, on PostgreSQL (docs/benchmarks.md, docs/scaling.md).

For each rate in `--rates`, twice in the same run:

* **one node**: `hxim serve` on a fresh PostgreSQL database, no Redis, pinned to CPU `--cpus[0]`;
* **two nodes**: two `hxim serve` processes on one fresh PostgreSQL database and one Redis (a
  cluster under a name of its own), pinned to `--cpus[0]` and `--cpus[1]`, as `hxim serve
  --workers 2` runs them; users alternate between the nodes and every message goes from a user
  on one node to a user on the other, so each is routed across nodes through Redis.

The load is bench/xmpp_load.py's: `--users` raw-socket XMPP clients in `--procs` worker processes,
user 2k sending to user 2k+1 at the given rate for `--seconds`, each body carrying its send
time; every message is stored. Reported per run: messages sent and received (lost = the
difference), the achieved rate, p50/p99 latency, and CPU per message of the node processes. The
best rate at which each setup keeps p99 ≤ `--p99-ms` with nothing lost, and their ratio, close
the output.

    .venv/bin/python bench/cluster.py --rates 1000,1500,2000,2500,3000 --users 2000 --seconds 8

With `--node-quota F`, each node runs in a cgroup of its own (cgroup v1's cpu controller, as
root) held to F of one core, instead of pinned to a CPU: on a two-core machine, where one node
pinned to a core and two nodes on both leave nothing for PostgreSQL, Redis and the load, the
nodes are then the scarce part (say 0.35 of a core each) and the rest of the machine serves the
others, so the figure shows what a second node adds where a node's core is what runs out.

PostgreSQL (`--pg`, an admin URL: databases are created and dropped) and Redis (`--redis`) must be
running; on a two-core machine they share the cores with the nodes and the load, as the peers'
figures are taken.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from xmpp_load import HXIM, free_port, percentile, register, worker

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")  # cgroup v1's cpu controller (--node-quota)


class Quota:
    """A cgroup (v1, cpu controller) that holds a process and its children to `share` of one
    core: a CFS quota of `share` × a period of 10 ms (with the default 100 ms, a node that
    spent its quota early would stall for up to 100 ms, which a p99 bound of 50 ms would see)."""

    PERIOD_US = 10_000

    def __init__(self, name: str, share: float) -> None:
        self.path = CGROUP_CPU / f"hxim-bench-{name}-{uuid.uuid4().hex[:6]}"
        self.path.mkdir()
        (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
        (self.path / "cpu.cfs_quota_us").write_text(str(int(share * self.PERIOD_US)))

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for pid in (self.path / "cgroup.procs").read_text().split():  # (what outlived the node)
            (CGROUP_CPU / "cgroup.procs").write_text(pid)
        self.path.rmdir()


class Node:
    def __init__(self, name: str, env: dict[str, str], cpu: int | None, work: Path, quota: float = 0) -> None:
        self.http_port, self.xmpp_port = free_port(), free_port()
        self.env = dict(env)
        self.env.update(
            HXIM_DATA_DIR=str(work / name),
            HXIM_HTTP_HOST="127.0.0.1",
            HXIM_HTTP_PORT=str(self.http_port),
            HXIM_XMPP_HOST="127.0.0.1",
            HXIM_XMPP_PORT=str(self.xmpp_port),
            HXIM_NODE_ID=name,
        )
        pin = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
        self.log = open(work / f"{name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*pin, *HXIM, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.quota = Quota(name, quota) if quota else None
        if self.quota is not None:  # (before it has started anything of its own)
            self.quota.add(self.proc.pid)
        self.url = f"http://127.0.0.1:{self.http_port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit((work / f"{name}.log").read_text())
            try:
                httpx.get(self.url + "/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"node {name} did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"a node did not stop within 30 s of SIGTERM: killed (log: {self.log.name})", file=sys.stderr)
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if self.quota is not None:
            self.quota.remove()


def settle(nodes: list[Node], idle_share: float = 0.05, longest: float = 30) -> None:
    """Wait until the nodes use less than `idle_share` of a core together (over half a second)."""
    deadline = time.monotonic() + longest
    used = sum(n.cpu_seconds() for n in nodes)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(n.cpu_seconds() for n in nodes)
        if now - used < idle_share * 0.5:
            return
        used = now


def _psql(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _redis_stats(url: str) -> tuple[int, int]:
    """Commands Redis has run so far, and the memory it uses (bytes)."""
    import redis

    with redis.Redis.from_url(url) as client:
        calls = sum(int(v["calls"]) for v in client.info("commandstats").values())
        return calls, int(client.info("memory")["used_memory"])


def run_setup(nodes_count: int, rate: float, a: argparse.Namespace, cpus: list[int]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hxim-cluster-bench."))
    db = f"hxim_bench_{uuid.uuid4().hex[:8]}"
    _psql(a.pg, f'CREATE DATABASE "{db}"')
    base = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    base.update(
        HXIM_CONFIG=str(work / "none.toml"),
        HXIM_DATABASE_URL=a.pg.rsplit("/", 1)[0] + "/" + db,
        HXIM_XMPP_ALLOW_PLAINTEXT="true",
        HXIM_XMPP_FLOOD_RATE="0",
        HXIM_XMPP_TCP_MECHANISMS='["PLAIN"]',
        HXIM_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "warning"),
    )
    if nodes_count > 1:
        base.update(HXIM_REDIS_URL=a.redis, HXIM_CLUSTER_NAME=f"bench-{uuid.uuid4().hex[:8]}")
    nodes: list[Node] = []
    try:
        out = subprocess.run(
            [*HXIM, "app", "create", "bench", "cluster", "--json"], env={**base, "HXIM_DATA_DIR": str(work / "cli")},
            check=True, capture_output=True, text=True,
        )
        creds = json.loads(out.stdout)
        for i in range(nodes_count):
            cpu = None if a.node_quota or not cpus else cpus[i % len(cpus)]
            nodes.append(Node(f"node{i + 1}", base, cpu, work, a.node_quota))
        prefix = f"cb{int(time.time()) % 100000}"
        names = [f"{prefix}u{i}" for i in range(a.users)]
        register(nodes[0].url, creds, names)
        appkey = f"{creds['org']}#{creds['app']}"
        jids = [f"{appkey}_{n}" for n in names]
        args = {
            "ports": [n.xmpp_port for n in nodes],
            "rate": rate,
            "seconds": a.seconds,
            "drain": a.drain,
            "procs": a.procs,
            "login_concurrency": 100,
        }
        client_cpus = [int(c) for c in a.client_cpus.split(",") if c]
        barrier = mp.Barrier(a.procs + 1)
        results: Any = mp.Queue()
        # each worker's users alternate between the nodes, and user 2k sends to 2k+1: across nodes
        shares = [jids[i * (a.users // a.procs) : (i + 1) * (a.users // a.procs)] for i in range(a.procs)]
        procs = [
            mp.Process(target=worker, args=(i, shares[i], args, barrier, results, client_cpus)) for i in range(a.procs)
        ]
        redis_before = _redis_stats(a.redis) if nodes_count > 1 else (0, 0)
        for proc in procs:
            proc.start()
        barrier.wait()  # logged in
        settle(nodes)  # what the logins left the nodes to do (announcements, presence) is not the messages'
        redis_logged_in = _redis_stats(a.redis) if nodes_count > 1 else (0, 0)
        cpu_before = sum(n.cpu_seconds() for n in nodes)
        barrier.wait()  # go
        out_rows = [results.get(timeout=a.seconds + a.drain + 120) for _ in range(a.procs)]
        cpu = sum(n.cpu_seconds() for n in nodes) - cpu_before
        redis_after = _redis_stats(a.redis) if nodes_count > 1 else (0, 0)
        for proc in procs:
            proc.join(30)
        sent = sum(r["sent"] for r in out_rows)
        received = sum(r["received"] for r in out_rows)
        lat = [x for r in out_rows for x in r["latencies"]]
        send_seconds = max(r["send_seconds"] for r in out_rows)
        return {
            "nodes": nodes_count,
            "offered_rate": rate,
            "sent": sent,
            "received": received,
            "lost": sent - received,
            "achieved_rate": round(received / send_seconds),
            "p50_ms": round(percentile(lat, 0.5) * 1000, 2),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "node_cpu_us_per_message": round(cpu * 1e6 / max(1, received), 1),
            # (meaningful with a Redis of the bench's own: --redis)
            "redis_commands_per_message": round((redis_after[0] - redis_logged_in[0]) / max(1, received), 3),
            "redis_bytes_per_session": round((redis_logged_in[1] - redis_before[1]) / max(1, a.users)),
        }
    finally:
        for n in nodes:
            n.stop()
        _psql(a.pg, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="1000,1500,2000,2500,3000", help="messages per second to try, in order")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--drain", type=float, default=3)
    p.add_argument("--p99-ms", type=float, default=50)
    p.add_argument("--cpus", default="0,1", help="CPUs of the nodes (one node takes the first)")
    p.add_argument("--node-quota", type=float, default=0,
                   help="hold each node to this share of one core (a cgroup of its own, cgroup v1's cpu "
                        "controller) instead of pinning it: nodes the scarce part, PostgreSQL, Redis and the "
                        "load on the rest of a small machine")
    p.add_argument("--client-cpus", default="", help="CPUs of the load's workers (default: any)")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--keep", action="store_true", help="keep the nodes' logs (printed at the end)")
    a = p.parse_args()
    cpus = [int(c) for c in a.cpus.split(",") if c]
    best: dict[int, float] = {1: 0.0, 2: 0.0}
    rows = []
    for rate in [float(r) for r in a.rates.split(",")]:
        for count in (1, 2):
            row = run_setup(count, rate, a, cpus)
            rows.append(row)
            ok = row["lost"] == 0 and row["p99_ms"] <= a.p99_ms
            if ok:
                best[count] = max(best[count], row["achieved_rate"])
            print(
                f"{count} node{'s' if count > 1 else ''} at {rate:.0f}/s: {row['received']}/{row['sent']} received, "
                f"{row['achieved_rate']}/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
                f"{row['node_cpu_us_per_message']} µs node CPU/message{'' if ok else '  (over the bound)'}",
                flush=True,
            )
    ratio = best[2] / best[1] if best[1] else float("nan")
    print(f"best within p99 {a.p99_ms:.0f} ms and nothing lost: one node {best[1]:.0f}/s, two nodes {best[2]:.0f}/s "
          f"({ratio:.2f}x)")
    print(json.dumps({"runs": rows, "best": best, "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()
