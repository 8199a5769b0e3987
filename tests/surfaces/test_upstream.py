"""Upstream mode: both seed APIs drive a remote Easemob-compatible REST API.

The remote is a second hxim that the test starts; the local server is configured with
`upstream_*` settings against it. Shown here: the seed documents' calls working through the
remote, the admin token cached (and renewed before expiry and after a 401), 429 answers
retried with backoff, and a remote that hangs or is gone answering a clean error in each
surface's own format. App users and group faces stay local.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from conftest import Api, Server, start_server, stop_server

SECRET = "upstream-test-secret-0123456789abcdef"


@dataclass
class Setup:
    remote: Server
    local: Server
    hanging: Server  # upstream = a socket that never answers (then: nothing listening)
    hole: BlackHole

    @property
    def rest(self) -> Api:
        """The remote app, over its own REST API."""
        return Api(self.remote, "main")


class BlackHole:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def upstream_env(remote: Server, **extra: str) -> dict[str, str]:
    creds = remote.apps["main"]
    return {
        "HXIM_UPSTREAM_BASE_URL": remote.base_url,
        "HXIM_UPSTREAM_ORG": creds.org,
        "HXIM_UPSTREAM_APP": creds.app,
        "HXIM_UPSTREAM_CLIENT_ID": creds.client_id,
        "HXIM_UPSTREAM_CLIENT_SECRET": creds.client_secret,
        "HXIM_APP_API_JWT_SECRET": SECRET,
        "HXIM_APP_API_BCRYPT_ROUNDS": "4",
        **extra,
    }


@pytest.fixture(scope="module")
def setup(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    backend = server.backend
    base = tmp_path_factory.mktemp(f"hxim-upstream-{backend}")
    for name in ("remote", "local", "hanging"):
        (base / name).mkdir()
    started: list[tuple[Server, str | None]] = []
    hole = BlackHole()
    try:
        # the remote: tokens live 60 s, app changes are seen at once, 2 offline counts per second
        remote = start_server(
            base / "remote",
            backend,
            {"HXIM_TOKEN_TTL_SECONDS": "60", "HXIM_APP_CACHE_SECONDS": "0", "HXIM_RATE_LIMITS__offline": "2"},
        )
        started.append(remote)
        # the local server renews the remote token 54 s before it expires: 6 s after fetching it (room
        # for two requests on a loaded machine)
        local = start_server(
            base / "local",
            backend,
            upstream_env(remote[0], HXIM_UPSTREAM_TOKEN_MARGIN_SECONDS="54", HXIM_UPSTREAM_BACKOFF_SECONDS="0.2"),
        )
        started.append(local)
        hanging_env = upstream_env(remote[0], HXIM_UPSTREAM_TIMEOUT_SECONDS="1", HXIM_UPSTREAM_RETRIES="1")
        hanging_env["HXIM_UPSTREAM_BASE_URL"] = f"http://127.0.0.1:{hole.port}"
        hanging = start_server(base / "hanging", backend, hanging_env)
        started.append(hanging)
        yield Setup(remote[0], local[0], hanging[0], hole)
    finally:
        hole.close()
        for srv, pg in reversed(started):
            stop_server(srv, pg)


def hx(server: Server, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    r = httpx.post(f"{server.base_url}/hx/{path}", json=body, timeout=30, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def hx_token(server: Server) -> str:
    out = hx(server, "getToken")
    assert out["code"] == 200, out
    return out["data"]["access_token"]


class AppClient:
    def __init__(self, local: Server) -> None:
        self.local = local
        self.admin = Api(local, "main")  # app users are managed on the local server
        self.http = local.client()

    def user(self, uid: int, **fields: Any) -> str:
        r = self.admin.put(f"/app_users/{uid}", json=fields)
        assert r.status_code == 200, r.text
        return jwt.encode({"sub": str(uid), "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")

    def call(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, "/api/v2/easemob" + path, headers={"Authorization": f"Bearer {token}"}, **kw)


# --- the seed APIs through the remote ------------------------------------------------------------


def test_gateway_through_the_remote(setup: Setup) -> None:
    local, rest = setup.local, setup.rest
    first = hx(setup.local, "getToken")
    assert first["code"] == 200 and first["data"]["application"] == setup.remote.apps["main"].application
    token = first["data"]["access_token"]
    assert rest.get("/users", token=token).status_code == 200  # the remote's own admin token
    out = hx(
        local,
        "registerUser",
        {"users": [{"username": "ua", "password": "p1"}, {"username": "ub", "password": "p2"}], "token": token},
    )
    assert out["code"] == 200 and [e["username"] for e in out["data"]["entities"]] == ["ua", "ub"]
    assert rest.get("/users/ua").status_code == 200  # on the remote
    assert hx(local, "addFriends", {"owner_username": "ua", "friend_username": "ub", "token": token})["code"] == 200
    out = hx(local, "getFriends", {"owner_username": "ua", "type": "contacts", "token": token})
    assert out["data"]["data"] == ["ub"] and out["data"]["uri"].startswith(setup.remote.base_url)
    body = {
        "target_type": "users",
        "target": ["ub"],
        "msg": {"type": "txt", "msg": "hi"},
        "from": "ua",
        "ext": {"k": "v"},
        "token": token,
    }
    assert hx(local, "sendMessages", body)["data"]["data"] == {"ub": "success"}
    assert rest.get("/users/ub/offline_msg_count").json()["data"] == {"ub": 1}
    got = hx(local, "getUser", {"username": "ua", "token": token})
    direct = rest.get("/users/ua").json()
    assert got["data"]["entities"] == direct["entities"]
    assert hx(local, "getUser", {"limit": 20, "token": token})["data"]["count"] >= 2
    assert hx(local, "resetPassword", {"username": "ua", "newpassword": "np", "token": token})["code"] == 200
    # the remote's errors come back as the gateway's data
    out = hx(local, "getUser", {"username": "nobody", "token": token})
    assert out["code"] == 404 and out["message"] == "请求失败" and out["data"]["error"] == "service_resource_not_found"
    out = hx(local, "getUser", {"username": "ua", "token": "bad-token"})  # the caller's token goes to the remote
    assert out["code"] == 401 and out["data"]["error"] == "auth_bad_access_token"
    assert hx(local, "getUser", {"username": "ua"})["code"] == 401  # the gateway's own refusal


def test_app_api_through_the_remote(setup: Setup) -> None:
    app = AppClient(setup.local)
    rest = setup.rest
    owner = app.user(501, name="root", password="pw")
    app.user(502, name="m")
    # app users are local: the remote knows nothing of them until they are registered
    assert (
        setup.remote.client()
        .get("/test/main/app_users/501", headers={"Authorization": f"Bearer {setup.remote.admin_token()}"})
        .status_code
        == 404
    )
    r = app.call("GET", "/password", owner)
    assert r.status_code == 201, r.text
    pwd = r.json()["im_pwd_hash"]
    r = rest.post("/token", token=None, json={"grant_type": "password", "username": "501", "password": pwd})
    assert r.status_code == 200, r.text  # the IM account was made on the remote
    r = app.call("POST", "/register", owner, json={"user_ids": "501"})
    assert r.status_code == 400 and "exists" in r.json()["message"][0]  # the remote's error, in the app API's format
    assert app.call("POST", "/register/502", owner).status_code == 403
    assert app.call("GET", "/password", app.user(502)).status_code == 201
    r = app.call("POST", "/group", owner, json={"groupname": "远程群", "desc": "d", "members": "502"})
    assert r.status_code == 201, r.text
    gid = r.json()["im_group_id"]
    remote_group = rest.get(f"/chatgroups/{gid}").json()["data"][0]
    assert remote_group["owner"] == "501" and remote_group["name"] == "远程群"
    r = app.call("PATCH", "/group", owner, json={"im_group_id": gid, "desc": "新", "group_face": "https://x/f.png"})
    assert r.status_code == 201, r.text
    assert rest.get(f"/chatgroups/{gid}").json()["data"][0]["description"] == "新"
    r = app.call("GET", "/group", owner, params={"im_group_id": gid})
    [g] = r.json()
    assert [a["id"] for a in g["affiliations"]] == [501, 502] and g["group_face"] == "https://x/f.png"
    assert app.call("GET", "/group/face", owner, params={"im_group_id": gid}).json() == [
        {"im_group_id": gid, "group_face": "https://x/f.png"}
    ]
    notices = [m for m in rest.get("/chatmessages", params={"limit": 1000}).json()["entities"] if m["to"] == gid]
    assert [m["payload"]["ext"]["type"] for m in notices] == ["ts_group_create", "ts_group_change"]
    r = app.call("DELETE", "/group", owner, params={"im_group_id": gid})
    assert r.status_code == 204
    assert rest.get(f"/chatgroups/{gid}").status_code == 404


# --- the cached admin token ------------------------------------------------------------------------


def test_token_is_cached_then_renewed_before_expiry(setup: Setup) -> None:
    t1 = hx_token(setup.local)
    t2 = hx_token(setup.local)
    if t1 != t2:  # t1 was an earlier test's token at the end of its 6 s: t2 is fresh, cached from now
        t1, t2 = t2, hx_token(setup.local)
    assert t1 == t2  # cached: hxim issues a new token string on every token request
    time.sleep(6.5)  # the remote's tokens live 60 s; the local server renews 54 s early
    t3 = hx_token(setup.local)
    assert t3 != t1
    assert hx_token(setup.local) == t3


def _bump_token_epoch(remote: Server) -> None:
    """Revoke the remote app's admin tokens without changing its secret (white box: the remote's DB)."""
    url = remote.env.get("HXIM_DATABASE_URL")
    application = remote.apps["main"].application
    sql = "UPDATE apps SET token_epoch = token_epoch + 1 WHERE uuid = "
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql + "%s", (application,))
    else:
        import sqlite3

        conn = sqlite3.connect(Path(remote.env["HXIM_DATA_DIR"]) / "hxim.sqlite3", timeout=10)
        try:
            conn.execute(sql + "?", (application,))
            conn.commit()
        finally:
            conn.close()


def test_token_renewed_after_a_401(setup: Setup) -> None:
    app = AppClient(setup.local)
    me = app.user(601, name="x")
    assert app.call("GET", "/password", me).status_code == 201
    before = hx_token(setup.local)
    _bump_token_epoch(setup.remote)
    assert setup.rest.get("/users", token=before).status_code == 401  # revoked on the remote
    # the app API's next call gets a 401 with the cached token, renews it and succeeds
    r = app.call("GET", "/password", me)
    assert r.status_code == 201, r.text
    after = hx_token(setup.local)
    assert after != before and setup.rest.get("/users", token=after).status_code == 200
    # a gateway caller still holding the revoked token gets the remote's 401 as data
    out = hx(setup.local, "getUser", {"username": "601", "token": before})
    assert out["code"] == 401 and out["message"] == "请求失败"


# --- 429 and failures --------------------------------------------------------------------------------


def test_429_is_retried_with_backoff(setup: Setup) -> None:
    token = hx_token(setup.local)
    hx(setup.local, "registerUser", {"username": "limited", "password": "p", "token": token})
    # the remote allows 2 offline counts per second: a burst of direct calls gets 429s (with a
    # token of now: the remote's live 60 s, and a request that authenticates as nobody spends nothing)
    setup.remote.tokens.pop("main", None)
    direct = [setup.rest.get("/users/limited/offline_msg_count").status_code for _ in range(6)]
    assert 429 in direct
    time.sleep(1.1)
    # through the gateway, every call of a burst succeeds: 429s are retried after a pause
    started = time.monotonic()
    codes = [
        hx(setup.local, "offlineMsgCount", {"owner_username": "limited", "token": token})["code"] for _ in range(6)
    ]
    assert codes == [200] * 6
    assert time.monotonic() - started > 1.0  # it had to wait for the remote's budget


def test_hanging_then_unreachable_remote(setup: Setup) -> None:
    srv = setup.hanging
    app = AppClient(srv)
    me = app.user(701, name="x")
    started = time.monotonic()
    out = hx(srv, "getToken")
    assert out["code"] == 504 and out["message"] == "请求失败" and out["data"]["error"] == "upstream_timeout"
    assert "did not answer within 1 s" in out["data"]["error_description"]
    assert time.monotonic() - started < 10  # a bounded wait: timeout 1 s, one retry at most
    out = hx(srv, "getUser", {"username": "x", "token": "some-token"})
    assert out["code"] == 504 and out["data"]["error"] == "upstream_timeout"
    r = app.call("GET", "/password", me)
    assert r.status_code == 500 and r.json() == {"message": ["the upstream Easemob API did not answer within 1 s"]}
    # now nothing listens there any more
    setup.hole.close()
    out = hx(srv, "getUser", {"username": "x", "token": "some-token"})
    assert out["code"] == 502 and out["data"]["error"] == "upstream_unavailable", out
    assert set(out["data"]) == {"error", "timestamp", "duration", "error_description"}
    r = app.call("GET", "/password", me)
    assert r.status_code == 500 and r.json()["message"][0].startswith("the upstream Easemob API could not be reached")
    # the local parts still work: app users and faces are local
    assert app.call("GET", "/group/face", me, params={"im_group_id": "1"}).json() == [
        {"im_group_id": "1", "group_face": None}
    ]


def test_stale_credentials_give_a_clean_error(setup: Setup) -> None:
    """Last in the module: rotating the remote secret leaves the local server with stale credentials."""
    r = setup.remote.cli("app", "rotate-secret", "test", "main", "--json")
    assert r.returncode == 0, r.stderr
    app = AppClient(setup.local)
    me = app.user(801, name="x")
    # the cached token is revoked (401), the renewal with the old secret is refused: that refusal is the answer
    r = app.call("GET", "/password", me)
    assert r.status_code == 500 and r.json() == {"message": ["client_secret does not match"]}
    out = hx(setup.local, "getToken")
    assert out["code"] == 400 and out["message"] == "请求失败"
    assert out["data"] == {"error_description": "client_secret does not match", "error": "invalid_grant"}


def test_settings_are_checked_at_start(tmp_path: Path) -> None:
    from hxim.config import Settings

    with pytest.raises(ValueError, match="upstream_client_secret"):
        Settings(upstream_base_url="http://127.0.0.1:1", upstream_org="o", upstream_app="a", upstream_client_id="c")
    with pytest.raises(ValueError, match="http"):
        Settings(
            upstream_base_url="ftp://x",
            upstream_org="o",
            upstream_app="a",
            upstream_client_id="c",
            upstream_client_secret="s",
        )
