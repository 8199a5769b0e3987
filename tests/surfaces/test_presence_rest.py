"""Easemob presence over REST: a device's status and custom text (presence_set), subscriptions
(presence_subscribe, presence_subscription_list_obtain, presence_unsubscribe), the batch read
(presence_get) and a group's online members (presence_group_online_count_obtain).

What live sessions add (devices online, followers told, a group's online count) is in
tests/scenarios/test_xmpp_presence_subscriptions.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import Api, Server, assert_error, unique

# the server of `extra_server` (conftest): small subscription limits
EXTRA_ENV = {"HXIM_PRESENCE_SUBSCRIPTIONS_MAX": "2", "HXIM_PRESENCE_SUBSCRIBERS_MAX": "2"}
SHIRO = "org.apache.shiro.authz.UnauthorizedException"


def _users(api: Api, *prefixes: str) -> list[str]:
    names = [unique(p) for p in prefixes]
    api.register(*names)
    return names


def _result(r: Any) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["result"], body
    return body["result"]


def _get(api: Api, who: str, *names: str, token: Any = "default") -> list[dict[str, Any]]:
    return _result(api.post(f"/users/{who}/presence", json={"usernames": list(names)}, token=token))


def _sublist(api: Api, who: str, query: str = "?pageNum=1&pageSize=100", token: Any = "default") -> dict[str, Any]:
    return _result(api.get(f"/users/{who}/presence/sublist{query}", token=token))


def _near(seconds: str, expected: float, slack: float = 5) -> bool:
    return abs(int(seconds) - expected) <= slack


# --- presence_set and presence_get -----------------------------------------------------------------


def test_set_status_then_read_it(api: Api) -> None:
    a, b = _users(api, "pa", "Pb")
    assert _get(api, a, b) == [{"uid": b, "last_time": "0", "ext": "", "status": {}}]  # never seen
    r = api.post(f"/users/{b}/presence/android_123/2", json={"ext": "in a meeting"})
    assert _result(r) == "ok"
    [p] = _get(api, a, b.lower(), unique("ghost"))  # any case; unknown users are left out
    assert list(p) == ["uid", "last_time", "ext", "status"]
    assert p["uid"] == b and p["ext"] == "in a meeting" and p["status"] == {"android_123": "2"}
    assert _near(p["last_time"], time.time())
    # a second device; the latest text is the user's
    assert _result(api.post(f"/users/{b}/presence/web_9/1", json={"ext": ""})) == "ok"
    [p] = _get(api, a, b)
    assert p["ext"] == "" and p["status"] == {"android_123": "2", "web_9": "1"}
    # setting a device again replaces its status
    api.post(f"/users/{b}/presence/android_123/0", json={"ext": "gone home"})
    [p] = _get(api, a, b)
    assert p["ext"] == "gone home" and p["status"] == {"android_123": "0", "web_9": "1"}


def test_set_status_refusals(api: Api) -> None:
    [a] = _users(api, "pa")
    path = f"/users/{a}/presence/ios_1"
    for body in (None, {}, {"ext": None}, {"other": "x"}):
        assert_error(api.post(f"{path}/1", json=body), 400, "illegal_argument", "ext cannot be null")
    assert_error(api.post(f"{path}/1", json={"ext": 5}), 400, "illegal_argument", "ext must be a string")
    assert _result(api.post(f"{path}/1", json={"ext": "é" * 512})) == "ok"  # 1024 bytes
    assert_error(api.post(f"{path}/1", json={"ext": "é" * 512 + "x"}), 400, "illegal_argument", "ext is too big")
    for status in ("busy", "-1", "1.5", "1" * 17):
        assert_error(api.post(f"{path}/{status}", json={"ext": "x"}), 400, "illegal_argument")
    assert_error(api.post(f"/users/{a}/presence/{'r' * 256}/1", json={"ext": "x"}), 400, "illegal_argument")
    assert_error(api.post(f"/users/{unique('ghost')}/presence/ios_1/1", json={"ext": "x"}), 404,
                 "service_resource_not_found")
    [p] = _get(api, a, a)
    assert p["status"] == {"ios_1": "1"} and p["ext"] == "é" * 512  # the refusals changed nothing


def test_batch_get_limits(api: Api) -> None:
    a, b = _users(api, "pa", "pb")
    too_many = [unique("n") for _ in range(101)]
    assert_error(api.post(f"/users/{a}/presence", json={"usernames": too_many}), 400, "illegal_argument",
                 "too many get presences")
    assert_error(api.post(f"/users/{a}/presence", json={"usernames": "x"}), 400, "illegal_argument")
    assert _get(api, a) == []
    assert _get(api, unique("ghost"), b) == []  # the docs: an unknown user gets an empty list
    assert [p["uid"] for p in _get(api, a, b, b.upper(), a)] == [b, a]


# --- subscriptions ---------------------------------------------------------------------------------------


def test_subscribe_list_and_unsubscribe(api: Api) -> None:
    a, b, c = _users(api, "sa", "sb", "sc")
    api.post(f"/users/{c}/presence/web_1/3", json={"ext": "out to lunch"})
    found = _result(api.post(f"/users/{a}/presence/1000", json={"usernames": [c, b, unique("ghost")]}))
    assert [p["uid"] for p in found] == [c, b]
    assert list(found[0]) == ["uid", "last_time", "expiry", "ext", "status"]
    assert found[0]["ext"] == "out to lunch" and found[0]["status"] == {"web_1": "3"}
    assert found[1]["ext"] == "" and found[1]["status"] == {} and found[1]["last_time"] == "0"
    assert _near(found[0]["expiry"], time.time() + 1000) and found[0]["expiry"] == found[1]["expiry"]

    listed = _sublist(api, a)
    assert list(listed) == ["totalnum", "sublist"]
    assert listed["totalnum"] == "2"
    assert listed["sublist"] == sorted(({"uid": p["uid"], "expiry": p["expiry"]} for p in found),
                                       key=lambda s: s["uid"].lower())
    # pages (pageSize defaults to 1; page 0 is the first, as the Web SDK's documentation sends it)
    first = sorted([b, c], key=str.lower)
    assert [s["uid"] for s in _sublist(api, a, "")["sublist"]] == first[:1]
    assert [s["uid"] for s in _sublist(api, a, "?pageNum=0&pageSize=1")["sublist"]] == first[:1]
    page2 = _sublist(api, a, "?pageNum=2&pageSize=1")
    assert page2["totalnum"] == "2" and [s["uid"] for s in page2["sublist"]] == first[1:]
    assert _sublist(api, a, "?pageNum=3&pageSize=1")["sublist"] == []
    # the other side follows nobody
    assert _sublist(api, b) == {"totalnum": "0", "sublist": []}

    # subscribing again replaces the expiry
    again = _result(api.post(f"/users/{a}/presence/60", json={"usernames": [b]}))
    assert _near(again[0]["expiry"], time.time() + 60)
    assert {s["uid"]: s["expiry"] for s in _sublist(api, a)["sublist"]}[b] == again[0]["expiry"]

    # unsubscribe: the page's example (a bare array), and its parameter table (`users`)
    assert _result(api.delete(f"/users/{a}/presence", json=[b.upper()])) == "ok"
    assert [s["uid"] for s in _sublist(api, a)["sublist"]] == [c]
    assert _result(api.delete(f"/users/{a}/presence", json={"users": [c, unique("ghost")]})) == "ok"
    assert _sublist(api, a) == {"totalnum": "0", "sublist": []}
    assert _result(api.delete(f"/users/{unique('ghost')}/presence", json=[b])) == "ok"  # nothing to stop


def test_subscription_refusals(api: Api) -> None:
    a, b = _users(api, "sa", "sb")
    sub = f"/users/{a}/presence"
    for body in (None, {}, {"usernames": []}):
        assert_error(api.post(f"{sub}/100", json=body), 400, "illegal_argument", "usernames is empty")
    assert_error(api.post(f"{sub}/100", json={"usernames": [b, 1]}), 400, "illegal_argument")
    many = [unique("n") for _ in range(101)]
    assert_error(api.post(f"{sub}/100", json={"usernames": many}), 400, "illegal_argument", "too many sub presence")
    assert_error(api.post(f"{sub}/100", json={"usernames": [b, a.upper()]}), 400, "illegal_argument",
                 "you can't sub yourself")
    for expiry in ("0", "2592001", "abc", "-5", "99999999999999999999"):
        assert_error(api.post(f"{sub}/{expiry}", json={"usernames": [b]}), 400, "illegal_argument")
    assert_error(api.post(f"/users/{unique('ghost')}/presence/100", json={"usernames": [b]}), 404,
                 "service_resource_not_found")
    assert _sublist(api, a) == {"totalnum": "0", "sublist": []}
    assert _near(_result(api.post(f"{sub}/2592000", json={"usernames": [b]}))[0]["expiry"], time.time() + 2592000)
    for query in ("?pageSize=0", "?pageSize=101", "?pageSize=x", "?pageNum=-1", "?pageNum=x"):
        assert_error(api.get(f"{sub}/sublist{query}"), 400, "illegal_argument")
    assert_error(api.delete(sub, json=[]), 400, "illegal_argument", "usernames cannot be null")
    assert_error(api.delete(sub), 400, "illegal_argument", "usernames cannot be null")
    assert_error(api.delete(sub, json=many), 400, "illegal_argument", "too many unsub presences")
    assert _sublist(api, unique("ghost")) == {"totalnum": "0", "sublist": []}  # the docs: an empty list


def test_expired_subscriptions_are_ignored(api: Api) -> None:
    a, b, c = _users(api, "ea", "eb", "ec")
    _result(api.post(f"/users/{a}/presence/1", json={"usernames": [b]}))
    _result(api.post(f"/users/{a}/presence/100", json={"usernames": [c]}))
    time.sleep(1.2)
    listed = _sublist(api, a)
    assert listed["totalnum"] == "1" and [s["uid"] for s in listed["sublist"]] == [c]


def test_a_deleted_user_takes_their_presence_and_subscriptions(api: Api) -> None:
    a, b, c = _users(api, "da", "db", "dc")
    api.post(f"/users/{b}/presence/web_1/2", json={"ext": "busy"})
    api.post(f"/users/{a}/presence/100", json={"usernames": [b, c]})
    api.post(f"/users/{b}/presence/100", json={"usernames": [c]})
    assert api.delete(f"/users/{b}").status_code == 200
    assert [s["uid"] for s in _sublist(api, a)["sublist"]] == [c]
    api.register(b)  # the name again, someone new
    [p] = _get(api, a, b)
    assert p["status"] == {} and p["ext"] == "" and p["last_time"] == "0"
    assert _sublist(api, b) == {"totalnum": "0", "sublist": []}


# --- presence_group_online_count_obtain ---------------------------------------------------------------


def test_group_online_count(api: Api) -> None:
    a, b = _users(api, "ga", "gb")
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a, "members": [b]})
    gid = r.json()["data"]["groupid"]
    api.post(f"/users/{a}/presence/web_1/1", json={"ext": ""})  # a status set over REST is no session
    assert _result(api.get(f"/presence/online/{gid}/type/1")) == 0
    assert_error(api.get(f"/presence/online/{gid}/type/2"), 400, "illegal_argument", "Type must be 0 or 1.")
    assert_error(api.get(f"/presence/online/{gid}/type/0"), 400, "illegal_argument")
    assert_error(api.get("/presence/online/123456789/type/1"), 404, "resource_not_found")
    assert_error(api.get("/presence/online/nogroup/type/1"), 404, "resource_not_found")


# --- who may call ----------------------------------------------------------------------------------------


def test_a_users_token_acts_for_that_user_only(api: Api) -> None:
    me, you = _users(api, "me", "you")
    token = api.user_token(me)
    assert _result(api.post(f"/users/{me}/presence/web_1/2", json={"ext": "mine"}, token=token)) == "ok"
    assert _result(api.post(f"/users/{me}/presence/100", json={"usernames": [you]}, token=token))[0]["uid"] == you
    assert _sublist(api, me, token=token)["totalnum"] == "1"
    assert [p["uid"] for p in _get(api, me, you, me, token=token)] == [you, me]
    assert _result(api.delete(f"/users/{me}/presence", json=[you], token=token)) == "ok"
    refused = [
        ("POST", f"/users/{you}/presence/web_1/2", {"ext": "x"}),
        ("POST", f"/users/{you}/presence/100", {"usernames": [me]}),
        ("GET", f"/users/{you}/presence/sublist", None),
        ("POST", f"/users/{you}/presence", {"usernames": [me]}),
        ("DELETE", f"/users/{you}/presence", [me]),
        ("GET", "/presence/online/1/type/1", None),
    ]
    for method, path, body in refused:
        for tok in (token, None):
            err = assert_error(api.call(method, path, token=tok, json=body), 401, "unauthorized")
            assert err["exception"] == SHIRO
    assert_error(api.post(f"/users/{me}/presence", json={"usernames": [you]}, token="YWMtnot-a-token"), 401,
                 "auth_bad_access_token")
    [p] = _get(api, me, you)
    assert p["status"] == {}  # nothing the refused calls asked for happened
    assert _sublist(api, you)["totalnum"] == "0"


# --- limits (a server of their own) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(extra_server: Server) -> Api:
    return Api(extra_server)


def test_past_the_subscription_limit_the_one_closest_to_expiry_goes(small: Api) -> None:
    a, b, c, d = _users(small, "la", "lb", "lc", "ld")
    _result(small.post(f"/users/{a}/presence/100", json={"usernames": [b]}))
    _result(small.post(f"/users/{a}/presence/300", json={"usernames": [c]}))
    _result(small.post(f"/users/{a}/presence/200", json={"usernames": [d]}))
    assert sorted(s["uid"] for s in _sublist(small, a)["sublist"]) == sorted([c, d])


def test_past_the_subscriber_limit_a_subscription_is_refused(small: Api) -> None:
    t, x, y, z = _users(small, "lt", "lx", "ly", "lz")
    for who in (x, y):
        _result(small.post(f"/users/{who}/presence/100", json={"usernames": [t]}))
    assert_error(small.post(f"/users/{z}/presence/100", json={"usernames": [t]}), 400, "illegal_argument",
                 f"user {t} is followed by 2 users already")
    assert _sublist(small, z)["totalnum"] == "0"
    _result(small.post(f"/users/{x}/presence/500", json={"usernames": [t]}))  # a follower may renew
