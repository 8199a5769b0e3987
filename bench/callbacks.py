"""Post-send callbacks under load: the stored 1:1 message rate without and with one post-send
rule to a local receiver, in the same run (docs/benchmarks.md).

It starts `hxim serve` on a fresh SQLite data dir (pinned to `--cpu` with taskset when present),
creates two apps (`bench#plain` and `bench#hooked`, the second with one post-send rule for `chat`
to a receiver in this process), registers `--users` users in each, then alternates phases of
`--seconds` on each app, `--reps` times: `--procs` worker processes each keep `--conns`
keep-alive connections sending `POST /messages/users` (one recipient, stored, offline entry) as
fast as answers come. The receiver answers 200 at once and records each callId. After the
phases, it waits until every message of the hooked app has had its callback (nothing lost:
callbacks delivered = messages stored, one callId each).

Prints one line per phase and a JSON summary: messages/s per app (median of the phases), the
ratio, the server's CPU time per message (`/proc/PID/stat`) and its callback sender process's
(`--sender process`, the default setting; `--sender inline` POSTs from the serving loop;
`--sender-cpus` pins the sender process elsewhere than the server), and how long the last
callbacks took to arrive after the load ended.

    .venv/bin/python bench/callbacks.py --seconds 10 --reps 3 --cpu 0 --client-cpus 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
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
HXIM = [sys.executable, "-m", "hxim"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request or answer with a Content-Length: its head and its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return head, await reader.readexactly(length)


# --- the receiver: a minimal keep-alive HTTP/1.1 server ------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.calls: dict[str, str] = {}  # callId -> msg_id
        self.posts = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                body = json.loads((await read_message(reader))[1])
                self.posts += 1
                self.calls[body["callId"]] = body["msg_id"]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()


# --- the load: worker processes with raw keep-alive HTTP connections ----------------------------------
def worker(port: int, path: str, token: str, pairs: list[tuple[str, str]], conns: int, seconds: float,
           cpus: str, out: Any) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})

    async def one(k: int) -> tuple[int, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ok = bad = 0
        i = k
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sender, to = pairs[i % len(pairs)]
            i += conns
            body = json.dumps({"from": sender, "to": [to], "type": "txt", "body": {"msg": f"bench {i}"}}).encode()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )
            head, _ = await read_message(reader)
            if head.startswith(b"HTTP/1.1 200"):
                ok += 1
            else:
                bad += 1
        writer.close()
        return ok, bad

    async def main() -> tuple[int, int]:
        results = await asyncio.gather(*(one(k) for k in range(conns)))
        return sum(r[0] for r in results), sum(r[1] for r in results)

    out.put(asyncio.run(main()))


def sender_pids(pid: int) -> list[int]:
    """The server's callback sender process (the child that POSTs post-send callbacks), if running."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else 0
            if ppid == pid and b"hxim.services.callback_sender" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def phase(port: int, app: dict[str, Any], args: argparse.Namespace, pid: int) -> dict[str, float]:
    queue: Any = mp.Queue()
    senders = sender_pids(pid)
    if args.sender_cpus:
        for child in senders:
            os.sched_setaffinity(child, {int(c) for c in args.sender_cpus.split(",")})
    sender0 = sum(cpu_seconds(c) for c in senders)
    users = app["users"]
    pairs = [(users[i], users[(i + 1) % len(users)]) for i in range(len(users))]
    share = len(pairs) // args.procs
    cpu0 = cpu_seconds(pid)
    started = time.monotonic()
    procs = [
        mp.Process(target=worker, args=(port, app["path"], app["token"], pairs[k * share:(k + 1) * share],
                                        args.conns, args.seconds, args.client_cpus, queue))
        for k in range(args.procs)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.monotonic() - started
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    cpu = cpu_seconds(pid) - cpu0
    sender = sum(cpu_seconds(c) for c in senders) - sender0
    return {"stored": ok, "refused": bad, "rate": ok / args.seconds, "cpu_us_per_msg": 1e6 * cpu / max(ok, 1),
            "sender_cpu_us_per_msg": 1e6 * sender / max(ok, 1), "server_cpu_share": cpu / wall}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    rport = free_port()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", rport)
    work = Path(tempfile.mkdtemp(prefix="hxim-bench-callbacks."))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(HXIM_DATA_DIR=str(work / "data"), HXIM_CONFIG=str(work / "none.toml"), HXIM_HTTP_HOST="127.0.0.1",
               HXIM_HTTP_PORT=str(port), HXIM_XMPP_ENABLED="false", PYTHONPATH=str(ROOT / "src"),
               HXIM_CALLBACK_SENDER=args.sender)
    apps: dict[str, dict[str, Any]] = {}
    for name in ("plain", "hooked"):
        subprocess.run([*HXIM, "app", "create", "bench", name], env=env, check=True, capture_output=True)
        apps[name] = {"path": f"/bench/{name}/messages/users"}
    subprocess.run([*HXIM, "callback", "add", "bench#hooked", "--name", "archive", "--url",
                    f"http://127.0.0.1:{rport}/cb", "--secret", "bench", "--events", "chat"],
                   env=env, check=True, capture_output=True)
    cmd = [*HXIM, "serve"]
    if args.cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(args.cpu), *cmd]
    log = open(work / "server.log", "wb")  # noqa: SIM115 (kept open while the server runs)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(300):
                try:
                    await http.get("/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            for name, app in apps.items():
                token = subprocess.run([*HXIM, "app", "token", "bench", name], env=env, check=True,
                                       capture_output=True, text=True).stdout.strip()
                app["token"] = token
                headers = {"Authorization": f"Bearer {token}"}
                app["users"] = [f"u{i}" for i in range(args.users)]
                for i in range(0, args.users, 60):
                    batch = [{"username": u, "password": "pw"} for u in app["users"][i:i + 60]]
                    r = await http.post(f"/bench/{name}/users", json=batch, headers=headers)
                    assert r.status_code == 200, r.text
            # one callback before the phases, so that the sender process runs when they start
            headers = {"Authorization": f"Bearer {apps['hooked']['token']}"}
            body = {"from": "u0", "to": ["u1"], "type": "txt", "body": {"msg": "warm-up"}}
            await http.post(apps["hooked"]["path"], json=body, headers=headers)
            while not receiver.calls:
                await asyncio.sleep(0.05)
        warmup = len(receiver.calls)
        phases: dict[str, list[dict[str, float]]] = {"plain": [], "hooked": []}
        loop = asyncio.get_running_loop()
        for rep in range(args.reps):
            for name in ("plain", "hooked"):
                result = await loop.run_in_executor(None, phase, port, apps[name], args, proc.pid)
                phases[name].append(result)
                print(f"rep {rep + 1} {name:6}: {result['rate']:8.0f} stored/s, {result['cpu_us_per_msg']:6.0f} µs "
                      f"server CPU per message (+{result['sender_cpu_us_per_msg']:.0f} µs in the sender process), "
                      f"server at {100 * result['server_cpu_share']:.0f} % of a core"
                      + (f", {result['refused']} refused" if result["refused"] else ""), flush=True)
        stored = sum(p["stored"] for p in phases["hooked"]) + warmup
        ended = time.monotonic()
        while len(receiver.calls) < stored and time.monotonic() - ended < args.drain:
            await asyncio.sleep(0.05)
        caught_up = time.monotonic() - ended
        ids = list(receiver.calls.values())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        server.close()
    rate = {k: statistics.median(p["rate"] for p in v) for k, v in phases.items()}
    cpu = {k: statistics.median(p["cpu_us_per_msg"] for p in v) for k, v in phases.items()}
    sender_cpu = statistics.median(p["sender_cpu_us_per_msg"] for p in phases["hooked"])
    summary = {
        "users": args.users, "procs": args.procs, "conns": args.conns, "seconds": args.seconds, "reps": args.reps,
        "rate_plain": round(rate["plain"]), "rate_hooked": round(rate["hooked"]),
        "ratio": round(rate["hooked"] / rate["plain"], 3),
        "cpu_us_per_msg_plain": round(cpu["plain"]), "cpu_us_per_msg_hooked": round(cpu["hooked"]),
        "sender": args.sender, "sender_cpu_us_per_msg": round(sender_cpu),
        "hooked_stored": stored, "callbacks_received": len(receiver.calls), "receiver_posts": receiver.posts,
        "distinct_messages_called_back": len(set(ids)), "callbacks_done_after_load_s": round(caught_up, 2),
    }
    shutil.rmtree(work, ignore_errors=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--conns", type=int, default=8, help="connections per worker process")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--drain", type=float, default=120, help="longest wait for the last callbacks")
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    parser.add_argument("--client-cpus", default="", help="pin the workers to these CPUs (comma-separated)")
    parser.add_argument("--sender", choices=("process", "inline"), default="process",
                        help="the server's callback_sender: POST from a child process, or from the serving loop")
    parser.add_argument("--sender-cpus", default="",
                        help="pin the callback sender process to these CPUs (default: the server's)")
    args = parser.parse_args()
    summary = asyncio.run(run(args))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
