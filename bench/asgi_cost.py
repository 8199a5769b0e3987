"""CPU cost of one REST call inside the process, without sockets: µs per request.

Calls the ASGI application directly (no uvicorn, no network) for a few hot operations, so that
changes to the request path can be compared without the noise of a loaded machine. Not a
throughput figure: bench/rest_core.sh measures that over real sockets.

usage: .venv/bin/python bench/asgi_cost.py [--n 3000] [--pg postgresql://postgres@127.0.0.1/EMPTY_DB]

On PostgreSQL the figure includes only this process's CPU, not the database server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


async def main(n: int, pg: str | None) -> None:
    tmp = tempfile.mkdtemp(prefix="hxim-asgi-")
    extra = {"database_url": pg} if pg else {}
    node = Node(Settings(data_dir=tmp, _env_file=None, **extra))  # type: ignore[call-arg]
    node.open()
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
    for name, make in ops.items():
        rounds = max(n // 60, 10) if name == "register_60" else n  # 60 users per request
        for i in range(rounds // 10 if name == "register_60" else 200):  # warm-up
            await call(http, *make(-i - 1)[:2], token, make(-i - 1)[2])
        start = time.process_time()
        for i in range(rounds):
            method, path, body = make(i)
            status, out = await call(http, method, path, token, body)
            assert status == 200, out
        cost = (time.process_time() - start) / rounds * 1e6
        print(f"{name:14s} {cost:7.1f} µs CPU per request (in-process, no sockets)")
    node.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database) instead of a SQLite file")
    os.environ.pop("HXIM_DATABASE_URL", None)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.pg))
