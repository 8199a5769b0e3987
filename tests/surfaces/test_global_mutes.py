"""Global mutes: `/mutes` (Easemob's user_global_mute_set, _query_single and _query_all pages),
and a muted user's REST sends refused (the XMPP side: tests/scenarios/test_xmpp_global_mute.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from conftest import Api, Server, assert_envelope, assert_error, new_app, unique

ENVELOPE = ["action", "application", "path", "uri", "data", "timestamp", "duration", "organization",
            "applicationName"]
MUTED = "user is globally muted"


def _data(r: httpx.Response, action: str) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENVELOPE, action)
    assert body["path"] == "/mutes"
    return body["data"]


def _mute(api: Api, username: str, **seconds: int) -> None:
    assert _data(api.post("/mutes", json={"username": username, **seconds}), "post") == {"result": "ok"}


def _user(api: Api, prefix: str = "gm") -> str:
    name = unique(prefix)
    api.register(name)
    return name


def _send(api: Api, sender: str, kind: str, target: str) -> httpx.Response:
    return api.post(f"/messages/{kind}", json={"from": sender, "to": [target], "type": "txt", "body": {"msg": "hi"}})


# --- set and query --------------------------------------------------------------------------------


def test_set_then_query_one(api: Api) -> None:
    name = _user(api)
    _mute(api, name, chat=100, groupchat=-1)
    r = api.get(f"/mutes/{name.upper()}")
    data = _data(r, "get")
    assert list(data) == ["userid", "chat", "groupchat", "chatroom", "unixtime"]
    assert data["userid"] == f"{api.creds.org}#{api.creds.app}_{name}"
    assert 99 <= data["chat"] <= 100 and data["groupchat"] == -1 and data["chatroom"] == 0
    assert abs(data["unixtime"] - time.time()) < 60
    assert r.json()["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/mutes/{name.upper()}")


def test_types_not_named_keep_their_mutes_and_zero_unmutes(api: Api) -> None:
    name = _user(api)
    _mute(api, name, chat=300)
    _mute(api, name, chatroom=60)
    data = _data(api.get(f"/mutes/{name}"), "get")
    assert 299 <= data["chat"] <= 300 and 59 <= data["chatroom"] <= 60 and data["groupchat"] == 0
    _mute(api, name, chat=0, groupchat=-1)
    data = _data(api.get(f"/mutes/{name}"), "get")
    assert data["chat"] == 0 and data["groupchat"] == -1 and 59 <= data["chatroom"] <= 60
    _mute(api, name)  # nothing named: accepted, nothing changes (the docs' tip)
    assert _data(api.get(f"/mutes/{name}"), "get")["groupchat"] == -1
    _mute(api, name, chat=None)  # type: ignore[arg-type]  # null: not named
    assert _data(api.get(f"/mutes/{name}"), "get")["groupchat"] == -1


def test_list_pages_by_username_then_chat_type(server: Server) -> None:
    api = new_app(server)
    a, b, c, d = (f"{p}{unique('')}" for p in ("la", "lb", "lc", "ld"))
    api.register(a, b, c, d)
    _mute(api, b, chatroom=50, chat=-1)
    _mute(api, a, groupchat=100)
    _mute(api, c, chat=100)
    _mute(api, c, chat=0)  # unmuted: not listed
    _mute(api, d, chat=1)
    time.sleep(1.1)  # d's mute is over: not listed
    data = _data(api.get("/mutes", params={"pageNum": "1", "pageSize": "2"}), "get")
    assert list(data) == ["data", "unixtime"] and abs(data["unixtime"] - time.time()) < 60
    assert list(data["data"][0]) == ["username", "groupchat"] and data["data"][0]["username"] == a
    assert 98 <= data["data"][0]["groupchat"] <= 100
    assert data["data"][1] == {"username": b, "chat": -1}
    page2 = _data(api.get("/mutes", params={"pageNum": "2", "pageSize": "2"}), "get")["data"]
    assert [(e["username"], list(e)[1]) for e in page2] == [(b, "chatroom")]
    assert _data(api.get("/mutes", params={"pageNum": "3", "pageSize": "2"}), "get")["data"] == []
    everything = _data(api.get("/mutes"), "get")["data"]  # page 1 of 10 by default
    assert [e["username"] for e in everything] == [a, b, b]


def test_bad_requests(api: Api) -> None:
    name = _user(api)
    ghost = unique("ghost")
    no_user = "Entity user requires a property named username"
    assert_error(api.post("/mutes", json={"username": ghost, "chat": 10}), 400, "required_property_not_found", no_user)
    assert_error(api.get(f"/mutes/{ghost}"), 400, "required_property_not_found", no_user)
    for body in ({"chat": 10}, {"username": "", "chat": 10}, {"username": 5}):
        assert_error(api.post("/mutes", json=body), 400, "required_property_not_found", no_user)
    for value in (-2, 2147483648, "10", True, 1.5, [1]):
        assert_error(api.post("/mutes", json={"username": name, "chat": value}), 400, "illegal_argument")
    for body in ([], "text", 1):
        assert_error(api.post("/mutes", json=body), 400, "illegal_argument")
    assert_error(api.post("/mutes", content=b"{", headers={"Content-Type": "application/json"}), 400, "json_parse")
    # the largest duration is accepted; nothing of the refusals was kept
    _mute(api, name, chatroom=2147483647)
    data = _data(api.get(f"/mutes/{name}"), "get")
    assert data["chat"] == 0 and data["chatroom"] >= 2147483640
    for params in ({"pageSize": "0"}, {"pageSize": "51"}, {"pageSize": "x"}, {"pageNum": "0"}, {"pageNum": "-1"},
                   {"pageNum": "99999999999"}):
        assert_error(api.get("/mutes", params=params), 400, "illegal_argument")
    assert _data(api.get("/mutes", params={"pageSize": "50"}), "get")["data"] is not None


def test_admin_token_only(api: Api, server: Server) -> None:
    name = _user(api)
    own = api.user_token(name)
    other = Api(server, "other")
    for token in (own, None, "garbage", other.token):
        for r in (
            api.post("/mutes", token=token, json={"username": name, "chat": 10}),
            api.get(f"/mutes/{name}", token=token),
            api.get("/mutes", token=token),
        ):
            assert r.status_code == 401, r.text
    assert _data(api.get(f"/mutes/{name}"), "get")["chat"] == 0  # nothing was set


# --- the rule: a muted user's sends are refused ----------------------------------------------------


def _offline(api: Api, name: str) -> int:
    return api.get(f"/users/{name}/offline_msg_count").json()["data"][name]


def test_rest_sends_of_a_muted_user_are_refused(api: Api) -> None:
    sender, peer, owner = _user(api, "ms"), _user(api, "mp"), _user(api, "mo")
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10,
                                        "owner": owner, "members": [sender, peer]}).json()["data"]["groupid"]
    rid = api.post("/chatrooms", json={"name": "r", "description": "d", "maxusers": 10, "owner": owner,
                                       "members": [sender, peer]}).json()["data"]["id"]
    _mute(api, sender, chat=-1)
    assert_error(_send(api, sender, "users", peer), 403, "forbidden_op", MUTED)
    legacy = {"target_type": "users", "target": [peer], "msg": {"type": "txt", "msg": "hi"}, "from": sender}
    assert_error(api.post("/messages", json=legacy), 403, "forbidden_op", MUTED)
    assert_error(_send(api, sender.upper(), "users", peer), 403, "forbidden_op", MUTED)  # any case of the name
    assert _offline(api, peer) == 0  # nothing stored
    # other chat types are not muted; the app itself never is
    assert _send(api, sender, "chatgroups", gid).status_code == 200
    assert _send(api, sender, "chatrooms", rid).status_code == 200
    assert api.post("/messages/users", json={"to": [peer], "type": "txt", "body": {"msg": "a"}}).status_code == 200
    _mute(api, sender, groupchat=100, chatroom=100)
    assert_error(_send(api, sender, "chatgroups", gid), 403, "forbidden_op", MUTED)
    assert_error(_send(api, sender, "chatrooms", rid), 403, "forbidden_op", MUTED)
    directed = {"from": sender, "to": [gid], "users": [peer], "type": "txt", "body": {"msg": "hi"}}
    assert_error(api.post("/messages/chatgroups/users", json=directed), 403, "forbidden_op", MUTED)
    legacy_group = {**legacy, "target_type": "chatgroups", "target": [gid]}
    assert_error(api.post("/messages", json=legacy_group), 403, "forbidden_op", MUTED)
    assert _send(api, peer, "chatgroups", gid).status_code == 200  # the others still speak
    # unmuted: through again, and stored
    _mute(api, sender, chat=0, groupchat=0, chatroom=0)
    before = _offline(api, peer)
    assert _send(api, sender, "users", peer).status_code == 200
    assert _send(api, sender, "chatgroups", gid).status_code == 200
    assert _offline(api, peer) == before + 2


def test_a_mute_ends_by_itself(api: Api) -> None:
    sender, peer = _user(api, "es"), _user(api, "ep")
    _mute(api, sender, chat=1)
    assert_error(_send(api, sender, "users", peer), 403, "forbidden_op", MUTED)
    time.sleep(1.1)
    assert _send(api, sender, "users", peer).status_code == 200
    assert _data(api.get(f"/mutes/{sender}"), "get")["chat"] == 0


def test_mutes_go_with_the_user(api: Api) -> None:
    name, peer = _user(api, "dm"), _user(api, "dp")
    _mute(api, name, chat=-1, groupchat=-1)
    assert api.delete(f"/users/{name}").status_code == 200
    assert_error(api.get(f"/mutes/{name}"), 400, "required_property_not_found")
    api.register(name)  # the same name again starts unmuted
    data = _data(api.get(f"/mutes/{name}"), "get")
    assert (data["chat"], data["groupchat"], data["chatroom"]) == (0, 0, 0)
    assert _send(api, name, "users", peer).status_code == 200


def test_mutes_are_per_app(server: Server, api: Api) -> None:
    other = Api(server, "other")
    name = unique("pa")
    api.register(name)
    other.register(name, unique("pb"))
    _mute(api, name, chat=-1)
    assert _data(other.get(f"/mutes/{name}"), "get")["chat"] == 0
    peer = _user(other, "pp")
    assert _send(other, name, "users", peer).status_code == 200
