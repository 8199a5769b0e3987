"""Fuzzing every REST route of a real `hxim serve` process: the Easemob REST API (the route tables
of every module in `http.app.REST_MODULES`), the `/hx` gateway (`seeds/gateway.py`) and the app API
(`seeds/app_api/routes.py`).

Each route is called with its own methods, its path parameters set to real names and ids (two
users, a group, a chat room, two app users) or to random text, and random requests: JSON of every
shape (nested objects and arrays, integers far past 64 bits, floats, Unicode with NUL, U+FFFE and
lone surrogates, nesting hundreds of levels deep), objects made of the field names the handlers
read with random values, raw bytes that are not JSON or not UTF-8, and random query parameters;
with the app's admin token, a user's token, none, or a wrong one (in the body for `/hx`, a JWT
for the app API). There is no upstream Easemob in these tests, so the documented 500 for an
upstream failure cannot occur; the server must therefore:

* never answer 5xx,
* always answer a JSON body,
* and log no `Traceback`.

The server is one of its own (`extra_server`), so the fuzzing cannot disturb other tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fuzzing import fuzz_settings, garbage, json_values, nasty_text
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Route

from conftest import Api, Server, unique
from hxim.http.app import REST_MODULES
from hxim.seeds import gateway
from hxim.seeds.app_api.routes import routes as app_api_routes

EXTRA_ENV = {"HXIM_APP_API_BCRYPT_ROUNDS": "4", "HXIM_APP_CACHE_SECONDS": "0"}
PASSWORD = "secret1"
APP_PASSWORD = "pw-secret"
EXAMPLES = 12  # per route and method


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the REST faces, HEAD left out (it is GET without a body)."""
    tables: list[list[Route]] = [*(m.routes for m in REST_MODULES), gateway.routes, app_api_routes]
    out = []
    for table in tables:
        for route in table:
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    out.append((method, route.path))
    return out


ROUTES = _routes()

# The fields the handlers read (request bodies and query strings of the three faces).
FIELDS = [
    "username", "password", "nickname", "newpassword", "oldpassword", "oldPassword", "grant_type", "client_id",
    "client_secret", "ttl", "usernames", "users", "owner", "owner_username", "friend_username", "type", "target_type",
    "target", "msg", "from", "ext", "bodies", "msg_id", "to", "chat_type", "sync_device", "useMsgId", "groupname",
    "name", "desc", "description", "public", "maxusers", "members", "allowinvites", "membersonly",
    "invite_need_confirm", "custom", "groupid", "group_id", "id", "ids", "newowner", "newadmin", "newmembers",
    "mute_duration", "verifyResult", "reason", "applicant", "limit", "cursor", "ql", "start", "end", "pagenum",
    "pagesize", "version", "force", "token", "login", "user_id", "user_ids", "is_admin", "password_hash", "sex",
    "bio", "location", "avatar", "bg", "verified", "extra", "certification", "member", "im_group_id", "group_face",
    "new_owner_user", "joined", "event", "profile", "query", "url", "filename", "secret", "file",
    "targets", "properties", "avatarurl", "check_list", "remark", "chatroom_msg_level",
    "chat", "groupchat", "chatroom", "collections", "collection_ids", "data", "createdAt", "lifetime", "chatfile_ids",
    "body", "msg_timestamp", "need_download", "is_ack_read", "queue", "pull_number", "is_positive", "msgType",
    "startTime", "endTime", "userId", "channel", "delete_roam", "device_id", "device_token", "notifier_name",
    "push_nickname", "ignoreInterval", "ignoreDuration", "translationLanguage", "templateName", "title_pattern",
    "content_pattern",
]
QUERY_NAMES = ["limit", "cursor", "ql", "pagenum", "pagesize", "version", "start", "end", "token", "id", "ids",
               "group_id", "joined", "force", "type", "username", "login", "password", "user_ids",
               "needReturnRemark", "pageNum", "pageSize", "begin_time", "end_time", "direction", "collection_id",
               "is_top", "need_mark", "needEmptySession", "resource", "sort", "platform"]


