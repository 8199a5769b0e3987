"""XMPP over TCP behind a load balancer that passes connections through (`xmpp_proxy_protocol`):
a connection from an address of `trusted_proxies` starts with a PROXY protocol header (v1 or
v2), and failed logins count against the client it names; a connection from elsewhere speaks
XMPP straight away; one from a trusted address without a readable header is closed unanswered.
(tests/cluster/test_haproxy.py runs the same behind HAProxy.)"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from xmpp_helpers import DOMAIN, XServer, plain_auth, start_xmpp_server

from conftest import stop_server, unique

STREAM = (
    f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
).encode()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    xs, _ = start_xmpp_server(
        tmp_path_factory.mktemp("hxim-proxy-protocol"),
        "sqlite",
        HXIM_XMPP_PROXY_PROTOCOL="true",
        HXIM_TRUSTED_PROXIES='["127.0.0.1"]',
        HXIM_LOGIN_FAILURES_PER_ADDRESS="1",  # one failure makes the address wait
    )
    try:
        yield xs
    finally:
        stop_server(xs.server, None)


def v1(client: str) -> bytes:
    return f"PROXY TCP4 {client} 127.0.0.1 40000 5222\r\n".encode()


def v2(client: str | None) -> bytes:
    """HAProxy's send-proxy-v2: the client over IPv4, or LOCAL (its health checks) for None."""
    signature = b"\r\n\r\n\x00\r\nQUIT\n"
    if client is None:
        return signature + bytes([0x20, 0x00, 0, 0])
    body = ipaddress.IPv4Address(client).packed + bytes([127, 0, 0, 1]) + struct.pack("!HH", 40000, 5222)
    return signature + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def read_until(sock: socket.socket, *markers: bytes) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while not any(m in data for m in markers):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def login(xs: XServer, name: str, password: str, *pieces: bytes, source: str = "127.0.0.1") -> str:
    """Send `pieces` (each on its own), then a stream and a PLAIN login: `success` or the SASL
    failure's condition."""
    with socket.create_connection(("127.0.0.1", xs.port), timeout=10, source_address=(source, 0)) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.05)
        sock.sendall(STREAM)
        assert b"</stream:features>" in read_until(sock, b"</stream:features>")
        node = xs.jid(name).split("@")[0]
        auth = f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(node, password)}</auth>"
        sock.sendall(auth.encode())
        answer = read_until(sock, b"<success", b"</failure>")
    if b"<success" in answer:
        return "success"
    return answer.split(b"<failure", 1)[1].split(b"><", 1)[1].split(b"/>", 1)[0].decode()


def test_failed_logins_count_against_the_client_the_header_names(proxied: XServer) -> None:
    name = unique("pp")
    proxied.api.register(name)
    assert login(proxied, name, "wrong", v2("198.51.100.1")) == "not-authorized"
    # that client now waits, whichever version of the header names it
    assert login(proxied, name, "secret1", v1("198.51.100.1")) == "temporary-auth-failure"
    assert login(proxied, name, "secret1", v2("198.51.100.1")) == "temporary-auth-failure"
    # another client of the same balancer does not, nor the balancer's own connection (LOCAL)
    assert login(proxied, name, "secret1", v2("198.51.100.2")) == "success"
    assert login(proxied, name, "secret1", v2(None)) == "success"


def test_a_header_may_arrive_in_pieces(proxied: XServer) -> None:
    name = unique("pp")
    proxied.api.register(name)
    header = v2("198.51.100.3")
    assert login(proxied, name, "secret1", header[:5], header[5:20], header[20:]) == "success"
    line = v1("198.51.100.3")
    assert login(proxied, name, "secret1", line[:8], line[8:]) == "success"


def test_a_client_not_behind_the_balancer_speaks_xmpp_at_once(proxied: XServer) -> None:
    name = unique("pp")
    proxied.api.register(name)
    assert login(proxied, name, "secret1", source="127.0.0.5") == "success"


def test_a_trusted_address_without_a_header_is_closed_unanswered(proxied: XServer) -> None:
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=10) as sock:
        sock.sendall(STREAM)
        assert read_until(sock, b"<stream:features") == b""  # closed, nothing said
    # the listener goes on serving
    name = unique("pp")
    proxied.api.register(name)
    assert login(proxied, name, "secret1", v1("198.51.100.4")) == "success"
