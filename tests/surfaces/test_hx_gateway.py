"""The /hx gateway (seed document 000, "IM环信接口文档"; seed-wrappers.md §1).

Every request of the document is sent as written (its JSON bodies, with a real token) and its
answer checked: HTTP 200, `{"code", "message", "msg", "data"}`, and `data` equal to what the
Easemob REST API answers for the same operation. The gateway serves the app named by
`hx_gateway_app` (here test#other, to show the setting works); its own refusals come with
`data: null`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Api, Server

GATEWAY_KEY = "gw-key-0123456789"
EXTRA_ENV = {"HXIM_HX_GATEWAY_APP": "test#other", "HXIM_HX_GATEWAY_KEY": GATEWAY_KEY}
DOC_TOKEN = "YWMtTA62ZrJpEei9xu9oxuHsLQAAAAAAAAAAAAAAAAAAAAEkfycAnqcR6LF7AUVfW6SDAgMAAAFlssU8jgBPGgD13Bzal9mDcYvB1gg-FZN-0GT919bFe3jPTgKc_n0t6g"  # noqa: E501

# The request bodies of the document, in its order (comments dropped, missing commas added).
DOC = {
    "registerUser": {"username": "jliu", "password": "123456", "token": DOC_TOKEN},
    "registerUsers": {
        "users": [{"username": "u3", "password": "p1"}, {"username": "u4", "password": "p2"}],
        "token": DOC_TOKEN,
    },
    "addFriends": {"owner_username": "u1", "friend_username": "u3", "type": "post", "token": DOC_TOKEN},
    "getFriends": {"owner_username": "u1", "type": "contacts", "token": DOC_TOKEN},
    "getUserStatus": {"username": "u1", "token": DOC_TOKEN},
    "offlineMsgCount": {"owner_username": "u1", "token": DOC_TOKEN},
    "sendMessages": {
        "target_type": "users",
        "target": ["u2", "u3", "stliu"],
        "msg": {"type": "txt", "msg": "HelloWorld"},
        "from": "u1",
        "token": DOC_TOKEN,
    },
    "resetPassword": {"username": "u1", "newpassword": "123456", "token": DOC_TOKEN},
    "getUser": {"username": "u1", "token": DOC_TOKEN},
    "getUsers": {"limit": 10, "token": DOC_TOKEN},
}


@pytest.fixture(scope="module")
def gw(extra_server: Server) -> Gateway:
    return Gateway(extra_server)


class Gateway:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = server.client()
        self.rest = Api(server, "other")  # the app the gateway serves
        self.token = self.get_token()["data"]["access_token"]

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None, **kw: Any) -> dict[str, Any]:
        if raw is not None:
            r = self.http.post(f"/hx/{path}", content=raw, **kw)
        else:
            r = self.http.post(f"/hx/{path}", json=body, **kw)
        assert r.status_code == 200, r.text  # always 200: the outcome is in `code`
        out = r.json()
        assert list(out) == ["code", "message", "msg", "data"], out
        assert out["msg"] == out["message"]
        return out

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A document request with its token replaced by a real one."""
        body = {**body, "token": self.token} if "token" in body else body
        return self.post(path, body)

    def get_token(self, **kw: Any) -> dict[str, Any]:
        return self.post("getToken", **kw)


def same(gateway_data: dict[str, Any], rest_body: dict[str, Any]) -> None:
    """Equal except the per-call timestamp and duration (same keys, same order)."""
    assert list(gateway_data) == list(rest_body)
    strip = {"timestamp", "duration"}
    assert {k: v for k, v in gateway_data.items() if k not in strip} == {
        k: v for k, v in rest_body.items() if k not in strip
    }


def ok(out: dict[str, Any]) -> dict[str, Any]:
    assert out["code"] == 200 and out["message"] == "请求成功", out
    return out["data"]


def failed(out: dict[str, Any], code: int, error: str) -> dict[str, Any]:
    assert out["code"] == code and out["message"] == "请求失败", out
    assert out["data"]["error"] == error, out
    return out["data"]


