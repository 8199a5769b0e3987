"""Tokens (easemob-rest.md §2) and the app CLI (`hxim app create/list --json`)."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import Api, AppCreds, Server, assert_user_entity, unique


def _bare_error(r: httpx.Response, status: int, error: str, description: str) -> None:
    """The bare OAuth error of /token: exactly error_description then error."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error_description", "error"], body
    assert body == {"error_description": description, "error": error}


def test_client_credentials(api: Api) -> None:
    creds = api.creds
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": creds.client_id,
                                              "client_secret": creds.client_secret})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["access_token", "expires_in", "application"]
    assert body["access_token"].startswith("YWMt")
    assert body["expires_in"] == 5184000
    assert body["application"] == creds.application
    # the token works
    assert api.get("/users", token=body["access_token"]).status_code == 200


def test_client_credentials_with_ttl(api: Api) -> None:
    creds = api.creds
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": creds.client_id,
                                              "client_secret": creds.client_secret, "ttl": 3600})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 3600


def test_client_credentials_wrong_id_or_secret(api: Api) -> None:
    creds = api.creds
    other = api.server.apps["other"]
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": other.client_id,
                                              "client_secret": creds.client_secret})
    _bare_error(r, 400, "invalid_grant", "client_id does not match")
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": creds.client_id,
                                              "client_secret": other.client_secret})
    _bare_error(r, 400, "invalid_grant", "client_secret does not match")


