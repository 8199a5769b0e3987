"""Error JSON (easemob-rest.md §1.5, §2.3, §10, §11): tokens, permissions, apps, validation, bodies,
routing and rate limits."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from conftest import Api, Server, assert_error, new_app, server_token_key, unique
from hxim.model import App
from hxim.services.tokens import TokenService

# the server of `extra_server` (conftest) rate-limits the "users" family to 5 requests/s per app,
# and issues tokens for an hour
EXTRA_ENV = {"HXIM_RATE_LIMITS": json.dumps({"users": 5, "token": 5}), "HXIM_TOKEN_TTL_SECONDS": "3600"}
ERROR_KEYS = ["error", "timestamp", "duration", "exception", "error_description"]
SHIRO = "org.apache.shiro.authz.UnauthorizedException"
SECURITY = "org.apache.usergrid.rest.exceptions.SecurityException"


def _app(api: Api, epoch: int = 0) -> App:
    creds = api.creds
    return App(uuid.UUID(creds.application), creds.org, creds.app, creds.client_secret, epoch, False, 0)


def _user_of(api: Api, name: str) -> object:
    from hxim.model import User

    entity = api.get(f"/users/{name}").json()["entities"][0]
    return User(0, uuid.UUID(entity["uuid"]), uuid.UUID(api.creds.application), name, None, True, 0, 0, 0)


# --- missing, corrupt, forged, expired and foreign tokens ------------------------------------------------


def test_missing_token(api: Api) -> None:
    body = assert_error(api.get("/users", token=None), 401, "unauthorized",
                        f"Subject does not have permission [applications:get:{api.creds.application}:/users]")
    assert list(body) == ERROR_KEYS
    assert body["exception"] == SHIRO
    body = assert_error(api.post("/messages", token=None, json={}), 401, "unauthorized")
    assert body["error_description"] == (
        f"Subject does not have permission [applications:post:{api.creds.application}:/messages]"
    )
    # a non-Bearer Authorization header is no token either
    r = api.get("/users", token=None, headers={"Authorization": f"Basic {api.token}"})
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("token", ["garbage", "YWMtabc", "YWMt" + "A" * 80, "not base64 !"])
def test_corrupt_token(api: Api, token: str) -> None:
    body = assert_error(api.get("/users", token=token), 401, "auth_bad_access_token",
                        "Unable to authenticate due to corrupt access token")
    assert list(body) == ERROR_KEYS
    assert body["exception"] == SECURITY


def test_token_signed_by_someone_else(api: Api) -> None:
    forged = TokenService(os.urandom(32), 3600).issue_app(_app(api))
    assert forged.startswith("YWMt")
    body = assert_error(api.get("/users", token=forged), 401, "auth_bad_access_token", "Unable to authenticate")
    assert body["exception"] == SECURITY


def test_expired_tokens(api: Api) -> None:
    service = TokenService(server_token_key(api.server), 3600)
    app = _app(api)
    fresh = service.issue_app(app)  # the key really is the server's
    assert api.get("/users", token=fresh).status_code == 200
    expired = service.issue_app(app, ttl=-10)
    body = assert_error(api.get("/users", token=expired), 401, "expired_token",
                        "Unable to authenticate due to expired access token")
    assert list(body) == ERROR_KEYS
    name = unique()
    api.register(name)
    user = _user_of(api, name)
    assert api.get(f"/users/{name}", token=service.issue_user(app, user)).status_code == 200  # type: ignore[arg-type]
    expired_user = service.issue_user(app, user, ttl=-10)  # type: ignore[arg-type]
    assert_error(api.get(f"/users/{name}", token=expired_user), 401, "expired_token")


def test_foreign_tokens(api: Api) -> None:
    other = Api(api.server, "other")
    body = assert_error(api.get("/users", token=other.token), 401, "unauthorized",
                        f"Subject does not have permission [applications:get:{api.creds.application}:/users]")
    assert body["exception"] == SHIRO
    name = unique()
    other.register(name)
    user_token = other.user_token(name)
    assert_error(api.get(f"/users/{name}", token=user_token), 401, "unauthorized")
    # the same user name in "main" does not make the token valid there
    api.register(name)
    assert_error(api.get(f"/users/{name}", token=user_token), 401, "unauthorized")


# --- what a user token may do --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_users(server: Server) -> tuple[str, str, str]:
    api = Api(server)
    me, you = unique("me"), unique("you")
    api.register(me, you)
    return me, you, api.user_token(me)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("DELETE", "/users", None),
        ("POST", "/users", {"username": "x1", "password": "p"}),
        ("POST", "/users", [{"username": "x1", "password": "p"}]),
        ("DELETE", "/users/{me}", None),
        ("POST", "/users/{me}/deactivate", None),
        ("POST", "/users/{me}/activate", None),
        ("GET", "/users/{me}/disconnect", None),
        ("POST", "/users/batch/status", {"usernames": ["{me}"]}),
        ("POST", "/messages", {"target_type": "users", "target": ["{you}"], "msg": {"type": "txt", "msg": "x"}}),
        ("GET", "/chatmessages", None),
        ("GET", "/users/{you}", None),
        ("PUT", "/users/{you}", {"nickname": "x"}),
        ("PUT", "/users/{you}/password", {"newpassword": "x", "oldpassword": "secret1"}),
        ("GET", "/users/{you}/status", None),
        ("GET", "/users/{you}/offline_msg_count", None),
        ("POST", "/users/{you}/contacts/users/{me}", None),
        ("POST", "/users/{you}/blocks/users", {"usernames": ["{me}"]}),
        ("DELETE", "/users/{you}/blocks/users/{me}", None),
    ],
)
def test_user_token_refused(api: Api, two_users: tuple[str, str, str], method: str, path: str,
                            body: object) -> None:
    me, you, token = two_users
    fill = {"me": me, "you": you}
    payload = json.loads(json.dumps(body).replace("{me}", me).replace("{you}", you)) if body is not None else None
    r = api.call(method, path.format(**fill), token=token, json=payload)
    err = assert_error(r, 401, "unauthorized")
    assert err["exception"] == SHIRO
    assert err["error_description"].startswith(
        f"Subject does not have permission [applications:{method.lower()}:{api.creds.application}:/"
    )


def test_user_token_on_own_resources(api: Api, two_users: tuple[str, str, str]) -> None:
    me, _, token = two_users
    for path in (f"/users/{me}", f"/users/{me.upper()}", f"/users/{me}/status", f"/users/{me}/offline_msg_count",
                 f"/users/{me}/contacts/users", f"/users/{me}/blocks/users"):
        assert api.get(path, token=token).status_code == 200, path
    entity = api.get(f"/users/{me}").json()["entities"][0]
    assert api.get(f"/users/{entity['uuid']}", token=token).status_code == 200
    r = api.put(f"/users/{me}", token=token, json={"nickname": "me myself"})
    assert r.status_code == 200 and r.json()["entities"][0]["nickname"] == "me myself"


# --- tokens that stop working ------------------------------------------------------------------------


def test_token_refused_after_deactivation_even_when_reactivated(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    assert api.post(f"/users/{name}/deactivate").status_code == 200
    assert_error(api.get(f"/users/{name}", token=token), 401, "auth_bad_access_token", "Unable to authenticate")
    assert api.post(f"/users/{name}/activate").status_code == 200
    assert_error(api.get(f"/users/{name}", token=token), 401, "auth_bad_access_token")
    assert api.get(f"/users/{name}", token=api.user_token(name)).status_code == 200


def test_token_refused_after_password_reset(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    assert api.put(f"/users/{name}/password", json={"newpassword": "other1"}).status_code == 200
    assert_error(api.get(f"/users/{name}", token=token), 401, "auth_bad_access_token")
    assert api.get(f"/users/{name}", token=api.user_token(name, "other1")).status_code == 200


def test_token_refused_after_own_password_change(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    r = api.put(f"/users/{name}/password", token=token, json={"oldpassword": "secret1", "newpassword": "other1"})
    assert r.status_code == 200, r.text
    assert_error(api.get(f"/users/{name}", token=token), 401, "auth_bad_access_token")


def test_token_refused_after_deletion(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    assert api.delete(f"/users/{name}").status_code == 200
    assert_error(api.get(f"/users/{name}", token=token), 401, "auth_bad_access_token")


def test_app_token_refused_after_secret_rotation(server: Server) -> None:
    api = new_app(server)
    creds = api.creds
    old_token = api.token
    assert api.get("/users").status_code == 200
    r = server.cli("app", "rotate-secret", creds.org, creds.app, "--json")
    assert r.returncode == 0, r.stderr
    rotated = json.loads(r.stdout)
    assert rotated["client_secret"] != creds.client_secret
    assert rotated["client_id"] == creds.client_id and rotated["application"] == creds.application
    deadline = time.time() + 5
    while True:  # the server trusts its cached copy of the app for about 2 s
        r = api.get("/users", token=old_token)
        if r.status_code != 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert_error(r, 401, "auth_bad_access_token", "Unable to authenticate")
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": creds.client_id,
                                              "client_secret": creds.client_secret})
    assert r.status_code == 400 and r.json() == {"error_description": "client_secret does not match",
                                                 "error": "invalid_grant"}
    r = api.post("/token", token=None, json={"grant_type": "client_credentials", "client_id": creds.client_id,
                                              "client_secret": rotated["client_secret"]})
    assert r.status_code == 200, r.text
    assert api.get("/users", token=r.json()["access_token"]).status_code == 200


# --- unknown org/app -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/users", "/token", "/users/someone", "/messages"])
def test_unknown_app(server: Server, path: str) -> None:
    app = unique("nope")
    with server.client() as http:
        url = f"/test/{app}{path}"
        r = http.post(url, json={}) if path in ("/token", "/messages") else http.get(url)
    body = assert_error(r, 404, "organization_application_not_found",
                        f"Could not find application for test/{app} from URI: test/{app}{path}")
    assert "exception" not in body


# --- registration: illegal names and passwords, duplicates, batches -----------------------------------


@pytest.mark.parametrize(
    "username",
    ["bad name", "中文", "a#b", "a@b.com", "x" * 65, "tab\there", "slash/x", "7f90f7ca-bb24-11e2-b2d0-6d8e359945e4",
     123, True],
)
def test_illegal_username(api: Api, username: object) -> None:
    body = assert_error(api.post("/users", json={"username": username, "password": "pw"}), 400, "illegal_argument",
                        f"username [{username}] is not legal" if isinstance(username, str) else None)
    assert body["exception"] == "java.lang.IllegalArgumentException"


def test_legal_usernames(api: Api) -> None:
    names = [unique("a_b-c.d"), unique("x") + "y" * 53]
    assert len(names[1]) == 64
    assert [e["username"] for e in api.register(*names)] == names


def test_missing_username_or_password(api: Api) -> None:
    assert_error(api.post("/users", json={"password": "pw"}), 400, "illegal_argument",
                 "Entity user requires a property named username")
    for body in ({"username": unique()}, {"username": unique(), "password": ""}):
        assert_error(api.post("/users", json=body), 400, "illegal_argument", "password or pin must provided")
    assert_error(api.post("/users", json={"username": unique(), "password": "p" * 65}), 400, "illegal_argument")
    assert_error(api.post("/users", json={"username": unique(), "password": 123456}), 400, "illegal_argument")
    assert_error(api.post("/users", json=[]), 400, "illegal_argument")
    assert_error(api.post("/users", json="alice"), 400, "illegal_argument")


def test_batch_with_a_duplicate_creates_nothing(api: Api) -> None:
    existing = unique("Ex")
    api.register(existing)
    new1, new2 = unique("n"), unique("n")
    r = api.post("/users", json=[{"username": n, "password": "pw"} for n in (new1, existing.lower(), new2)])
    body = assert_error(r, 400, "duplicate_unique_property_exists")
    assert body["exception"] == "org.apache.usergrid.persistence.exceptions.DuplicateUniquePropertyExistsException"
    assert body["error_description"].startswith(
        f"Application {api.creds.application}Entity user requires that property named username be unique, value of "
    )
    assert existing.lower() in body["error_description"].lower()
    for n in (new1, new2):
        assert_error(api.get(f"/users/{n}"), 404, "service_resource_not_found")


def test_batch_with_a_duplicate_inside_creates_nothing(api: Api) -> None:
    a, b = unique("dup"), unique("n")
    r = api.post("/users", json=[{"username": a, "password": "pw"}, {"username": b, "password": "pw"},
                                 {"username": a.upper(), "password": "pw"}])
    assert_error(r, 400, "duplicate_unique_property_exists")
    for n in (a, b):
        assert_error(api.get(f"/users/{n}"), 404, "service_resource_not_found")


def test_batch_with_an_illegal_entry_creates_nothing(api: Api) -> None:
    good = unique("good")
    r = api.post("/users", json=[{"username": good, "password": "pw"}, {"username": "bad name", "password": "pw"}])
    assert_error(r, 400, "illegal_argument", "username [bad name] is not legal")
    assert_error(api.get(f"/users/{good}"), 404, "service_resource_not_found")


def test_batch_size_limit(api: Api) -> None:
    names = [unique("b") for _ in range(61)]
    r = api.post("/users", json=[{"username": n, "password": "pw"} for n in names])
    assert_error(r, 400, "illegal_argument")
    assert_error(api.get(f"/users/{names[0]}"), 404, "service_resource_not_found")
    created = api.register(*names[:60])
    assert len(created) == 60


def test_open_and_authorized_registration(server: Server) -> None:
    main = Api(server, "main", token=None)
    body = assert_error(main.post("/users", json={"username": unique(), "password": "pw"}), 401, "unauthorized",
                        "registration is not open, please contact the app admin")
    assert body["exception"] == SECURITY
    opened = Api(server, "open", token=None)
    name = unique()
    r = opened.post("/users", json={"username": name, "password": "pw"})
    assert r.status_code == 200, r.text
    assert r.json()["entities"][0]["username"] == name
    assert opened.user_token(name, "pw")
    # a batch still needs the admin, and so does everything else
    r = opened.post("/users", json=[{"username": unique(), "password": "pw"}])
    assert_error(r, 401, "unauthorized")
    assert_error(opened.get("/users"), 401, "unauthorized")
    assert_error(opened.post("/users", token="garbage", json={"username": unique(), "password": "pw"}), 401,
                 "auth_bad_access_token")
    admin = Api(server, "open")
    assert admin.post("/users", json=[{"username": unique(), "password": "pw"}]).status_code == 200


# --- bodies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"username"="x"}', b"{", b"[1,", b"nul", b'{"a":1}}'])
def test_malformed_json(api: Api, raw: bytes) -> None:
    r = api.post("/users", content=raw, headers={"Content-Type": "application/json"})
    body = assert_error(r, 400, "json_parse")
    assert body["exception"] == "org.codehaus.jackson.JsonParseException"
    assert list(body) == ERROR_KEYS


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_parsed_whatever_the_content_type(api: Api, content_type: str | None) -> None:
    name = unique()
    raw = json.dumps({"username": name, "password": "pw"}).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.post("/users", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["entities"][0]["username"] == name
    # and a duplicate still gives the normal duplicate error
    assert_error(api.post("/users", content=raw, headers=headers), 400, "duplicate_unique_property_exists")


def _nested(depth: int) -> str:
    """JSON objects nested `depth` levels deep."""
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [254, 66, 10_000])
def test_json_nested_too_deep(api: Api, depth: int) -> None:
    """A limit (`json_max_depth`, 64) refuses deep JSON as bad input, wherever it nests."""
    a, b = unique("da"), unique("db")
    api.register(a, b)
    body = {"target_type": "users", "target": [b], "msg": {"type": "txt", "msg": "x"}, "from": a, "ext": "EXT"}
    raw = json.dumps(body).replace('"EXT"', _nested(depth - 1))
    r = api.post("/messages", content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ("illegal_argument", "json_parse")
    # a document within the limit is served
    r = api.post("/messages", content=raw.replace(_nested(depth - 1), _nested(20)).encode())
    assert r.status_code == 200, r.text


def test_nul_character_refused(api: Api) -> None:
    """U+0000 cannot be stored (PostgreSQL) or written as XML: refused, on every backend."""
    a, b = unique("na"), unique("nb")
    api.register(a, b)
    body = {"target_type": "users", "target": [b], "msg": {"type": "txt", "msg": "poison\u0000"}, "from": a}
    body_assert = assert_error(api.post("/messages", json=body), 400, "illegal_argument")
    assert "U+0000" in body_assert["error_description"]
    assert_error(api.post("/users", json={"username": unique(), "password": "p\u0000w"}), 400, "illegal_argument")
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a}).json()
    assert_error(api.put(f"/chatgroups/{gid['data']['groupid']}", json={"description": "a\u0000"}), 400,
                 "illegal_argument")
    # the escape spelled out in text (a backslash, then u0000) is ordinary text
    body["msg"] = {"type": "txt", "msg": "\\u0000 is how JSON writes NUL"}
    assert api.post("/messages", json=body).status_code == 200


def test_nul_in_a_path_is_not_found(api: Api) -> None:
    """A NUL that arrives %-encoded in a path names nothing (PostgreSQL would refuse to look it up)."""
    r = api.get("/users/a%00b")
    assert r.status_code in (400, 404), r.text
    assert r.json()["error"] in ("illegal_argument", "service_resource_not_found", "entity_not_found"), r.text


def test_body_over_the_limit(api: Api) -> None:
    big = json.dumps({"username": unique(), "password": "pw", "nickname": "x" * (1 << 20)}).encode()
    assert_error(api.post("/users", content=big, headers={"Content-Type": "application/json"}), 413,
                 "Request Entity Too Large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield big[: 1 << 19]
        yield big[1 << 19 :]

    assert_error(api.post("/users", content=chunks()), 413, "Request Entity Too Large")


# --- routing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/test/main/nothing", "/test/main/users/a/b/c", "/", "/favicon.ico", "/test", "/test/main/users/....%2F%2F",
     "/test/main/users/x/"],
)
def test_unknown_path(server: Server, path: str) -> None:
    with server.client() as http:
        r = http.get(path, headers={"Authorization": f"Bearer {server.admin_token()}"})
    assert_error(r, 404, "web_application")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/users"), ("PUT", "/users"), ("GET", "/token"), ("DELETE", "/messages"), ("PUT", "/chatmessages"),
     ("POST", "/users/x/status"), ("DELETE", "/users/x/password")],
)
def test_wrong_method(api: Api, method: str, path: str) -> None:
    body = assert_error(api.call(method, path), 405, "web_application")
    assert list(body) == ERROR_KEYS


# --- rate limits ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(extra_server: Server) -> Server:
    return extra_server


def _burst(api: Api, path: str, n: int) -> list[httpx.Response]:
    return [api.get(path) for _ in range(n)]


def test_rate_limit_per_app_and_family(limited: Server) -> None:
    main, other = Api(limited, "main"), Api(limited, "other")
    replies = _burst(main, "/users", 15)
    refused = [r for r in replies if r.status_code == 429]
    assert refused, [r.status_code for r in replies]
    assert all(r.status_code in (200, 429) for r in replies)
    assert sum(r.status_code == 200 for r in replies) <= 8
    body = assert_error(refused[0], 429, "reach_limit", "This request has reached api limit")
    assert next(iter(body)) == "error"
    # another family of the same app, and the same family of another app, are unaffected
    assert all(r.status_code == 200 for r in _burst(main, "/chatmessages", 10))
    assert all(r.status_code == 200 for r in _burst(other, "/users", 5))
    # the bucket refills
    time.sleep(0.5)
    assert main.get("/users").status_code == 200


def test_rate_limits_are_per_caller_and_after_authentication(limited: Server) -> None:
    """Requests that authenticate as nobody are refused before they spend a budget; each user
    has a budget apart from the admin's; token grants without a token spend their address's."""
    admin, api = Api(limited, "main"), Api(limited, "main", token=None)
    name = unique("rl")
    admin.register(name)
    time.sleep(1.2)  # the admin's bucket is full again
    bad = [admin.get("/users", token="YWMtnot-a-token") for _ in range(30)]
    assert {r.status_code for r in bad} == {401}
    assert all(r.status_code == 200 for r in _burst(admin, "/users", 4))  # the admin's budget is whole
    time.sleep(1.2)
    user = Api(limited, "main", token=admin.user_token(name))
    assert all(r.status_code == 200 for r in [user.get(f"/users/{name}") for _ in range(4)])
    assert all(r.status_code == 200 for r in _burst(admin, "/users", 4))  # not spent by the user
    # failed password grants from one address do not stop the backend's grant from another
    creds = api.creds
    with httpx.Client(base_url=limited.base_url, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        for _ in range(20):
            other.post(f"/{creds.org}/{creds.app}/token",
                       json={"grant_type": "password", "username": name, "password": "wrong"})
        r = other.post(f"/{creds.org}/{creds.app}/token",
                       json={"grant_type": "password", "username": name, "password": "secret1"})
        assert r.status_code == 429, r.text
    grant = {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret}
    assert api.post("/token", json=grant).status_code == 200


def test_configured_token_ttl(limited: Server) -> None:
    api = Api(limited, "main", token=None)
    creds = api.creds
    grant = {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret}
    r = api.post("/token", json=grant)
    assert r.status_code == 200 and r.json()["expires_in"] == 3600
    r = api.post("/token", json={**grant, "ttl": 60})
    assert r.status_code == 200 and r.json()["expires_in"] == 60