def refused(out: dict[str, Any], code: int, message: str) -> None:
    assert out == {"code": code, "message": message, "msg": message, "data": None}


# --- the document, request by request --------------------------------------------------------------


def test_the_document_in_order(gw: Gateway) -> None:
    rest = gw.rest
    # 1. getToken: the app's admin token, usable on the REST API
    data = ok(gw.get_token())
    assert list(data) == ["access_token", "expires_in", "application"]
    assert data["access_token"].startswith("YWMt") and data["expires_in"] == 5_184_000
    assert data["application"] == rest.creds.application
    assert rest.get("/users", token=data["access_token"]).status_code == 200

    # 2. registerUser, one user
    data = ok(gw.call("registerUser", DOC["registerUser"]))
    assert data["action"] == "post" and data["path"] == "/users" and data["application"] == rest.creds.application
    assert [e["username"] for e in data["entities"]] == ["jliu"]
    assert data["uri"].endswith(f"/{rest.creds.org}/{rest.creds.app}/users")
    assert data["organization"] == rest.creds.org and data["applicationName"] == rest.creds.app
    same(data["entities"][0], rest.get("/users/jliu").json()["entities"][0])

    # 3. registerUser, a batch
    data = ok(gw.call("registerUser", DOC["registerUsers"]))
    assert [e["username"] for e in data["entities"]] == ["u3", "u4"]
    assert (
        rest.post("/token", token=None, json={"grant_type": "password", "username": "u4", "password": "p2"}).status_code
        == 200
    )

    rest.register("u1", "u2", "stliu")

    # 4. addFriends: u1 and u3 become contacts (both ways, as over REST)
    data = ok(gw.call("addFriends", DOC["addFriends"]))
    u1 = rest.get("/users/u1").json()["entities"][0]
    assert data["path"] == f"/users/{u1['uuid']}/contacts"
    assert [e["username"] for e in data["entities"]] == ["u3"]
    assert rest.get("/users/u3/contacts/users").json()["data"] == ["u1"]

    # 5. getFriends
    data = ok(gw.call("getFriends", DOC["getFriends"]))
    assert data["data"] == ["u3"] and data["count"] == 1
    same(data, rest.get("/users/u1/contacts/users").json())
    data = ok(gw.call("getFriends", {**DOC["getFriends"], "type": "blocks"}))
    assert data["data"] == [] and data["count"] == 0
    same(data, rest.get("/users/u1/blocks/users").json())

    # 6. getUserStatus
    data = ok(gw.call("getUserStatus", DOC["getUserStatus"]))
    assert data["data"] == {"u1": "offline"} and data["count"] == 0
    same(data, rest.get("/users/u1/status").json())

    # 7. offlineMsgCount
    data = ok(gw.call("offlineMsgCount", DOC["offlineMsgCount"]))
    assert data["data"] == {"u1": 0}
    same(data, rest.get("/users/u1/offline_msg_count").json())

    # 8. sendMessages
    data = ok(gw.call("sendMessages", DOC["sendMessages"]))
    assert data["data"] == {"u2": "success", "u3": "success", "stliu": "success"}
    assert data["path"] == "/messages" and data["action"] == "post"
    for name in ("u2", "u3", "stliu"):
        assert rest.get(f"/users/{name}/offline_msg_count").json()["data"] == {name: 1}

    # 9. resetPassword: the new password works, the old one no longer does
    data = ok(gw.call("resetPassword", DOC["resetPassword"]))
    assert data["action"] == "set user password"
    assert (
        rest.post(
            "/token", token=None, json={"grant_type": "password", "username": "u1", "password": "123456"}
        ).status_code
        == 200
    )

    # 10. getUser, one user: what GET /users/u1 answers
    data = ok(gw.call("getUser", DOC["getUser"]))
    assert [e["username"] for e in data["entities"]] == ["u1"] and data["count"] == 1
    same(data, rest.get("/users/u1").json())

    # 11. getUser, several: what GET /users?limit=10 answers
    data = ok(gw.call("getUser", DOC["getUsers"]))
    assert data["params"] == {"limit": ["10"]} and data["count"] == 6
    same(data, rest.get("/users", params={"limit": 10}).json())


