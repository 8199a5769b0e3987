"""Shared fixtures: a real hxim server process per storage backend, and HTTP helpers.

Every test that takes `server` runs twice: on the embedded SQLite file and on PostgreSQL
(127.0.0.1:5432, trust auth; a fresh database is created for the session and dropped after).
Set HXIM_TEST_BACKENDS=sqlite to run only one.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
HXIM = [sys.executable, "-m", "hxim"]
PG_ADMIN_URL = os.environ.get("HXIM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("HXIM_TEST_BACKENDS", "sqlite,postgresql").split(",")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppCreds:
    org: str
    app: str
    client_id: str
    client_secret: str
    application: str


@dataclass
class Server:
    """A running hxim process and the apps created for the tests."""

    backend: str
    base_url: str
    env: dict[str, str]
    apps: dict[str, AppCreds]
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HXIM, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def admin_token(self, name: str = "main") -> str:
        if name not in self.tokens:
            creds = self.apps[name]
            r = httpx.post(
                f"{self.base_url}/{creds.org}/{creds.app}/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                },
            )
            assert r.status_code == 200, r.text
            self.tokens[name] = r.json()["access_token"]
        return self.tokens[name]


def _pg_database() -> tuple[str, str]:
    import psycopg

    name = f"hxim_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(tmp: Path, backend: str, extra_env: dict[str, str] | None = None) -> tuple[dict[str, str], str | None]:
    """The environment of a test server on `backend` (with its HTTP port in HXIM_HTTP_PORT), and the
    name of the PostgreSQL database created for it (None on SQLite: a file under `tmp`)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(
        {
            "HXIM_HTTP_HOST": "127.0.0.1",
            "HXIM_HTTP_PORT": str(port),
            "HXIM_DATA_DIR": str(tmp / "data"),
            "HXIM_CONFIG": str(tmp / "none.toml"),
            "HXIM_SCRAM_ITERATIONS": "4096",
            # every test logs in from 127.0.0.1: only the per-account-and-address limit stays (the
            # throttle's own tests set the others)
            "HXIM_LOGIN_FAILURES_PER_ADDRESS": "1000000",
            "HXIM_LOGIN_FAILURES_PER_ACCOUNT": "1000000",
        }
    )
    pg_name = None
    if backend == "postgresql":
        pg_name, url = _pg_database()
        env["HXIM_DATABASE_URL"] = url
    env.update(extra_env or {})
    return env, pg_name


