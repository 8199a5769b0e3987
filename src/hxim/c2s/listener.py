"""The XMPP client listener on TCP (RFC 6120), on the node's own asyncio loop.

Each connection is a `TcpConnection` (an `asyncio.Protocol`, no stream reader) with a
`C2SSession` in TCP framing; this module only moves bytes: what arrives is handed to the session
by a task that lives only while there is input to process (an idle connection has no task), what
the session writes goes straight to the transport, and the STARTTLS handshake runs with the
configured certificate (`loop.start_tls`). One periodic sweep closes connections silent for
`xmpp_idle_timeout_seconds` (`connection-timeout`) instead of a timer per read. SASL without TLS
is allowed only with `xmpp_allow_plaintext`; without a certificate and without that setting the
listener is not started at all. The worker processes of `hxim serve --workers N` listen on the
same port with SO_REUSEPORT (ports.py).

Behind a load balancer that passes connections through (`xmpp_proxy_protocol`), a connection
from an address of `trusted_proxies` starts with a PROXY protocol header (`proxy_protocol`): the
session starts once it is read, with the client it names as its peer; a connection whose header
cannot be read is closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from hxim.c2s.proxy_protocol import ProxyHeaderError, parse
from hxim.c2s.session import C2SSession

if TYPE_CHECKING:
    from hxim.c2s.context import C2S

__all__ = ["TcpConnection", "start_tcp_listener", "tls_context"]

log = logging.getLogger("hxim.c2s")

INBOX_MAX = 16  # chunks waiting for the session before reading pauses


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


# the balancers whose connections start with a PROXY protocol header: networks, or None for any
Proxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None


def _proxies(settings: list[str]) -> Proxies:
    """`trusted_proxies` as networks (an address is a network of one)."""
    return None if settings == ["*"] else tuple(ipaddress.ip_network(p) for p in settings)


def _from_proxy(host: str, proxies: Proxies) -> bool:
    if proxies is None:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


class TcpConnection(asyncio.Protocol):
    """One client connection: the protocol the loop calls and the session's `Transport`."""

    def __init__(
        self, ctx: C2S, tls: ssl.SSLContext | None, connections: set[TcpConnection], proxies: Proxies = ()
    ) -> None:
        self.ctx = ctx
        self.tls = tls
        self.connections = connections
        self.proxies = proxies  # connections from these start with a PROXY protocol header
        self._header: bytes | None = None  # the header's bytes so far, while it is awaited
        self.transport: asyncio.Transport | None = None
        self.session: C2SSession | None = None
        self.last_read = 0.0
        self.paused = False  # the Transport side: the peer does not keep up with our writes
        self._inbox: list[bytes] = []
        self._task: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._lost = False
        self._eof = False
        self._tls = False  # STARTTLS done
        self._drained: asyncio.Future[None] | None = None
        # the loop, kept: every asyncio.get_running_loop() costs a getpid() system call
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass
        peer = transport.get_extra_info("peername")
        self._loop = loop = asyncio.get_running_loop()
        self.last_read = loop.time()
        self.connections.add(self)
        if self.proxies != () and isinstance(peer, tuple) and _from_proxy(peer[0], self.proxies):
            self._header = b""  # the session starts once the balancer has named the client
            return
        self._start(peer)

    def _start(self, peer: object) -> None:
        s = self.ctx.settings
        self.session = C2SSession(
            self.ctx,
            self,
            framing="tcp",
            device="xmpp",
            mechanisms=s.xmpp_tcp_mechanisms,
            starttls=self.tls is not None,
            tls_required=self.tls is not None and not s.xmpp_allow_plaintext,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
        )
        self.session.start()

    def data_received(self, data: bytes) -> None:
        loop = self._loop
        assert loop is not None
        self.last_read = loop.time()
        if self._header is not None:
            data = self._read_header(data)
            if not data:
                return
        if self._task is None:
            self._task = loop.create_task(self._consume(data))
            return
        self._inbox.append(data)
        if len(self._inbox) >= INBOX_MAX and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def _read_header(self, data: bytes) -> bytes:
        """Take the PROXY protocol header off what arrived, and start the session once it is
        complete; what follows it is returned (the stream's first bytes)."""
        assert self._header is not None and self.transport is not None
        received = self._header + data
        try:
            header = parse(received)
        except ProxyHeaderError as exc:
            log.info("c2s: %s from %s; closing", exc, self.transport.get_extra_info("peername"))
            self._header = None
            self.transport.abort()
            return b""
        if header is None:
            self._header = received
            return b""
        self._header = None
        self._start(header.client or self.transport.get_extra_info("peername"))
        return received[header.size :]

    def eof_received(self) -> bool | None:
        if self.session is None:  # gone before its PROXY protocol header was complete
            return False
        self._eof = True
        if self._task is None:
            self._input_done()
        # keep writing until what was received has been answered (TLS closes by itself)
        return None if self._tls else True

    def _input_done(self) -> None:
        """The peer sent its last bytes and they have been handled: end our side too."""
        if self.session is not None:
            self.session.close()  # writes what is queued and our closing tag, then closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.connections.discard(self)
        self._wake_drain()
        if self._task is None and self.session is not None:
            self.session.connection_lost()  # else the task does it once the input is processed

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_drain()
        if self.session is not None:
            self.session.resume_writing()

    async def _consume(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        inbox = self._inbox
        try:
            while True:
                await session.received(data)
                if not inbox or session.finished:
                    break
                data = inbox[0] if len(inbox) == 1 else b"".join(inbox)
                inbox.clear()
                if self._reading_paused and not self._lost and self.transport is not None:
                    self._reading_paused = False
                    self.transport.resume_reading()
        except asyncio.CancelledError:
            session.close("system-shutdown")
            raise
        except Exception:
            log.exception("c2s: connection handler failed")
            session.close("internal-server-error")
        finally:
            self._task = None
            inbox.clear()
            if self._lost:
                session.connection_lost()
            elif self._eof:
                self._input_done()

    # --- the session's Transport --------------------------------------------------------------
    def write(self, chunks: Sequence[bytes]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionError("the connection is closing")  # the session keeps what it can
        transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    async def drain(self) -> None:
        if self.paused and not self._lost:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    async def sent(self, timeout: float) -> None:
        return None  # handed to the loop's transport, which sends it before it closes

    def _wake_drain(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:
        assert self.tls is not None and self.transport is not None
        # Reading stops before <proceed/> goes out: the client's ClientHello must reach the TLS
        # layer, not the plain-text session (a race seen under load with uvloop).
        self.transport.pause_reading()
        await flush()
        loop = asyncio.get_running_loop()
        new = await loop.start_tls(self.transport, self, self.tls, server_side=True)
        if new is None:
            raise ConnectionError("the connection closed during the TLS handshake")
        self.transport = new
        self._tls = True

    def close(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        try:
            if transport.can_write_eof():
                transport.write_eof()
        except (OSError, RuntimeError):
            pass
        transport.close()


def _sweep_idle(ctx: C2S, connections: set[TcpConnection], idle: float) -> None:
    """Close every connection silent for `idle` seconds, then look again in a while."""
    loop = asyncio.get_running_loop()
    cutoff = loop.time() - idle
    for conn in [c for c in connections if c.last_read < cutoff]:
        if conn.session is not None:
            conn.session.close("connection-timeout")
        elif conn.transport is not None:  # still waiting for its PROXY protocol header
            conn.transport.abort()
    loop.call_later(min(idle / 4, 5.0), _sweep_idle, ctx, connections, idle)


async def start_tcp_listener(ctx: C2S) -> asyncio.Server | None:
    """Start listening (None when the settings leave TCP off, see the module docstring)."""
    s = ctx.settings
    tls = tls_context(s.xmpp_tls_cert, s.xmpp_tls_key) if s.xmpp_tls_cert else None
    if not s.xmpp_tcp_listens:
        if s.xmpp_enabled:
            log.warning(
                "XMPP over TCP is off: no certificate. Set HXIM_XMPP_TLS_CERT and HXIM_XMPP_TLS_KEY, or "
                "HXIM_XMPP_ALLOW_PLAINTEXT=true on a trusted network. XMPP over WebSocket is on, at /ws/."
            )
        return None

    connections: set[TcpConnection] = set()
    loop = asyncio.get_running_loop()
    proxies = _proxies(s.trusted_proxies) if s.xmpp_proxy_protocol else ()
    server = await loop.create_server(
        lambda: TcpConnection(ctx, tls, connections, proxies), s.xmpp_host, s.xmpp_port, backlog=2048,
        reuse_port=s.workers > 1 or None,  # the workers of `hxim serve --workers N` share the port
    )
    if s.xmpp_idle_timeout_seconds:
        _sweep_idle(ctx, connections, s.xmpp_idle_timeout_seconds)
    ctx.tcp_server = server
    return server
