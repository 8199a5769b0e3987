"""Nothing accepted is lost when a session cannot take its messages (persist first, then route).

A client that stops reading fills its socket and the server's write buffer; the messages that
keep coming wait in its session's bounded queue until the queue overflows and the server ends
the stream with `policy-violation`. Every message must then be either in what the client can
still read from its socket, or offline for its next login — none in neither place, none in both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from xmpp_helpers import XServer, login_raw, start_xmpp_server

from conftest import Server, stop_server, unique

QUEUE_MAX = 20
MESSAGES = 400
PAD = "x" * 20_000  # 400 × 20 KB = 8 MB: more than the socket buffers hold
BODY_ID = re.compile(r"<body>m(\d{4})x")


@pytest.fixture(scope="module")
def small_queue_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-noloss-{server.backend}")
    xs, pg_name = start_xmpp_server(tmp, server.backend, HXIM_XMPP_QUEUE_MAX=str(QUEUE_MAX))
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def _ids(text: str) -> list[int]:
    return [int(m) for m in BODY_ID.findall(text)]


def test_a_client_that_stops_reading_loses_nothing(small_queue_server: XServer) -> None:
    xs = small_queue_server
    name = unique("slow")
    xs.api.register(name)
    slow = login_raw(xs, name)
    slow.send("<presence/>")
    # the first message must find the session available: one sent while the initial presence is
    # still being handled is stored offline and waits for the next login (nothing lost, but not
    # in this stream, and the order below is about this stream)
    deadline = time.monotonic() + 10
    while xs.api.get(f"/users/{name}/status").json()["data"][name] != "online":
        assert time.monotonic() < deadline, "the session never became available"
        time.sleep(0.02)
    for i in range(MESSAGES):
        r = xs.api.post(
            "/messages",
            json={"target_type": "users", "target": [name], "msg": {"type": "txt", "msg": f"m{i:04d}{PAD}"}},
        )
        assert r.status_code == 200, r.text
    # the client now reads what reached its socket, up to the stream error that ended it
    text, closed = slow.read_all(timeout=30)
    slow.close()
    assert closed and "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in text
    written = _ids(text)
    assert written == list(range(len(written))), "messages written out of order"
    assert len(written) < MESSAGES, "the client was expected to fall behind"

    expected_offline = MESSAGES - len(written)
    deadline = time.monotonic() + 10
    while True:  # the rescued messages are written back in the background
        count = xs.api.get(f"/users/{name}/offline_msg_count").json()["data"][name]
        if count == expected_offline or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert count == expected_offline

    again = login_raw(xs, name, resource="again")
    again.send("<presence/>")
    replayed: list[int] = []
    buffer = ""
    deadline = time.monotonic() + 30
    while len(replayed) < expected_offline and time.monotonic() < deadline:
        buffer += again.read_until(b"</message>", timeout=max(0.1, deadline - time.monotonic()))
        replayed = _ids(buffer)
    again.close()
    assert replayed == list(range(len(written), MESSAGES))


def test_a_client_that_stops_reading_presences_is_closed(small_queue_server: XServer) -> None:
    """Stanzas other than stored messages (here directed presences) have the same bound: past
    `xmpp_queue_max` waiting for a client that does not read, its stream ends with
    `policy-violation`; the sender is untouched."""
    xs = small_queue_server
    slow_name, sender_name = unique("slowp"), unique("sendp")
    xs.api.register(slow_name, sender_name)
    slow = login_raw(xs, slow_name)
    slow.send("<presence/>")
    sender = login_raw(xs, sender_name, resource="src")
    to = xs.jid(slow_name)
    for i in range(200):  # 200 × 40 KB = 8 MB: more than the socket buffers hold
        sender.send(f"<presence to='{to}' id='p{i}'><status>{i:04d}{'y' * 40_000}</status></presence>")
        if i % 20 == 19:
            sender.send(f"<iq type='get' id='ping{i}'><ping xmlns='urn:xmpp:ping'/></iq>")
            assert f"id='ping{i}'" in sender.read_until(f"id='ping{i}'".encode())
    text, closed = slow.read_all(timeout=30)
    slow.close()
    assert closed and "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in text
    assert "Too many stanzas are waiting for this client." in text
    sender.send("<iq type='get' id='alive'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "id='alive'" in sender.read_until(b"id='alive'")
    sender.close()
