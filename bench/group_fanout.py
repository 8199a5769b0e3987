"""Group fan-out benchmark: one message to groups of 100, 500 and 2,000 members via POST /messages.

Each message is stored once and gets an offline entry for every member without a session
(nobody has one here, so every member but the sender). The script reports, per group size,
messages/s and recipient deliveries/s (messages × (members − 1)), the median of `--reps`
repetitions of `--messages` messages sent over `--conns` concurrent connections. It then
checks that a member's `offline_msg_count` grew by exactly the number of messages sent.

To show that a send does not get slower with the size of the app, `--background` takes a
list of (other groups) counts, one pass each: a pass starts a fresh server (so every pass
begins with the same, empty offline backlog), fills the app with that many other groups of
`--background-members` members (drawn from `--background-users` other users), then creates
the measured groups and measures. Compare the passes row by row. (Against `--url` the passes
run one after the other on the same server, so later passes also carry the offline entries
of earlier ones.)

Usage (from the repository root):

    # start a server pinned to CPU 0 on a fresh SQLite data dir, and measure
    .venv/bin/python bench/group_fanout.py

    # the same on PostgreSQL (the database is dropped and created again before each pass)
    .venv/bin/python bench/group_fanout.py --pg postgresql://postgres@127.0.0.1:5432/hxim_bench

    # a running server (creates users and groups in the app you name)
    .venv/bin/python bench/group_fanout.py --url http://127.0.0.1:5280 --org ORG --app APP \\
        --client-id YXA6... --client-secret YXA6...

Options: --sizes 100,500,2000 --messages 40 --reps 3 --conns 4
         --background 0,5000 --background-users 10000 --background-members 20 --cpu 0
The client runs in this process (pin it elsewhere with taskset if you like); the server it
starts is pinned to `--cpu` with taskset when taskset exists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
HXIM = (
    [str(ROOT / ".venv" / "bin" / "hxim")]
    if (ROOT / ".venv" / "bin" / "hxim").exists()
    else [
        sys.executable,
        "-m",
        "hxim",
    ]
)
BATCH = 60  # registration and member batches (the API's maximum)
CREATE_MEMBERS = 100  # members listed in a create-group body (the API's maximum)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `hxim serve` started for the benchmark on a fresh data directory."""

    def __init__(self, pg: str | None, cpu: int) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="hxim-fanout."))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
        env.update(
            HXIM_DATA_DIR=str(self.work / "data"),
            HXIM_HTTP_HOST="127.0.0.1",
            HXIM_HTTP_PORT=str(port),
            HXIM_CONFIG=str(self.work / "none.toml"),
        )
        if pg:
            env["HXIM_DATABASE_URL"] = pg
        out = subprocess.run(
            [*HXIM, "app", "create", "bench", "fanout", "--json"], env=env, check=True, capture_output=True, text=True
        )
        self.creds = json.loads(out.stdout)
        pin = ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []
        self.log = open(self.work / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*pin, *HXIM, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit((self.work / "server.log").read_text())
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class Bench:
    def __init__(self, url: str, org: str, app: str, client_id: str, client_secret: str, conns: int) -> None:
        base = f"{url.rstrip('/')}/{org}/{app}"
        token = httpx.post(
            base + "/token",
            json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
        self.http = httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120)
        self.conns = conns
        self.prefix = f"fo{int(time.time()) % 100000}"
        self.users_made = 0

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        r = await self.http.request(method, path, **kw)
        if r.status_code != 200:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    async def users(self, count: int) -> list[str]:
        """Register `count` new users, `conns` batches of 60 at a time."""
        names = [f"{self.prefix}u{self.users_made + i}" for i in range(count)]
        self.users_made += count
        batches = [names[i : i + BATCH] for i in range(0, len(names), BATCH)]
        sem = asyncio.Semaphore(self.conns)

        async def one(batch: list[str]) -> None:
            async with sem:
                await self.call("POST", "/users", json=[{"username": n, "password": "pw"} for n in batch])

        await asyncio.gather(*(one(b) for b in batches))
        return names

    async def group(self, owner: str, members: list[str], name: str) -> str:
        first, rest = members[:CREATE_MEMBERS], members[CREATE_MEMBERS:]
        body: dict[str, Any] = {
            "groupname": name,
            "desc": "bench",
            "public": True,
            "owner": owner,
            "maxusers": len(members) + 1,
        }
        if first:
            body["members"] = first
        gid: str = (await self.call("POST", "/chatgroups", json=body))["data"]["groupid"]
        for i in range(0, len(rest), BATCH):
            await self.call("POST", f"/chatgroups/{gid}/users", json={"usernames": rest[i : i + BATCH]})
        return gid

    async def offline_count(self, user: str) -> int:
        return int((await self.call("GET", f"/users/{user}/offline_msg_count"))["data"][user])

    async def send(self, gid: str, sender: str, count: int) -> float:
        """Send `count` messages to one group over `conns` connections; seconds taken."""
        body = {
            "target_type": "chatgroups",
            "target": [gid],
            "from": sender,
            "msg": {"type": "txt", "msg": "fan-out benchmark message"},
        }
        todo = iter(range(count))

        async def worker() -> None:
            for _ in todo:
                await self.call("POST", "/messages", json=body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.conns)))
        return time.perf_counter() - started


