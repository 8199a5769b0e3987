"""The server's own cost of one routed 1:1 message, measured in-process, without sockets.

A real node (SQLite in a temporary directory, every message stored) serves `--pairs` pairs of
users logged in over `TcpConnection`s whose transports are in memory: the bytes a client would
send are handed to `data_received`, and what the server writes is counted. User 2k sends to user
2k+1; `--batch` messages arrive per turn of the event loop (1: each message is its own commit and
its own wake-up, as at low rates; 10: as at several thousand messages/s, where they share them).

With `--logins N`, it measures logins instead: N users not logged in yet log in per repetition,
100 at a time, as the peers' probe does (PLAIN, bind, presence, roster get); the
sessions stay open.

Two measures:

* CPU time per message (`time.process_time`), the best of `--reps` repetitions. On a shared VM
  this moves by ±30 % from one minute to the next, with the same code.
* `--instructions`: instructions per message, counted by valgrind's callgrind — the same count
  for the same code whatever else the machine is doing, so two versions of the code can be
  compared on a noisy machine. The script runs itself twice under callgrind (a short and a long
  run, in parallel) and divides the difference by the difference in messages, which takes setup
  (user registration, logins, imports) out. A run takes 5–10 minutes. Two trees whose hot paths
  barely differ gave 264.0 k and 263.2 k instructions per message. With `--logins`, PBKDF2 is
  most of a login's count (under valgrind, without the CPU's SHA extensions): compare such counts
  between versions of the code only.

Usage (from the repository root):

    .venv/bin/python bench/xmpp_cost.py --batch 10                  # µs of CPU per message
    .venv/bin/python bench/xmpp_cost.py --batch 1 --instructions    # instructions per message
    .venv/bin/python bench/xmpp_cost.py --logins 500 --reps 3       # µs of CPU per login
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop

from hxim.app import Node
from hxim.c2s import C2S
from hxim.c2s.listener import TcpConnection
from hxim.config import Settings

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='easemob.com' version='1.0'>"
)


class MemoryTransport:
    """Enough of an asyncio transport for `TcpConnection`; counts the `<message` stanzas written."""

    delivered = 0

    def __init__(self) -> None:
        self.data = b""
        self.recording = True  # keep what is written (the login's answers), not the messages
        self.written = asyncio.Event()  # set by a write while recording

    def write(self, data: bytes) -> None:
        MemoryTransport.delivered += data.count(b"<message")
        if self.recording:
            self.data += data
            self.written.set()

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 5222)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None: ...

    def close(self) -> None: ...


async def _until(transport: MemoryTransport, marker: bytes) -> None:
    """Wait for the server to write `marker` (without polling: a verification on the hashing
    threads would otherwise be timed together with the spinning loop)."""
    while marker not in transport.data:
        transport.written.clear()
        try:
            await asyncio.wait_for(transport.written.wait(), 30)
        except TimeoutError:
            raise SystemExit(f"the server did not answer with {marker!r}") from None


async def _login(c2s: C2S, username: str, roster: bool = False) -> TcpConnection:
    """Logs in as the peers' load probe does: PLAIN, bind, presence (and with
    `roster`, a roster get, whose answer shows that the presence was handled)."""
    conn = TcpConnection(c2s, None, set())
    transport = MemoryTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(HEADER)
    await _until(transport, b"</stream:features>")
    auth = base64.b64encode(f"\0{username}\0pw".encode()).decode()
    conn.data_received(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>".encode())
    await _until(transport, b"<success")
    transport.data = b""
    conn.data_received(HEADER)
    await _until(transport, b"</stream:features>")
    conn.data_received(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                       b"<resource>r</resource></bind></iq>")
    await _until(transport, b"</bind>")
    if roster:
        conn.data_received(b"<presence/><iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        await _until(transport, b"id='r'")
    else:
        conn.data_received(b"<presence/>")
        for _ in range(20):
            await asyncio.sleep(0)
    transport.recording = False
    return conn


def _settings() -> Settings:
    # Nothing that depends on the clock, so that counts repeat under callgrind (which runs 50x
    # slower): SQLite checkpoints the WAL inside commits (every 1,000 pages) instead of on a timer
    # thread, group commits have no minimum interval, and the app stays cached.
    return Settings(data_dir=Path(tempfile.mkdtemp(prefix="hxim-cost-")), xmpp_allow_plaintext=True,
                    xmpp_flood_rate=0, sqlite_checkpoint_seconds=0, sqlite_commit_interval_ms=0,
                    app_cache_seconds=3600)


async def _node_with_users(settings: Settings, names: list[str]) -> Node:
    node = Node(settings)
    node.open()
    default = node.default_app
    assert default is not None
    app = await node.apps.find(default.org, default.name)
    assert app is not None
    for i in range(0, len(names), 50):
        await node.users.register(app, [{"username": n, "password": "pw"} for n in names[i : i + 50]])
    return node


def _collect_as_served(settings: Settings) -> None:
    """The collector as `hxim serve` sets it (server.py): what was loaded is frozen, young
    collections are rare."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(settings.gc_young_threshold, *gc.get_threshold()[1:])


