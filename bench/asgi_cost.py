"""CPU cost of one REST call inside the process, without sockets: µs per request.

Calls the ASGI application directly (no uvicorn, no network) for a few hot operations, so that
changes to the request path can be compared without the noise of a loaded machine. Not a
throughput figure: bench/rest_core.sh measures that over real sockets.

usage: .venv/bin/python bench/asgi_cost.py [--n 3000] [--pg postgresql://postgres@127.0.0.1/EMPTY_DB]
                                          [--in-flight 16] [--native both|on|off] [--rounds 3]

On PostgreSQL the figure includes only this process's CPU, not the database server's. There each
operation is measured with the asyncpg path off (`db_native`: the worker threads) and on, in
turns, `--rounds` times; the median of the rounds is printed. `--in-flight` requests run at once
(as under load, where group commits gather several requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from hxim.app import Node
from hxim.c2s import C2S
from hxim.config import Settings
from hxim.http.app import build_http_app
from hxim.msync.context import Msync


async def call(app: Any, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:5280"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 5280),
        "state": {},
        "app": app,
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def main(n: int, pg: str | None, in_flight: int, modes: list[bool], rounds: int, only: list[str]) -> None:
    tmp = tempfile.mkdtemp(prefix="hxim-asgi-")
    extra = {"database_url": pg} if pg else {}
    node = Node(Settings(data_dir=tmp, _env_file=None, **extra))  # type: ignore[call-arg]
    node.open()
    if not pg:
        modes = [False]
    app, _ = node.apps.create_sync("bench", "im")
    http = build_http_app(node, C2S(node), Msync(node))
    token = node.tokens.issue_app(app)
    p = "/bench/im"
    users = [{"username": f"u{i}", "password": "pw"} for i in range(1, 201)]
    for start in range(0, 200, 50):
        status, _ = await call(http, "POST", f"{p}/users", token, json.dumps(users[start : start + 50]).encode())
        assert status == 200
    ops = {
        "get_user": lambda i: ("GET", f"{p}/users/u{i % 200 + 1}", b""),
        "offline_count": lambda i: ("GET", f"{p}/users/u{i % 200 + 1}/offline_msg_count", b""),
        "send_message": lambda i: (
            "POST",
            f"{p}/messages",
            json.dumps(
                {"target_type": "users", "target": [f"u{(i + 1) % 200 + 1}"], "msg": {"type": "txt", "msg": "hello"},
                 "from": f"u{i % 200 + 1}"}
            ).encode(),
        ),
        "register_60": lambda i: (
            "POST",
            f"{p}/users",
            json.dumps([{"username": f"r{i}x{k}", "password": "pw"} for k in range(60)]).encode(),
        ),
        "add_friend": lambda i: ("POST", f"{p}/users/u{i % 200 + 1}/contacts/users/u{(i * 7 + 3) % 200 + 1}", b""),
    }

    async def drive(make: Any, first: int, count: int) -> None:
        async def one(i: int) -> None:
            method, path, body = make(i)
            status, out = await call(http, method, path, token, body)
            assert status == 200, out

        for start in range(first, first + count, in_flight):
            await asyncio.gather(*(one(i) for i in range(start, min(start + in_flight, first + count))))

    if only:
        ops = {name: make for name, make in ops.items() if name in only}
    costs: dict[tuple[str, bool], list[float]] = {}
    done = 0
    for _ in range(rounds):
        for name, make in ops.items():
            for native in modes:
                if native:
                    await node.open_native()
                count = max(n // 60, 10) if name == "register_60" else n  # 60 users per request
                await drive(make, -100_000 - done, count // 10 if name == "register_60" else 200)  # warm-up
                start = time.process_time()
                await drive(make, done, count)
                costs.setdefault((name, native), []).append((time.process_time() - start) / count * 1e6)
                done += count
                await node.close_native()
    print(f"CPU per request in µs (in-process, no sockets), {in_flight} in flight, median of {rounds}:")
    for (name, native), values in costs.items():
        label = ("native on " if native else "native off") if pg else "sqlite"
        shown = " ".join(f"{v:.1f}" for v in values)
        print(f"{name:14s} {label}  {statistics.median(values):7.1f}   ({shown})")
    node.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database) instead of a SQLite file")
    parser.add_argument("--in-flight", type=int, default=1, help="requests run at once")
    parser.add_argument("--native", choices=("both", "on", "off"), default="both", help="PostgreSQL: which paths")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each operation and path")
    parser.add_argument("--ops", nargs="*", default=[], help="only these operations (get_user, send_message, …)")
    os.environ.pop("HXIM_DATABASE_URL", None)
    args = parser.parse_args()
    chosen = {"both": [False, True], "on": [True], "off": [False]}[args.native]
    asyncio.run(main(args.n, args.pg, args.in_flight, chosen, args.rounds, args.ops))
