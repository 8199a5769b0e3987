"""What an operator watches (docs/operating.md), against real `hxim serve` processes: /health,
/ready (and /ready when the database is gone: the SQLite file moved away, PostgreSQL's port
closed), /metrics after XMPP logins, messages and REST calls (the counters move by what was
done), a callback rule that fails, who may read /metrics, JSON log lines, the access log only
when it is on, and the lines at start and at stop."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from xmpp_helpers import Client, XServer, run, start_xmpp_server, until

from callback_receiver import FAST, add_rule, appkey
from conftest import BACKENDS, HXIM, Relay, Server, _drop_pg, _pg_database, free_port, start_server, stop_server, unique

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

# failed callbacks are tried again within a fraction of a second, a rule backs off after two
FAST_CALLBACKS = {**FAST, "HXIM_CALLBACK_RULE_BACKOFF_AFTER": "2"}


@pytest.fixture(scope="module", params=BACKENDS)
def oserver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    """A server with the default operating settings: /metrics for loopback only, text logs, no
    access log."""
    tmp = tmp_path_factory.mktemp(f"hxim-operating-{request.param}")
    xs, pg_name = start_xmpp_server(tmp, request.param, **FAST_CALLBACKS)
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def scrape(base_url: str, **kw: Any) -> Samples:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    r = httpx.get(base_url + "/metrics", timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def log_of(server: Server) -> str:
    return (Path(server.env["HXIM_DATA_DIR"]).parent / "server.log").read_text()


# --- /health and /ready ------------------------------------------------------------------------


def test_health_and_ready_answer_while_the_node_serves(oserver: XServer) -> None:
    base = oserver.server.base_url
    r = httpx.get(base + "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = httpx.get(base + "/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["database"]["seconds"] < 2


def test_ready_says_so_when_the_sqlite_file_is_gone(tmp_path: Path) -> None:
    server, _ = start_server(tmp_path, "sqlite", {"HXIM_READY_TIMEOUT_SECONDS": "1"})
    try:
        base = server.base_url
        assert httpx.get(base + "/ready").status_code == 200
        db = Path(server.env["HXIM_DATA_DIR"]) / "hxim.sqlite3"
        db.rename(db.with_name("moved.sqlite3"))  # a volume unmounted, a data dir wiped
        r = httpx.get(base + "/ready")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not ready"
        assert body["error"] == "database unreachable: unable to open database file", body
        assert body["checks"]["database"]["status"] == "failed"
        assert httpx.get(base + "/health").status_code == 200  # alive, only not ready
        db.with_name("moved.sqlite3").rename(db)
        assert httpx.get(base + "/ready").status_code == 200
        log = log_of(server)
        assert "not ready: database unreachable: unable to open database file" in log
        assert "ready again: database answers" in log
    finally:
        stop_server(server, None)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL is not among HXIM_TEST_BACKENDS")
def test_ready_says_so_when_postgresql_is_down(tmp_path: Path) -> None:
    pg_name, url = _pg_database()
    relay = Relay(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/", 1)[0])))
    via_relay = url.replace(url.split("@", 1)[1].split("/", 1)[0], f"127.0.0.1:{relay.port}")
    server, _ = start_server(tmp_path, "sqlite", {"HXIM_DATABASE_URL": via_relay, "HXIM_READY_TIMEOUT_SECONDS": "2"})
    try:
        base = server.base_url
        assert httpx.get(base + "/ready").status_code == 200
        relay.close()
        r = httpx.get(base + "/ready", timeout=10)  # its connection broken, a new one refused
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error.startswith("database unreachable: ") and "Connection refused" in error, error
        assert httpx.get(base + "/health").status_code == 200
        relay.open()
        r = httpx.get(base + "/ready", timeout=10)
        assert r.status_code == 200, r.text
    finally:
        stop_server(server, None)
        relay.close()
        _drop_pg(pg_name)


# --- /metrics --------------------------------------------------------------------------------


def test_metrics_count_logins_messages_and_requests(oserver: XServer) -> None:
    base = oserver.server.base_url
    a, b, c = unique("ma"), unique("mb"), unique("mc")
    before = scrape(base)
    oserver.api.register(a, b, c)  # c stays offline

    async def scenario() -> Samples:
        alice, bob = Client(oserver, a), Client(oserver, b)
        await alice.online()
        await bob.online()
        # one SASL attempt (slixmpp would try every mechanism offered, each a failed attempt)
        assert await Client(oserver, c, "not-the-password", mech="PLAIN").login() == "failed"
        during = scrape(base)
        for i in range(3):
            alice.send_message(mto=oserver.jid(b), mbody=f"hello {i}", mtype="chat")
        for i in range(3):
            assert (await bob.next_message())["body"] == f"hello {i}"
        for i in range(2):
            alice.send_message(mto=oserver.jid(c), mbody=f"later {i}", mtype="chat")
        await alice.sync()
        await until(lambda: oserver.api.get(f"/users/{c}/offline_msg_count").json()["data"][c] == 2)
        await alice.close()
        await bob.close()
        return during

    during = run(scenario)
    after = scrape(base)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    sessions = value(during, "hxim_sessions", protocol="xmpp_tcp") - value(before, "hxim_sessions", protocol="xmpp_tcp")
    assert sessions == 2
    assert moved("hxim_logins_total", protocol="xmpp_tcp", result="ok") == 2
    assert moved("hxim_logins_total", protocol="xmpp_tcp", result="failed") == 1
    assert moved("hxim_messages_stored_total", chat_type="chat") == 5
    assert moved("hxim_messages_routed_total") == 3
    assert moved("hxim_messages_offline_total") == 2
    assert moved("hxim_errors_total", surface="xmpp") == 0
    for protocol in ("xmpp_tcp", "xmpp_websocket", "bosh", "msync"):
        assert ("hxim_sessions", (("protocol", protocol),)) in after
        assert ("hxim_session_queue_items", (("protocol", protocol),)) in after
    # REST calls by route template, never by raw URL: the registration and the offline counts above
    route = "/{org}/{app}/users"
    assert moved("hxim_http_requests_total", route=route, method="POST", status="200") == 1
    count_route = "/{org}/{app}/users/{username}/offline_msg_count"
    assert moved("hxim_http_requests_total", route=count_route, method="GET", status="200") >= 1
    assert value(after, "hxim_http_request_duration_seconds_count", route=route, method="POST") >= 1
    assert value(after, "hxim_http_request_duration_seconds_bucket", route=route, method="POST", le="+Inf") >= 1
    assert not any(name in v for (_, labels) in after for _, v in labels for name in (a, b, c))  # no user in a label
    # every transaction of all that is timed
    assert moved("hxim_db_query_duration_seconds_count") >= 5
    assert value(after, "hxim_db_query_duration_seconds_sum") > 0
    # the process's own, and what waits in storage
    assert value(after, "process_resident_memory_bytes") > 0
    assert ("hxim_callbacks_outbox", (("state", "pending"),)) in after
    assert ("hxim_broadcasts_pending", ()) in after
    # once they have gone, their sessions are no longer counted
    run(lambda: until(lambda: value(scrape(base), "hxim_sessions", protocol="xmpp_tcp")
                      == value(before, "hxim_sessions", protocol="xmpp_tcp")))
    # a path no route names is counted under one label
    httpx.get(base + f"/no/such/{unique()}")
    assert moved_now(base, after, "hxim_http_requests_total", route="(unmatched)", method="GET", status="404") == 1


def moved_now(base: str, before: Samples, name: str, **labels: str) -> float:
    return value(scrape(base), name, **labels) - value(before, name, **labels)


def test_metrics_count_a_failing_callback_rule(oserver: XServer) -> None:
    """A post-send rule whose receiver is down: its failed tries counted under its name, its
    callbacks waiting in the outbox, and the rule backed off after two failures in a row."""
    api = oserver.api
    name = unique("rule")
    add_rule(api, name, f"http://127.0.0.1:{free_port()}/callback", "--events", "chat")  # nothing listens there
    a, b = unique("ca"), unique("cb")
    api.register(a, b)
    r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "hi"}})
    assert r.status_code == 200, r.text
    labels = {"app": appkey(api), "rule": name, "kind": "post"}

    def failing() -> Samples | None:
        samples = scrape(oserver.server.base_url)
        return samples if value(samples, "hxim_callback_failures_total", **labels) >= 2 else None

    samples = run(lambda: until(failing, timeout=15))
    assert value(samples, "hxim_callbacks_outbox", state="pending") >= 1
    assert value(samples, "hxim_callback_rules_backed_off") >= 1
    assert "failed 2 times in a row" in log_of(oserver.server)
    removed = api.server.cli("callback", "remove", appkey(api), name)
    assert removed.returncode == 0, removed.stderr


def test_metrics_are_for_this_machine_by_default(oserver: XServer) -> None:
    base = oserver.server.base_url
    scrape(base)  # from 127.0.0.1
    # through a reverse proxy on this machine, the client is who the proxy says (X-Forwarded-For)
    r = httpx.get(base + "/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "metrics are served to this machine only (metrics_access is local)\n"


def test_metrics_open_to_anyone(tmp_path: Path) -> None:
    server, _ = start_server(tmp_path, "sqlite", {"HXIM_METRICS_ACCESS": "open"})
    try:
        scrape(server.base_url, headers={"X-Forwarded-For": "203.0.113.7"})
    finally:
        stop_server(server, None)


def test_only_the_trusted_proxies_name_the_client(tmp_path: Path) -> None:
    """`trusted_proxies`: X-Forwarded-For is believed from these addresses only. Trusting none, a
    request from this machine comes from this machine, whatever its header says."""
    server, _ = start_server(tmp_path, "sqlite", {"HXIM_TRUSTED_PROXIES": "[]"})
    try:
        scrape(server.base_url, headers={"X-Forwarded-For": "203.0.113.7"})
    finally:
        stop_server(server, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update({"HXIM_DATA_DIR": str(tmp_path / "data"), "HXIM_CONFIG": str(tmp_path / "none.toml"),
                "HXIM_TRUSTED_PROXIES": '["10.0.0.0/8", "proxy.example"]'})
    done = subprocess.run([*HXIM, "config", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "'proxy.example' is not an address or a network" in done.stderr, done.stderr


# --- a server with JSON logs, the access log on, and /metrics behind a token --------------------


def test_token_access_json_logs_and_the_access_log(tmp_path: Path) -> None:
    token = "a-long-random-metrics-token"
    server, _ = start_server(
        tmp_path, "sqlite",
        {"HXIM_METRICS_ACCESS": "token", "HXIM_METRICS_TOKEN": token, "HXIM_LOG_FORMAT": "json",
         "HXIM_ACCESS_LOG": "true"},
    )
    stopped = False
    try:
        base = server.base_url
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.get(base + "/metrics", headers=headers)
            assert r.status_code == 403
            assert r.text == "metrics need the bearer token set as metrics_token (metrics_access is token)\n"
        scrape(base, headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.7"})
        creds = server.apps["main"]
        user = unique("lg")
        r = httpx.post(f"{base}/{creds.org}/{creds.app}/users?access_token=not-in-the-log",
                       json={"username": user, "password": "secret1"})
        assert r.status_code == 401, r.text
        stop_server(server, None)
        stopped = True
        lines = [line for line in log_of(server).splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        for rec in records:
            assert {"time", "level", "logger", "message"} <= set(rec), rec
            assert rec["time"].endswith("Z") and rec["level"] in ("debug", "info", "warning", "error")
        start = next(r for r in records if r["message"].startswith("hxim 0.1.0 listening on http://"))
        assert start["version"] == "0.1.0" and start["http"] == base
        assert start["database"].startswith("sqlite:///") and start["data_dir"] == server.env["HXIM_DATA_DIR"]
        access = [r for r in records if r["logger"] == "hxim.access"]
        wanted = {("GET", "/metrics", 403), ("GET", "/metrics", 200), ("POST", f"/{creds.org}/{creds.app}/users", 401)}
        assert wanted <= {(r["method"], r["path"], r["status"]) for r in access}, access
        for rec in access:
            assert rec["message"] == f"{rec['method']} {rec['path']} {rec['status']} {rec['duration_ms']:.1f} ms"
            assert rec["duration_ms"] >= 0 and rec["client"] in ("127.0.0.1", "203.0.113.7")
        assert not any("not-in-the-log" in line for line in lines)  # never a query string
        end = records[-1]
        assert end["message"].startswith("hxim stopped after ") and end["uptime_seconds"] > 0, end
    finally:
        if not stopped:
            stop_server(server, None)


def test_text_logs_have_no_access_log_by_default(oserver: XServer) -> None:
    base = oserver.server.base_url
    marker = unique("/nothing-here-")
    assert httpx.get(base + marker).status_code == 404
    httpx.get(base + "/health")
    log = log_of(oserver.server)
    assert marker not in log and "hxim.access" not in log
    assert "INFO hxim: hxim 0.1.0 listening on http://" in log  # text: time level logger: message
    assert not any(line.startswith("{") for line in log.splitlines())


def test_settings_refuse_token_access_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update({"HXIM_DATA_DIR": str(tmp_path / "data"), "HXIM_CONFIG": str(tmp_path / "none.toml"),
                "HXIM_METRICS_ACCESS": "token"})
    done = subprocess.run([*HXIM, "app", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "metrics_access is token, so metrics_token must be set too" in done.stderr
