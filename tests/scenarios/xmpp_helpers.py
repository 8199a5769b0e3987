"""Helpers for the XMPP scenarios: a server with the TCP listener on (the `xserver` fixture:
import it into the test module), slixmpp clients, raw sockets.

Scenarios are written as "alice sends / bob receives" over real sockets against a real
`hxim serve` process; each test runs its clients in one asyncio loop (`run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import slixmpp
from slixmpp.stanza import Message, Presence
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from conftest import Api, Server, start_server, stop_server

T = TypeVar("T")
DOMAIN = "easemob.com"
TIMEOUT = 10.0


@dataclass
class XServer:
    """An hxim process with XMPP over plain TCP allowed, and one app for the scenarios."""

    server: Server
    port: int
    api: Api

    def jid(self, username: str, resource: str | None = None) -> str:
        creds = self.api.creds
        jid = f"{creds.org}#{creds.app}_{username.lower()}@{DOMAIN}"
        return f"{jid}/{resource}" if resource else jid


def xmpp_env(**extra: str) -> dict[str, str]:
    """Settings for a server with XMPP over plain TCP on a port the OS picks (see `xmpp_port`)."""
    return {
        "HXIM_XMPP_HOST": "127.0.0.1",
        "HXIM_XMPP_PORT": "0",
        "HXIM_XMPP_ALLOW_PLAINTEXT": "true",
        **extra,
    }


def xmpp_port(server: Server) -> int:
    """The XMPP port a started server printed (`hxim XMPP listening on host:port …`)."""
    log = (Path(server.env["HXIM_DATA_DIR"]).parent / "server.log").read_text()
    found = re.search(r"hxim XMPP listening on [0-9.]+:(\d+)", log)
    assert found, log
    return int(found.group(1))


def start_xmpp_server(tmp: Path, backend: str, **extra: str) -> tuple[XServer, str | None]:
    srv, pg_name = start_server(tmp, backend, xmpp_env(**extra))
    return XServer(srv, xmpp_port(srv), Api(srv)), pg_name


@pytest.fixture(scope="module")
def xserver(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-xmpp-{server.backend}")
    xs, pg_name = start_xmpp_server(
        tmp, server.backend, HXIM_XMPP_FLOOD_RATE="50", HXIM_XMPP_FLOOD_BURST="100", HXIM_XMPP_MAX_STANZA_BYTES="10000"
    )
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def run(coro_fn: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
    """Run one scenario in a fresh loop."""

    async def main() -> T:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(main())


async def until(check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll `check` (a blocking call is fine: REST) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives in queues; nothing automatic."""

    def __init__(
        self,
        xs: XServer,
        username: str,
        password: str = "secret1",
        *,
        resource: str = "test",
        mech: str | None = None,
        jid: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            jid or xs.jid(username, resource),
            password,
            sasl_mech=mech,
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True, "unencrypted_scram": True}},
        )
        self.xs = xs
        self.name = username
        self.enable_direct_tls = False
        self.enable_starttls = tls is not None
        self.enable_plaintext = tls is None
        if tls is not None:
            self.ssl_context = tls
        self.auto_authorize = None
        self.auto_subscribe = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092")
        self.register_plugin("xep_0199")
        self.register_plugin("xep_0191")
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.errors: asyncio.Queue[Message] = asyncio.Queue()
        self.presences: asyncio.Queue[Presence] = asyncio.Queue()
        self.pushes: asyncio.Queue[Any] = asyncio.Queue()
        self.stream_errors: list[str] = []
        self.result: asyncio.Future[str] = asyncio.get_event_loop().create_future()
        self.gone = asyncio.Event()
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("message_error", self.errors.put_nowait)
        self.receipts: asyncio.Queue[Message] = asyncio.Queue()  # body-less <received/> messages
        self.register_handler(Callback("receipts", MatchXPath("{jabber:client}message/{urn:xmpp:receipts}received"),
                                       self.receipts.put_nowait))
        self.add_event_handler("presence", self.presences.put_nowait)
        self.add_event_handler("roster_update", self.pushes.put_nowait)
        self.add_event_handler("session_start", lambda _: self._done("ok"))
        self.add_event_handler("failed_all_auth", lambda _: self._done("failed"))
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("disconnected", self._on_disconnected)

    def _done(self, what: str) -> None:
        if not self.result.done():
            self.result.set_result(what)

    def _on_message(self, msg: Message) -> None:
        if msg["type"] != "error":
            self.messages.put_nowait(msg)

    def _on_stream_error(self, err: Any) -> None:
        self.stream_errors.append(err["condition"])

    def _on_disconnected(self, _: Any) -> None:
        self.gone.set()
        self._done("disconnected")

    async def login(self) -> str:
        self.connect("127.0.0.1", self.xs.port)
        outcome = await asyncio.wait_for(self.result, TIMEOUT)
        if outcome != "ok":
            self.abort()
        return outcome

    async def online(self, priority: int | None = None) -> None:
        """Log in and send the initial presence."""
        assert await self.login() == "ok"
        self.send_presence(ppriority=priority)
        await self.sync()

    async def sync(self) -> None:
        """A ping round trip: the server has handled everything this client sent before."""
        await self.plugin["xep_0199"].ping(DOMAIN, timeout=TIMEOUT)

    async def next_message(self, timeout: float = TIMEOUT) -> Message:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def next_presence(self, ptype: str | None = None, timeout: float = TIMEOUT) -> Presence:
        while True:
            p = await asyncio.wait_for(self.presences.get(), timeout)
            if ptype is None or p["type"] == ptype:
                return p

    async def quiet(self, seconds: float = 0.5) -> None:
        """Assert no message arrives for a while."""
        await asyncio.sleep(seconds)
        assert self.messages.empty(), self.messages.get_nowait()

    async def close(self) -> None:
        if not self.gone.is_set():
            self.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gone.wait(), 5)


