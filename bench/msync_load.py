"""msync load generator over real WebSockets (the protocol of Easemob's Web SDK 4.x): token
logins/s, stored 1:1 messages/s, one-way latency and loss, beside the XMPP figures of
bench/xmpp_load.py (docs/benchmarks.md).

It starts `hxim serve` on a fresh SQLite data dir as bench/xmpp_load.py does (pinned to `--cpu`,
flood limits off), registers `--users` users, takes a token for each with the app's `inherit`
grant, then runs `--procs` worker processes (pinned to `--client-cpus`), each with its share of the
users, speaking msync with `hxim.msync.client.MsyncClient` (protobuf):

1. logins: every user opens a WebSocket and logs in with its token (PROVISION), then asks UNREAD,
   at most `--login-concurrency` at a time per worker; logins/s = users / wall time of the slowest
   worker;
2. messages: user 2k sends to user 2k+1 of the same worker, at `--rate` messages/s in total for
   `--seconds`, without waiting for the acknowledgements; the receivers pull what each NOTICE
   announces and acknowledge every page, as the SDK does. Each text carries its send time, so the
   receiver measures the one-way latency; after `--drain` seconds, loss = sent − received. Every
   message is stored.

Usage (from the repository root):

    .venv/bin/python bench/msync_load.py --users 2000 --rate 3000 --seconds 10
    .venv/bin/python bench/msync_load.py --users 4000 --rate 7000 --cpu 0 --client-cpus 1

Prints one summary line per phase and a JSON object at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hxim.msync.client import MsyncClient
from hxim.msync.wire import pb
from xmpp_load import Server, message_phase, percentile, register


def user_tokens(url: str, creds: dict[str, str], names: list[str]) -> list[str]:
    """A token for each user, from the app's `inherit` grant (no password hashing)."""
    base = f"{url}/{creds['org']}/{creds['app']}"
    admin = httpx.post(base + "/token", json={
        "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
    }).json()["access_token"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as http:
        return [http.post("/token", json={"grant_type": "inherit", "username": n}).json()["access_token"]
                for n in names]


class Receiver:
    """Counts the text metas a client reads and the one-way latency of each."""

    def __init__(self) -> None:
        self.received = 0
        self.latencies: list[float] = []

    def __call__(self, meta: pb.Meta) -> None:
        body = pb.MessageBody()
        body.ParseFromString(meta.payload)
        text = body.contents[0].text if body.contents else ""
        if text.startswith("t="):
            self.received += 1
            self.latencies.append(time.time() - float(text[2:]))


async def worker_main(index: int, users: list[tuple[str, str]], args: dict[str, Any], barrier: Any,
                      results: Any) -> None:
    receivers = [Receiver() for _ in users]
    clients = [MsyncClient(args["ws"], args["appkey"], name, f"webim_web_{i}", on_meta=receivers[i])
               for i, (name, _) in enumerate(users)]
    sem = asyncio.Semaphore(args["login_concurrency"])

    async def login(client: MsyncClient, token: str) -> None:
        async with sem:
            answer = await client.login(token, timeout=60)
            if answer.status.error_code:
                raise SystemExit(f"login refused: {answer.status}")
            await client.sync(timeout=60)

    t0 = time.perf_counter()
    await asyncio.gather(*(login(c, tok) for c, (_, tok) in zip(clients, users, strict=True)))
    login_seconds = time.perf_counter() - t0
    await asyncio.to_thread(barrier.wait)  # main measures
    await asyncio.to_thread(barrier.wait)  # main says go
    pairs = [(clients[i], clients[i + 1]) for i in range(0, len(clients) - 1, 2)]
    rate = args["rate"] / args["procs"]
    total = int(rate * args["seconds"])
    sent = 0
    start = time.perf_counter()
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            sender, receiver = pairs[sent % len(pairs)]
            await sender.post(receiver.user, f"t={time.time():.6f}")
            sent += 1
        await asyncio.sleep(0.01)
    send_seconds = time.perf_counter() - start
    await asyncio.sleep(args["drain"])
    results.put({
        "worker": index, "logins": len(clients), "login_seconds": login_seconds, "sent": sent,
        "send_seconds": send_seconds, "received": sum(r.received for r in receivers),
        "latencies": [x for r in receivers for x in r.latencies],
    })
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def worker(index: int, users: list[tuple[str, str]], args: dict[str, Any], barrier: Any, results: Any,
           cpus: list[int]) -> None:
    if cpus:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(worker_main(index, users, args, barrier, results))


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
    os.environ["HXIM_MSYNC_FLOOD_RATE"] = "0"  # (read by the server the Server class starts)
    server = Server(a.cpu)
    try:
        prefix = f"ms{int(time.time()) % 100000}"
        names = [f"{prefix}u{i}" for i in range(a.users)]
        t = time.perf_counter()
        register(server.url, server.creds, names)
        tokens = user_tokens(server.url, server.creds, names)
        print(f"registered {a.users} users and took their tokens in {time.perf_counter() - t:.1f}s", flush=True)
        args = {
            "ws": server.url.replace("http://", "ws://") + "/websocket",
            "appkey": f"{server.creds['org']}#{server.creds['app']}",
            "rate": a.rate, "seconds": a.seconds, "drain": a.drain, "procs": a.procs,
            "login_concurrency": a.login_concurrency,
        }
        cpus = [int(c) for c in a.client_cpus.split(",") if c]
        users = list(zip(names, tokens, strict=True))
        shares = [users[i :: a.procs] for i in range(a.procs)]
        barrier = mp.Barrier(a.procs + 1)
        results: Any = mp.Queue()
        procs = [mp.Process(target=worker, args=(i, shares[i], args, barrier, results, cpus)) for i in range(a.procs)]
        rss_before, cpu_before = server.rss_kb(), server.cpu_seconds()
        for proc in procs:
            proc.start()
        barrier.wait()
        login_cpu = server.cpu_seconds() - cpu_before
        per_session = (server.rss_kb() - rss_before) / max(1, a.users)
        out, message_cpu, cpu_wait = message_phase(server, barrier, results, a.procs, a.seconds + a.drain + 120)
        for proc in procs:
            proc.join(30)
        sent = sum(r["sent"] for r in out)
        received = sum(r["received"] for r in out)
        lat = [x for r in out for x in r["latencies"]]
        login_rate = a.users / max(r["login_seconds"] for r in out)
        summary = {
            "users": a.users, "procs": a.procs, "logins_per_s": round(login_rate),
            "idle_kb_per_session": round(per_session, 1),
            "server_cpu_ms_per_login": round(login_cpu * 1000 / max(1, a.users), 3),
            "messages_sent": sent, "messages_received": received, "lost": sent - received, "offered_rate": a.rate,
            "achieved_rate": round(received / max(r["send_seconds"] for r in out)),
            "server_cpu_us_per_message": round(message_cpu * 1e6 / max(1, received), 1),
            "server_cpu_wait_pct": round(cpu_wait * 100, 1),
            "latency_ms": {
                "p50": round(percentile(lat, 0.5) * 1000, 2), "p99": round(percentile(lat, 0.99) * 1000, 2),
                "max": round(max(lat) * 1000, 2) if lat else None,
                "mean": round(statistics.fmean(lat) * 1000, 2) if lat else None,
            },
        }
        print(f"logins: {a.users} at {login_rate:.0f}/s (login + UNREAD), {summary['server_cpu_ms_per_login']} ms "
              f"server CPU each; idle memory {per_session:.1f} KB/session", flush=True)
        print(f"messages: {sent} sent, {received} received, lost {sent - received}; p50 {summary['latency_ms']['p50']} "
              f"ms, p99 {summary['latency_ms']['p99']} ms; "
              f"server CPU {summary['server_cpu_us_per_message']} µs/message; "
              f"server waited for a CPU {summary['server_cpu_wait_pct']}% of the message phase", flush=True)
        print(json.dumps(summary))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
