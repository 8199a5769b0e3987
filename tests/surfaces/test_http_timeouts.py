"""The HTTP port does not wait for ever: a connection must send a complete request head in time
(`http_header_timeout_seconds`), and a JSON body in time (`http_body_timeout_seconds`, 408)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

from conftest import Server

EXTRA_ENV = {"HXIM_HTTP_HEADER_TIMEOUT_SECONDS": "1", "HXIM_HTTP_BODY_TIMEOUT_SECONDS": "1"}


def _connect(server: Server) -> socket.socket:
    url = urlparse(server.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Read until the server closes; fail past `seconds`."""
    sock.settimeout(seconds)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_a_connection_that_sends_nothing_is_closed(extra_server: Server) -> None:
    sock = _connect(extra_server)
    started = time.monotonic()
    assert _closed_within(sock, 5) == b""
    assert time.monotonic() - started < 4
    sock.close()


def test_a_head_sent_drop_by_drop_is_closed(extra_server: Server) -> None:
    sock = _connect(extra_server)
    started = time.monotonic()
    sock.sendall(b"GET /test/main/users HTTP/1.1\r\n")
    closed = False
    for i in range(10):  # one header line every 0.3 s: never a complete head
        time.sleep(0.3)
        try:
            sock.sendall(f"X-Drip-{i}: {i}\r\n".encode())
        except OSError:
            closed = True
            break
    if not closed:
        assert _closed_within(sock, 5) == b""
    assert time.monotonic() - started < 4
    sock.close()


def test_kept_alive_connections_get_the_same_deadline(extra_server: Server) -> None:
    sock = _connect(extra_server)
    sock.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    answer = b""
    while not answer.endswith(b"}"):  # the whole answer: its headers and its JSON body
        answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 404"), answer
    sock.sendall(b"GET /nothing HTTP/1.1\r\n")  # the next request never finishes its head
    started = time.monotonic()
    assert _closed_within(sock, 5) == b""
    assert time.monotonic() - started < 4
    sock.close()


def test_a_body_too_slow_gets_408(extra_server: Server) -> None:
    creds = extra_server.apps["main"]
    sock = _connect(extra_server)
    body = b'{"username":"slow","password":"pw"}'
    head = (f"POST /{creds.org}/{creds.app}/users HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {extra_server.admin_token()}\r\nContent-Length: {len(body)}\r\n\r\n")
    sock.sendall(head.encode() + body[:5])
    sock.settimeout(5)
    answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    sock.close()