class Raw:
    """A raw TCP socket speaking bytes to the XMPP port (blocking, with a timeout)."""

    def __init__(self, xs: XServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", xs.port), timeout=TIMEOUT)
        self.xs = xs

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def open(self) -> str:
        self.send(f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
        return self.read_until(b"</stream:features>")

    def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> str:
        data = b""
        deadline = time.monotonic() + timeout
        while marker not in data:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def read_all(self, timeout: float = TIMEOUT) -> tuple[str, bool]:
        """Everything until the server closes the connection: (text, closed)."""
        data = b""
        deadline = time.monotonic() + timeout
        closed = False
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        return data.decode("utf-8", "replace"), closed

    def close(self) -> None:
        self.sock.close()


def plain_auth(authcid: str, password: str) -> str:
    import base64

    return base64.b64encode(f"\0{authcid}\0{password}".encode()).decode()


def login_raw(xs: XServer, username: str, password: str = "secret1", resource: str = "raw") -> Raw:
    """A raw socket authenticated with PLAIN and bound to `resource`."""
    raw = Raw(xs)
    raw.open()
    node = xs.jid(username).split("@")[0]
    raw.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(node, password)}</auth>")
    assert "<success" in raw.read_until(b"success"), "authentication failed"
    assert "<bind" in raw.open()
    raw.send(f"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource>"
             "</bind></iq>")
    assert "<jid>" in raw.read_until(b"</iq>")
    return raw


# --- XMPP over WebSocket: @xmpp/client under Node --------------------------------------------------

WS_CLIENT_DIR = Path(__file__).resolve().parent / "ws_client"


def ensure_ws_client() -> None:
    """Install @xmpp/client (pinned in ws_client/package-lock.json) on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the WebSocket scenarios need Node.js and npm")
    if not (WS_CLIENT_DIR / "node_modules" / "@xmpp" / "client").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WS_CLIENT_DIR, check=True,
                       capture_output=True, timeout=300)


def _node_flags() -> list[str]:
    """Node 20 has a global WebSocket only behind a flag; 22 and later have it by default."""
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    return ["--experimental-websocket"] if int(version.lstrip("v").split(".")[0]) < 22 else []


class NodeClient:
    """A @xmpp/client process: `send` raw XML (one WebSocket message), `expect` what it reports."""

    def __init__(self, xs: XServer, username: str, password: str = "secret1", resource: str = "node") -> None:
        ensure_ws_client()
        service = xs.server.base_url.replace("http://", "ws://") + "/ws/"
        node = xs.jid(username).split("@")[0]
        self.proc = subprocess.Popen(
            ["node", *_node_flags(), str(WS_CLIENT_DIR / "client.mjs"), service, DOMAIN, node, password, resource],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"log": line.rstrip()})
        self.events.put({"exited": True})

    def expect(self, pred: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"nothing expected arrived; saw {seen}") from None
            if pred(event):
                return event
            seen.append(event)
            if event.get("exited"):
                raise AssertionError(f"the client exited; saw {seen}")

    def online(self) -> str:
        return self.expect(lambda e: "online" in e or e.get("failed", False)).get("online", "")

    def stanza(self, contains: str, timeout: float = TIMEOUT) -> str:
        return self.expect(lambda e: contains in e.get("stanza", ""), timeout)["stanza"]

    def send(self, xml: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"send": xml}) + "\n")

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write(json.dumps({"stop": True}) + "\n")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
