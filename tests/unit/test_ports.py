"""The listening sockets of a node (ports.py) on real sockets of this machine: a port in use is one
line; workers share a port with SO_REUSEPORT and the kernel hands connections to each; the
supervisor's claim (bound, never listening) keeps other processes off the port without taking a
connection; a worker's private socket replaces what a dead one left. And the supervisor's
arithmetic: the workers' names, the restart delays; which worker a BOSH sid names."""

from __future__ import annotations

import errno
import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hxim.c2s.bosh_relay import BoshRelay
from hxim.config import Settings
from hxim.ports import CannotListen, Peers, Port, claim, claim_addresses, claim_private, node_ports
from hxim.workers import ending, restart_delay, worker_names

CLUSTER = {"database_url": "postgresql://hxim@127.0.0.1/hxim", "redis_url": "redis://127.0.0.1:6379/15"}


@pytest.fixture
def port() -> Iterator[Port]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number = s.getsockname()[1]
    yield Port("HTTP", "127.0.0.1", number, "--port", "http_port")


def listening(port: Port, *, shared: bool) -> socket.socket:
    sock = claim(port, shared=shared)
    sock.listen()
    sock.setblocking(False)
    return sock


def accepted_by(listeners: list[socket.socket], port: Port, connections: int) -> list[int]:
    """Connect `connections` times; how many each listener accepted."""
    counts = [0] * len(listeners)
    clients = [socket.create_connection((port.host, port.port), timeout=5) for _ in range(connections)]
    try:
        seen = 0
        while seen < connections:
            ready, _, _ = select.select(listeners, [], [], 5)
            assert ready, f"only {seen} of {connections} connections arrived"
            for sock in ready:
                conn, _ = sock.accept()
                conn.close()
                counts[listeners.index(sock)] += 1
                seen += 1
    finally:
        for client in clients:
            client.close()
    return counts


def test_a_port_in_use_is_one_line(port: Port) -> None:
    taken = listening(port, shared=False)
    try:
        with pytest.raises(CannotListen) as caught:
            claim(port)
        assert str(caught.value) == (
            f"cannot listen on 127.0.0.1:{port.port} (HTTP): address already in use; choose another port with --port"
        )
        with pytest.raises(CannotListen):  # sharing is only among sockets that all share
            claim(port, shared=True)
    finally:
        taken.close()


def test_workers_share_a_port_and_each_gets_connections(port: Port) -> None:
    workers = [listening(port, shared=True) for _ in range(2)]
    try:
        counts = accepted_by(workers, port, 64)
        assert sum(counts) == 64 and min(counts) > 0, counts  # (all 64 on one: 2**-63)
        with pytest.raises(CannotListen):  # a single node beside them
            claim(port)
    finally:
        for sock in workers:
            sock.close()


def test_the_supervisors_claim_keeps_the_port_and_takes_no_connection(port: Port) -> None:
    held = claim(port)  # the supervisor's: bound, never listening
    try:
        worker = listening(port, shared=True)
        try:
            assert accepted_by([worker], port, 8) == [8]
            with pytest.raises(CannotListen):  # another single node, another supervisor
                claim(port)
            worker.close()
            again = listening(port, shared=True)  # a worker started again gets the port back
            assert accepted_by([again], port, 2) == [2]
            again.close()
        finally:
            worker.close()
        with pytest.raises(ConnectionRefusedError):  # every worker gone: refused, never held
            socket.create_connection((port.host, port.port), timeout=5).close()
    finally:
        held.close()


def test_one_number_for_every_address_of_a_port_of_zero() -> None:
    sockets = claim_addresses(Port("XMPP", "localhost", 0, "--xmpp-port", "xmpp_port"))
    try:
        numbers = {sock.getsockname()[1] for sock in sockets}
        assert len(numbers) == 1 and numbers != {0}, [s.getsockname() for s in sockets]
        assert {sock.family for sock in sockets} <= {socket.AF_INET, socket.AF_INET6}
    finally:
        for sock in sockets:
            sock.close()


def test_an_address_not_on_this_machine_is_one_line() -> None:
    with pytest.raises(CannotListen) as caught:
        claim_addresses(Port("XMPP", "192.0.2.1", 5222, "--xmpp-port", "xmpp_port"))
    reason = os.strerror(errno.EADDRNOTAVAIL).lower()
    assert str(caught.value) == f"cannot listen on 192.0.2.1:5222 (XMPP): {reason}"


def test_the_xmpp_port_is_listened_on_with_a_certificate_or_plain_text_allowed() -> None:
    assert [p.what for p in node_ports(Settings())] == ["HTTP"]
    assert [p.what for p in node_ports(Settings(xmpp_allow_plaintext=True))] == ["HTTP", "XMPP"]
    assert [p.what for p in node_ports(Settings(xmpp_allow_plaintext=True, xmpp_enabled=False))] == ["HTTP"]
    assert [p.port for p in node_ports(Settings(xmpp_tls_cert="c.pem", xmpp_tls_key="k.pem"))] == [5280, 5222]


def test_workers_are_named_after_the_node_or_the_host() -> None:
    assert worker_names(Settings(**CLUSTER, workers=3, node_id="web1")) == ["web1-1", "web1-2", "web1-3"]
    host = socket.gethostname().split(".")[0]
    assert worker_names(Settings(**CLUSTER, workers=2)) == [f"{host}-1", f"{host}-2"]
    long = worker_names(Settings(**CLUSTER, workers=12, node_id="n" * 100))
    assert all(len(name) <= 100 for name in long) and long[11].endswith("n-12")


def test_a_worker_failing_at_once_waits_longer_each_time() -> None:
    settings = Settings(worker_restart_delay_seconds=0.5)
    assert [restart_delay(settings, n) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 4.0]


def test_how_a_worker_ended_in_words() -> None:
    assert ending(-9) == "was killed by SIGKILL"
    assert ending(3) == (
        "exited with code 3 (the database (or a cluster's Redis) cannot be used: unreachable, refusing the login, "
        "or not created yet)"
    )
    assert ending(0) == "exited with code 0"


def test_a_worker_started_again_takes_its_private_socket_back(tmp_path: Path) -> None:
    peers = Peers(str(tmp_path), 2, 3)
    assert peers.path(3) == str(tmp_path / "worker-3.sock")
    first = claim_private(peers)
    first.listen()
    first.close()  # a worker killed: its socket file stays
    assert os.path.exists(peers.path(2))
    again = claim_private(peers)
    again.listen()
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(peers.path(2))
            conn, _ = again.accept()
            conn.close()
    finally:
        again.close()


def test_a_bosh_sid_names_the_worker_that_holds_it() -> None:
    relay = BoshRelay(Settings(), Peers("/nowhere", 1, 2))
    assert relay.tag == ".1"
    assert relay.holder("AbC-_x.2") == 2
    assert [relay.holder(sid) for sid in ("AbC-_x.1", "AbC-_x.3", "AbC-_x.0", "AbC-_x", "AbC.x", "")] == [None] * 6
