"""Delivery latency of Web IM SDK 1.x traffic over XMPP-over-WebSocket (RFC 7395, `/ws/`, subprotocol
`xmpp`): one-way p50/p99/max, the server-ack round trip, loss, achieved rate and server CPU per
message, at a ladder of rates. `--transport tcp` runs the same ladder on the TCP listener
with plain XMPP bodies and no acks (the load of bench/xmpp_load.py), for the comparison.

The load is not a browser: worker processes (asyncio on uvloop, `--procs`, pinned to
`--client-cpus`) each hold their share of `--pairs` pairs of users on raw sockets and do, byte for
byte, what the SDK does (/work/shared/spec/webim-xmpp.md):

- §2.1 password login: `POST /{org}/{app}/token` with the SDK's text/plain JSON body;
- §3.1 the WebSocket upgrade a browser sends (subprotocol `xmpp`; `permessage-deflate;
  client_max_window_bits` offered as Chromium does, `--no-deflate` to offer none), masked client
  frames, one stanza per frame, `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`;
- §3.2 SASL PLAIN with `{bare}\\0{node}\\0$t${token}`; §3.3 restart, bind resource `webim`, the
  legacy session IQ when advertised;
- §3.5 after CONNECTED: the unsolicited `jabber:iq:version` result, the initial presence, and the
  roster get that the demo app sends from `onOpened` (`--no-roster` to leave it out);
- §4.1 chat messages `<message type='chat' to='{ak}_{peer}@easemob.com' id='WEBIM_…'>` whose
  `<body>` is the XML-escaped Easemob JSON (`bodies:[{type:txt,msg}]`, `ext.weichat.originType`),
  with the send time and the step number in `ext`;
- §4.4 the sender waits for the server ack (`<received xmlns='urn:xmpp:receipts' mid=…>id</received>`):
  its round trip is the "ack" latency;
- §4.5 the receiver acks every message to the server; with `--receipts sdk` (default) as the SDK does,
  from a queue drained one per 200 ms tick (at most 5/s per connection); `--receipts immediate`
  sends each at once;
- §4.6 `--delivery`: the receiver also sends a delivery ack to the sender (`delivery:true`), which
  the sender acks to the server at once; its round trip is reported too;
- §3.6 the desktop SDK over WebSocket sends no heartbeat; `--ping 4.5` sends the XMPP ping of the
  mobile/BOSH heartbeat (`heartBeatWait` 4,500 ms). Server pings and WebSocket pings are answered.

Each ladder step waits until the server is idle (`--settle-cpu`), runs `--warmup` seconds
unrecorded, then `--measure` seconds recorded, then a `--drain`; the ladder is repeated `--reps`
times (steps interleaved), medians reported. Pair k sends alternately
one way and the other, so every user sends and receives. "Late" = recorded messages that arrived
only after their step's drain (their latency is not in the percentiles: a step with late messages
failed); "lost" = recorded messages that never arrived by the end of the run. Server CPU per
message = the server's CPU time during the recorded window (`/proc/PID/stat`) / messages sent in
it; "wait" = the share of that window the server's main thread was runnable but had no CPU
(`/proc/PID/schedstat`: other work on the machine); "client CPU" = the workers' CPU time in the
window as a share of one core (near 100 % means the load, not the server, is the limit).

Usage (from the repository root; starts `hxim serve` on a fresh SQLite data dir pinned to CPU 0):

    .venv/bin/python bench/webim_latency.py                                   # WebSocket, defaults
    .venv/bin/python bench/webim_latency.py --transport tcp                   # the same on TCP
    .venv/bin/python bench/webim_latency.py --rates 500,1000 --reps 1 --pairs 200   # a quick look
    .venv/bin/python bench/webim_latency.py --url http://127.0.0.1:5280 --creds app.json --server-pid PID

`--creds` is the JSON of `hxim app create ORG APP --json`. Prints a Markdown table and writes the
full results (every repetition) to bench/results/webim-latency-{transport}-{time}.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import re
import statistics
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

import xmpp_load  # bench/xmpp_load.py: the server starter, REST registration, the TCP client
from xmpp_load import DOMAIN, PASSWORD, percentile, register

try:
    from websockets.speedups import apply_mask  # C; the frame masking every browser does
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
RECEIPTS = "urn:xmpp:receipts"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
EPOCH_2010_MS = 1264982400000  # the SDK's message ids count milliseconds from 2010-02-01
RESULTS = Path(__file__).resolve().parent / "results"

# what the server sends, found without an XML parser (the server writes one stanza per frame)
STANZA_ID = re.compile(r"""\sid=['"]([^'"]*)['"]""")
ACK = re.compile(r"""<received xmlns=['"]urn:xmpp:receipts['"][^>]*\smid=['"]([^'"]*)['"][^>]*>([^<]*)</received>""")
DELIVERY = re.compile(r"""<delivery xmlns=['"]urn:xmpp:receipts['"] id=['"]([^'"]*)['"]""")
STAMP = re.compile(r"""bench_t(?:&quot;|")\s*:\s*([0-9.]+).{0,16}?bench_s(?:&quot;|")\s*:\s*([0-9]+)""")
TCP_BODY = re.compile(rb"<body>t=([0-9.]+);s=([0-9]+);</body>")


def xml_text(text: str) -> str:
    """Character data escaped as Strophe writes it (`&quot;` too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --- the worker side: statistics of one ladder step ------------------------------------------------


@dataclass
class Step:
    number: int = 0  # carried in every message; 0 = warm-up, not recorded
    sent: int = 0
    received: int = 0
    acked: int = 0
    delivered: int = 0
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    delivery_latencies: list[float] = field(default_factory=list)


class Stats:
    def __init__(self) -> None:
        self.step = Step()
        self.receipts_sent = 0
        self.pings = 0
        self.unexpected = 0
        self.unexpected_sample = ""
        self.late: dict[int, int] = {}  # step -> messages of that step received after its drain


# --- XMPP over WebSocket, as the SDK (Strophe 1.2.8 in a browser) speaks it ------------------------


class WebImConn(asyncio.Protocol):
    """One SDK connection on a raw socket: RFC 6455 client framing (masked, optional
    permessage-deflate) under the SDK's XMPP."""

    def __init__(self, username: str, appkey: str, stats: Stats, opts: dict[str, Any]) -> None:
        self.username = username
        self.appkey = appkey
        self.node = f"{appkey}_{username.lower()}"
        self.bare = f"{self.node}@{DOMAIN}"
        self.full = f"{self.bare}/webim"
        self.stats = stats
        self.opts = opts
        self.transport: Any = None
        self.buf = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.frames: deque[str] = deque()  # during login
        self.frame_ready = asyncio.Event()
        self.running = False
        self.closed = False
        self.fragments: list[bytes] = []
        self.fragment_compressed = False
        self.deflate = False
        self.comp: Any = None
        self.decomp: Any = None
        self.client_reset = self.server_reset = False
        self.client_bits = 15
        self.counter = 0
        self.pending: dict[str, tuple[float, int]] = {}  # client id -> (send time, step) until acked
        self.by_mid: dict[str, tuple[float, int]] = {}  # server id -> (send time, step), for delivery acks
        self.iq_waiting: dict[str, asyncio.Future[str]] = {}
        self.receipts: deque[str] = deque()
        self.peer: WebImConn | None = None
        self.prefix = ""  # the start of every chat stanza to the peer, up to the id

    # --- the WebSocket layer ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed during the upgrade: {exc}"))
        self.frame_ready.set()

    def handshake(self, host: str, port: int) -> None:
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.opts["deflate"] else ""
        assert self.transport is not None
        self.transport.write(
            (
                f"GET /ws/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: Upgrade\r\nPragma: no-cache\r\n"
                "Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) hxim-bench\r\n"
                "Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n"
                f"Accept-Encoding: gzip, deflate\r\nSec-WebSocket-Key: {self.key}\r\n{ext}"
                "Sec-WebSocket-Protocol: xmpp\r\n\r\n"
            ).encode()
        )

    def _upgrade_reply(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        accept = base64.b64encode(hashlib.sha1((self.key + WS_GUID).encode()).digest()).decode()
        if not head[0].startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept:
            self.upgraded.set_exception(ConnectionError(f"upgrade refused: {head}"))
            return
        if headers.get("sec-websocket-protocol") != "xmpp":
            self.upgraded.set_exception(ConnectionError(f"subprotocol not echoed: {head}"))
            return
        ext = headers.get("sec-websocket-extensions", "")
        if ext:
            params = [p.strip() for p in ext.split(";")]
            if params[0] != "permessage-deflate" or not self.opts["deflate"]:
                self.upgraded.set_exception(ConnectionError(f"unexpected extension: {ext}"))
                return
            self.deflate = True
            for p in params[1:]:
                name, _, value = p.partition("=")
                if name == "client_no_context_takeover":
                    self.client_reset = True
                elif name == "server_no_context_takeover":
                    self.server_reset = True
                elif name == "client_max_window_bits" and value:
                    self.client_bits = max(9, int(value.strip('"')))
            self.comp = zlib.compressobj(wbits=-self.client_bits)
            self.decomp = zlib.decompressobj(wbits=-15)
        self.upgraded.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            self._upgrade_reply()
            if not self.upgraded.done():
                return
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, pos = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            mask = b""
            if b1 & 0x80:  # servers do not mask; accept it anyway
                mask, pos = bytes(buf[pos : pos + 4]), pos + 4
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if mask:
                payload = apply_mask(payload, mask)
            opcode = b0 & 0x0F
            if opcode in (0, 1, 2):
                if opcode:
                    self.fragment_compressed = bool(b0 & 0x40)
                self.fragments.append(payload)
                if b0 & 0x80:
                    data = b"".join(self.fragments)
                    self.fragments.clear()
                    if self.fragment_compressed:
                        data = self.decomp.decompress(data + b"\x00\x00\xff\xff")
                        if self.server_reset:
                            self.decomp = zlib.decompressobj(wbits=-15)
                    self.on_text(data.decode())
            elif opcode == 9:  # ping: pong, as browsers do
                self._frame(0x8A, payload)
            elif opcode == 8:
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
                return

    def _frame(self, b0: int, data: bytes) -> None:
        n = len(data)
        if n < 126:
            head = bytes((b0, 0x80 | n))
        elif n < 65536:
            head = bytes((b0, 0xFE)) + n.to_bytes(2, "big")
        else:
            head = bytes((b0, 0xFF)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        assert self.transport is not None
        self.transport.write(head + mask + apply_mask(data, mask))

    def send(self, text: str) -> None:
        if self.closed:
            return
        data = text.encode()
        if self.deflate:
            data = (self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))[:-4]
            if self.client_reset:
                self.comp = zlib.compressobj(wbits=-self.client_bits)
            self._frame(0xC1, data)  # FIN, RSV1 (compressed), text
        else:
            self._frame(0x81, data)

    # --- login: §2.1, §3.1–3.5 --------------------------------------------------------------
    async def next_frame(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while not self.frames:
            if self.closed:
                raise ConnectionError(f"{self.username}: the server closed the connection")
            self.frame_ready.clear()
            await asyncio.wait_for(self.frame_ready.wait(), max(0.01, deadline - time.monotonic()))
        return self.frames.popleft()

    async def expect(self, start: str, what: str) -> str:
        frame = await self.next_frame()
        if not frame.startswith(start):
            raise ConnectionError(f"{self.username}: expected {what}, got {frame[:300]!r}")
        return frame

    async def open_stream(self) -> str:
        self.send(f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>")
        await self.expect("<open ", "<open/>")
        return await self.expect("<stream:features", "stream features")

    async def login(self, host: str, port: int, token: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, host, port)
        self.handshake(host, port)
        await self.upgraded
        features = await self.open_stream()
        if "<mechanism>PLAIN</mechanism>" not in features:
            raise ConnectionError(f"PLAIN not offered: {features}")
        plain = base64.b64encode(f"{self.bare}\0{self.node}\0$t${token}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>")
        await self.expect("<success", "SASL success")
        features = await self.open_stream()
        self.send(
            "<iq type='set' id='_bind_auth_2' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            "<resource>webim</resource></bind></iq>"
        )
        bound = await self.expect("<iq", "the bind result")
        if "type='result'" not in bound and 'type="result"' not in bound:
            raise ConnectionError(f"bind failed: {bound}")
        if "<session" in features:
            self.send(
                "<iq type='set' id='_session_auth_2' xmlns='jabber:client'>"
                "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
            )
            await self.expect("<iq", "the session result")
        self.running = True
        self.send(
            f"<iq from='{self.full}' to='{DOMAIN}' type='result' xmlns='jabber:client' id='{uuid.uuid4()}:sendIQ'>"
            "<query xmlns='jabber:iq:version'><name>easemob</name><version>1.4.13</version><os>webim</os></query></iq>"
        )
        self.send("<presence xmlns='jabber:client'/>")
        if self.opts["roster"]:
            await self.iq("<iq type='get' xmlns='jabber:client' id='{id}'><query xmlns='jabber:iq:roster'/></iq>")

    async def iq(self, template: str) -> str:
        ident = f"{uuid.uuid4()}:sendIQ"
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.iq_waiting[ident] = fut
        self.send(template.replace("{id}", ident))
        return await asyncio.wait_for(fut, 30)

    def ping(self) -> None:
        """The SDK's heartbeat (§3.6): fire and forget, the answer is only matched."""
        ident = f"{uuid.uuid4()}:sendIQ"
        self.iq_waiting[ident] = asyncio.get_running_loop().create_future()
        self.send(
            f"<iq from='{self.full}' to='{DOMAIN}' type='get' xmlns='jabber:client' id='{ident}'>"
            "<ping xmlns='urn:xmpp:ping'/></iq>"
        )
        self.stats.pings += 1

    # --- messages: §4.1, §4.4–4.6 ------------------------------------------------------------
    def set_peer(self, peer: WebImConn, msg: str) -> None:
        self.peer = peer
        self.prefix = f"<message type='chat' to='{self.appkey}_{peer.username}@{DOMAIN}' id='"
        self.body_head = xml_text(
            json.dumps(
                {"from": self.username, "to": peer.username, "bodies": [{"type": "txt", "msg": msg}]},
                separators=(",", ":"),
                ensure_ascii=False,
            )[:-1]
            + ',"ext":{'
        )
        self.body_tail = xml_text(',"weichat":{"originType":"webim"}}}')

    def send_chat(self, step: int) -> None:
        self.counter += 1
        now = time.time()
        cid = f"WEBIM_{int(now * 1000) - EPOCH_2010_MS:x}{self.counter}"
        stamp = xml_text(f'"bench_t":{now:.6f},"bench_s":{step}')
        self.send(
            f"{self.prefix}{cid}' xmlns='jabber:client'><body>{self.body_head}{stamp}{self.body_tail}</body></message>"
        )
        self.pending[cid] = (now, step)

    def receipt(self, stanza_id: str) -> None:
        self.send(
            f"<message from='{self.full}' to='{DOMAIN}' id='{stanza_id}' xmlns='jabber:client'>"
            f"<received xmlns='{RECEIPTS}' id='{stanza_id}'/></message>"
        )
        self.stats.receipts_sent += 1

    def on_text(self, text: str) -> None:
        if not self.running:
            self.frames.append(text)
            self.frame_ready.set()
            return
        now = time.time()
        stats = self.stats
        step = stats.step
        if text.startswith("<message"):
            if RECEIPTS in text:
                ack = ACK.search(text)
                if ack is not None:  # §4.4 server ack of something this client sent
                    entry = self.pending.pop(ack.group(2), None)
                    if entry is not None:
                        if entry[1] == step.number and entry[1]:
                            step.acked += 1
                            step.ack_latencies.append(now - entry[0])
                        if self.opts["delivery"]:
                            self.by_mid[ack.group(1)] = entry
                    return
                delivery = DELIVERY.search(text)
                if delivery is not None:  # §4.6 the peer's delivery ack: receipt at once (§4.5)
                    entry = self.by_mid.pop(delivery.group(1), None)
                    if entry is not None and entry[1] == step.number and entry[1]:
                        step.delivered += 1
                        step.delivery_latencies.append(now - entry[0])
                    ident = STANZA_ID.search(text)
                    self.receipt(ident.group(1) if ident else "")
                    return
            stamp = STAMP.search(text)
            ident = STANZA_ID.search(text)
            mid = ident.group(1) if ident else ""
            if stamp is None:
                stats.unexpected += 1
                stats.unexpected_sample = stats.unexpected_sample or text[:400]
            elif (n := int(stamp.group(2))) == step.number and n:
                step.received += 1
                step.latencies.append(now - float(stamp.group(1)))
            elif n:
                stats.late[n] = stats.late.get(n, 0) + 1
            if self.opts["receipts"] == "sdk":
                self.receipts.append(mid)
            else:
                self.receipt(mid)
            if self.opts["delivery"] and self.peer is not None:
                self.counter += 1
                cid = f"WEBIM_{int(now * 1000) - EPOCH_2010_MS:x}{self.counter}"
                self.send(
                    f"<message from='{self.full}' to='{self.appkey}_{self.peer.username}@{DOMAIN}' id='{cid}' "
                    f"xmlns='jabber:client'><body>{mid}</body><delivery xmlns='{RECEIPTS}' id='{mid}'/></message>"
                )
        elif text.startswith("<iq"):
            ident = STANZA_ID.search(text)
            key = ident.group(1) if ident else ""
            fut = self.iq_waiting.pop(key, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(text)
            elif "urn:xmpp:ping" in text and ("type='get'" in text or 'type="get"' in text):
                self.send(f"<iq from='{self.full}' to='{DOMAIN}' id='{key}' type='result' xmlns='jabber:client'/>")
        elif not text.startswith("<presence"):
            stats.unexpected += 1
            stats.unexpected_sample = stats.unexpected_sample or text[:400]


# --- plain XMPP on TCP (bench/xmpp_load.py's client), for the comparison -----------------------------


class TcpConn:
    def __init__(self, username: str, appkey: str, stats: Stats) -> None:
        self.username = username
        self.conn = xmpp_load.Conn(f"{appkey}_{username}")
        self.stats = stats
        self.peer_jid = ""
        self.receipts: deque[str] = deque()

    async def login(self, port: int) -> None:
        await self.conn.login(port)
        asyncio.get_running_loop().create_task(self.read_loop())

    def set_peer(self, peer: TcpConn, msg: str) -> None:
        self.peer_jid = f"{peer.conn.node}@{DOMAIN}"
        self.msg = msg

    def send_chat(self, step: int) -> None:
        self.conn.writer.write(
            f"<message type='chat' to='{self.peer_jid}'><body>t={time.time():.6f};s={step};</body></message>".encode()
        )

    def ping(self) -> None:
        pass

    async def read_loop(self) -> None:
        buf = b""
        reader = self.conn.reader
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buf += chunk
            now = time.time()
            end = 0
            step = self.stats.step
            for m in TCP_BODY.finditer(buf):
                if (n := int(m.group(2))) == step.number and n:
                    step.received += 1
                    step.latencies.append(now - float(m.group(1)))
                elif n:
                    self.stats.late[n] = self.stats.late.get(n, 0) + 1
                end = m.end()
            buf = buf[end:] if end else buf[-4096:]


# --- one worker process ------------------------------------------------------------------------------


async def password_token(http: httpx.AsyncClient, base: str, username: str) -> str:
    """§2.1: the SDK's REST login (a string body, so browsers send text/plain)."""
    body = json.dumps(
        {"grant_type": "password", "username": username, "password": PASSWORD, "timestamp": int(time.time() * 1000)}
    )
    r = await http.post(f"{base}/token", content=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    if r.status_code != 200:
        raise ConnectionError(f"password login of {username}: HTTP {r.status_code} {r.text[:200]}")
    return str(r.json()["access_token"])


async def worker_main(
    index: int, pairs: list[tuple[str, str]], args: dict[str, Any], commands: Any, results: Any
) -> None:
    stats = Stats()
    appkey = args["appkey"]
    url = urlsplit(args["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    conns: list[Any] = []
    for a, b in pairs:
        if args["transport"] == "ws":
            ca: Any = WebImConn(a, appkey, stats, args)
            cb: Any = WebImConn(b, appkey, stats, args)
        else:
            ca, cb = TcpConn(a, appkey, stats), TcpConn(b, appkey, stats)
        ca.set_peer(cb, args["msg"])
        cb.set_peer(ca, args["msg"])
        conns += [ca, cb]
    sem = asyncio.Semaphore(args["login_concurrency"])
    base = f"{args['url']}/{appkey.replace('#', '/')}"

    async def login(c: Any, http: httpx.AsyncClient) -> None:
        async with sem:
            if isinstance(c, WebImConn):
                t = time.perf_counter()
                token = await password_token(http, base, c.username)
                t1 = time.perf_counter()
                await c.login(host, port, token)
                timing[0] += t1 - t
                timing[1] += time.perf_counter() - t1
            else:
                await c.login(args["xmpp_port"])

    timing = [0.0, 0.0]  # summed seconds of REST password logins, of XMPP logins
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=args["login_concurrency"])
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await asyncio.gather(*(login(c, http) for c in conns))
    login_seconds = time.perf_counter() - t0
    await asyncio.sleep(0.5)

    async def receipt_timer() -> None:
        """The SDK's 200 ms timer: one queued receipt per connection per tick (§3.5, §4.5)."""
        while True:
            await asyncio.sleep(0.2)
            for c in conns:
                if c.receipts:
                    c.receipt(c.receipts.popleft())

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(args["ping"])
            for c in conns:
                c.ping()

    background = [asyncio.create_task(receipt_timer())]
    if args["ping"] > 0:
        background.append(asyncio.create_task(heartbeat()))
    results.put(
        {
            "worker": index,
            "kind": "ready",
            "logins": len(conns),
            "login_seconds": login_seconds,
            "rest_ms": timing[0] * 1000 / len(conns),
            "xmpp_ms": timing[1] * 1000 / len(conns),
        }
    )

    while True:
        cmd = await asyncio.to_thread(commands.get)
        if cmd is None:
            break
        number, rate, warmup, measure, drain = cmd
        rate /= args["procs"]
        step = Step(number=0)
        stats.step = step
        start = time.perf_counter()
        end = warmup + measure
        sent = 0
        recorded_from = None
        cpu0 = cpu1 = 0.0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= end:
                break
            if recorded_from is None and elapsed >= warmup:
                recorded_from = elapsed
                step.number = number  # from now on, messages are recorded
                cpu0 = time.process_time()
            due = int(elapsed * rate) + 1
            while sent < due:
                # message k goes to pair k mod P; a pair's messages alternate direction
                c = conns[2 * (sent % len(pairs)) + (sent // len(pairs)) % 2]
                c.send_chat(step.number)
                if step.number:
                    step.sent += 1
                sent += 1
            await asyncio.sleep(0.005)
        cpu1 = time.process_time()
        recorded_seconds = (time.perf_counter() - start) - (recorded_from or 0.0)
        drain_end = time.perf_counter() + drain
        while step.received < step.sent and time.perf_counter() < drain_end:
            await asyncio.sleep(0.05)
        backlog = sum(len(c.receipts) for c in conns)
        results.put(
            {
                "worker": index,
                "kind": "step",
                "number": number,
                "sent": step.sent,
                "received": step.received,
                "acked": step.acked,
                "delivered": step.delivered,
                "recorded_seconds": recorded_seconds,
                "client_cpu_seconds": cpu1 - cpu0,
                "latencies": step.latencies,
                "ack_latencies": step.ack_latencies,
                "delivery_latencies": step.delivery_latencies,
                "receipts_sent": stats.receipts_sent,
                "receipt_backlog": backlog,
                "pings": stats.pings,
                "unexpected": stats.unexpected,
                "unexpected_sample": stats.unexpected_sample,
            }
        )
        stats.step = Step()  # stragglers of this step are no longer counted
    await asyncio.sleep(args["drain"])  # the last step's late arrivals
    results.put({"worker": index, "kind": "done", "late": stats.late})
    for t in background:
        t.cancel()


def worker(
    index: int, pairs: list[tuple[str, str]], args: dict[str, Any], commands: Any, results: Any, cpus: list[int]
) -> None:
    if cpus:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    import uvloop

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(worker_main(index, pairs, args, commands, results))
    except BaseException as exc:
        results.put({"worker": index, "kind": "error", "error": repr(exc)})
        raise


# --- the main process ------------------------------------------------------------------------------


class Remote:
    """A server started elsewhere (`--url`); CPU figures only with `--server-pid`."""

    def __init__(self, url: str, creds: dict[str, str], xmpp_port: int, pid: int | None) -> None:
        self.url, self.creds, self.xmpp_port, self.pid = url.rstrip("/"), creds, xmpp_port, pid

    def cpu_seconds(self) -> float:
        if self.pid is None:
            return math.nan
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_wait_seconds(self) -> float:
        if self.pid is None:
            return math.nan
        return int(Path(f"/proc/{self.pid}/schedstat").read_text().split()[1]) / 1e9

    def stop(self) -> None:
        pass


def settle(server: Any, busy: float, limit: float = 30) -> float:
    """Wait (at most `limit` s) until the server uses less than `busy` of a core, so that a step
    does not start with the backlog of the one before; returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        c0 = server.cpu_seconds()
        time.sleep(0.5)
        c1 = server.cpu_seconds()
        if math.isnan(c0) or (c1 - c0) / 0.5 < busy:
            break
    return time.perf_counter() - t0


def ms(values: list[float], q: float) -> float | None:
    return round(percentile(values, q) * 1000, 2) if values else None


def med(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and not math.isnan(v)]
    return round(statistics.median(known), 2) if known else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transport", choices=["ws", "tcp"], default="ws")
    p.add_argument("--pairs", type=int, default=1000, help="pairs of users chatting (2 × pairs sessions)")
    p.add_argument("--rates", default="500,1000,2000,4000", help="messages/s in total, comma-separated")
    p.add_argument("--warmup", type=float, default=1.5, help="seconds at each rate before recording")
    p.add_argument("--measure", type=float, default=4, help="seconds recorded at each rate")
    p.add_argument("--drain", type=float, default=5, help="at most this many seconds to wait for the last messages")
    p.add_argument(
        "--settle-cpu",
        type=float,
        default=0.25,
        help="before each step, wait until the server uses less than this share of a core",
    )
    p.add_argument("--reps", type=int, default=3, help="repetitions of the ladder (medians reported)")
    p.add_argument("--procs", type=int, default=2, help="load worker processes")
    p.add_argument("--cpu", type=int, default=0, help="pin the server to this CPU (-1: do not pin)")
    p.add_argument("--client-cpus", default="1", help="comma-separated CPUs for the workers")
    p.add_argument(
        "--receipts",
        choices=["sdk", "immediate"],
        default="sdk",
        help="§4.5 acks: one per 200 ms per connection as the SDK, or each at once",
    )
    p.add_argument("--delivery", action="store_true", help="§4.6 delivery acks (the SDK's delivery:true)")
    p.add_argument("--ping", type=float, default=0, help="XMPP ping every N s (the SDK's heartBeatWait 4.5); 0 = none")
    p.add_argument("--no-roster", dest="roster", action="store_false", help="no roster get after login")
    p.add_argument("--no-deflate", dest="deflate", action="store_false", help="offer no permessage-deflate")
    p.add_argument("--msg", default="hello from the Web IM latency bench", help="the text of every message")
    p.add_argument("--login-concurrency", type=int, default=50, help="logins in flight per worker")
    p.add_argument("--url", default="", help="a running server's HTTP base URL instead of starting one")
    p.add_argument("--creds", default="", help="with --url: JSON of `hxim app create ORG APP --json`")
    p.add_argument("--server-pid", type=int, default=None, help="with --url: the server's pid, for CPU figures")
    p.add_argument("--xmpp-port", type=int, default=5222, help="with --url --transport tcp: the XMPP port")
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",") if r]

    server: Any
    if a.url:
        if not a.creds:
            raise SystemExit("--url needs --creds (the JSON of `hxim app create ORG APP --json`)")
        server = Remote(a.url, json.loads(Path(a.creds).read_text()), a.xmpp_port, a.server_pid)
    else:
        server = xmpp_load.Server(a.cpu if a.cpu >= 0 else None)
    try:
        run(a, server, rates)
    finally:
        server.stop()


def run(a: argparse.Namespace, server: Any, rates: list[float]) -> None:
    creds = server.creds
    appkey = f"{creds['org']}#{creds['app']}"
    prefix = f"wl{int(time.time()) % 100000}"
    names = [f"{prefix}u{i}" for i in range(2 * a.pairs)]
    t = time.perf_counter()
    register(server.url, creds, names)
    print(f"registered {len(names)} users over REST in {time.perf_counter() - t:.1f}s", flush=True)
    pairs = [(names[2 * i], names[2 * i + 1]) for i in range(a.pairs)]
    args = {
        "transport": a.transport,
        "appkey": appkey,
        "url": server.url,
        "xmpp_port": server.xmpp_port,
        "procs": a.procs,
        "receipts": a.receipts,
        "delivery": a.delivery,
        "ping": a.ping,
        "roster": a.roster,
        "deflate": a.deflate,
        "msg": a.msg,
        "login_concurrency": a.login_concurrency,
        "drain": a.drain,
    }
    cpus = [int(c) for c in a.client_cpus.split(",") if c]
    results: Any = mp.Queue()
    commands: list[Any] = [mp.Queue() for _ in range(a.procs)]
    procs = [
        mp.Process(target=worker, args=(i, pairs[i :: a.procs], args, commands[i], results, cpus), daemon=True)
        for i in range(a.procs)
    ]

    def collect(kind: str, timeout: float) -> list[dict[str, Any]]:
        out = []
        for _ in procs:
            r = results.get(timeout=timeout)
            if r["kind"] == "error":
                raise SystemExit(f"worker {r['worker']} failed: {r['error']}")
            assert r["kind"] == kind, r
            out.append(r)
        return out

    t = time.perf_counter()
    for proc in procs:
        proc.start()
    ready = collect("ready", 300)
    login_wall = time.perf_counter() - t
    each = (
        f"; each: REST token {med([r['rest_ms'] for r in ready])} ms, then XMPP {med([r['xmpp_ms'] for r in ready])} ms"
        if a.transport == "ws"
        else ""
    )
    print(
        f"logged in {2 * a.pairs} sessions ({a.transport}) in {login_wall:.1f}s "
        f"({2 * a.pairs / max(r['login_seconds'] for r in ready):.0f}/s per the slowest worker{each}; "
        f"up to {a.login_concurrency * a.procs} in flight)",
        flush=True,
    )

    steps: list[dict[str, Any]] = []
    number = 0
    for rep in range(a.reps):
        for rate in rates:
            number += 1
            waited = settle(server, a.settle_cpu)
            for q in commands:
                q.put((number, rate, a.warmup, a.measure, a.drain))
            time.sleep(a.warmup)
            cpu0, wait0, t0 = server.cpu_seconds(), server.cpu_wait_seconds(), time.perf_counter()
            time.sleep(a.measure)
            cpu1, wait1, t1 = server.cpu_seconds(), server.cpu_wait_seconds(), time.perf_counter()
            out = collect("step", a.measure + a.drain + 120)
            sent = sum(r["sent"] for r in out)
            received = sum(r["received"] for r in out)
            lat = [x for r in out for x in r["latencies"]]
            ack = [x for r in out for x in r["ack_latencies"]]
            dlv = [x for r in out for x in r["delivery_latencies"]]
            seconds = max(r["recorded_seconds"] for r in out)
            s = {
                "rep": rep + 1,
                "settle_seconds": round(waited, 1),
                "offered_rate": rate,
                "achieved_rate": round(sent / seconds) if seconds else 0,
                "received_rate": round(received / seconds) if seconds else 0,
                "sent": sent,
                "received": received,
                "late": 0,  # received after the step's drain (counted at the end of the run)
                "lost": sent - received,  # until then: not received within the drain
                "acked": sum(r["acked"] for r in out),
                "delivered": sum(r["delivered"] for r in out),
                "latency_ms": {"p50": ms(lat, 0.5), "p99": ms(lat, 0.99), "max": ms(lat, 1.0)},
                "ack_latency_ms": {"p50": ms(ack, 0.5), "p99": ms(ack, 0.99), "max": ms(ack, 1.0)},
                "delivery_ack_latency_ms": {"p50": ms(dlv, 0.5), "p99": ms(dlv, 0.99), "max": ms(dlv, 1.0)},
                "server_cpu_us_per_message": round((cpu1 - cpu0) * 1e6 / max(1, sent), 1),
                "server_cpu_pct": round((cpu1 - cpu0) * 100 / (t1 - t0), 1),
                "server_wait_pct": round((wait1 - wait0) * 100 / (t1 - t0), 1),
                "client_cpu_pct": round(sum(r["client_cpu_seconds"] for r in out) * 100 / seconds, 1),
                "receipts_sent_total": sum(r["receipts_sent"] for r in out),
                "receipt_backlog": sum(r["receipt_backlog"] for r in out),
                "pings_total": sum(r["pings"] for r in out),
                "unexpected_frames": sum(r["unexpected"] for r in out),
            }
            sample = next((r["unexpected_sample"] for r in out if r["unexpected_sample"]), "")
            if sample:
                s["unexpected_sample"] = sample
            steps.append(s)
            print(
                f"rep {rep + 1} @ {rate:.0f}/s: sent {sent}, received {received} (within the drain), "
                f"acked {s['acked']}; latency p50/p99/max {s['latency_ms']['p50']}/{s['latency_ms']['p99']}/"
                f"{s['latency_ms']['max']} ms; ack p50/p99 {s['ack_latency_ms']['p50']}/"
                f"{s['ack_latency_ms']['p99']} ms; "
                f"server {s['server_cpu_us_per_message']} µs/msg, {s['server_cpu_pct']} % CPU, wait "
                f"{s['server_wait_pct']} %; client {s['client_cpu_pct']} % CPU",
                flush=True,
            )
    for q in commands:
        q.put(None)
    for done in collect("done", a.drain + 60):
        for number, late in done["late"].items():
            steps[number - 1]["late"] += late
    for s in steps:
        s["lost"] = s["sent"] - s["received"] - s["late"]
    for proc in procs:
        proc.join(30)

    table = summarise(a, rates, steps)
    print()
    print(table)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"webim-latency-{a.transport}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    doc = {
        "bench": "webim_latency",
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "loadavg": os.getloadavg(),
        },
        "options": {k: v for k, v in vars(a).items() if k != "creds"},
        "sessions": 2 * a.pairs,
        "login_seconds": max(r["login_seconds"] for r in ready),
        "steps": steps,
        "table": table,
    }
    path.write_text(json.dumps(doc, indent=1))
    print(f"\nwrote {path}")


def summarise(a: argparse.Namespace, rates: list[float], steps: list[dict[str, Any]]) -> str:
    """Medians over the repetitions, one row per rate."""
    head = (
        f"{a.transport.upper()}, {2 * a.pairs} sessions, receipts {a.receipts}"
        f"{', delivery acks' if a.delivery else ''}; medians of {a.reps} × {a.measure:g} s\n\n"
        "| offered msg/s | achieved | sent / received / late / lost (all reps) | p50 / p99 / max ms | p99 per rep |"
        " ack p50 / p99 ms | server µs/msg | server CPU | wait | client CPU |\n"
        "|---:|---:|---|---|---|---|---:|---:|---:|---:|\n"
    )
    rows = []
    for rate in rates:
        ss = [s for s in steps if s["offered_rate"] == rate]

        def m(key: str, sub: str | None = None, ss: list[dict[str, Any]] = ss) -> Any:
            return med([s[key][sub] if sub else s[key] for s in ss])

        ack = f"{m('ack_latency_ms', 'p50')} / {m('ack_latency_ms', 'p99')}" if a.transport == "ws" else "—"
        if a.delivery:
            ack += f"; delivery ack {m('delivery_ack_latency_ms', 'p50')} / {m('delivery_ack_latency_ms', 'p99')}"
        rows.append(
            f"| {rate:,.0f} | {m('achieved_rate'):,.0f} | {sum(s['sent'] for s in ss):,} / "
            f"{sum(s['received'] for s in ss):,} / {sum(s['late'] for s in ss):,} / {sum(s['lost'] for s in ss):,} | "
            f"{m('latency_ms', 'p50')} / {m('latency_ms', 'p99')} / {m('latency_ms', 'max')} | "
            f"{', '.join(str(s['latency_ms']['p99']) for s in ss)} | {ack} | {m('server_cpu_us_per_message')} | "
            f"{m('server_cpu_pct')} % | {m('server_wait_pct')} % | {m('client_cpu_pct')} % |"
        )
    return head + "\n".join(rows)


if __name__ == "__main__":
    main()
