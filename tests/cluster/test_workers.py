"""`hxim serve --workers 2` as an operator runs it: a real supervisor process on PostgreSQL (a fresh
database per server) and Redis (a cluster name per server), its two workers listening on the
same HTTP and XMPP ports. Connections over both protocols land on both workers, and the workers
are nodes of one cluster (a message between users on the two is delivered live); a worker
killed with SIGKILL is started again and serves; SIGTERM and Ctrl-C stop everything with exit
0, and the workers stop by themselves when the supervisor is killed; a port in use, missing
settings, a database that cannot be reached and a worker that keeps failing each end the start
or the supervisor in one line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))

from xmpp_helpers import DOMAIN, Raw, XServer, plain_auth

from conftest import BACKENDS, HXIM, Api, AppCreds, Server, _drop_pg, free_port, server_env, unique

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="HXIM_TEST_BACKENDS leaves PostgreSQL out"),
]

REDIS = os.environ.get("HXIM_TEST_REDIS", "redis://127.0.0.1:6379/15")
STREAM = (
    "<?xml version='1.0'?><stream:stream to='easemob.com' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
)
HTTPBIND = "http://jabber.org/protocol/httpbind"
STARTED = re.compile(r"hxim worker (\d+) started \(pid (\d+), node (\S+)\)")


@dataclass
class Workers:
    """A running `hxim serve --workers 2` and what it logged."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    pg_name: str | None
    app: AppCreds | None  # made before the start, or None: a fresh database

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.env['HXIM_HTTP_PORT']}"

    @property
    def xmpp_port(self) -> int:
        return int(self.env["HXIM_XMPP_PORT"])

    def log(self) -> str:
        return self.log_path.read_text()

    def pids(self) -> dict[int, int]:
        """The pid of each worker, as the supervisor last started it."""
        return {int(n): int(pid) for n, pid, _ in STARTED.findall(self.log())}

    def serving(self, node: str) -> int:
        """How many times worker `node` said it listens."""
        return self.log().count(f"hxim[{node}]: hxim 0.1.0 listening on http://")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def until(check: Callable[[], object], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def start(tmp: Path, *, app: bool = False, session: bool = False, **extra: str) -> Workers:
    """`hxim serve --workers 2` on a fresh PostgreSQL database, once both workers serve (with an
    app made by `hxim app create` before, with `app`; in a session of its own, as a shell starts
    a command on a terminal, with `session`)."""
    env, pg_name = server_env(
        tmp,
        "postgresql",
        {
            "HXIM_REDIS_URL": REDIS,
            "HXIM_CLUSTER_NAME": f"hximtest-{uuid.uuid4().hex[:10]}",  # Redis channels are not per database
            "HXIM_NODE_ID": "wk",
            "HXIM_XMPP_HOST": "127.0.0.1",
            "HXIM_XMPP_PORT": str(free_port()),
            "HXIM_XMPP_ALLOW_PLAINTEXT": "true",
            **extra,
        },
    )
    creds = None
    if app:
        made = subprocess.run(
            [*HXIM, "app", "create", "test", "main", "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert made.returncode == 0, made.stderr
        data = json.loads(made.stdout)
        creds = AppCreds(data["org"], data["app"], data["client_id"], data["client_secret"], data["application"])
    log_path = tmp / "workers.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*HXIM, "serve", "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=session
        )
    workers = Workers(process, env, log_path, pg_name, creds)
    try:
        until(
            lambda: process.poll() is not None or (workers.serving("wk-1") and workers.serving("wk-2")),
            "both workers serve",
        )
        assert process.poll() is None, workers.log()
    except BaseException:
        finish(workers)
        raise
    return workers


def finish(workers: Workers) -> None:
    try:
        workers.stop()
    finally:
        if workers.pg_name:
            _drop_pg(workers.pg_name)
        with redis.Redis.from_url(REDIS) as r:  # what killed workers left under the cluster's name
            keys = list(r.scan_iter(f"{workers.env['HXIM_CLUSTER_NAME']}:*"))
            if keys:
                r.delete(*keys)


def health_nodes(workers: Workers, connections: int) -> list[str]:
    """The node named by /health, over `connections` new connections."""
    nodes = []
    for _ in range(connections):
        r = httpx.get(workers.base + "/health", timeout=10)  # a new connection each time
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        nodes.append(r.json()["node"])
    return nodes


def xmpp_owner(workers: Workers, pids: set[int]) -> int:
    """Open an XMPP stream on the shared port; the pid of the worker that answered it."""
    with socket.create_connection(("127.0.0.1", workers.xmpp_port), timeout=10) as sock:
        sock.sendall(STREAM.encode())
        answer = b""
        while b"</stream:features>" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        assert b"from='easemob.com'" in answer or b'from="easemob.com"' in answer, answer
        return socket_owner(workers.xmpp_port, sock.getsockname()[1], pids)


def socket_owner(server_port: int, client_port: int, pids: set[int]) -> int:
    """Which of `pids` holds the server's end of the connection from `client_port` (/proc/net/tcp)."""
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(f.split(":")[1], 16) for f in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    assert inode, f"no server socket for the connection from port {client_port}"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except FileNotFoundError:
                continue
    raise AssertionError(f"no worker holds socket {inode}")


def gone(pid: int) -> bool:
    """The process has exited (a zombie until its parent reaps it, or reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    running = start(tmp_path_factory.mktemp("hxim-workers"), app=True)
    yield running
    finish(running)


def test_the_supervisor_starts_two_named_workers(workers: Workers) -> None:
    log = workers.log()
    port = workers.env["HXIM_HTTP_PORT"]
    assert (
        f"INFO hxim: hxim 0.1.0 supervising 2 workers on http://127.0.0.1:{port} and XMPP "
        f"127.0.0.1:{workers.xmpp_port} (SO_REUSEPORT)" in log
    )
    started = STARTED.findall(log)
    assert [(n, node) for n, _, node in started] == [("1", "wk-1"), ("2", "wk-2")], started
    assert len({pid for _, pid, _ in started} | {str(workers.process.pid)}) == 3
    assert log.count("hxim joined the cluster") == 2


def test_both_workers_answer_http_on_one_port(workers: Workers) -> None:
    nodes = health_nodes(workers, 40)
    assert set(nodes) == {"wk-1", "wk-2"}, nodes  # (all 40 on one worker: 2**-39)


def test_xmpp_connections_land_on_both_workers(workers: Workers) -> None:
    pids = set(workers.pids().values())
    owners = [xmpp_owner(workers, pids) for _ in range(30)]
    assert set(owners) == pids, owners


def xserver(workers: Workers) -> XServer:
    """The running workers as the XMPP helpers take a server, with the app made before the start."""
    assert workers.app is not None
    server = Server("postgresql", workers.base, workers.env, {"main": workers.app}, workers.process)
    return XServer(server, workers.xmpp_port, Api(server))


def test_a_message_between_users_on_the_two_workers_is_delivered_live(workers: Workers) -> None:
    xs = xserver(workers)
    alice, bob = unique("alice"), unique("bob")
    xs.api.register(alice, bob)
    pids = workers.pids()
    on_1, on_2 = login_on(xs, alice, pids[1], set(pids.values())), login_on(xs, bob, pids[2], set(pids.values()))
    try:
        for raw in (on_1, on_2):
            raw.send("<presence/>")
        status = f"/users/{bob}/status"
        until(lambda: all(xs.api.get(status).json()["data"][bob] == "online" for _ in range(6)), "bob is online")
        on_1.send(f"<message to='{xs.jid(bob)}' type='chat' id='m1'><body>from worker 1</body></message>")
        got = on_2.read_until(b"</message>")
        assert "<body>from worker 1</body>" in got and f"from='{xs.jid(alice)}'" in got.replace('"', "'"), got
    finally:
        on_1.close()
        on_2.close()
    count = f"/users/{bob}/offline_msg_count"
    until(lambda: xs.api.get(count).json()["data"][bob] == 0, "nothing waits offline for bob", timeout=10)


def login_on(xs: XServer, username: str, pid: int, pids: set[int]) -> Raw:
    """An XMPP stream of `username`'s that worker `pid` took (connections are tried until one lands
    there), authenticated and bound to the resource `raw`."""
    for _ in range(100):
        raw = Raw(xs)
        raw.open()
        if socket_owner(xs.port, raw.sock.getsockname()[1], pids) == pid:
            break
        raw.close()
    else:
        raise AssertionError(f"no connection landed on pid {pid}")
    authcid = xs.jid(username).split("@")[0]
    raw.send(
        f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(authcid, 'secret1')}</auth>"
    )
    assert "<success" in raw.read_until(b"success")
    assert "<bind" in raw.open()
    raw.send(
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>"
    )
    assert f"@{DOMAIN}/raw" in raw.read_until(b"</iq>")
    return raw


def bosh_post(workers: Workers, payload: str, pids: set[int], **attrs: str) -> tuple[int, ET.Element]:
    """One BOSH request on a connection of its own: the pid of the worker that took the connection,
    and the answer's <body/>."""
    text = " ".join(f"{k}='{v}'" for k, v in attrs.items())
    data = f"<body {text} xmlns='{HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh'>{payload}</body>".encode()
    port = int(workers.env["HXIM_HTTP_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = "POST /http-bind/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
        sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        headers, _, body = answer.partition(b"\r\n\r\n")
        assert headers.startswith(b"HTTP/1.1 200"), answer
        length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))  # type: ignore[union-attr]
        while len(body) < length:
            body += sock.recv(65536)
        owner = socket_owner(port, sock.getsockname()[1], pids)  # (the connection is kept alive: still held)
    return owner, ET.fromstring(body)


def test_a_bosh_session_is_served_whichever_worker_each_request_reaches(workers: Workers) -> None:
    xs = xserver(workers)
    carol = unique("carol")
    xs.api.register(carol)
    pids = set(workers.pids().values())
    rid = iter(range(5000, 6000))
    took, created = bosh_post(
        workers,
        "",
        pids,
        rid=str(next(rid)),
        to="easemob.com",
        wait="2",
        hold="1",
        ver="1.6",
        **{"xmpp:version": "1.0"},
    )
    sid = created.get("sid")
    assert sid and re.fullmatch(r"[A-Za-z0-9_-]+\.[12]", sid), created.attrib  # the sid names its worker
    holder = workers.pids()[int(sid.rsplit(".", 1)[1])]
    assert took == holder
    seen: list[int] = []

    def request(payload: str = "", **attrs: str) -> ET.Element:
        owner, body = bosh_post(workers, payload, pids, rid=str(next(rid)), sid=sid, **attrs)
        seen.append(owner)
        assert body.get("type") != "terminate", ET.tostring(body)
        return body

    authcid = xs.jid(carol).split("@")[0]
    ok = request(
        f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(authcid, 'secret1')}</auth>"
    )
    assert ok.find("{urn:ietf:params:xml:ns:xmpp-sasl}success") is not None, ET.tostring(ok)
    request(to="easemob.com", **{"xmpp:restart": "true"})
    bound = request(
        "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<resource>bosh</resource></bind></iq>"
    )
    assert f"{xs.jid(carol)}/bosh".encode() in ET.tostring(bound), ET.tostring(bound)
    request("<presence xmlns='jabber:client'/>")
    for i in range(100):  # until both workers have each taken a few of the session's requests
        if min(seen.count(pid) for pid in pids) >= 3:
            break
        request(f"<iq xmlns='jabber:client' type='get' id='ping{i}'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert min(seen.count(pid) for pid in pids) >= 3, seen
    r = xs.api.post(
        "/messages",
        json={
            "target_type": "users",
            "target": [carol],
            "from": "admin",
            "msg": {"type": "txt", "msg": "to a BOSH session"},
        },
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while b"to a BOSH session" not in ET.tostring(request()):
        assert time.monotonic() < deadline, "the message never came"


def test_a_scrape_of_metrics_answers_for_every_worker(workers: Workers) -> None:
    xs = xserver(workers)
    route = "/{org}/{app}/users/{username}"
    for _ in range(20):  # REST calls over new connections: counted by whichever worker took each
        assert (
            httpx.get(
                xs.server.base_url + f"/test/main/users/{unique('none')}",
                headers={"Authorization": f"Bearer {xs.api.token}"},
            ).status_code
            == 404
        )
    for _ in range(6):  # whichever worker each scrape reaches, it answers for both
        r = httpx.get(workers.base + "/metrics", timeout=10)
        assert r.status_code == 200, r.text
        samples = [s for family in text_string_to_metric_families(r.text) for s in family.samples]
        assert {s.labels.get("node") for s in samples} == {"wk-1", "wk-2"}, r.text[:2000]
        memory = {s.labels["node"]: s.value for s in samples if s.name == "process_resident_memory_bytes"}
        assert set(memory) == {"wk-1", "wk-2"} and min(memory.values()) > 10e6, memory
        counted = [
            s.value
            for s in samples
            if s.name == "hxim_http_requests_total" and (s.labels["route"], s.labels["status"]) == (route, "404")
        ]
        assert sum(counted) >= 20, counted
    r = httpx.get(workers.base + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403  # the public port's rule stands: loopback only (metrics_access is local)


def test_a_killed_worker_is_started_again_and_serves(workers: Workers) -> None:
    before = workers.pids()
    killed = before[2]
    os.kill(killed, signal.SIGKILL)
    until(lambda: gone(killed), "the killed worker has gone")
    assert set(health_nodes(workers, 10)) <= {"wk-1", "wk-2"}  # served meanwhile, by worker 1 or the new one
    until(lambda: workers.pids()[2] != killed and workers.serving("wk-2") == 2, "worker 2 serves again")
    log = workers.log()
    assert re.search(
        rf"WARNING hxim: hxim worker 2 \(pid {killed}, node wk-2\) was killed by SIGKILL; starting it again", log
    ), log
    assert set(health_nodes(workers, 40)) == {"wk-1", "wk-2"}
    pids = set(workers.pids().values())
    assert pids == {before[1], workers.pids()[2]}
    assert {xmpp_owner(workers, pids) for _ in range(30)} == pids


def test_sigterm_stops_every_worker_and_exits_0(tmp_path: Path) -> None:
    workers = start(tmp_path)
    try:
        pids = set(workers.pids().values())
        assert workers.stop() == 0
        assert all(gone(pid) for pid in pids)
        lines = workers.log().splitlines()
        assert any("INFO hxim: hxim stopping (SIGTERM): 2 workers to stop" in line for line in lines)
        for node in ("wk-1", "wk-2"):
            assert any(f"INFO hxim[{node}]: hxim stopped after " in line for line in lines), node
        assert " INFO hxim: hxim stopped after " in lines[-1], lines[-3:]  # the supervisor's, last
        # a fresh database: worker 1 migrated it and made the default app, the other started after
        assert sum("created the default app" in line for line in lines) == 1
        with pytest.raises(httpx.ConnectError):
            httpx.get(workers.base + "/health", timeout=5)
    finally:
        finish(workers)


def test_a_worker_that_does_not_stop_in_time_is_killed(tmp_path: Path) -> None:
    workers = start(tmp_path, HXIM_WORKER_STOP_TIMEOUT_SECONDS="2")
    try:
        pids = workers.pids()
        os.kill(pids[2], signal.SIGSTOP)  # it cannot handle SIGTERM now
        assert workers.stop() == 0
        assert all(gone(pid) for pid in pids.values())
        log = workers.log()
        assert f"WARNING hxim: hxim worker 2 (pid {pids[2]}, node wk-2) did not stop within 2 s; killing it" in log
        assert "INFO hxim[wk-1]: hxim stopped after " in log and "INFO hxim[wk-2]: hxim stopped after " not in log
        assert " INFO hxim: hxim stopped after " in log.splitlines()[-1]
    finally:
        finish(workers)


def test_ctrl_c_on_a_terminal_stops_every_worker_and_exits_0(tmp_path: Path) -> None:
    workers = start(tmp_path, session=True)
    try:
        pids = set(workers.pids().values())
        os.killpg(workers.process.pid, signal.SIGINT)  # what the terminal does: the whole process group
        assert workers.process.wait(timeout=60) == 0
        assert all(gone(pid) for pid in pids)
        log = workers.log()
        assert "INFO hxim: hxim stopping (SIGINT): 2 workers to stop" in log
        for node in ("wk-1", "wk-2"):
            assert f"INFO hxim[{node}]: hxim stopped after " in log, node
        assert " INFO hxim: hxim stopped after " in log.splitlines()[-1]
        assert "Traceback" not in log and "KeyboardInterrupt" not in log
    finally:
        finish(workers)


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    workers = start(tmp_path)
    try:
        pids = set(workers.pids().values())
        workers.process.kill()
        workers.process.wait(timeout=10)
        until(lambda: all(gone(pid) for pid in pids), "the workers have stopped")
        for node in ("wk-1", "wk-2"):
            assert f"INFO hxim[{node}]: hxim stopped after " in workers.log(), node  # as on SIGTERM
    finally:
        finish(workers)


def test_a_worker_that_keeps_failing_stops_everything(tmp_path: Path) -> None:
    workers = start(tmp_path, HXIM_WORKER_RESTART_DELAY_SECONDS="0.2", HXIM_WORKER_FAILURES_MAX="2")
    try:
        pids = workers.pids()
        assert workers.pg_name
        _drop_pg(workers.pg_name)  # a worker started now cannot open its database
        os.kill(pids[2], signal.SIGKILL)  # served less than worker_stable_seconds: failure 1
        assert workers.process.wait(timeout=90) == 3, workers.log()
        lines = workers.log().splitlines()
        assert lines[-1] == (
            "hxim: worker 2 (node wk-2) failed 2 times in a row before it had served 10 s, and every worker was "
            "stopped; the last time it exited with code 3 (the database (or a cluster's Redis) cannot be used: "
            "unreachable, refusing the login, or not created yet)"
        ), lines[-5:]
        assert any("starting it again in 0.2 s" in line for line in lines)
        assert len(workers.pids()) == 2 and all(gone(pid) for pid in pids.values())
    finally:
        finish(workers)


# --- starts that fail ---------------------------------------------------------------------------------


def run_serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HXIM, "serve", *args], env=env, capture_output=True, text=True, timeout=120)


def plain_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(HXIM_CONFIG=str(tmp / "none.toml"), HXIM_DATA_DIR=str(tmp / "data"), **extra)
    return env


def test_a_port_in_use_stops_the_start_before_any_worker(tmp_path: Path) -> None:
    # no database is touched: this one was never created
    env = plain_env(
        tmp_path,
        HXIM_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/never_created_hxim",
        HXIM_REDIS_URL=REDIS,
        HXIM_XMPP_ALLOW_PLAINTEXT="true",
        HXIM_XMPP_PORT=str(free_port()),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_serve(env, "--workers", "2", "--host", "127.0.0.1", "--port", str(port))
        assert (r.returncode, r.stderr, r.stdout) == (
            4,
            f"hxim: cannot listen on 127.0.0.1:{port} (HTTP): address already in use; choose another port with "
            "--port\n",
            "",
        )
        r = run_serve(env, "--workers", "2", "--host", "127.0.0.1", "--port", "0", "--xmpp-port", str(port))
        assert (r.returncode, r.stderr, r.stdout) == (
            4,
            f"hxim: cannot listen on 127.0.0.1:{port} (XMPP): address already in use; choose another port with "
            "--xmpp-port\n",
            "",
        )


def test_workers_need_redis_and_postgresql(tmp_path: Path) -> None:
    r = run_serve(plain_env(tmp_path, HXIM_DATABASE_URL="postgresql://postgres@127.0.0.1/x"), "--workers", "2")
    assert (r.returncode, r.stderr) == (
        1,
        "hxim: workers is above 1, so redis_url must be set: the worker processes route through Redis\n",
    )
    r = run_serve(plain_env(tmp_path, HXIM_REDIS_URL=REDIS, HXIM_WORKERS="2"))
    assert (r.returncode, r.stderr) == (
        1,
        "hxim: redis_url is set, so database_url must name PostgreSQL: nodes of a cluster share one database, and a "
        "SQLite file cannot be shared\n",
    )
    assert not (tmp_path / "data").exists()


def test_a_database_that_cannot_be_reached_ends_the_start_as_on_one_node(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = plain_env(
        tmp_path, HXIM_DATABASE_URL=f"postgresql://hxim@127.0.0.1:{port}/hxim", HXIM_REDIS_URL=REDIS, HXIM_NODE_ID="wk"
    )
    r = run_serve(env, "--workers", "2", "--host", "127.0.0.1", "--port", "0")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.splitlines()
    assert lines[-1] == f"hxim: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused", lines
    assert [node for _, _, node in STARTED.findall(r.stderr)] == ["wk-1"]  # the others were never started
