"""Failed logins are throttled per account and address (SASL PLAIN and SCRAM alike): past the
limit the address waits, told so with `temporary-auth-failure`, even with the right password;
another address is not concerned, and the wait ends by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from xmpp_helpers import Raw, XServer, plain_auth, start_xmpp_server

from conftest import Server, stop_server, unique

LIMIT = 3
LOCKOUT = 2


@pytest.fixture(scope="module")
def throttled(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-throttle-{server.backend}")
    xs, pg_name = start_xmpp_server(
        tmp, server.backend, HXIM_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS=str(LIMIT),
        HXIM_LOGIN_LOCKOUT_SECONDS=str(LOCKOUT), HXIM_LOGIN_FAILURES_PER_ADDRESS="1000",
    )
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def _plain(xs: XServer, name: str, password: str) -> str:
    """One PLAIN attempt on a new connection: the SASL answer."""
    raw = Raw(xs)
    raw.open()
    node = xs.jid(name).split("@")[0]
    raw.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(node, password)}</auth>")
    text = ""
    deadline = time.monotonic() + 10
    while "</failure>" not in text and "<success" not in text and time.monotonic() < deadline:
        text += raw.read_until(b">", timeout=max(0.1, deadline - time.monotonic()))
    raw.close()
    return text


def test_wrong_passwords_make_the_address_wait(throttled: XServer) -> None:
    xs = throttled
    name = unique("tp")
    xs.api.register(name)
    for _ in range(LIMIT):
        assert "<not-authorized/>" in _plain(xs, name, "wrong")
    text = _plain(xs, name, "secret1")  # the right password, but the address must wait
    assert "<temporary-auth-failure/>" in text and "try again in" in text
    time.sleep(LOCKOUT + 0.5)
    assert "<success" in _plain(xs, name, "secret1")
    # a success starts over: the next wrong passwords get their own allowance
    assert "<not-authorized/>" in _plain(xs, name, "wrong")
    assert "<success" in _plain(xs, name, "secret1")


def test_unknown_accounts_are_counted_too(throttled: XServer) -> None:
    xs = throttled
    ghost = unique("ghost")
    for _ in range(LIMIT):
        assert "<not-authorized/>" in _plain(xs, ghost, "guess")
    assert "<temporary-auth-failure/>" in _plain(xs, ghost, "guess")
