"""The ports a node listens on, and the sockets that claim them before anything else starts.

A node listens on the HTTP port (REST, XMPP over WebSocket and BOSH, msync, /metrics) and, when
the settings turn it on, the XMPP TCP port (`Settings.xmpp_tcp_listens`). `node_ports` lists
them; `claim` binds one of them as the node's HTTP listener will use it, `claim_addresses` every
address a host name stands for, as asyncio's `create_server` binds the XMPP listener. A port
that cannot be had (in use, privileged, an address not on this machine) raises `CannotListen`,
worded for the operator.

Sockets claimed with `shared` set SO_REUSEPORT: the worker processes of `hxim serve --workers
N` (workers.py) each bind the same address that way and listen, and the kernel spreads new
connections over their listening sockets. A single node never sets it: a second process on its
port gets "address already in use", as it always did. Each worker also serves HTTP on a private
Unix socket of its own (`Peers`, `claim_private`), in a directory only its user may enter, where
the other workers reach it (c2s/bosh_relay.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass

from hxim.config import Settings

__all__ = ["CannotListen", "Peers", "Port", "claim", "claim_addresses", "claim_private", "node_ports"]


class CannotListen(Exception):
    """A listener could not have its address: `cannot listen on 0.0.0.0:5280 (HTTP): address already in use`."""

    def __init__(self, host: str, port: int, what: str, option: str, exc: OSError) -> None:
        # asyncio words its own (`error while attempting to bind on address …`): say just the reason
        reason = (os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or str(exc)).lower()
        hint = f"; choose another port with {option}" if exc.errno == errno.EADDRINUSE else ""
        super().__init__(f"cannot listen on {host}:{port} ({what}): {reason}{hint}")


@dataclass(frozen=True)
class Port:
    """One listening port of a node: what it serves, where, and the option that moves it."""

    what: str  # "HTTP", "XMPP": as CannotListen says it
    host: str
    port: int
    option: str  # --port, --xmpp-port
    setting: str  # http_port, xmpp_port


@dataclass(frozen=True)
class Peers:
    """Where the workers of one supervisor reach each other: worker `n` (1 … `count`) listens on
    `path(n)`; this one is `number`."""

    directory: str
    number: int
    count: int

    def path(self, number: int) -> str:
        return os.path.join(self.directory, f"worker-{number}.sock")


def node_ports(settings: Settings) -> list[Port]:
    """Every port a node started with `settings` listens on."""
    ports = [Port("HTTP", settings.http_host, settings.http_port, "--port", "http_port")]
    if settings.xmpp_tcp_listens:
        ports.append(Port("XMPP", settings.xmpp_host, settings.xmpp_port, "--xmpp-port", "xmpp_port"))
    return ports


def claim(port: Port, *, shared: bool = False) -> socket.socket:
    """A socket bound to `port`'s address and not listening yet (the HTTP listener's: uvicorn
    listens on it), so that a port in use stops the start in one line. The host is taken as
    one address: an IPv6 literal, else IPv4."""
    sock = socket.socket(socket.AF_INET6 if ":" in port.host else socket.AF_INET, socket.SOCK_STREAM)
    _bind(sock, port, (port.host, port.port), shared)
    return sock


def claim_addresses(port: Port, *, shared: bool = False) -> list[socket.socket]:
    """A socket bound to each address `port.host` stands for (every interface when it is empty),
    as asyncio's `create_server` binds them: IPv6 sockets only IPv6. A port of 0 becomes the one
    the kernel gives the first address, for all of them."""
    try:
        infos = socket.getaddrinfo(port.host or None, port.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CannotListen(port.host, port.port, port.what, port.option, exc) from exc
    sockets: list[socket.socket] = []
    number = port.port
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):  # the same address once
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            _bind(sock, port, (address[0], number, *address[2:]), shared)
            number = sock.getsockname()[1]
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind(sock: socket.socket, port: Port, address: tuple[object, ...], shared: bool) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CannotListen(port.host, port.port, port.what, port.option, exc) from exc


def claim_private(peers: Peers) -> socket.socket:
    """This worker's private Unix socket (what a worker that died left there is replaced)."""
    path = peers.path(peers.number)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    return sock