async def fill_background(bench: Bench, pool: list[str], start: int, stop: int, args: argparse.Namespace) -> None:
    """Create groups `start`..`stop` of `--background-members` members drawn from `pool`."""
    sem = asyncio.Semaphore(args.conns)
    size = args.background_members

    async def make(i: int) -> None:
        async with sem:
            first = (i * size) % max(1, len(pool) - size)
            chunk = pool[first : first + size]
            await bench.group(chunk[0], chunk[1:], f"bg-{i}")

    await asyncio.gather(*(make(i) for i in range(start, stop)))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    bench: Bench, args: argparse.Namespace, background: int, label: str, server_pid: int | None = None
) -> None:
    """Fill the app with `background` other groups, then measure every group size. With the
    server's pid, also the deliveries per second of server CPU: what one core would do if the
    server had it to itself (robust to other work on the machine)."""
    sizes = [int(s) for s in args.sizes.split(",")]
    pool: list[str] = []
    if background:
        t = time.perf_counter()
        pool = await bench.users(args.background_users)
        await fill_background(bench, pool, 0, background, args)
        print(
            f"({label}: filled the app with {background} other groups of {args.background_members} members "
            f"and {len(pool)} other users in {time.perf_counter() - t:.1f} s)",
            flush=True,
        )
    t = time.perf_counter()
    members = await bench.users(max(sizes))
    groups = {size: await bench.group(members[0], members[1:size], f"fanout-{size}") for size in sizes}
    print(
        f"({label}: {len(members)} users and {len(sizes)} measured groups set up in {time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    for size in sizes:
        gid = groups[size]
        probe = members[size - 1]
        before = await bench.offline_count(probe)
        warm = max(2, args.messages // 10)
        await bench.send(gid, members[0], warm)
        rates = []
        cpu_rates = []
        for _ in range(args.reps):
            cpu = process_cpu(server_pid) if server_pid else 0.0
            seconds = await bench.send(gid, members[0], args.messages)
            rates.append(args.messages / seconds)
            if server_pid:
                used = process_cpu(server_pid) - cpu
                cpu_rates.append(args.messages * (size - 1) / used if used > 0 else float("nan"))
        sent = warm + args.reps * args.messages
        after = await bench.offline_count(probe)
        if after - before != sent:
            raise SystemExit(f"offline count of {probe} grew by {after - before}, expected {sent}")
        med = statistics.median(rates)
        spread = f"{min(rates):.0f}–{max(rates):.0f} msg/s"
        per_cpu = f"{statistics.median(cpu_rates):,.0f}" if cpu_rates else "–"
        print(
            f"| {background} | {len(pool)} | {size} | {med:,.0f} | {med * (size - 1):,.0f} | {per_cpu} | {spread} |",
            flush=True,
        )


async def run(args: argparse.Namespace) -> None:
    backgrounds = [int(s) for s in args.background.split(",")]
    if args.url:
        print(f"# hxim group fan-out against {args.url}", flush=True)
    else:
        print(
            f"# hxim group fan-out — {platform.node()}, {os.cpu_count()} cores, "
            f"{'PostgreSQL' if args.pg else 'SQLite'}; a fresh server per pass, pinned to CPU {args.cpu}",
            flush=True,
        )
    print(
        "| other groups | other users | group size | messages/s | deliveries/s "
        "| deliveries per server CPU-s | spread of reps |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for n, background in enumerate(backgrounds):
        label = f"pass {n + 1}"
        if args.url:
            await _pass(args, None, background, label)
            continue
        if args.pg:
            _recreate_pg(args.pg)
        server = Server(args.pg, args.cpu)
        try:
            await _pass(args, server, background, label)
        finally:
            server.stop()
            print(f"({label}: server log and data in {server.work})", flush=True)


async def _pass(args: argparse.Namespace, server: Server | None, background: int, label: str) -> None:
    if server is None:
        url, org, app, cid, secret = args.url, args.org, args.app, args.client_id, args.client_secret
    else:
        c = server.creds
        url, org, app, cid, secret = server.url, c["org"], c["app"], c["client_id"], c["client_secret"]
    bench = Bench(url, org, app, cid, secret, args.conns)
    try:
        await measure(bench, args, background, label, server.proc.pid if server else None)
    finally:
        await bench.http.aclose()


def _recreate_pg(url: str) -> None:
    """Drop and create the benchmark database again, so every pass starts empty."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url")
    p.add_argument("--org")
    p.add_argument("--app")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--pg", help="PostgreSQL URL of an empty database for the server this script starts")
    p.add_argument("--cpu", type=int, default=0, help="CPU to pin the started server to")
    p.add_argument("--sizes", default="100,500,2000")
    p.add_argument("--messages", type=int, default=40, help="messages per repetition")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--background", default="0,5000", help="other-group counts, one measurement pass each")
    p.add_argument("--background-users", type=int, default=10000)
    p.add_argument("--background-members", type=int, default=20)
    args = p.parse_args()
    if args.url and not (args.org and args.app and args.client_id and args.client_secret):
        p.error("--url needs --org, --app, --client-id and --client-secret")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
