"""Today's contact calls of Easemob's server documentation: checking friends and blocks in a batch
(`user_friend_check`, `user_friend_blocklist_check`), remarks (`user_friend_remark_set`), the paged
list (`user_friend_list_paged`), importing contacts (`user_friend_import`) and removing them all
(`user_friend_remove_all`). What online XMPP sessions are told is in
tests/scenarios/test_xmpp_roster_rest_batch.py."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, Server, assert_envelope, assert_error, unique

EXTRA_ENV = {"HXIM_CONTACTS_MAX": "3"}
CHECK_KEYS = ["action", "application", "path", "uri", "entities", "timestamp", "duration", "organization",
              "applicationName"]
STATUS_KEYS = ["action", "uri", "status", "timestamp", "duration"]
PAGE_KEYS = ["action", "uri", "entities", "data", "timestamp", "duration", "count"]
SHIRO = "org.apache.shiro.authz.UnauthorizedException"


def _users(api: Api, *prefixes: str) -> list[str]:
    names = [unique(p) for p in prefixes]
    api.register(*names)
    return names


def _befriend(api: Api, owner: str, *friends: str) -> None:
    for friend in friends:
        assert api.post(f"/users/{owner}/contacts/users/{friend}").status_code == 200


def _contacts(api: Api, owner: str) -> list[str]:
    return sorted(api.get(f"/users/{owner}/contacts/users").json()["data"])


def _page(api: Api, owner: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/user/{owner}/contacts", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# --- POST /contacts/check ----------------------------------------------------------------------------


def test_check_contacts(api: Api) -> None:
    owner, a, b = _users(api, "co", "ca", "cb")
    ghost = unique("ghost")
    _befriend(api, owner, a)
    r = api.post("/contacts/check", json={"username": owner, "check_list": [a.upper(), b, ghost, a]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, CHECK_KEYS, "post")
    assert body["path"] == "/contacts/check"
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/contacts/check")
    assert body["entities"] == [
        {"username": a.upper(), "relation": "friend"},
        {"username": b, "relation": "not_friend"},
        {"username": ghost, "relation": "not_friend"},
        {"username": a, "relation": "friend"},
    ]
    # mutual: the friend's check sees the owner; a new friendship shows at once
    _befriend(api, b, owner)
    r = api.post("/contacts/check", json={"username": a, "check_list": [owner]})
    assert r.json()["entities"] == [{"username": owner, "relation": "friend"}]
    r = api.post("/contacts/check", json={"username": owner, "check_list": [b]})
    assert r.json()["entities"] == [{"username": b, "relation": "friend"}]


@pytest.mark.parametrize("path", ["/contacts/check", "/blocks/check"])
def test_check_bad_bodies(api: Api, path: str) -> None:
    owner, a = _users(api, "bo", "ba")
    blank = "username cannot be blank"
    size = "check_list size must be between 1 and 100"
    for body, text in (
        ({"check_list": [a]}, blank),
        ({"username": "", "check_list": [a]}, blank),
        ({"username": "  ", "check_list": [a]}, blank),
        ({"username": 7, "check_list": [a]}, blank),
        ([owner], blank),
        ({"username": owner}, size),
        ({"username": owner, "check_list": []}, size),
        ({"username": owner, "check_list": [a] * 101}, size),
        ({"username": owner, "check_list": a}, size),
        ({"username": owner, "check_list": [a, 1]}, "check_list must be an array of usernames"),
    ):
        body_out = assert_error(api.post(path, json=body), 400, "illegal_argument", text)
        assert body_out["exception"] == "java.lang.IllegalArgumentException"
    assert api.post(path, json={"username": owner, "check_list": [a] * 100}).status_code == 200
    assert_error(api.post(path, content=b"{username", headers={"Content-Type": "application/json"}), 400,
                 "json_parse")
    assert_error(api.post(path, json={"username": unique("ghost"), "check_list": [a]}), 404,
                 "service_resource_not_found", "Service resource not found")


@pytest.mark.parametrize("path", ["/contacts/check", "/blocks/check"])
def test_check_access(api: Api, path: str) -> None:
    owner, a = _users(api, "ao", "aa")
    token = api.user_token(owner)
    body = {"username": owner, "check_list": [a]}
    r = api.post(path, token=token, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["entities"][0]["username"] == a
    assert api.post(path, token=token, json={**body, "username": owner.upper()}).status_code == 200
    # another user's lists: not with this token
    body_out = assert_error(api.post(path, token=token, json={"username": a, "check_list": [owner]}), 401,
                            "unauthorized")
    assert body_out["exception"] == SHIRO
    assert_error(api.post(path, token=None, json=body), 401, "unauthorized")
    assert_error(api.post(path, token="YWMtnot-a-token", json=body), 401, "auth_bad_access_token")


# --- POST /blocks/check ------------------------------------------------------------------------------


def test_check_blocks(api: Api) -> None:
    owner, a, b = _users(api, "ko", "ka", "kb")
    assert api.post(f"/users/{owner}/blocks/users", json={"usernames": [a]}).status_code == 200
    r = api.post("/blocks/check", json={"username": owner, "check_list": [a.upper(), b, unique("ghost")]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, CHECK_KEYS, "post")
    assert body["path"] == "/blocks/check"
    assert [e["relation"] for e in body["entities"]] == ["blacklist", "not_blacklist", "not_blacklist"]
    assert body["entities"][0]["username"] == a.upper()
    # one-way: the blocked user blocks nobody; an unblock shows at once
    r = api.post("/blocks/check", json={"username": a, "check_list": [owner]})
    assert r.json()["entities"] == [{"username": owner, "relation": "not_blacklist"}]
    assert api.delete(f"/users/{owner}/blocks/users/{a}").status_code == 200
    r = api.post("/blocks/check", json={"username": owner, "check_list": [a]})
    assert r.json()["entities"] == [{"username": a, "relation": "not_blacklist"}]
    # friends are not blocks
    _befriend(api, owner, b)
    r = api.post("/blocks/check", json={"username": owner, "check_list": [b]})
    assert r.json()["entities"] == [{"username": b, "relation": "not_blacklist"}]


# --- PUT /user/{owner}/contacts/users/{friend} -------------------------------------------------------


def test_remark_set_and_listed(api: Api) -> None:
    owner, a, b = _users(api, "ro", "ra", "rb")
    _befriend(api, owner, a, b)
    r = api.put(f"/user/{owner}/contacts/users/{a}", json={"remark": "school friend"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, STATUS_KEYS, "put")
    assert body["status"] == "ok"
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/user/{owner}/contacts/users/{a}")
    contacts = _page(api, owner, needReturnRemark="true")["data"]["contacts"]
    assert contacts == [{"remark": None, "username": b}, {"remark": "school friend", "username": a}]
    # one-sided: the friend's own list carries no remark on the owner
    assert _page(api, a, needReturnRemark="true")["data"]["contacts"] == [{"remark": None, "username": owner}]
    # changed, any case of the friend's name; at most 100 characters, any text
    long = "备" * 100
    assert api.put(f"/user/{owner}/contacts/users/{a.upper()}", json={"remark": long}).status_code == 200
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"][1] == {"remark": long, "username": a}
    assert api.put(f"/user/{owner}/contacts/users/{a}", json={"remark": ""}).status_code == 200
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"][1] == {"remark": "", "username": a}
    # the remark goes with the friendship
    api.put(f"/user/{owner}/contacts/users/{a}", json={"remark": "gone soon"})
    assert api.delete(f"/users/{a}/contacts/users/{owner}").status_code == 200
    _befriend(api, owner, a)
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"][0] == {"remark": None, "username": a}


def test_remark_errors(api: Api) -> None:
    owner, a, stranger = _users(api, "eo", "ea", "es")
    ghost = unique("ghost")
    _befriend(api, owner, a)
    assert_error(api.put(f"/user/{owner}/contacts/users/{stranger}", json={"remark": "x"}), 400, "illegal_argument",
                 "updateRemark they are not friends, please add as a friend first.")
    assert_error(api.put(f"/user/{owner}/contacts/users/{owner}", json={"remark": "x"}), 400, "illegal_argument",
                 "updateRemark they are not friends, please add as a friend first.")
    assert_error(api.put(f"/user/{owner}/contacts/users/{a}", json={"remark": "x" * 101}), 400, "illegal_argument",
                 "remark must be at most 100 characters")
    for bad in ({}, {"remark": None}, {"remark": 5}, {"remark": ["x"]}, ["x"]):
        assert_error(api.put(f"/user/{owner}/contacts/users/{a}", json=bad), 400, "illegal_argument",
                     "remark must be a string")
    assert_error(api.put(f"/user/{owner}/contacts/users/{ghost}", json={"remark": "x"}), 404,
                 "service_resource_not_found", "Service resource not found")
    assert_error(api.put(f"/user/{ghost}/contacts/users/{a}", json={"remark": "x"}), 404,
                 "service_resource_not_found", "Service resource not found")
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"] == [{"remark": None, "username": a}]


def test_remark_access(api: Api) -> None:
    owner, a = _users(api, "xo", "xa")
    _befriend(api, owner, a)
    token = api.user_token(owner)
    assert api.put(f"/user/{owner}/contacts/users/{a}", token=token, json={"remark": "mine"}).status_code == 200
    assert_error(api.put(f"/user/{a}/contacts/users/{owner}", token=token, json={"remark": "theirs"}), 401,
                 "unauthorized")
    assert_error(api.put(f"/user/{owner}/contacts/users/{a}", token=None, json={"remark": "x"}), 401, "unauthorized")
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"] == [{"remark": "mine", "username": a}]
    assert _page(api, a, needReturnRemark="true")["data"]["contacts"] == [{"remark": None, "username": owner}]


# --- GET /user/{username}/contacts -------------------------------------------------------------------


def test_paged_list_newest_first(api: Api) -> None:
    owner, *friends = _users(api, "po", "p1", "p2", "p3", "p4", "p5")
    _befriend(api, owner, *friends)
    newest_first = friends[::-1]
    body = _page(api, owner)
    assert_envelope(body, PAGE_KEYS, "get")  # the last page: no cursor
    assert body["entities"] == [] and body["count"] == 5
    assert body["data"] == {"contacts": [{"username": n} for n in newest_first]}
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/user/{owner}/contacts")
    # pages of two, with the cursor until the last
    seen: list[str] = []
    cursor = None
    for expected in (2, 2, 1):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = _page(api, owner, **params)
        assert body["count"] == expected
        seen += [c["username"] for c in body["data"]["contacts"]]
        cursor = body.get("cursor")
        if expected == 2:
            assert list(body) == [*PAGE_KEYS[:-1], "cursor", "count"] and cursor
    assert cursor is None
    assert seen == newest_first
    # remarks only when asked for
    api.put(f"/user/{owner}/contacts/users/{friends[0]}", json={"remark": "first"})
    assert _page(api, owner, limit=1, needReturnRemark="false")["data"]["contacts"] == [{"username": friends[4]}]
    last = _page(api, owner, limit=50, needReturnRemark="TRUE")["data"]["contacts"][-1]
    assert last == {"remark": "first", "username": friends[0]}


def test_paged_list_default_limit_and_empty(api: Api) -> None:
    owner, *friends = _users(api, "do", *["d"] * 11)
    body = _page(api, owner)
    assert body["data"] == {"contacts": []} and body["count"] == 0 and "cursor" not in body
    _befriend(api, owner, *friends)
    body = _page(api, owner)
    assert body["count"] == 10 and body["cursor"]
    assert _page(api, owner, cursor=body["cursor"])["data"]["contacts"] == [{"username": friends[0]}]


def test_paged_list_errors_and_access(api: Api) -> None:
    owner, a = _users(api, "qo", "qa")
    _befriend(api, owner, a)
    assert_error(api.get(f"/user/{owner}/contacts", params={"limit": 51}), 400, "illegal_argument",
                 "getContacts | page size more than max limit : 50")
    for bad in ("0", "-1", "abc", ""):
        assert_error(api.get(f"/user/{owner}/contacts", params={"limit": bad}), 400, "illegal_argument")
    assert_error(api.get(f"/user/{owner}/contacts", params={"cursor": "not-a-cursor"}), 400, "illegal_argument")
    assert_error(api.get(f"/user/{unique('ghost')}/contacts"), 404, "service_resource_not_found",
                 "Service resource not found")
    token = api.user_token(owner)
    r = api.get(f"/user/{owner}/contacts", token=token)
    assert r.status_code == 200 and r.json()["data"]["contacts"] == [{"username": a}]
    assert_error(api.get(f"/user/{a}/contacts", token=token), 401, "unauthorized")
    assert_error(api.get(f"/user/{owner}/contacts", token=None), 401, "unauthorized")


# --- POST /users/{username}/contacts/import ----------------------------------------------------------

IMPORT_KEYS = ["action", "uri", "status", "data", "timestamp", "duration"]


def _import(api: Api, owner: str, names: Any, **kw: Any) -> dict[str, Any]:
    r = api.post(f"/users/{owner}/contacts/import", json={"usernames": names}, **kw)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, IMPORT_KEYS, "post")
    assert body["status"] == "ok"
    assert list(body["data"]) == ["UnKnowFailed", "success", "NotExistFailed", "maxLimitFailed"]
    return body["data"]


def test_import(api: Api) -> None:
    owner, a, b, c = _users(api, "io", "ia", "ib", "ic")
    ghost = unique("ghost")
    _befriend(api, owner, c)
    data = _import(api, owner, [a, b.upper(), ghost, owner, a.upper(), c])
    assert data == {"UnKnowFailed": [owner], "success": [a, b, c], "NotExistFailed": [ghost], "maxLimitFailed": []}
    # mutual, as a single add
    assert _contacts(api, owner) == sorted([a, b, c])
    assert _contacts(api, a) == [owner] and _contacts(api, b) == [owner]
    # again: nothing changes
    assert _import(api, owner, [a])["success"] == [a]
    assert _contacts(api, owner) == sorted([a, b, c])


def test_import_errors_and_access(api: Api) -> None:
    owner, a, b = _users(api, "jo", "ja", "jb")
    path = f"/users/{owner}/contacts/import"
    assert_error(api.post(path, json={"usernames": [f"n{i}" for i in range(11)]}), 400, "illegal_argument",
                 "request user over flow limit:10.")
    for bad in ({}, {"usernames": []}, {"usernames": a}, {"usernames": [a, 1]}, {"usernames": [""]}, [a]):
        assert_error(api.post(path, json=bad), 400, "illegal_argument",
                     "usernames must be a non-empty array of usernames")
    assert_error(api.post(f"/users/{unique('ghost')}/contacts/import", json={"usernames": [a]}), 404,
                 "service_resource_not_found")
    assert _contacts(api, owner) == []
    token = api.user_token(owner)
    assert _import(api, owner, [a], token=token)["success"] == [a]
    assert_error(api.post(f"/users/{b}/contacts/import", token=token, json={"usernames": [owner]}), 401,
                 "unauthorized")
    assert_error(api.post(path, token=None, json={"usernames": [b]}), 401, "unauthorized")
    assert _contacts(api, owner) == [a] and _contacts(api, b) == []


def test_import_respects_contacts_max(extra_server: Server) -> None:
    api = Api(extra_server)  # contacts_max is 3 here
    owner, x, a, full, b, c, f1, f2, f3 = _users(api, "mo", "mx", "ma", "mf", "mb", "mc", "m1", "m2", "m3")
    _befriend(api, owner, x)
    _befriend(api, full, f1, f2, f3)
    data = _import(api, owner, [a, full, b, c])
    assert data == {"UnKnowFailed": [], "success": [a, b], "NotExistFailed": [], "maxLimitFailed": [full, c]}
    assert _contacts(api, owner) == sorted([x, a, b])
    assert owner not in _contacts(api, full) and _contacts(api, c) == []
    # no room at all: the whole import is refused
    body = assert_error(api.post(f"/users/{owner}/contacts/import", json={"usernames": [c]}), 403, "exceed_limit",
                        "Inviter's contact max count.")
    assert body["exception"] == "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException"
    assert _contacts(api, c) == []


# --- DELETE /contacts/users/{username} ---------------------------------------------------------------


def test_remove_all(api: Api) -> None:
    owner, a, b, c = _users(api, "wo", "wa", "wb", "wc")
    _befriend(api, owner, a, b)
    _befriend(api, a, c)
    api.put(f"/user/{owner}/contacts/users/{a}", json={"remark": "old friend"})
    assert api.post(f"/users/{owner}/blocks/users", json={"usernames": [b, c]}).status_code == 200
    r = api.delete(f"/contacts/users/{owner}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, CHECK_KEYS, "delete")
    assert body["path"] == f"/contacts/users/{owner}" and body["entities"] == []
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/contacts/users/{owner}")
    # both sides, nobody else's friendships; the block list stays
    assert _contacts(api, owner) == [] and _contacts(api, b) == []
    assert _contacts(api, a) == [c] and _contacts(api, c) == [a]
    assert sorted(api.get(f"/users/{owner}/blocks/users").json()["data"]) == sorted([b, c])
    # the remarks went with the friendships
    _befriend(api, owner, a)
    assert _page(api, owner, needReturnRemark="true")["data"]["contacts"] == [{"remark": None, "username": a}]
    # nothing left to remove is fine too
    assert api.delete(f"/contacts/users/{b}").status_code == 200


def test_remove_all_errors_and_access(api: Api) -> None:
    owner, a, b = _users(api, "vo", "va", "vb")
    _befriend(api, owner, a)
    _befriend(api, b, a)
    assert_error(api.delete(f"/contacts/users/{unique('ghost')}"), 404, "service_resource_not_found",
                 "Service resource not found")
    token = api.user_token(owner)
    assert_error(api.delete(f"/contacts/users/{b}", token=token), 401, "unauthorized")
    assert_error(api.delete(f"/contacts/users/{owner}", token=None), 401, "unauthorized")
    assert _contacts(api, a) == sorted([owner, b])
    assert api.delete(f"/contacts/users/{owner}", token=token).status_code == 200
    assert _contacts(api, owner) == [] and _contacts(api, a) == [b]