def test_get_user_pages_with_cursor(gw: Gateway) -> None:
    names = [f"page{i}" for i in range(5)]
    gw.rest.register(*names)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        body: dict[str, Any] = {"limit": 3, "token": gw.token}
        if cursor:
            body["cursor"] = cursor
        data = ok(gw.post("getUser", body))
        expected = gw.rest.get("/users", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        same(data, expected)
        seen += [e["username"] for e in data["entities"]]
        cursor = data.get("cursor")
        if not cursor:
            break
    assert set(names) <= set(seen) and len(seen) == len(set(seen))
    # limit 20 is the documented maximum
    assert ok(gw.post("getUser", {"limit": 20, "token": gw.token}))["params"] == {"limit": ["20"]}


def test_send_messages_forwards_ext(gw: Gateway) -> None:
    gw.rest.register("extfrom", "extto")
    body = {
        "target_type": "users",
        "target": ["extto"],
        "msg": {"type": "txt", "msg": "with ext"},
        "from": "extfrom",
        "ext": {"em_push_title": "hi", "n": 1},
        "token": gw.token,
    }
    assert ok(gw.post("sendMessages", body))["data"] == {"extto": "success"}
    history = gw.rest.get("/chatmessages", params={"limit": 1000}).json()["entities"]
    sent = [m for m in history if m["from"] == "extfrom"]
    assert sent and sent[-1]["payload"]["ext"] == {"em_push_title": "hi", "n": 1}
    # no `from`: Easemob's default sender admin
    body.pop("from")
    body.pop("ext")
    assert ok(gw.post("sendMessages", body))["data"] == {"extto": "success"}


def test_add_friends_delete(gw: Gateway) -> None:
    gw.rest.register("delA", "delB")
    ok(
        gw.post("addFriends", {"owner_username": "delA", "friend_username": "delB", "token": gw.token})
    )  # type defaults to post
    assert gw.rest.get("/users/delA/contacts/users").json()["data"] == ["delB"]
    data = ok(
        gw.post(
            "addFriends", {"owner_username": "delA", "friend_username": "delB", "type": "DELETE", "token": gw.token}
        )
    )
    assert data["action"] == "delete" and [e["username"] for e in data["entities"]] == ["delB"]
    assert gw.rest.get("/users/delA/contacts/users").json()["data"] == []


# --- Easemob's errors come back as data ------------------------------------------------------------


def test_easemob_errors_are_data(gw: Gateway) -> None:
    """An Easemob error: `code` is its status, `data` the error body the REST API sends."""
    gw.rest.register("dupe")
    rest = gw.rest
    cases = [
        (
            "registerUser",
            {"username": "dupe", "password": "x"},
            rest.post("/users", json={"username": "dupe", "password": "x"}),
        ),
        ("getUser", {"username": "nobody-here"}, rest.get("/users/nobody-here")),
        ("getUserStatus", {"username": "nobody-here"}, rest.get("/users/nobody-here/status")),
        ("offlineMsgCount", {"owner_username": "nobody-here"}, rest.get("/users/nobody-here/offline_msg_count")),
        (
            "addFriends",
            {"owner_username": "dupe", "friend_username": "nobody-here"},
            rest.post("/users/dupe/contacts/users/nobody-here"),
        ),
        (
            "getFriends",
            {"owner_username": "nobody-here", "type": "contacts"},
            rest.get("/users/nobody-here/contacts/users"),
        ),
        (
            "resetPassword",
            {"username": "nobody-here", "newpassword": "x"},
            rest.put("/users/nobody-here/password", json={"newpassword": "x"}),
        ),
        (
            "getUser",
            {"limit": 1, "cursor": "not-a-cursor!"},
            rest.get("/users", params={"limit": 1, "cursor": "not-a-cursor!"}),
        ),
    ]
    for call, body, direct in cases:
        assert direct.status_code >= 400, direct.text
        data = failed(gw.post(call, {**body, "token": gw.token}), direct.status_code, direct.json()["error"])
        expected = direct.json()
        assert list(data) == list(expected)
        assert data["error_description"] == expected["error_description"]
    # `from` present but empty: Easemob refuses, as the document says
    body = {
        "target_type": "users",
        "target": ["dupe"],
        "msg": {"type": "txt", "msg": "x"},
        "from": "",
        "token": gw.token,
    }
    data = failed(gw.post("sendMessages", body), 400, "illegal_argument")
    assert data["error_description"] == "from can't be empty"
    failed(gw.post("sendMessages", {**body, "from": "dupe", "target_type": "nowhere"}), 400, "illegal_argument")


def test_bad_and_foreign_tokens(gw: Gateway) -> None:
    data = failed(gw.post("getUser", {"username": "u1", "token": "not-a-token"}), 401, "auth_bad_access_token")
    assert set(data) == {"error", "timestamp", "duration", "exception", "error_description"}
    # the admin token of another app: a genuine token without permission here
    main_token = gw.server.admin_token("main")
    failed(gw.post("getUser", {"limit": 5, "token": main_token}), 401, "unauthorized")
    # a user token may do what it may do over REST (its own status), nothing more
    gw.rest.register("tokuser")
    user_token = gw.rest.user_token("tokuser")
    assert ok(gw.post("getUserStatus", {"username": "tokuser", "token": user_token}))["data"] == {"tokuser": "offline"}
    failed(gw.post("getUserStatus", {"username": "u1", "token": user_token}), 401, "unauthorized")
    failed(gw.post("getUser", {"limit": 5, "token": user_token}), 401, "unauthorized")
    failed(
        gw.post("registerUser", {"users": [{"username": "x1", "password": "y"}], "token": user_token}),
        401,
        "unauthorized",
    )


# --- the gateway's own refusals --------------------------------------------------------------------

CALLS = [
    "registerUser",
    "addFriends",
    "getFriends",
    "getUserStatus",
    "offlineMsgCount",
    "sendMessages",
    "resetPassword",
    "getUser",
]
DOC_BODY = {
    "registerUser": DOC["registerUser"],
    "addFriends": DOC["addFriends"],
    "getFriends": DOC["getFriends"],
    "getUserStatus": DOC["getUserStatus"],
    "offlineMsgCount": DOC["offlineMsgCount"],
    "sendMessages": DOC["sendMessages"],
    "resetPassword": DOC["resetPassword"],
    "getUser": DOC["getUser"],
}


@pytest.mark.parametrize("call", CALLS)
def test_no_token(gw: Gateway, call: str) -> None:
    body = {k: v for k, v in DOC_BODY[call].items() if k != "token"}
    refused(gw.post(call, body), 401, "请先获取授权信息")
    refused(gw.post(call, {**body, "token": ""}), 401, "请先获取授权信息")
    refused(gw.post(call, {**body, "token": None}), 401, "请先获取授权信息")


@pytest.mark.parametrize("call", CALLS)
def test_not_json(gw: Gateway, call: str) -> None:
    refused(gw.post(call, raw=b"username=u1&token=x"), 400, "请求参数异常")
    refused(gw.post(call, raw=b""), 400, "请求参数异常")
    refused(gw.post(call, [DOC_BODY[call]]), 400, "请求参数异常")
    refused(gw.post(call, {**DOC_BODY[call], "token": 12345}), 400, "请求参数异常")


def test_json_nested_too_deep_or_holding_nul(gw: Gateway) -> None:
    body = {**DOC_BODY["sendMessages"], "token": gw.token}
    deep = json.dumps(body)[:-1] + ', "ext": ' + '{"a":' * 254 + "1" + "}" * 254 + "}"
    refused(gw.post("sendMessages", raw=deep.encode()), 400, "请求参数异常")
    refused(gw.post("sendMessages", {**body, "msg": {"type": "txt", "msg": "x\u0000"}}), 400, "请求参数异常")


REQUIRED = [
    ("registerUser", "username"),
    ("registerUser", "password"),
    ("addFriends", "owner_username"),
    ("addFriends", "friend_username"),
    ("getFriends", "owner_username"),
    ("getFriends", "type"),
    ("getUserStatus", "username"),
    ("offlineMsgCount", "owner_username"),
    ("sendMessages", "target_type"),
    ("sendMessages", "target"),
    ("sendMessages", "msg"),
    ("resetPassword", "username"),
    ("resetPassword", "newpassword"),
    ("getUser", "username"),
]


@pytest.mark.parametrize(("call", "field"), REQUIRED)
def test_missing_field(gw: Gateway, call: str, field: str) -> None:
    body = {k: v for k, v in DOC_BODY[call].items() if k != field}
    refused(gw.post(call, {**body, "token": gw.token}), 400, "请求参数异常")


WRONG = [
    ("registerUser", {"username": 5, "password": "x"}),
    ("registerUser", {"username": "", "password": "x"}),
    ("registerUser", {"username": "a", "password": 123456}),
    ("registerUser", {"users": []}),
    ("registerUser", {"users": {"username": "a", "password": "b"}}),
    ("registerUser", {"users": [{"username": "a"}]}),
    ("registerUser", {"users": ["a"]}),
    ("addFriends", {"owner_username": "u1", "friend_username": "u3", "type": "put"}),
    ("addFriends", {"owner_username": "u1", "friend_username": "u3", "type": "get"}),
    ("addFriends", {"owner_username": "u1", "friend_username": ["u3"]}),
    ("getFriends", {"owner_username": "u1", "type": "friends"}),
    ("getFriends", {"owner_username": "u1", "type": 1}),
    ("getUserStatus", {"username": ["u1"]}),
    ("offlineMsgCount", {"owner_username": 1}),
    ("sendMessages", {"target_type": "users", "target": "u2", "msg": {"type": "txt", "msg": "x"}}),
    ("sendMessages", {"target_type": "users", "target": ["u2"], "msg": "HelloWorld"}),
    ("sendMessages", {"target_type": "users", "target": ["u2"], "msg": {"type": "txt", "msg": "x"}, "from": 1}),
    ("sendMessages", {"target_type": "users", "target": ["u2"], "msg": {"type": "txt", "msg": "x"}, "ext": "x"}),
    ("resetPassword", {"username": "u1", "newpassword": None}),
    ("getUser", {"limit": "10"}),
    ("getUser", {"limit": 21}),
    ("getUser", {"limit": 0}),
    ("getUser", {"limit": True}),
    ("getUser", {"limit": 1.5}),
    ("getUser", {"limit": 5, "cursor": 7}),
    ("getUser", {}),
]


@pytest.mark.parametrize(("call", "body"), WRONG)
def test_wrong_type_or_value(gw: Gateway, call: str, body: dict[str, Any]) -> None:
    refused(gw.post(call, {**body, "token": gw.token}), 400, "请求参数异常")


# --- who may get the admin token -------------------------------------------------------------------


def test_get_token_loopback_key_and_proxies(gw: Gateway) -> None:
    assert ok(gw.get_token())["access_token"]
    assert ok(gw.get_token(content=b"not json at all"))["access_token"]  # the body is ignored
    # a request a proxy forwarded is not a loopback caller, whatever address it comes from
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        value = "for=203.0.113.9" if header == "Forwarded" else "203.0.113.9"
        refused(gw.get_token(headers={header: value}), 403, "无权获取授权信息")
        refused(gw.get_token(headers={header: value, "X-HX-Gateway-Key": "wrong"}), 403, "无权获取授权信息")
        assert ok(gw.get_token(headers={header: value, "X-HX-Gateway-Key": GATEWAY_KEY}))["access_token"]


def test_answers_are_http_200_and_json(gw: Gateway) -> None:
    r = gw.http.post("/hx/getUser", json={"username": "nobody-x", "token": gw.token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == 404
    # a wrong method is not a gateway call: the REST API's 405
    assert gw.http.get("/hx/getUser").status_code == 405
