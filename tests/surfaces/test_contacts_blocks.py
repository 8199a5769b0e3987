"""Contacts (friends) and the block list (easemob-rest.md §4)."""

from __future__ import annotations

from conftest import Api, assert_envelope, assert_error, assert_user_entity, unique

ENTITY_KEYS = ["action", "application", "params", "path", "uri", "entities", "timestamp", "duration",
               "organization", "applicationName"]
LIST_KEYS = ["action", "application", "uri", "entities", "data", "timestamp", "duration", "organization",
             "applicationName", "count"]


def _users(api: Api, *prefixes: str) -> list[tuple[str, dict]]:
    names = [unique(p) for p in prefixes]
    return list(zip(names, api.register(*names), strict=True))


# --- contacts --------------------------------------------------------------------------------------


def test_add_contact_is_mutual(api: Api) -> None:
    (owner, owner_e), (friend, friend_e) = _users(api, "Own", "Fr")
    r = api.post(f"/users/{owner}/contacts/users/{friend.upper()}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "post")
    assert body["params"] == {}
    assert body["path"] == f"/users/{owner_e['uuid']}/contacts"
    assert body["entities"] == [friend_e]

    r = api.get(f"/users/{owner}/contacts/users")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, LIST_KEYS, "get")
    assert body["entities"] == [] and body["data"] == [friend] and body["count"] == 1
    assert api.get(f"/users/{friend}/contacts/users").json()["data"] == [owner]


def test_add_contact_twice_and_list_order(api: Api) -> None:
    (owner, _), (a, _), (b, _) = _users(api, "o", "a", "b")
    for friend in (a, b, a):
        assert api.post(f"/users/{owner}/contacts/users/{friend}").status_code == 200
    body = api.get(f"/users/{owner}/contacts/users").json()
    assert body["data"] == [a, b] and body["count"] == 2