def test_password_grant(api: Api) -> None:
    name = unique("Pw")
    api.post("/users", json={"username": name, "password": "p@ss 1", "nickname": "三月三"})
    r = api.post("/token", token=None, json={"grant_type": "password", "username": name, "password": "p@ss 1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["access_token", "expires_in", "user"]
    assert body["access_token"].startswith("YWMt")
    assert body["expires_in"] == 5184000
    assert_user_entity(body["user"], name, nickname="三月三")
    assert body["user"] == api.get(f"/users/{name}").json()["entities"][0]
    # the user token reads its own user
    r = api.get(f"/users/{name}", token=body["access_token"])
    assert r.status_code == 200 and r.json()["entities"][0]["username"] == name


@pytest.mark.parametrize("password", ["wrong", "", None])
def test_password_grant_wrong_password(api: Api, password: str | None) -> None:
    name = unique()
    api.register(name)
    r = api.post("/token", token=None, json={"grant_type": "password", "username": name, "password": password})
    _bare_error(r, 400, "invalid_grant", "invalid username or password")


def test_password_grant_unknown_user(api: Api) -> None:
    r = api.post("/token", token=None, json={"grant_type": "password", "username": unique("ghost"), "password": "x"})
    _bare_error(r, 400, "invalid_grant", "invalid username or password")


def test_password_grant_is_per_app(api: Api) -> None:
    name = unique()
    api.register(name)
    other = Api(api.server, "other")
    r = other.post("/token", token=None, json={"grant_type": "password", "username": name, "password": "secret1"})
    _bare_error(r, 400, "invalid_grant", "invalid username or password")


def test_unsupported_grant_type(api: Api) -> None:
    r = api.post("/token", token=None, json={"grant_type": "implicit"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


# --- the CLI ---------------------------------------------------------------------------------------


def _check_app_json(data: dict, org: str, app: str, secret: bool = True) -> None:
    """An app as the CLI prints it: the client secret only where it was just made (create,
    rotate-secret), since only its hash is kept."""
    assert {"org", "app", "appkey", "application", "client_id"} <= set(data)
    assert ("client_secret" in data) is secret
    assert data["org"] == org and data["app"] == app and data["appkey"] == f"{org}#{app}"
    app_uuid = uuid.UUID(data["application"])
    assert data["client_id"].startswith("YXA6")
    assert "=" not in data["client_id"] and len(data["client_id"]) == 26
    raw = base64.urlsafe_b64decode(data["client_id"] + "==")
    assert raw == b"ap:" + app_uuid.bytes
    if secret:
        assert data["client_secret"].startswith("YXA6") and len(data["client_secret"]) > 10


def test_cli_app_create_and_list(server: Server) -> None:
    name = unique("cli")
    r = server.cli("app", "create", "test", name, "--open-registration", "--json")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    _check_app_json(created, "test", name)
    r = server.cli("app", "list", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert isinstance(listed, list)
    for entry in listed:
        _check_app_json(entry, entry["org"], entry["app"], secret=False)
    mine = [a for a in listed if a["app"] == name]
    assert mine == [{k: v for k, v in created.items() if k != "client_secret"}]
    assert {a["appkey"] for a in listed} >= {"test#main", "test#other", "test#open", f"test#{name}"}
    # the running server serves the new app with those credentials (open registration included)
    server.apps[name] = AppCreds("test", name, created["client_id"], created["client_secret"], created["application"])
    api = Api(server, name, token=None)
    r = api.post("/token", json={"grant_type": "client_credentials", "client_id": created["client_id"],
                                 "client_secret": created["client_secret"]})
    assert r.status_code == 200, r.text
    assert r.json()["application"] == created["application"]
    r = api.post("/users", json={"username": "first", "password": "pw"})
    assert r.status_code == 200, r.text


def test_client_secrets_are_kept_as_hashes(server: Server) -> None:
    """The database holds no client secret: a hash of it, so that its copy (a backup, a stolen
    file) gives nobody an admin token."""
    name = unique("hashed")
    created = json.loads(server.cli("app", "create", "test", name, "--json").stdout)
    url = server.env.get("HXIM_DATABASE_URL")
    query = f"SELECT secret_hash FROM apps WHERE name = '{name}'"
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(query).fetchone()
    else:
        import sqlite3

        conn = sqlite3.connect(Path(server.env["HXIM_DATA_DIR"]) / "hxim.sqlite3")
        try:
            row = conn.execute(query).fetchone()
        finally:
            conn.close()
    assert row is not None and row[0].startswith("sha256$") and created["client_secret"] not in row[0]
    listed = server.cli("app", "list").stdout
    assert name in listed and created["client_secret"] not in listed and "client_secret" not in listed


def test_cli_create_duplicate_app_fails(server: Server) -> None:
    r = server.cli("app", "create", "test", "main", "--json")
    assert r.returncode != 0
    assert r.stdout == ""


@pytest.mark.parametrize("body", [None, b"", b"[]", b'"x"'])
def test_token_without_a_grant(api: Api, body: bytes | None) -> None:
    r = api.post("/token", token=None, content=body)
    assert r.status_code == 400, r.text
    assert list(r.json()) == ["error_description", "error"]


def test_cli_first_app_created_is_the_only_app(server: Server) -> None:
    """`hxim app create` on a fresh install creates only that app (no implicit hxim#default)."""
    r = server.cli("app", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert "hxim#default" not in {a["appkey"] for a in json.loads(r.stdout)}


# --- grant_type inherit: a user's token for the app's backend, by name ---------------------------


def test_inherit_grant_with_the_admin_token(api: Api) -> None:
    name = unique("Inh")
    api.register(name)
    r = api.post("/token", json={"grant_type": "inherit", "username": name, "ttl": "3600"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["access_token", "expires_in", "user"] and body["expires_in"] == 3600
    assert body["user"]["username"] == name.lower() or body["user"]["username"] == name
    # the token is the user's own: it reads the user, and not another
    assert api.get(f"/users/{name}", token=body["access_token"]).status_code == 200
    other = unique("oth")
    api.register(other)
    assert api.get(f"/users/{other}", token=body["access_token"]).status_code == 401


def test_inherit_creates_the_user_when_asked(api: Api) -> None:
    name = unique("auto")
    _bare_error(api.post("/token", json={"grant_type": "inherit", "username": name}), 404, "invalid_grant",
                "user not found")
    assert api.get(f"/users/{name}").status_code == 404  # not created without autoCreateUser
    r = api.post("/token", json={"grant_type": "inherit", "username": name, "autoCreateUser": True, "ttl": 0})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 5184000  # ttl 0: the longest lifetime this server gives
    assert api.get(f"/users/{name}").status_code == 200
    again = api.post("/token", json={"grant_type": "inherit", "username": name, "autoCreateUser": True})
    assert again.status_code == 200 and again.json()["user"]["uuid"] == r.json()["user"]["uuid"]
    bad = api.post("/token", json={"grant_type": "inherit", "username": "no spaces allowed", "autoCreateUser": True})
    assert bad.status_code == 400 and bad.json()["error"] == "illegal_argument"


def test_inherit_needs_the_admin_token_and_an_active_user(api: Api) -> None:
    name = unique("inh")
    api.register(name)
    grant = {"grant_type": "inherit", "username": name}
    assert api.post("/token", token=None, json=grant).status_code == 401
    assert api.post("/token", token=api.user_token(name), json=grant).status_code == 401
    assert api.post("/users/" + name + "/deactivate").status_code == 200
    _bare_error(api.post("/token", json=grant), 400, "invalid_grant", "user not activated")
