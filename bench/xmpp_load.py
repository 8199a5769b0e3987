"""XMPP load generator over real sockets: logins/s, 1:1 messages/s, one-way latency, loss, and
memory per idle session (the peers' figures: docs/benchmarks.md).

It starts `hxim serve` on a fresh SQLite data dir (pinned to `--cpu` with taskset when present;
plain TCP allowed, flood limit off), registers `--users` users over REST, then runs `--procs`
worker processes (pinned to `--client-cpus` when given), each with its share of the users on
raw TCP sockets and a minimal client (PLAIN, bind, presence; no XML parser: the bodies are
found with a regular expression):

1. logins: every user connects and logs in, at most `--login-concurrency` at a time per worker;
   logins/s = users / wall time of the slowest worker;
2. idle memory: the server's RSS after all sessions sent their presence, minus its RSS before the
   logins, divided by the number of sessions;
3. messages: user 2k sends to user 2k+1 of the same worker, at `--rate` messages/s in total for
   `--seconds`; each body carries its send time, so the receiver measures the one-way latency;
   after a drain of `--drain` seconds, loss = sent − received. Every message is stored (the
   server's normal path).

Usage (from the repository root):

    .venv/bin/python bench/xmpp_load.py --users 2000 --procs 2 --rate 3000 --seconds 10
    .venv/bin/python bench/xmpp_load.py --users 10000 --rate 7000 --cpu 0 --client-cpus 1

Prints one summary line per phase and a JSON object at the end. The server's CPU time per login
and per message come from `/proc/PID/stat`; "waited for a CPU" is the share of the message phase
its main thread spent runnable but not running (`/proc/PID/schedstat`): other work on the machine,
the noise of the run. The workers run on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
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
    else [sys.executable, "-m", "hxim"]
)
DOMAIN = "easemob.com"
PASSWORD = "bench-pw"
BODY = re.compile(rb"<body>t=([0-9.]+);</body>")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cpu: int | None) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="hxim-xmpp-load."))
        self.http_port, self.xmpp_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
        env.update(
            HXIM_DATA_DIR=str(self.work / "data"),
            HXIM_HTTP_HOST="127.0.0.1",
            HXIM_HTTP_PORT=str(self.http_port),
            HXIM_CONFIG=str(self.work / "none.toml"),
            HXIM_XMPP_HOST="127.0.0.1",
            HXIM_XMPP_PORT=str(self.xmpp_port),
            HXIM_XMPP_ALLOW_PLAINTEXT="true",
            HXIM_XMPP_FLOOD_RATE="0",
            HXIM_XMPP_TCP_MECHANISMS='["PLAIN"]',
        )
        self.env = env  # for `hxim` commands on the same data while it runs
        out = subprocess.run(
            [*HXIM, "app", "create", "bench", "xmpp", "--json"], env=env, check=True, capture_output=True, text=True
        )
        self.creds = json.loads(out.stdout)
        pin = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
        self.log = open(self.work / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*pin, *HXIM, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.http_port}"
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

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_wait_seconds(self) -> float:
        """Time the server's main thread has spent runnable but waiting for a CPU (other work on the
        machine took it): the noise indicator of a run."""
        return int(Path(f"/proc/{self.proc.pid}/schedstat").read_text().split()[1]) / 1e9

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def register(url: str, creds: dict[str, str], names: list[str]) -> None:
    base = f"{url}/{creds['org']}/{creds['app']}"
    token = httpx.post(
        base + "/token",
        json={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    ).json()["access_token"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        for i in range(0, len(names), 60):
            r = http.post("/users", json=[{"username": n, "password": PASSWORD} for n in names[i : i + 60]])
            r.raise_for_status()


# --- the worker side ------------------------------------------------------------------------------


class Conn:
    def __init__(self, node: str) -> None:
        self.node = node
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter
        self.received = 0
        self.latencies: list[float] = []

    async def until(self, marker: bytes) -> bytes:
        data = b""
        while marker not in data:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError(f"closed while waiting for {marker!r}: {data[-300:]!r}")
            data += chunk
        return data

    async def login(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        header = (
            f"<stream:stream to='{DOMAIN}' xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        ).encode()
        self.writer.write(b"<?xml version='1.0'?>" + header)
        await self.until(b"</stream:features>")
        auth = base64.b64encode(f"\0{self.node}\0{PASSWORD}".encode()).decode()
        self.writer.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>".encode())
        reply = b""
        while b"success" not in reply and b"failure" not in reply:
            chunk = await self.reader.read(4096)
            if not chunk:
                break
            reply += chunk
        if b"<success" not in reply:
            raise ConnectionError(f"authentication failed: {reply!r}")
        self.writer.write(header)
        await self.until(b"</stream:features>")
        self.writer.write(
            b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            b"<resource>load</resource></bind></iq>"
        )
        await self.until(b"</iq>")
        self.writer.write(b"<presence/>")

    async def read_loop(self) -> None:
        buf = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            buf += chunk
            now = time.time()
            end = 0
            for m in BODY.finditer(buf):
                self.received += 1
                self.latencies.append(now - float(m.group(1)))
                end = m.end()
            buf = buf[end:] if end else buf[-4096:]


async def worker_main(index: int, nodes: list[str], args: dict[str, Any], barrier: Any, results: Any) -> None:
    conns = [Conn(n) for n in nodes]
    sem = asyncio.Semaphore(args["login_concurrency"])

    ports = args.get("ports") or [args["port"]]  # several: the users take them in turn (a cluster's nodes)
    port_of = {id(c): ports[i % len(ports)] for i, c in enumerate(conns)}

    async def login(c: Conn) -> None:
        async with sem:
            await c.login(port_of[id(c)])

    t0 = time.perf_counter()
    await asyncio.gather(*(login(c) for c in conns))
    login_seconds = time.perf_counter() - t0
    readers = [asyncio.create_task(c.read_loop()) for c in conns]
    await asyncio.sleep(1)  # let the presences and replays settle
    await asyncio.to_thread(barrier.wait)  # main measures memory
    await asyncio.to_thread(barrier.wait)  # main says go
    pairs = [(conns[i], conns[i + 1]) for i in range(0, len(conns) - 1, 2)]
    rate = args["rate"] / args["procs"]
    total = int(rate * args["seconds"])
    sent = 0
    start = time.perf_counter()
    tick = 0.01
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            sender, receiver = pairs[sent % len(pairs)]
            body = f"t={time.time():.6f};"
            sender.writer.write(
                f"<message type='chat' to='{receiver.node}@{DOMAIN}'><body>{body}</body></message>".encode()
            )
            sent += 1
        await asyncio.sleep(tick)
    send_seconds = time.perf_counter() - start
    await asyncio.sleep(args["drain"])
    for r in readers:
        r.cancel()
    latencies = [x for c in conns for x in c.latencies]
    results.put(
        {
            "worker": index,
            "logins": len(conns),
            "login_seconds": login_seconds,
            "sent": sent,
            "send_seconds": send_seconds,
            "received": sum(c.received for c in conns),
            "latencies": latencies,
        }
    )


def worker(index: int, nodes: list[str], args: dict[str, Any], barrier: Any, results: Any, cpus: list[int]) -> None:
    if cpus:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    import uvloop  # a dependency of the server; the load must not be the bottleneck

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(worker_main(index, nodes, args, barrier, results))


def message_phase(
    server: Server, barrier: Any, results: Any, workers: int, timeout: float
) -> tuple[list[dict[str, Any]], float, float]:
    """Say go to the logged-in workers (the barrier's second round) and collect their results:
    those, the server's CPU seconds meanwhile, and the share of the phase its main thread spent
    waiting for a CPU (other work on the machine: the noise of the run)."""
    cpu, waited, started = server.cpu_seconds(), server.cpu_wait_seconds(), time.perf_counter()
    barrier.wait()
    out = [results.get(timeout=timeout) for _ in range(workers)]
    cpu = server.cpu_seconds() - cpu
    return out, cpu, (server.cpu_wait_seconds() - waited) / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--rate", type=float, default=2000, help="messages per second, all workers together")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--drain", type=float, default=3)
    p.add_argument("--login-concurrency", type=int, default=100)
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    p.add_argument("--client-cpus", default="", help="comma-separated CPUs for the workers")
    a = p.parse_args()
    server = Server(a.cpu)
    try:
        prefix = f"ld{int(time.time()) % 100000}"
        names = [f"{prefix}u{i}" for i in range(a.users)]
        t = time.perf_counter()
        register(server.url, server.creds, names)
        print(f"registered {a.users} users in {time.perf_counter() - t:.1f}s", flush=True)
        appkey = f"{server.creds['org']}#{server.creds['app']}"
        nodes = [f"{appkey}_{n}" for n in names]
        args = {
            "port": server.xmpp_port,
            "rate": a.rate,
            "seconds": a.seconds,
            "drain": a.drain,
            "procs": a.procs,
            "login_concurrency": a.login_concurrency,
        }
        cpus = [int(c) for c in a.client_cpus.split(",") if c]
        rss_before = server.rss_kb()
        cpu_before = server.cpu_seconds()
        barrier = mp.Barrier(a.procs + 1)
        results: Any = mp.Queue()
        shares = [nodes[i :: a.procs] for i in range(a.procs)]
        procs = [mp.Process(target=worker, args=(i, shares[i], args, barrier, results, cpus)) for i in range(a.procs)]
        t = time.perf_counter()
        for proc in procs:
            proc.start()
        barrier.wait()
        login_wall = time.perf_counter() - t
        rss_after = server.rss_kb()
        login_cpu = server.cpu_seconds() - cpu_before
        per_session = (rss_after - rss_before) / max(1, a.users)
        print(
            f"logins: {a.users} in {login_wall:.2f}s ({a.users / login_wall:.0f}/s, incl. process start); "
            f"idle memory {per_session:.1f} KB/session (RSS {rss_before} -> {rss_after} KB)",
            flush=True,
        )
        out, message_cpu, cpu_wait = message_phase(server, barrier, results, a.procs, a.seconds + a.drain + 120)
        for proc in procs:
            proc.join(30)
        sent = sum(r["sent"] for r in out)
        received = sum(r["received"] for r in out)
        lat = [x for r in out for x in r["latencies"]]
        send_seconds = max(r["send_seconds"] for r in out)
        login_rate = a.users / max(r["login_seconds"] for r in out)
        summary = {
            "users": a.users,
            "procs": a.procs,
            "logins_per_s": round(login_rate),
            "idle_kb_per_session": round(per_session, 1),
            "server_cpu_ms_per_login": round(login_cpu * 1000 / max(1, a.users), 3),
            "messages_sent": sent,
            "messages_received": received,
            "lost": sent - received,
            "offered_rate": a.rate,
            "achieved_rate": round(received / send_seconds),
            "server_cpu_us_per_message": round(message_cpu * 1e6 / max(1, received), 1),
            "server_cpu_wait_pct": round(cpu_wait * 100, 1),
            "latency_ms": {
                "p50": round(percentile(lat, 0.5) * 1000, 2),
                "p99": round(percentile(lat, 0.99) * 1000, 2),
                "max": round(max(lat) * 1000, 2) if lat else None,
                "mean": round(statistics.fmean(lat) * 1000, 2) if lat else None,
            },
        }
        print(
            f"messages: {sent} sent, {received} received, lost {sent - received}; "
            f"p50 {summary['latency_ms']['p50']} ms, p99 {summary['latency_ms']['p99']} ms, "
            f"max {summary['latency_ms']['max']} ms; server CPU {summary['server_cpu_us_per_message']} µs/message, "
            f"{summary['server_cpu_ms_per_login']} ms/login (incl. the 1 s settle); "
            f"server waited for a CPU {summary['server_cpu_wait_pct']}% of the message phase",
            flush=True,
        )
        print(json.dumps(summary))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