def test_delete_contact_removes_both_sides(api: Api) -> None:
    (owner, owner_e), (friend, friend_e) = _users(api, "o", "f")
    api.post(f"/users/{owner}/contacts/users/{friend}")
    r = api.delete(f"/users/{owner}/contacts/users/{friend}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "delete")
    assert body["path"] == f"/users/{owner_e['uuid']}/contacts"
    assert body["entities"] == [friend_e]
    empty = api.get(f"/users/{owner}/contacts/users").json()
    assert empty["data"] == [] and empty["count"] == 0
    assert api.get(f"/users/{friend}/contacts/users").json()["data"] == []


def test_contact_unknown_users(api: Api) -> None:
    (owner, _), = _users(api, "o")
    ghost = unique("ghost")
    assert_error(api.post(f"/users/{owner}/contacts/users/{ghost}"), 404, "service_resource_not_found")
    assert_error(api.post(f"/users/{ghost}/contacts/users/{owner}"), 404, "service_resource_not_found")
    assert_error(api.get(f"/users/{ghost}/contacts/users"), 404, "service_resource_not_found")
    assert_error(api.delete(f"/users/{owner}/contacts/users/{ghost}"), 404, "service_resource_not_found")


def test_contacts_with_user_tokens(api: Api) -> None:
    (owner, owner_e), (friend, _), (stranger, _) = _users(api, "o", "f", "s")
    token = api.user_token(owner)
    r = api.post(f"/users/{owner}/contacts/users/{friend}", token=token)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == f"/users/{owner_e['uuid']}/contacts"
    assert api.get(f"/users/{owner}/contacts/users", token=token).json()["data"] == [friend]
    # not on someone else's list
    assert_error(api.get(f"/users/{friend}/contacts/users", token=token), 401, "unauthorized")
    assert_error(api.post(f"/users/{stranger}/contacts/users/{friend}", token=token), 401, "unauthorized")
    assert api.get(f"/users/{stranger}/contacts/users").json()["data"] == []


# --- blocks ----------------------------------------------------------------------------------------


def test_block_add_list_remove(api: Api) -> None:
    (owner, owner_e), (a, _), (b, b_e) = _users(api, "o", "Ba", "Bb")
    r = api.post(f"/users/{owner}/blocks/users", json={"usernames": [a.lower(), b]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ["action", "application", "uri", "entities", "data", "timestamp", "duration",
                           "organization", "applicationName"], "post")
    assert body["data"] == [a, b]
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}")

    r = api.get(f"/users/{owner}/blocks/users")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, LIST_KEYS, "get")
    assert body["entities"] == [] and body["data"] == [a, b] and body["count"] == 2

    r = api.delete(f"/users/{owner}/blocks/users/{b}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "delete")
    assert body["path"] == f"/users/{owner_e['uuid']}/blocks"
    assert body["entities"] == [b_e]
    assert_user_entity(body["entities"][0], b)
    assert api.get(f"/users/{owner}/blocks/users").json()["data"] == [a]
    # blocks are one-way: the blocked user's list is untouched
    assert api.get(f"/users/{a}/blocks/users").json()["data"] == []


def test_block_unknown_user_adds_nothing(api: Api) -> None:
    (owner, _), (a, _) = _users(api, "o", "a")
    ghost = unique("ghost")
    body = assert_error(api.post(f"/users/{owner}/blocks/users", json={"usernames": [a, ghost]}), 400,
                        "illegal_argument",
                        f"attempt to adding new block[{ghost}] for user[{owner}],but user[{ghost}] not found.")
    assert body["exception"] == "java.lang.IllegalArgumentException"
    assert api.get(f"/users/{owner}/blocks/users").json()["data"] == []


def test_block_bad_bodies(api: Api) -> None:
    (owner, _), = _users(api, "o")
    for bad in ({}, {"usernames": []}, {"usernames": "x"}, [owner]):
        assert_error(api.post(f"/users/{owner}/blocks/users", json=bad), 400, "illegal_argument")
    assert_error(api.post(f"/users/{unique('ghost')}/blocks/users", json={"usernames": [owner]}), 404,
                 "service_resource_not_found")


def test_blocks_with_user_tokens(api: Api) -> None:
    (owner, _), (a, _) = _users(api, "o", "a")
    token = api.user_token(owner)
    assert api.post(f"/users/{owner}/blocks/users", token=token, json={"usernames": [a]}).status_code == 200
    assert api.get(f"/users/{owner}/blocks/users", token=token).json()["data"] == [a]
    assert_error(api.get(f"/users/{a}/blocks/users", token=token), 401, "unauthorized")
    assert api.delete(f"/users/{owner}/blocks/users/{a}", token=token).status_code == 200
    assert api.get(f"/users/{owner}/blocks/users").json()["data"] == []


def test_concurrent_adds_both_ways(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (a, _), (b, _) = _users(api, "ra", "rb")

    def add(i: int) -> int:
        owner, friend = (a, b) if i % 2 else (b, a)
        with api.server.client() as http:
            r = http.post(f"{api.prefix}/users/{owner}/contacts/users/{friend}", headers=api.headers(api.token))
            return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(add, range(16)))
    assert codes == [200] * 16, codes
    assert api.get(f"/users/{a}/contacts/users").json()["data"] == [b]
    assert api.get(f"/users/{b}/contacts/users").json()["data"] == [a]


def test_concurrent_blocks(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (owner, _), (a, _), (b, _) = _users(api, "o", "a", "b")

    def block(i: int) -> int:
        with api.server.client() as http:
            r = http.post(f"{api.prefix}/users/{owner}/blocks/users", headers=api.headers(api.token),
                          json={"usernames": [a, b] if i % 2 else [b]})
            return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(block, range(16)))
    assert codes == [200] * 16, codes
    assert sorted(api.get(f"/users/{owner}/blocks/users").json()["data"]) == sorted([a, b])
