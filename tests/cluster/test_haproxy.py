"""deploy/haproxy.cfg, as shipped, in front of a real cluster: two `hxim serve` on one fresh
PostgreSQL database and Redis, and Debian's HAProxy with the addresses in its environment.

HTTP through HAProxy reaches both nodes, which take the client's address from its
X-Forwarded-For; XMPP logins over TCP spread across the nodes and talk to each other, and their
failures count against the client, whose address the nodes read from the PROXY protocol header
HAProxy sends; XMPP over WebSocket logs in and spreads too; a BOSH session stays on its node; a
stopped node is taken out while every request still succeeds, and comes back in when it is
started again.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cluster_helpers import Cluster, new_cluster
from xmpp_helpers import Client, NodeClient, XServer, run

from conftest import ROOT, Api, Server, _drop_pg, free_port, unique

HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")  # Debian's, off a user's PATH
if HAPROXY is None:
    pytest.skip(
        "HAPROXY IS NOT INSTALLED, SO deploy/haproxy.cfg IS NOT TESTED: apt-get install haproxy (.ci/run installs it)",
        allow_module_level=True,
    )

CFG = ROOT / "deploy" / "haproxy.cfg"
REDIS_URL = "redis://127.0.0.1:6379/14"
NODES = ("hxim1", "hxim2")
# what every node of the test runs with: HAProxy on this machine is the proxy it believes, over
# HTTP and XMPP (the PROXY protocol, as deploy/haproxy.cfg sends it); an access log in JSON, to see
# the client each request came from; one failed login from an address makes that address wait
NODE_ENV = {
    "HXIM_TRUSTED_PROXIES": '["127.0.0.1"]',
    "HXIM_XMPP_PROXY_PROTOCOL": "true",
    "HXIM_ACCESS_LOG": "true",
    "HXIM_LOG_FORMAT": "json",
    "HXIM_LOGIN_FAILURES_PER_ADDRESS": "1",
}
CLIENT_ADDRESS = "127.0.0.7"  # the test's HTTP client connects to HAProxy from here
TIMEOUT = 30.0


@dataclass
class Balancer:
    """A running HAProxy: the base URL clients use, its XMPP port, its stats page."""

    base_url: str
    xmpp_port: int
    stats_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def servers(self) -> dict[tuple[str, str], dict[str, str]]:
        """The stats page's CSV: (backend, server) → its row."""
        text = httpx.get(self.stats_url + "/;csv", timeout=5).text.lstrip("# ")
        return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text))}

    def status(self, backend: str, server: str) -> str:
        return self.servers()[(backend, server)]["status"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def haproxy_env(cluster: Cluster) -> dict[str, str]:
    """The variables deploy/haproxy.cfg reads: where the nodes are, where HAProxy listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HXIM", "LB_"))}
    for i, name in enumerate(NODES, 1):
        node = cluster.nodes[name]
        env[f"HXIM{i}_ADDR"] = "127.0.0.1"
        env[f"HXIM{i}_HTTP_PORT"] = node.server.env["HXIM_HTTP_PORT"]
        env[f"HXIM{i}_XMPP_PORT"] = str(node.port)
    for var in ("LB_HTTP_BIND", "LB_XMPP_BIND", "LB_STATS_BIND"):
        env[var] = f"127.0.0.1:{free_port()}"
    if os.geteuid() == 0:  # as Debian's service starts it: as root, to become the package's user
        env["LB_USER"] = "haproxy"
    return env


def until(check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def start_haproxy(tmp: Path, cluster: Cluster) -> Balancer:
    assert HAPROXY is not None
    env = haproxy_env(cluster)
    checked = subprocess.run([HAPROXY, "-c", "-f", str(CFG)], env=env, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "WARNING" not in checked.stdout + checked.stderr, checked.stderr
    with open(tmp / "haproxy.log", "ab") as log:
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(CFG)], env=env, stdout=log, stderr=subprocess.STDOUT)
    lb = Balancer(
        "http://" + env["LB_HTTP_BIND"],
        int(env["LB_XMPP_BIND"].rpartition(":")[2]),
        "http://" + env["LB_STATS_BIND"],
        env,
        proc,
    )

    def all_up() -> bool:
        assert proc.poll() is None, (tmp / "haproxy.log").read_text()
        try:
            servers = lb.servers()
        except httpx.TransportError:
            return False
        return all(servers[(b, n)]["status"] == "UP" for b in ("rest", "xmpp") for n in NODES)

    until(all_up, "HAProxy never saw both nodes up")
    return lb


@dataclass
class Setup:
    cluster: Cluster
    lb: Balancer
    xs: XServer  # the cluster as clients see it: HAProxy's HTTP and XMPP ports, the `main` app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("haproxy")
    cluster = new_cluster(tmp, nodes=0, HXIM_REDIS_URL=REDIS_URL)
    try:
        for name in NODES:
            cluster.start(name, **NODE_ENV)
        lb = start_haproxy(tmp, cluster)
        try:
            server = Server("postgresql", lb.base_url, cluster.base_env, cluster.apps, lb.process)
            yield Setup(cluster, lb, XServer(server, lb.xmpp_port, Api(server)))
        finally:
            lb.stop()
    finally:
        cluster.close()
        _drop_pg(cluster.pg_name)


def metric(node: XServer, name: str, **labels: str) -> float:
    """The sum of a node's samples of `name` with these labels, read from the node itself."""
    text = httpx.get(node.server.base_url + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        found = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if found:
            have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                total += float(found.group(2))
    return total


def test_http_reaches_both_nodes_which_see_the_clients_address(setup: Setup) -> None:
    user = unique("h")
    setup.xs.api.register(user)
    path = f"/{setup.xs.api.creds.org}/{setup.xs.api.creds.app}/users/{user}"
    route = "/{org}/{app}/users/{username}"
    before = {n: metric(setup.cluster.nodes[n], "hxim_http_requests_total", route=route, method="GET") for n in NODES}
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    headers = {"Authorization": f"Bearer {setup.xs.api.token}", "X-Forwarded-For": "203.0.113.9"}
    with httpx.Client(base_url=setup.lb.base_url, transport=transport, headers=headers, timeout=10) as http:
        for _ in range(10):
            r = http.get(path)
            assert r.status_code == 200, r.text
            assert r.json()["entities"][0]["username"] == user
        assert http.get("/ready").json()["status"] == "ready"
    served = {
        n: metric(setup.cluster.nodes[n], "hxim_http_requests_total", route=route, method="GET") - before[n]
        for n in NODES
    }
    assert sum(served.values()) == 10 and all(served.values()), served
    # each node logged the requests as coming from the client HAProxy saw, not from HAProxy,
    # and not from the address the client claimed
    for name in NODES:
        lines = [json.loads(line) for line in setup.cluster.log(name).splitlines() if line.startswith("{")]
        clients = {line["client"] for line in lines if line.get("path") == path}
        assert clients == {CLIENT_ADDRESS}, (name, clients)


def test_xmpp_logins_over_tcp_spread_across_the_nodes_and_talk(setup: Setup) -> None:
    xs = setup.xs
    names = [unique("x") for _ in range(4)]
    xs.api.register(*names)
    before = sum(metric(setup.cluster.nodes[n], "hxim_sessions", protocol="xmpp_tcp") for n in NODES)

    async def scenario() -> None:
        clients = [Client(xs, name) for name in names]
        try:
            for client in clients:
                await client.online()
            sessions = {n: metric(setup.cluster.nodes[n], "hxim_sessions", protocol="xmpp_tcp") for n in NODES}
            assert sum(sessions.values()) == before + 4 and all(sessions.values()), sessions
            # whichever node each is on, a message reaches every other
            first, *others = clients
            for other in others:
                first.send_message(mto=xs.jid(other.name), mbody=f"to {other.name}", mtype="chat")
            for other in others:
                assert (await other.next_message())["body"] == f"to {other.name}"
        finally:
            for client in clients:
                await client.close()

    run(scenario)


def test_xmpp_over_websocket_logs_in_through_haproxy(setup: Setup) -> None:
    xs = setup.xs
    names = [unique("w") for _ in range(2)]
    xs.api.register(*names)
    clients = [NodeClient(xs, name) for name in names]
    try:
        for name, client in zip(names, clients, strict=True):
            assert client.online() == xs.jid(name, "node")
            client.send("<presence xmlns='jabber:client'/>")
        until(
            lambda: all(xs.api.get(f"/users/{n}/status").json()["data"][n] == "online" for n in names),
            "the WebSocket users never read online",
        )
        # the two connections went to the node with fewer WebSocket sessions: one each
        sessions = {n: metric(setup.cluster.nodes[n], "hxim_sessions", protocol="xmpp_websocket") for n in NODES}
        assert sessions == {"hxim1": 1, "hxim2": 1}, sessions
        clients[0].send(
            f"<message xmlns='jabber:client' type='chat' to='{xs.jid(names[1])}' id='m1'>"
            "<body>over the balancer</body></message>"
        )
        assert "over the balancer" in clients[1].stanza("over the balancer")
    finally:
        for client in clients:
            client.stop()


def sasl_plain(lb: Balancer, source: str, node: str, password: str) -> str:
    """A login over TCP through HAProxy from the address `source`: `success`, or the failure's
    condition."""
    stream = (
        "<?xml version='1.0'?><stream:stream to='easemob.com' xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    )
    secret = base64.b64encode(f"\0{node}\0{password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", lb.xmpp_port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(stream.encode())
        received = b""
        while b"</stream:features>" not in received:
            received += sock.recv(4096) or b"!"
            assert not received.endswith(b"!"), received
        sock.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{secret}</auth>".encode())
        received = b""
        while b"<success" not in received and b"</failure>" not in received:
            received += sock.recv(4096) or b"!"
            assert not received.endswith(b"!"), received
    if b"<success" in received:
        return "success"
    found = re.search(rb"<failure[^>]*><([a-z-]+)", received)
    assert found, received
    return found.group(1).decode()


def test_failed_xmpp_logins_count_against_the_client_not_haproxy(setup: Setup) -> None:
    """Over TCP too the node sees the client's address: HAProxy names it in the PROXY protocol
    header it sends first. A client that failed until it must wait makes no one else wait."""
    user = unique("t")
    setup.xs.api.register(user)
    node = setup.xs.jid(user).split("@")[0]
    answers = [sasl_plain(setup.lb, "127.0.0.8", node, "wrong") for _ in range(3)]
    # each node that saw a failure from 127.0.0.8 makes it wait: by the third attempt, one does
    assert answers[0] == "not-authorized" and "temporary-auth-failure" in answers, answers
    # the same account, from another client, logs in on either node
    assert [sasl_plain(setup.lb, "127.0.0.9", node, "secret1") for _ in range(2)] == ["success"] * 2


def test_a_bosh_session_stays_on_the_node_that_opened_it(setup: Setup) -> None:
    """Each request of the login on a new connection, as a browser may send them: all reach the
    node holding the session."""
    from test_xmpp_bosh import Bosh

    user = unique("b")
    setup.xs.api.register(user)

    async def scenario() -> None:
        bosh = Bosh(setup.xs)
        bosh.http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
        try:
            assert await bosh.login(user) == setup.xs.jid(user, "bosh")
            sessions = {n: metric(setup.cluster.nodes[n], "hxim_sessions", protocol="bosh") for n in NODES}
            assert sorted(sessions.values()) == [0, 1], sessions
        finally:
            await bosh.http.aclose()

    run(scenario)


def test_a_stopped_node_is_taken_out_and_a_started_one_back_in(setup: Setup) -> None:
    cluster, lb, xs = setup.cluster, setup.lb, setup.xs
    user = unique("s")
    xs.api.register(user)
    path = f"/{xs.api.creds.org}/{xs.api.creds.app}/users/{user}"
    answers: list[int] = []
    stop = threading.Event()

    def ask() -> None:  # what clients see meanwhile: a request every 20 ms, each on a new connection
        headers = {"Authorization": f"Bearer {xs.api.token}"}
        while not stop.is_set():
            try:
                answers.append(httpx.get(lb.base_url + path, headers=headers, timeout=10).status_code)
            except httpx.TransportError:
                answers.append(0)
            time.sleep(0.02)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        time.sleep(0.5)
        http_port, xmpp_port = cluster.nodes["hxim2"].server.env["HXIM_HTTP_PORT"], cluster.nodes["hxim2"].port
        cluster.stop("hxim2")
        until(lambda: lb.status("rest", "hxim2").startswith("DOWN"), "HAProxy never took hxim2 out of HTTP")
        until(lambda: lb.status("xmpp", "hxim2").startswith("DOWN"), "HAProxy never took hxim2 out of XMPP")
        assert lb.status("rest", "hxim1") == "UP"
        r = httpx.get(lb.base_url + "/ready", timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "ready"

        # a client that logs in now gets the node that is left
        async def login() -> None:
            client = Client(xs, user)
            try:
                await client.online()
            finally:
                await client.close()

        run(login)
        # started again on its ports, the node is back in
        cluster.start("hxim2", **NODE_ENV, HXIM_HTTP_PORT=http_port, HXIM_XMPP_PORT=str(xmpp_port))
        until(lambda: lb.status("rest", "hxim2") == "UP", "HAProxy never took hxim2 back into HTTP")
        until(lambda: lb.status("xmpp", "hxim2") == "UP", "HAProxy never took hxim2 back into XMPP")
        route = "/{org}/{app}/users/{username}"
        node = cluster.nodes["hxim2"]
        until(lambda: metric(node, "hxim_http_requests_total", route=route, method="GET"), "no request reached hxim2")
    finally:
        stop.set()
        asker.join()
    assert len(answers) > 50, len(answers)
    assert set(answers) == {200}, {a: answers.count(a) for a in set(answers)}


def test_the_configuration_is_valid_with_the_compose_files_names() -> None:
    """With nothing set, the file names the compose services: HAProxy accepts it, only warning that
    the names do not resolve here."""
    assert HAPROXY is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HXIM", "LB_"))}
    checked = subprocess.run([HAPROXY, "-c", "-f", str(CFG)], env=env, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if "WARNING" in line]
    assert warnings and all("could not resolve address 'hxim" in line for line in warnings), warnings
