"""What the seed APIs add to a direct REST call: /hx/sendMessages and GET /api/v2/easemob/group.

Starts one `hxim serve` (SQLite, in a temporary directory; pinned to CPU 0 when `taskset`
exists, the client on CPU 1), prepares an app, users, an app user and a group, then drives
four requests over keep-alive sockets with a minimal HTTP/1.1 client:

    direct  POST /{org}/{app}/messages            (one offline user, stored)
    seed    POST /hx/sendMessages                 (the same message through the gateway)
    direct  GET  /{org}/{app}/chatgroups/{id}     (a group of `--members` members)
    seed    GET  /api/v2/easemob/group?im_group_id={id}   (the same, with app-user profiles)

Phases alternate (direct, seed, direct, seed, …) so that drift hits both alike. For each
request it reports the median and p99 latency at concurrency 1 and the throughput and median
at `--conns` connections, and the seed API's cost over the direct call.

usage: .venv/bin/python bench/seed_gateway.py [--requests 2000] [--rounds 5] [--conns 8] [--members 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

HXIM = [sys.executable, "-m", "hxim"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, Any]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(
        {
            "HXIM_HTTP_HOST": "127.0.0.1",
            "HXIM_HTTP_PORT": str(port),
            "HXIM_DATA_DIR": str(tmp / "data"),
            "HXIM_CONFIG": str(tmp / "none.toml"),
            "HXIM_APP_API_JWT_SECRET": "bench-secret-0123456789abcdef0123456789",
        }
    )
    made = subprocess.run([*HXIM, "app", "create", "bench", "app", "--json"], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    creds = json.loads(made.stdout)
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([*pin, *HXIM, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return proc, base, creds


def prepare(base: str, creds: dict[str, Any], members: int) -> dict[str, Any]:
    c = httpx.Client(base_url=base, timeout=60)
    prefix = f"/{creds['org']}/{creds['app']}"
    token = c.post(
        prefix + "/token",
        json={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    ids = list(range(1, members + 1))
    for uid in ids:
        r = c.put(f"{prefix}/app_users/{uid}", json={"name": f"member{uid}", "bio": "bench"}, headers=auth)
        assert r.status_code == 200, r.text
    c.put(f"{prefix}/app_users/1", json={"password": "bench-pw", "is_admin": True}, headers=auth)
    c.post(
        prefix + "/users",
        json=[{"username": "sender", "password": "p"}, {"username": "receiver", "password": "p"}],
        headers=auth,
    )
    jwt = c.post("/api/v2/auth/login", json={"login": "1", "password": "bench-pw"}).json()["access_token"]
    jauth = {"Authorization": f"Bearer {jwt}"}
    r = c.post("/api/v2/easemob/register", json={"user_ids": [str(i) for i in ids]}, headers=jauth)
    assert r.status_code == 201, r.text
    body = {"groupname": "bench", "desc": "bench", "members": ",".join(str(i) for i in ids[1:])}
    r = c.post("/api/v2/easemob/group", json=body, headers=jauth)
    assert r.status_code == 201, r.text
    gid = r.json()["im_group_id"]
    assert c.get("/api/v2/easemob/group", params={"im_group_id": gid}, headers=jauth).status_code == 200
    return {"prefix": prefix, "token": token, "jwt": jwt, "gid": gid}


def request(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return time.perf_counter() - started, status


async def phase(port: int, raw: bytes, count: int, conns: int) -> tuple[list[float], float]:
    """`count` requests over `conns` connections: (latencies, requests per second)."""
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(conns)]
    latencies: list[float] = []
    per = count // conns

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(per):
            took, status = await one(reader, writer, raw)
            if status not in (200, 201):
                raise RuntimeError(f"status {status}")
            latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    elapsed = time.perf_counter() - started
    for _, w in streams:
        w.close()
    return latencies, per * conns / elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(base: str, ctx: dict[str, Any], requests: int, rounds: int, conns: int) -> dict[str, Any]:
    port = int(base.rsplit(":", 1)[1])
    host = f"127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {ctx['token']}", "Content-Type": "application/json"}
    jwt = {"Authorization": f"Bearer {ctx['jwt']}"}
    msg = {"target_type": "users", "target": ["receiver"], "msg": {"type": "txt", "msg": "hello"}, "from": "sender"}
    kinds = {
        "POST /messages": request("POST", ctx["prefix"] + "/messages", host, admin, json.dumps(msg).encode()),
        "POST /hx/sendMessages": request(
            "POST",
            "/hx/sendMessages",
            host,
            {"Content-Type": "application/json"},
            json.dumps({**msg, "token": ctx["token"]}).encode(),
        ),
        "GET /chatgroups/{id}": request("GET", f"{ctx['prefix']}/chatgroups/{ctx['gid']}", host, admin),
        "GET /api/v2/easemob/group": request("GET", f"/api/v2/easemob/group?im_group_id={ctx['gid']}", host, jwt),
    }
    for raw in kinds.values():  # warm up
        await phase(port, raw, 200, 4)
    out: dict[str, Any] = {k: {"lat1": [], "rps": [], "latc": []} for k in kinds}
    for _ in range(rounds):
        for name, raw in kinds.items():
            lat, _ = await phase(port, raw, requests // 4, 1)
            out[name]["lat1"] += lat
            latc, rps = await phase(port, raw, requests, conns)
            out[name]["rps"].append(rps)
            out[name]["latc"] += latc
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase at --conns")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--members", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hxim-bench-seed-"))
    proc, base, creds = start(tmp)
    try:
        ctx = prepare(base, creds, args.members)
        res = asyncio.run(measure(base, ctx, args.requests, args.rounds, args.conns))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"hxim seed APIs vs direct REST — SQLite, server pinned to one core, {args.members}-member group")
    c = str(args.conns)
    print(f"{'request':28} {'p50 c=1':>9} {'p99 c=1':>9} {'req/s c=' + c:>12} {'p50 c=' + c:>9}")
    rows = {}
    for name, r in res.items():
        rows[name] = (pct(r["lat1"], 0.5), pct(r["lat1"], 0.99), statistics.median(r["rps"]), pct(r["latc"], 0.5))
        p50, p99, rps, p50c = rows[name]
        print(f"{name:28} {p50:8.3f}ms {p99:8.3f}ms {rps:12.0f} {p50c:8.3f}ms")
    for direct, seed in (
        ("POST /messages", "POST /hx/sendMessages"),
        ("GET /chatgroups/{id}", "GET /api/v2/easemob/group"),
    ):
        d, s = rows[direct], rows[seed]
        print(
            f"{seed} over {direct}: median latency +{(s[0] / d[0] - 1) * 100:.1f}% (c=1), "
            f"+{(s[3] / d[3] - 1) * 100:.1f}% (c={args.conns}); throughput {(s[2] / d[2] - 1) * 100:+.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
