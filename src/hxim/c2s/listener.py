"""The XMPP client listener on TCP (RFC 6120), on the node's own asyncio loop.

Each connection gets a `C2SSession` with TCP framing; this module only moves bytes: it reads
chunks (closing a connection silent for `xmpp_idle_timeout_seconds` with `connection-timeout`),
writes what the session's writer hands it, and runs the STARTTLS handshake with the configured
certificate (`asyncio.StreamWriter.start_tls`, i.e. `loop.start_tls`). SASL without TLS is
allowed only with `xmpp_allow_plaintext`; without a certificate and without that setting the
listener is not started at all.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from hxim.c2s.session import C2SSession

if TYPE_CHECKING:
    from hxim.c2s.context import C2S

__all__ = ["TcpTransport", "start_tcp_listener", "tls_context"]

log = logging.getLogger("hxim.c2s")

READ_SIZE = 65_536


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


class TcpTransport:
    def __init__(self, writer: asyncio.StreamWriter, tls: ssl.SSLContext | None) -> None:
        self.writer = writer
        self.tls = tls

    async def write(self, chunks: Sequence[bytes]) -> None:
        self.writer.write(b"".join(chunks))
        await self.writer.drain()

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:
        assert self.tls is not None
        # Reading stops before <proceed/> goes out: the client's ClientHello must reach the TLS
        # layer, not the plain-text reader's buffer (a race seen under load with uvloop).
        transport: asyncio.ReadTransport = self.writer.transport  # type: ignore[assignment]
        transport.pause_reading()
        await flush()
        await self.writer.start_tls(self.tls)

    async def close(self) -> None:
        writer = self.writer
        if writer.is_closing():
            return
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass
        writer.close()


async def _serve(
    ctx: C2S, tls: ssl.SSLContext | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    s = ctx.settings
    peer = writer.get_extra_info("peername")
    session = C2SSession(
        ctx,
        TcpTransport(writer, tls),
        framing="tcp",
        mechanisms=s.xmpp_tcp_mechanisms,
        starttls=tls is not None,
        tls_required=tls is not None and not s.xmpp_allow_plaintext,
        peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
    )
    session.start()
    idle = s.xmpp_idle_timeout_seconds or None
    try:
        while not session.finished:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), idle)
            except TimeoutError:
                session.close("connection-timeout")
                break
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            await session.received(data)
    except asyncio.CancelledError:
        session.close("system-shutdown")
        raise
    finally:
        await session.connection_lost()
        if not writer.is_closing():
            writer.close()


async def start_tcp_listener(ctx: C2S) -> asyncio.Server | None:
    """Start listening (None when the settings leave TCP off, see the module docstring)."""
    s = ctx.settings
    tls = tls_context(s.xmpp_tls_cert, s.xmpp_tls_key) if s.xmpp_tls_cert else None
    if not s.xmpp_enabled or (tls is None and not s.xmpp_allow_plaintext):
        if s.xmpp_enabled:
            log.warning("XMPP over TCP is off: set xmpp_tls_cert/xmpp_tls_key, or xmpp_allow_plaintext")
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve(ctx, tls, reader, writer)
        except Exception:
            log.exception("c2s: connection handler failed")

    server = await asyncio.start_server(handle, s.xmpp_host, s.xmpp_port, backlog=2048, limit=READ_SIZE)
    ctx.tcp_server = server
    return server
