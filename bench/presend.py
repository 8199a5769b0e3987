"""Pre-send callbacks under load: what one pre-send rule adds to the send-to-deliver latency of
1:1 messages between XMPP clients at a fixed rate, without and with the rule in the same run
(docs/callbacks.md, docs/benchmarks.md). The target: p99 rises by less than 10 ms at 1,000
messages/s with a receiver that answers in 5 ms.

It starts `hxim serve` as bench/xmpp_load.py does (its `Server`: a fresh SQLite data dir, plain
TCP, flood limit off, pinned to `--cpu`), and a pre-send receiver in a process of its own (pinned
to `--receiver-cpus`): a kept-alive HTTP/1.1 server that answers `{"valid":true}` after
`--answer-ms` (an asyncio sleep). Then it runs phases of `--seconds`, `--reps` times each,
alternating:

- `plain`: the app has no rule;
- `judged`: the app has one pre-send rule (`hxim callback add --kind pre`) to the receiver, so
  every message waits for its answer before it is stored and delivered.

Each phase is xmpp_load's message phase with `--users` users of its own (no offline message of a
phase reaches the next one): the workers log them in over raw TCP, user 2k sends to user 2k+1 at
`--rate` messages/s in total, each body carries its send time, and the recipient measures the
latency.

    .venv/bin/python bench/presend.py --seconds 10 --reps 2 --cpu 0 --client-cpus 1 --receiver-cpus 1

Prints one line per phase and a JSON summary: p50 and p99 of each mode (its phases together),
`p99_rise_ms` (judged − plain) against `target_ms`, the messages lost, how many the receiver
judged (every message of the judged phases: else the rule was not in force and the figures are
not about it), how late the receiver itself answered, and how many answers the server gave up
on (no answer within `--timeout-ms`: the message passed late; its server log counts them). The
server's CPU time per message comes from `/proc/PID/stat`; "waited for a CPU"
(`/proc/PID/schedstat`) is the noise of the run: a late receiver or a server that waited for a
CPU says the machine's other work is in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import time
from typing import Any

import httpx

from callbacks import read_message
from xmpp_load import HXIM, Server, free_port, message_phase, percentile, register, worker

RULE = "judge"
TARGET_MS = 10.0
ANSWER = b'{"valid":true}'


# --- the receiver: a pre-send receiver that says valid after a pause, in its own process --------------
def receiver_main(port: int, answer_ms: float, ready: Any, cpus: list[int]) -> None:
    """Answers each POST `{"valid":true}` after `answer_ms`; `GET /stats` answers how many it judged
    since the last `GET /stats` and how late its answers were beyond `answer_ms`, from reading a
    request to writing its answer (its own delay: the machine's other work), and starts counting
    again."""
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    import uvloop

    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n"
    valid = head.format(len(ANSWER)).encode() + ANSWER
    late: list[float] = []  # seconds beyond answer_ms, one per answer

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request, _ = await read_message(reader)
                if request.startswith(b"GET /stats"):
                    p99 = percentile(late, 0.99) if late else 0.0
                    stats = json.dumps({"judged": len(late), "late_p99_ms": round(p99 * 1000, 2),
                                        "late_max_ms": round(max(late, default=0) * 1000, 2)}).encode()
                    late.clear()
                    writer.write(head.format(len(stats)).encode() + stats)
                    continue
                started = time.perf_counter()
                await asyncio.sleep(answer_ms / 1000)
                writer.write(valid)
                late.append(time.perf_counter() - started - answer_ms / 1000)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        await asyncio.Event().wait()  # until the parent ends it

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def receiver_stats(port: int) -> dict[str, Any]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json())


def late_answers(server: Server) -> int:
    """How many pre-send answers the server has given up waiting for so far (its log says each)."""
    return (server.work / "server.log").read_text(errors="replace").count("failed (no answer in time)")


# --- one phase: xmpp_load's workers, logged in, then sending at the fixed rate -------------------------
def phase(server: Server, nodes: list[str], a: argparse.Namespace, cpus: list[int]) -> dict[str, Any]:
    args = {"port": server.xmpp_port, "rate": a.rate, "seconds": a.seconds, "drain": a.drain, "procs": a.procs,
            "login_concurrency": 100}
    barrier = mp.Barrier(a.procs + 1)
    results: Any = mp.Queue()
    procs = [mp.Process(target=worker, args=(i, nodes[i :: a.procs], args, barrier, results, cpus))
             for i in range(a.procs)]
    for proc in procs:
        proc.start()
    barrier.wait()  # logged in
    out, cpu, waited = message_phase(server, barrier, results, a.procs, a.seconds + a.drain + 120)
    for proc in procs:
        proc.join(30)
    received = sum(r["received"] for r in out)
    return {"sent": sum(r["sent"] for r in out), "received": received,
            "latencies": [x for r in out for x in r["latencies"]],
            "server_cpu_us_per_message": cpu * 1e6 / max(1, received), "server_cpu_wait_pct": waited * 100}


def rule(server: Server, appkey: str, *args: str) -> None:
    """`hxim callback ARGS` on the running server's data, then a pause until it has the change (it
    looks for changed rules every `callback_rules_reload_ms`, 500 ms by default)."""
    subprocess.run([*HXIM, "callback", *args], env=server.env, check=True, capture_output=True)
    if args[0] == "add":
        rules = subprocess.run([*HXIM, "callback", "list", appkey, "--json"], env=server.env, check=True,
                               capture_output=True, text=True).stdout
        assert any(r["name"] == RULE and r["kind"] == "pre" for r in json.loads(rules)), rules
    time.sleep(1.5)


def summary_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [x for r in runs for x in r["latencies"]]
    sent, received = sum(r["sent"] for r in runs), sum(r["received"] for r in runs)
    return {
        "sent": sent, "received": received, "lost": sent - received,
        "p50_ms": round(percentile(lat, 0.5) * 1000, 2), "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 2) if lat else None,
        "server_cpu_us_per_message": round(sum(r["server_cpu_us_per_message"] for r in runs) / len(runs), 1),
        "server_cpu_wait_pct": round(max(r["server_cpu_wait_pct"] for r in runs), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=200, help="users of each phase (half of them send)")
    p.add_argument("--procs", type=int, default=2, help="worker processes")
    p.add_argument("--rate", type=float, default=1000, help="messages per second, all workers together")
    p.add_argument("--seconds", type=float, default=10, help="length of each phase's sending")
    p.add_argument("--reps", type=int, default=1, help="phases of each mode, alternating")
    p.add_argument("--drain", type=float, default=2, help="wait for the last messages after sending")
    p.add_argument("--answer-ms", type=float, default=5, help="the receiver's pause before it answers")
    p.add_argument("--timeout-ms", type=int, default=200, help="the rule's --timeout-ms")
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    p.add_argument("--client-cpus", default="", help="comma-separated CPUs for the workers")
    p.add_argument("--receiver-cpus", default="", help="comma-separated CPUs for the receiver")
    a = p.parse_args()
    ready = mp.Event()
    port = free_port()
    receiver = mp.Process(target=receiver_main, daemon=True, args=(
        port, a.answer_ms, ready, [int(c) for c in a.receiver_cpus.split(",") if c]))
    receiver.start()
    server = Server(a.cpu)
    try:
        assert ready.wait(30), "the receiver did not start"
        appkey = f"{server.creds['org']}#{server.creds['app']}"
        modes = ["plain", "judged"] * a.reps
        names = [[f"ps{int(time.time()) % 100000}p{k}u{i}" for i in range(a.users)] for k in range(len(modes))]
        register(server.url, server.creds, [n for phase_names in names for n in phase_names])
        cpus = [int(c) for c in a.client_cpus.split(",") if c]
        runs: dict[str, list[dict[str, Any]]] = {"plain": [], "judged": []}
        for mode, phase_names in zip(modes, names, strict=True):
            if mode == "judged":
                rule(server, appkey, "add", appkey, "--name", RULE, "--kind", "pre", "--secret", "bench",
                     "--url", f"http://127.0.0.1:{port}/presend", "--timeout-ms", str(a.timeout_ms))
            receiver_stats(port)
            late = late_answers(server)
            run = phase(server, [f"{appkey}_{n}" for n in phase_names], a, cpus)
            run.update(receiver_stats(port), given_up=late_answers(server) - late)
            if mode == "judged":
                rule(server, appkey, "remove", appkey, RULE)
            runs[mode].append(run)
            lat = run["latencies"]
            print(f"{mode:6}: {run['sent']} sent, {run['received']} received, {run['judged']} judged "
                  f"({run['given_up']} answers too late for the server; the receiver answered late by "
                  f"{run['late_p99_ms']} ms at p99, {run['late_max_ms']} ms at most); "
                  f"p50 {percentile(lat, 0.5) * 1000:.2f} ms, p99 {percentile(lat, 0.99) * 1000:.2f} ms; "
                  f"server CPU {run['server_cpu_us_per_message']:.0f} µs/message, "
                  f"waited for a CPU {run['server_cpu_wait_pct']:.1f} %", flush=True)
        plain, with_rule = summary_of(runs["plain"]), summary_of(runs["judged"])
        judged = runs["judged"]
        with_rule.update(judged=sum(r["judged"] for r in judged), given_up=sum(r["given_up"] for r in judged),
                         receiver_late_max_ms=max(r["late_max_ms"] for r in judged))
        rise = round(with_rule["p99_ms"] - plain["p99_ms"], 2)
        print(json.dumps({
            "rate": a.rate, "seconds": a.seconds, "reps": a.reps, "users": a.users, "answer_ms": a.answer_ms,
            "plain": plain, "judged": with_rule,
            "p50_rise_ms": round(with_rule["p50_ms"] - plain["p50_ms"], 2), "p99_rise_ms": rise,
            "target_ms": TARGET_MS, "meets_target": rise < TARGET_MS,
            "all_judged": with_rule["judged"] == with_rule["sent"],
        }))
    finally:
        server.stop()
        receiver.terminate()


if __name__ == "__main__":
    main()