@dataclass
class Target:
    """The server and what exists on it: the names and ids the path parameters draw from."""

    server: Server
    rest: Api
    http: httpx.Client
    log: Path
    alice: str = field(default_factory=lambda: unique("ra"))
    bob: str = field(default_factory=lambda: unique("rb"))
    group: str = ""
    room: str = ""
    app_users: tuple[int, int] = (7_000_001, 7_000_002)
    user_token: str = ""
    hx_token: str = ""
    jwts: tuple[str, str] = ("", "")

    def refresh(self) -> None:
        """Make sure the users, group, chat room and app users exist (a fuzzed call may have deleted
        or changed them) and that the tokens are fresh."""
        rest = self.rest
        for name in (self.alice, self.bob):
            rest.post("/users", json={"username": name, "password": PASSWORD})
            rest.put(f"/users/{name}/password", json={"newpassword": PASSWORD})
            rest.post(f"/users/{name}/activate")
        if not self.group or rest.get(f"/chatgroups/{self.group}").status_code != 200:
            r = rest.post("/chatgroups", json={"groupname": "fuzz", "desc": "fuzz", "public": True, "maxusers": 50,
                                               "owner": self.alice, "members": [self.bob]})
            assert r.status_code == 200, r.text
            self.group = str(r.json()["data"]["groupid"])
        if not self.room or rest.get(f"/chatrooms/{self.room}").status_code != 200:
            r = rest.post("/chatrooms", json={"name": "fuzz", "description": "fuzz", "maxusers": 50,
                                              "owner": self.alice, "members": [self.bob]})
            assert r.status_code == 200, r.text
            self.room = str(r.json()["data"]["id"])
        self.user_token = rest.user_token(self.alice, PASSWORD)
        jwts = []
        for uid, admin in zip(self.app_users, (True, False), strict=True):
            r = rest.put(f"/app_users/{uid}", json={"name": f"fuzz {uid}", "password": APP_PASSWORD, "is_admin": admin})
            assert r.status_code == 200, r.text
            r = self.http.post("/api/v2/auth/login", json={"login": str(uid), "password": APP_PASSWORD})
            assert r.status_code == 200, r.text
            jwts.append(r.json()["access_token"])
        self.jwts = (jwts[0], jwts[1])
        r = self.http.post("/hx/getToken")
        assert r.status_code == 200 and r.json()["code"] == 200, r.text
        self.hx_token = r.json()["data"]["access_token"]

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def assert_log_clean(self, since: int) -> None:
        with open(self.log, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        assert "Traceback" not in text, text[-8000:]


@pytest.fixture(scope="module")
def target(extra_server: Server) -> Iterator[Target]:
    rest = Api(extra_server, "main")
    with extra_server.client() as http:
        t = Target(extra_server, rest, http, Path(extra_server.env["HXIM_DATA_DIR"]).parent / "server.log")
        t.refresh()
        yield t


# --- what a request is made of ----------------------------------------------------------------------

TEXT = nasty_text(max_size=30)


def path_values(t: Target, name: str) -> st.SearchStrategy[str]:
    """A value for the path parameter `name`: something that exists, or random text."""
    real: list[str]
    if name in ("username", "owner", "friend", "blocked"):
        real = [t.alice, t.bob, "admin"]
    elif name in ("usernames",):
        real = [t.bob, f"{t.alice},{t.bob}", f"{t.bob},,nobody"]
    elif name in ("id", "ids", "group_id"):
        real = [t.group, t.room, f"{t.group},{t.room}", *(str(u) for u in t.app_users)]
    elif name == "chattype":
        real = ["user", "chatgroup"]
    elif name == "key":
        real = [t.alice, t.bob, t.group]
    elif name == "msg_id":
        real = ["1", "18446744073709551616"]
    else:
        real = []
    random_text = st.one_of(
        TEXT.filter(bool),
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(["0", "-1", "1e400", "NaN", " ", "..", "%00", "a%2Fb", "\u4f60\u597d"]),
    )
    return (st.sampled_from(real) | random_text) if real else random_text


def fill_path(t: Target, path: str, draw: st.DrawFn) -> str:
    creds = t.rest.creds

    def value(m: re.Match[str]) -> str:
        name, _, convertor = m.group(1).partition(":")
        if name == "org":
            return creds.org
        if name == "app":
            return creds.app
        if convertor == "int":
            return str(draw(st.integers(0, 2**70)))
        return quote(draw(path_values(t, name)).encode("utf-8", "surrogatepass"), safe="")

    return re.sub(r"\{([^}]+)\}", value, path)


def field_values(t: Target) -> st.SearchStrategy[Any]:
    """Plausible and implausible values for a known field."""
    names = st.sampled_from([t.alice, t.bob, "admin", t.group, t.room, *(str(u) for u in t.app_users)])
    return st.one_of(
        names,
        st.lists(names, max_size=4),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.none(),
        json_values(TEXT, huge=True, max_leaves=6),
    )


def deep(depth: int, kind: str) -> str:
    """JSON nested `depth` levels deep."""
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


RAW_JSON = [
    "1e400", "-1e999", "123456789012345678901234567890123456789", "NaN", "Infinity", "-0", '{"a":1,}', "[1,]",
    '{"a":1}garbage', '"\\ud800"', '{"k":"\\u0000"}', '{"\\u0000":1}', '{"k":"\\ud800\\udc00"}', "\ufeff{}", "",
    "null", "[]", '{"a":1,"a":2}', '{"username":"x","username":{"$gt":""}}',
]


@dataclass
class Call:
    method: str
    url: str
    content: bytes
    headers: dict[str, str]

    def __repr__(self) -> str:  # what hypothesis prints for a failing case
        return f"Call({self.method} {self.url} headers={self.headers} content={self.content[:2000]!r})"


@st.composite
def calls(draw: st.DrawFn, t: Target, method: str, path: str) -> Call:
    url = fill_path(t, path, draw)
    face = "hx" if path.startswith("/hx/") else "app" if path.startswith("/api/") else "easemob"
    # the body: a document of any shape, an object of known fields, deep nesting, or raw bytes
    kind = draw(st.sampled_from(("object", "object", "object", "json", "deep", "raw", "none")))
    doc: Any = None
    content: bytes = b""
    if kind == "object":
        doc = draw(st.dictionaries(st.sampled_from(FIELDS) | TEXT, field_values(t), max_size=6))
    elif kind == "json":
        doc = draw(json_values(TEXT, huge=True))
    if face == "hx" and isinstance(doc, dict) and draw(st.integers(0, 3)) > 0:
        doc["token"] = draw(st.sampled_from([t.hx_token, t.hx_token, "", "x", t.user_token]))
    if kind in ("object", "json"):
        ascii_only = draw(st.booleans())
        content = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    elif kind == "deep":
        depth = draw(st.sampled_from([1, 31, 32, 33, 63, 64, 65, 100, 254, 255, 1000, 20_000]))
        content = deep(depth, draw(st.sampled_from(["array", "object"]))).encode()
    elif kind == "raw":
        content = draw(st.sampled_from(RAW_JSON).map(str.encode) | garbage(200))
    # headers: the content type and the caller
    headers: dict[str, str] = {}
    ctype = draw(st.sampled_from(["application/json", "application/json", "text/plain;charset=UTF-8", None,
                                  "application/x-www-form-urlencoded"]))
    if ctype is not None and content:
        headers["Content-Type"] = ctype
    if face == "easemob":
        auth = draw(st.sampled_from(["admin", "admin", "admin", "user", "none", "wrong"]))
        token = {"admin": t.rest.token, "user": t.user_token, "none": None, "wrong": "YWMtnot-a-token"}[auth]
    elif face == "app":
        token = draw(st.sampled_from([t.jwts[0], t.jwts[1], t.jwts[1], None, "not.a.jwt"]))
    else:
        token = draw(st.sampled_from([None, None, t.hx_token]))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    # a few query parameters
    params = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), TEXT | st.integers(-(2**70), 2**70).map(str),
                                  max_size=3))
    if params:
        url += "?" + "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params.items())
    return Call(method, url, content, headers)


# --- the property -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_rest_route_fuzzed(target: Target, method: str, path: str) -> None:
    target.refresh()
    since = target.log_offset()

    @fuzz_settings(EXAMPLES, fixtures=True)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        call = data.draw(calls(target, method, path), label="call")
        r = target.http.request(call.method, call.url, content=call.content, headers=call.headers)
        assert r.status_code < 500, (r.status_code, r.text)
        assert r.headers.get("content-type", "").startswith("application/json"), (r.status_code, r.headers, r.text)
        try:
            json.loads(r.content)
        except ValueError:
            raise AssertionError(f"not JSON: {r.status_code} {r.content[:2000]!r}") from None

    fuzz()
    target.assert_log_clean(since)


def test_every_route_is_fuzzed() -> None:
    """The route tables are read, not copied: a new route is fuzzed as soon as it exists."""
    assert len(ROUTES) > 100
    paths = {p for _, p in ROUTES}
    assert "/hx/sendMessages" in paths and "/api/v2/easemob/group/member" in paths
    assert "/{org}/{app}/chatgroups/{id}/users/{usernames}" in paths
