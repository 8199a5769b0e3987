"""Running a node: claim its ports, open storage, say where it listens, serve HTTP with uvicorn,
say when it stopped.

A port that cannot be had (in use, privileged, an address not on this machine) raises
`CannotListen` (ports.py), worded for the operator, before anything else starts. A worker of
`hxim serve --workers N` (workers.py) is this same node, its ports shared with the other workers
(SO_REUSEPORT), and tells its supervisor when it serves (`ready`). The node logs its data
directory, one line when it serves (its version, the addresses it listens on, its database and
data directory, its apps) and one when it has stopped (`hxim stopped`, with its uptime). Logging
itself is set up by `cli` (`logs.configure`); uvicorn writes through the same handlers (no
logging configuration of its own, its access log off).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator

import uvicorn
import uvloop

from hxim import __version__
from hxim.app import Node
from hxim.c2s import C2S
from hxim.c2s.bosh import BoshManager
from hxim.c2s.bosh_relay import BoshRelay
from hxim.c2s.listener import start_tcp_listener
from hxim.c2s.websocket import OVERSIZE_NOTICE
from hxim.cli import print_app
from hxim.config import Settings
from hxim.http.app import build_http_app
from hxim.http.protocol import with_head_timeout, with_oversize_notice
from hxim.logs import in_words, level_of
from hxim.msync.context import Msync
from hxim.ports import CannotListen, Peers, claim, claim_private, node_ports
from hxim.services.readiness import plain

__all__ = ["CannotListen", "serve"]

log = logging.getLogger("hxim")


def serve(settings: Settings, ready: Callable[[], None] | None = None, peers: Peers | None = None) -> int:
    """Run a node until it is stopped (SIGTERM, SIGINT); `ready` is called once it serves. A
    worker of `hxim serve --workers N` is given its `peers`, and serves HTTP on its private
    socket too."""
    began = time.monotonic()
    # bound now, so that a port in use stops the start in one line (uvicorn would log it and exit)
    http_socket = claim(node_ports(settings)[0], shared=settings.workers > 1)
    sockets = [http_socket]
    if peers is not None:
        sockets.append(claim_private(peers))
    if not settings.database_url:
        folder, why = settings.data_location
        log.info("hxim data directory: %s (%s)", folder, why, extra={"data_dir": str(folder)})
    node = Node(settings)
    try:
        created = node.open()
    except BaseException:
        for sock in sockets:
            sock.close()
        node.close()
        raise
    for app, secret in created:
        print("created the default app; keep these credentials, they are printed only once:", flush=True)
        print_app(app, False, secret)
    c2s = C2S(node)  # XMPP client sessions: the TCP listener below, WebSocket and BOSH in the HTTP app
    msync = Msync(node)  # Easemob's Web SDK 4.x and Agora Chat, at /websocket on the HTTP port
    http_app = build_http_app(node, c2s, msync)
    config = uvicorn.Config(
        http_app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http=with_head_timeout(settings.http_header_timeout_seconds),  # httptools, heads on a deadline
        access_log=False,  # hxim's own, when `access_log` is on (http/access_log.py)
        forwarded_allow_ips=settings.trusted_proxies,  # X-Forwarded-For from these names the client
        log_config=None,  # uvicorn's lines go through the node's handlers (logs.configure)
        log_level=max(level_of(settings.log_level), logging.WARNING),
        backlog=2048,
        timeout_keep_alive=30,
        # XMPP: a stream error, then 1009; msync at /websocket: served by the protocol, not ASGI
        ws=with_oversize_notice({"/ws/": OVERSIZE_NOTICE, "/ws": OVERSIZE_NOTICE}, msync),
        ws_max_size=settings.xmpp_max_stanza_bytes + 4096,  # RFC 7395: one stanza per message
        ws_per_message_deflate=settings.xmpp_ws_deflate,
    )
    bosh: BoshManager = http_app.state.bosh
    relay = bosh.relay = BoshRelay(settings, peers) if peers is not None else None
    http_app.state.metrics.peers = peers  # a worker answers /metrics for every worker
    server = _NodeServer(config, c2s, msync, bosh)

    async def run() -> None:
        xmpp_addrs = ""
        await node.join_cluster()  # before any client: ids need the node's number
        try:
            xmpp = await start_tcp_listener(c2s)  # same loop as uvicorn
        except OSError as exc:
            bind_errors = (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
            if not isinstance(exc, socket.gaierror) and (exc.errno not in bind_errors or exc.filename):
                raise  # e.g. the certificate or key the settings name: not the port's fault
            raise CannotListen(settings.xmpp_host, settings.xmpp_port, "XMPP", "--xmpp-port", exc) from exc
        if xmpp is not None:
            server.listeners.append(xmpp)
            xmpp_addrs = ", ".join(f"{a[0]}:{a[1]}" for a in (sock.getsockname() for sock in xmpp.sockets))
            log.info("hxim XMPP listening on %s (domain %s)", xmpp_addrs, settings.xmpp_domain,
                     extra={"xmpp": xmpp_addrs, "domain": settings.xmpp_domain})
        # What the node loaded before serving lives as long as the process: keep it out of the
        # cyclic collector's passes.
        gc.collect()
        gc.freeze()
        # Stanzas in flight live for milliseconds; with CPython's default of 700 allocations
        # between young collections many of them get promoted, and the old generation's full
        # collections then walk every session's objects (100+ ms pauses at 5,000 sessions).
        _, middle, old = gc.get_threshold()
        gc.set_threshold(settings.gc_young_threshold, middle, old)
        task = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            try:
                apps = ", ".join(a.appkey for a in node.apps.list_sync())
            except Exception as exc:  # a line of information: the node serves on, and /ready says more
                log.warning("listing the apps for the start line failed: %s", plain(exc))
                apps = "(not listed)"
            default = node.default_app.appkey if node.default_app else "none"
            http = f"http://{settings.http_host}:{http_socket.getsockname()[1]}"
            database = node.db.engine.url.render_as_string(hide_password=True)
            data_dir = str(settings.data_location[0])
            log.info(
                "hxim %s listening on %s%s (database %s, data dir %s); apps: %s; default app: %s",
                __version__, http, f" and XMPP {xmpp_addrs}" if xmpp_addrs else "", database, data_dir, apps,
                default,
                extra={"version": __version__, "http": http, "xmpp": xmpp_addrs, "database": database,
                       "data_dir": data_dir, "apps": apps, "default_app": default},
            )
            if ready is not None:
                ready()
        try:
            await task
        finally:
            if xmpp is not None:
                xmpp.close()
            await c2s.end_all("system-shutdown")  # none left unless uvicorn ended without its shutdown
            if relay is not None:
                await relay.aclose()

    try:
        # uvloop for the whole node: HTTP, WebSocket and the XMPP listener share this loop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())
    finally:
        node.close()
        uptime = time.monotonic() - began
        log.info("hxim stopped after %s", in_words(uptime), extra={"uptime_seconds": round(uptime, 3)})
    for sig in reversed(server.stopped_by):  # ended by SIGTERM or SIGINT: end as such a process ends
        signal.raise_signal(sig)
    return 0


class _NodeServer(uvicorn.Server):
    """uvicorn's server, which ends the node's client streams before it closes its connections.

    Left to uvicorn, a WebSocket would be cut with a 1012 close and no `<close/>`, and a held
    BOSH request would be waited for (up to its `wait`). Here TCP clients get the stream error
    `system-shutdown` (RFC 6120 §4.9.3.22), WebSocket clients `<close/>` and a normal close
    (RFC 7395 §3.6), held BOSH requests a `system-shutdown` terminate. The listeners stop
    first: a client that reconnects at once (the Web IM SDK does after `<close/>`) is refused,
    not let in by a node about to cut it again."""

    def __init__(self, config: uvicorn.Config, c2s: C2S, msync: Msync, bosh: BoshManager) -> None:
        super().__init__(config)
        self.c2s = c2s
        self.msync = msync
        self.bosh = bosh
        self.listeners: list[asyncio.AbstractServer] = []  # the XMPP TCP listener
        self.stopped_by: list[int] = []  # the signals that stopped the server

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, except that the signal that stopped the server is not raised again as soon as
        uvicorn has shut down (which would end the process there): `serve` raises it once the node
        has closed and said so."""
        with super().capture_signals():
            try:
                yield
            finally:
                self.stopped_by, self._captured_signals = list(self._captured_signals), []

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in [*self.servers, *self.listeners]:
            listener.close()
        self.bosh.shutdown()
        await self.c2s.end_all("system-shutdown")
        await self.msync.end_all()
        await super().shutdown(sockets)