async def measure_logins(count: int, reps: int, users: int, concurrency: int = 100) -> list[float]:
    """µs of CPU per login of a user not yet logged in (`--logins`), one figure per repetition,
    after one warm-up repetition; `concurrency` logins at a time, as the probe's idle step.
    `users` are registered whatever `count` is, so that two counts differ in logins only."""
    settings = _settings()
    names = [f"u{i}" for i in range(max(users, count * (reps + 1)))]
    node = await _node_with_users(settings, names)
    c2s = C2S(node)
    _collect_as_served(settings)
    kept: list[TcpConnection] = []  # the sessions stay, as the probe's idle clients do
    results = []
    for rep in range(reps + 1):
        batch = names[rep * count : (rep + 1) * count]
        t0 = time.process_time()
        for i in range(0, count, concurrency):
            kept += await asyncio.gather(*(_login(c2s, n, roster=True) for n in batch[i : i + concurrency]))
        if rep:
            results.append((time.process_time() - t0) / count * 1e6)
    node.close()
    return results


async def measure(pairs: int, batch: int, rounds: int, reps: int) -> list[float]:
    """µs of CPU per message, one figure per repetition (after one warm-up repetition)."""
    settings = _settings()
    names = [f"u{i}" for i in range(2 * pairs)]
    node = await _node_with_users(settings, names)
    c2s = C2S(node)
    senders = [await _login(c2s, names[2 * k]) for k in range(pairs)]
    for k in range(pairs):
        await _login(c2s, names[2 * k + 1])
    stanzas = [
        f"<message type='chat' to='{names[2 * k + 1]}@easemob.com' id='m{k}'>"
        f"<body>t=1764600000.123456;</body></message>".encode()
        for k in range(pairs)
    ]

    async def run(n: int) -> int:
        start = MemoryTransport.delivered
        sent = 0
        for r in range(n):
            for j in range(batch):
                k = (r * batch + j) % pairs
                senders[k].data_received(stanzas[k])
            sent += batch
            for _ in range(100):
                await asyncio.sleep(0)
                if MemoryTransport.delivered - start >= sent:
                    break
            else:
                raise SystemExit("messages were not delivered")
        return sent

    await run(max(1, 2000 // batch))  # warm-up
    _collect_as_served(settings)
    results = []
    for _ in range(reps):
        t0 = time.process_time()
        sent = await run(rounds)
        results.append((time.process_time() - t0) / sent * 1e6)
    node.close()
    return results


def _instructions(args: argparse.Namespace) -> None:
    if args.logins:
        short, long = 100, 600  # logins per repetition; 2 x 600 users registered in both runs
        per, what = 1, "login"
    else:
        short, long = max(1, 1000 // args.batch), max(2, 6000 // args.batch)
        per, what = args.batch, "message"

    def count(n: int) -> int:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
               "--reps", "1"]
        if args.logins:
            cmd += ["--logins", str(n), "--users", str(2 * long)]
        else:
            cmd += ["--pairs", str(args.pairs), "--batch", str(args.batch), "--rounds", str(n)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
        return int(found.group(1))

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(count, (short, long))
    # the login run does its repetition twice (warm-up), so its difference holds 2 x (long - short) logins
    each = (b - a) / ((long - short) * per * (2 if args.logins else 1))
    where = "" if args.logins else f"batch {args.batch}: "
    print(f"{where}{each / 1000:.1f} k instructions per {what} (callgrind, {long} and {short} {what}s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--batch", type=int, default=10, help="messages per turn of the event loop")
    p.add_argument("--rounds", type=int, default=0, help="turns per repetition (default: 3,000 messages)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--instructions", action="store_true", help="count instructions with callgrind instead")
    p.add_argument("--logins", type=int, default=0, help="measure logins instead: this many per repetition")
    p.add_argument("--users", type=int, default=0, help="with --logins: register at least this many users")
    args = p.parse_args()
    if args.instructions:
        _instructions(args)
        return
    if args.logins:
        results = uvloop.run(measure_logins(args.logins, args.reps, args.users))
        print(f"{min(results):.1f} µs of CPU per login, best of {len(results)} "
              f"({', '.join(f'{r:.1f}' for r in results)})")
        return
    rounds = args.rounds or max(1, 3000 // args.batch)
    results = uvloop.run(measure(args.pairs, args.batch, rounds, args.reps))
    print(f"batch {args.batch}: {min(results):.1f} µs of CPU per message, best of {len(results)} "
          f"({', '.join(f'{r:.1f}' for r in results)})")


if __name__ == "__main__":
    main()