def start_server(tmp: Path, backend: str, extra_env: dict[str, str] | None = None) -> tuple[Server, str | None]:
    env, pg_name = server_env(tmp, backend, extra_env)
    apps: dict[str, AppCreds] = {}
    for key, args in (
        ("main", ["test", "main"]),
        ("other", ["test", "other"]),
        ("open", ["test", "open", "--open-registration"]),
    ):
        r = subprocess.run(
            [*HXIM, "app", "create", *args, "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        apps[key] = AppCreds(data["org"], data["app"], data["client_id"], data["client_secret"], data["application"])
    base = f"http://127.0.0.1:{env['HXIM_HTTP_PORT']}"
    return Server(backend, base, env, apps, serve(env, base, tmp / "server.log")), pg_name


def serve(env: dict[str, str], base: str, log_path: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `hxim serve` with `env` (its output appended to `log_path`) and wait until it answers."""
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([*HXIM, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("server did not start: " + log_path.read_text())
    return proc


def run_on_terminal(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> tuple[int, str, str]:
    """Run `command` with its stderr on a terminal (a pty, read while it runs): (exit code, what
    the terminal showed, stdout)."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=secondary, text=True)
        os.close(secondary)
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc.communicate(timeout=timeout)
    finally:
        os.close(primary)
    return proc.returncode, seen.decode(), out


def stop_server(server: Server, pg_name: str | None) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
    if pg_name:
        _drop_pg(pg_name)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"hxim-{request.param}")
    srv, pg_name = start_server(tmp, request.param)
    yield srv
    stop_server(srv, pg_name)


class Api:
    """A thin client for one app of the test server: paths are relative to /{org}/{app}."""

    def __init__(self, server: Server, app: str = "main", token: str | None = "admin") -> None:
        self.server = server
        self.creds = server.apps[app]
        self.prefix = f"/{self.creds.org}/{self.creds.app}"
        self.http = server.client()
        self.token = server.admin_token(app) if token == "admin" else token

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, *, token: Any = "default", **kw: Any) -> httpx.Response:
        tok = self.token if token == "default" else token
        headers = {**self.headers(tok), **kw.pop("headers", {})}
        return self.http.request(method, self.prefix + path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("DELETE", path, **kw)

    def register(self, *names: str, password: str = "secret1") -> list[dict[str, Any]]:
        body = [{"username": n, "password": password} for n in names]
        r = self.post("/users", json=body)
        assert r.status_code == 200, r.text
        return r.json()["entities"]

    def user_token(self, username: str, password: str = "secret1") -> str:
        r = self.post("/token", token=None, json={"grant_type": "password", "username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture
def api(server: Server) -> Api:
    return Api(server)


def wrong_secret(secret: str) -> str:
    """A share-secret that differs from `secret` in its last character."""
    return secret[:-1] + ("x" if secret[-1] != "x" else "y")


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_error(r: httpx.Response, status: int, error: str, description: str | None = None) -> dict[str, Any]:
    """An Easemob error body: status, `error` code, and the envelope keys in order."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "timestamp", "duration", "exception", "error_description"}, body
    assert isinstance(body["timestamp"], int) and isinstance(body["duration"], int)
    if description is not None:
        assert body["error_description"] == description, body
    return body


# --- helpers added for the REST conformance suite ------------------------------------------------


def new_app(server: Server, *, open_registration: bool = False) -> Api:
    """A fresh app on a running server (created with the CLI), for tests that need an app to themselves."""
    name = unique("app")
    args = ["app", "create", "test", name, "--json"] + (["--open-registration"] if open_registration else [])
    r = server.cli(*args)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    server.apps[name] = AppCreds(
        data["org"], data["app"], data["client_id"], data["client_secret"], data["application"]
    )
    return Api(server, name)


def server_token_key(server: Server) -> bytes:
    """The token-signing key of a running server, read from its database (table server_keys)."""
    url = server.env.get("HXIM_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT value FROM server_keys WHERE name = 'token-hmac'").fetchone()
    else:
        import sqlite3

        conn = sqlite3.connect(Path(server.env["HXIM_DATA_DIR"]) / "hxim.sqlite3")
        try:
            row = conn.execute("SELECT value FROM server_keys WHERE name = 'token-hmac'").fetchone()
        finally:
            conn.close()
    assert row is not None
    return bytes(row[0])


@pytest.fixture(scope="module")
def extra_server(
    request: pytest.FixtureRequest, server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A second server on the same backend as `server`, started with the module's `EXTRA_ENV` settings."""
    extra_env: dict[str, str] = request.module.EXTRA_ENV
    tmp = tmp_path_factory.mktemp(f"hxim-extra-{server.backend}")
    srv, pg_name = start_server(tmp, server.backend, extra_env)
    yield srv
    stop_server(srv, pg_name)


def assert_envelope(body: dict[str, Any], keys: list[str], action: str) -> None:
    """A Usergrid success envelope: exactly these keys in this order, and the action label."""
    assert list(body) == keys, list(body)
    assert body["action"] == action, body
    assert isinstance(body["timestamp"], int) and isinstance(body["duration"], int)
    assert abs(body["timestamp"] - time.time() * 1000) < 60_000


def assert_user_entity(entity: dict[str, Any], username: str, activated: bool = True, **extra: Any) -> None:
    """A user entity: Usergrid's fields in order, then the optional fields that were set."""
    keys = ["uuid", "type", "created", "modified", "username", "activated", *extra]
    assert list(entity) == keys, entity
    assert uuid.UUID(entity["uuid"]).version == 1
    assert entity["type"] == "user"
    assert isinstance(entity["created"], int) and isinstance(entity["modified"], int)
    assert abs(entity["created"] - time.time() * 1000) < 600_000
    assert entity["modified"] >= entity["created"]
    assert entity["username"] == username
    assert entity["activated"] is activated
    for key, value in extra.items():
        assert entity[key] == value, (key, entity)


class Relay:
    """A TCP relay in front of PostgreSQL that the test can cut: `close` stops listening and drops
    every connection (the port is closed, as when the database is down), `open` listens again on
    the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if self.listener is None:
            return
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()
        self.listener = None
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.sockets = []
