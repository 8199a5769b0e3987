"""Users (easemob-rest.md §3): register, get, list, delete, password, profile, activation, status."""

from __future__ import annotations

import pytest

from conftest import Api, Server, assert_envelope, assert_error, assert_user_entity, new_app, unique

ENTITY_KEYS = ["action", "application", "params", "path", "uri", "entities", "timestamp", "duration",
               "organization", "applicationName"]
GET_KEYS = [*ENTITY_KEYS, "count"]
PAGE_KEYS = [*ENTITY_KEYS, "cursor", "count"]
DATA_KEYS = ["action", "application", "uri", "entities", "data", "timestamp", "duration", "organization",
             "applicationName", "count"]


@pytest.fixture(scope="module")
def paged(server: Server) -> tuple[Api, list[dict]]:
    """An app of its own with 13 users registered in two batches, in a known order."""
    api = new_app(server)
    names = [f"p{i:02d}{unique('')}" for i in range(13)]
    entities = api.register(*names[:7]) + api.register(*names[7:])
    return api, entities


# --- register ------------------------------------------------------------------------------------


def test_register_one_envelope_and_entity(api: Api) -> None:
    name = unique("Reg")
    r = api.post("/users", json={"username": name, "password": "pw1", "nickname": "建国"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "post")
    assert body["application"] == api.creds.application
    assert body["params"] == {}
    assert body["path"] == "/users"
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/users")
    assert body["organization"] == api.creds.org and body["applicationName"] == api.creds.app
    [entity] = body["entities"]
    assert_user_entity(entity, name, nickname="建国")
    assert entity["created"] == entity["modified"]


def test_register_batch_keeps_order_and_case(api: Api) -> None:
    names = [unique("Ab"), unique("cD"), unique("ef")]
    r = api.post("/users", json=[{"username": n, "password": "pw"} for n in names])
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "post")
    assert [e["username"] for e in body["entities"]] == names
    for e, n in zip(body["entities"], names, strict=True):
        assert_user_entity(e, n)
    assert len({e["uuid"] for e in body["entities"]}) == 3


def test_usernames_are_case_insensitive_and_keep_first_case(api: Api) -> None:
    name = unique("MiXed")
    [entity] = api.register(name)
    for form in (name.lower(), name.upper(), name):
        r = api.get(f"/users/{form}")
        assert r.status_code == 200, r.text
        assert r.json()["entities"][0]["username"] == name
        assert r.json()["entities"][0]["uuid"] == entity["uuid"]
    other = name.swapcase()
    body = assert_error(api.post("/users", json={"username": other, "password": "x"}), 400,
                        "duplicate_unique_property_exists")
    assert body["exception"] == "org.apache.usergrid.persistence.exceptions.DuplicateUniquePropertyExistsException"
    assert body["error_description"] == (
        f"Application {api.creds.application}Entity user requires that property named username be unique, "
        f"value of {other} exists"
    )
    # the password grant also ignores case
    assert api.user_token(name.upper())


# --- get -------------------------------------------------------------------------------------------


def test_get_by_name_and_by_uuid(api: Api) -> None:
    name = unique()
    [entity] = api.register(name)
    by_name = api.get(f"/users/{name}")
    by_uuid = api.get(f"/users/{entity['uuid']}")
    for r in (by_name, by_uuid):
        assert r.status_code == 200, r.text
        body = r.json()
        assert_envelope(body, GET_KEYS, "get")
        assert body["path"] == "/users" and body["params"] == {} and body["count"] == 1
        assert body["entities"] == [entity]


def test_get_unknown_user(api: Api) -> None:
    body = assert_error(api.get(f"/users/{unique('nobody')}"), 404, "service_resource_not_found",
                        "Service resource not found")
    assert body["exception"] == "org.apache.usergrid.services.exceptions.ServiceResourceNotFoundException"
    assert list(body) == ["error", "timestamp", "duration", "exception", "error_description"]


# --- list ------------------------------------------------------------------------------------------


def test_list_pages_with_cursor(paged: tuple[Api, list[dict]]) -> None:
    api, entities = paged
    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        r = api.get("/users", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        expected_params = {"limit": ["5"], **({"cursor": [cursor]} if cursor else {})}
        assert body["params"] == expected_params
        assert body["path"] == "/users"
        assert body["count"] == len(body["entities"])
        seen += body["entities"]
        if "cursor" not in body:
            assert_envelope(body, GET_KEYS, "get")
            break
        assert_envelope(body, PAGE_KEYS, "get")
        assert isinstance(body["cursor"], str) and "=" not in body["cursor"]
        cursor = body["cursor"]
    assert pages == 3
    assert [e["uuid"] for e in seen] == [e["uuid"] for e in entities]  # creation order


def test_list_default_limit_is_ten(paged: tuple[Api, list[dict]]) -> None:
    api, entities = paged
    body = api.get("/users").json()
    assert body["params"] == {}
    assert body["count"] == 10 and len(body["entities"]) == 10
    assert [e["username"] for e in body["entities"]] == [e["username"] for e in entities[:10]]
    assert "cursor" in body


def test_list_exact_last_page_has_no_cursor(paged: tuple[Api, list[dict]]) -> None:
    api, _ = paged
    body = api.get("/users", params={"limit": "13"}).json()
    assert body["count"] == 13 and "cursor" not in body


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1"])
def test_list_bad_limit(api: Api, limit: str) -> None:
    assert_error(api.get("/users", params={"limit": limit}), 400, "illegal_argument")


def test_list_bad_cursor(api: Api) -> None:
    assert_error(api.get("/users", params={"cursor": "not a cursor!"}), 400, "illegal_argument")


# --- delete ----------------------------------------------------------------------------------------


def test_delete_one(api: Api) -> None:
    name = unique("Del")
    [entity] = api.register(name)
    r = api.delete(f"/users/{name.lower()}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "delete")
    assert body["path"] == "/users"
    [gone] = body["entities"]
    assert gone["uuid"] == entity["uuid"] and gone["username"] == name
    assert gone["activated"] is False
    assert_error(api.get(f"/users/{name}"), 404, "service_resource_not_found")
    assert_error(api.delete(f"/users/{name}"), 404, "service_resource_not_found")


def test_delete_oldest_n(server: Server) -> None:
    api = new_app(server)
    names = [unique("o") for _ in range(5)]
    api.register(*names[:3])
    api.register(*names[3:])
    r = api.delete("/users", params={"limit": "2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "delete"
    assert body["params"] == {"limit": ["2"]}
    assert body["path"] == "/users"
    assert body["count"] == 2
    assert [e["username"] for e in body["entities"]] == names[:2]
    left = api.get("/users").json()
    assert [e["username"] for e in left["entities"]] == names[2:]
    body = api.delete("/users", params={"limit": "10"}).json()
    assert [e["username"] for e in body["entities"]] == names[2:]
    assert "cursor" not in body
    assert api.get("/users").json()["entities"] == []


def test_deleting_a_user_removes_everything_that_hangs_on_them(api: Api) -> None:
    victim, friend, blocker = unique("v"), unique("f"), unique("b")
    api.register(victim, friend, blocker)
    old_token = api.user_token(victim)
    assert api.post(f"/users/{victim}/contacts/users/{friend}").status_code == 200
    assert api.post(f"/users/{victim}/blocks/users", json={"usernames": [blocker]}).status_code == 200
    assert api.post(f"/users/{blocker}/blocks/users", json={"usernames": [victim]}).status_code == 200
    r = api.post("/messages", json={"target_type": "users", "target": [victim], "msg": {"type": "txt", "msg": "hi"}})
    assert r.status_code == 200
    assert api.get(f"/users/{victim}/offline_msg_count").json()["data"] == {victim: 1}

    assert api.delete(f"/users/{victim}").status_code == 200
    assert api.get(f"/users/{friend}/contacts/users").json()["data"] == []
    assert api.get(f"/users/{blocker}/blocks/users").json()["data"] == []
    assert_error(api.get(f"/users/{victim}", token=old_token), 401, "auth_bad_access_token")

    # a new user with the same name starts empty, and the old token does not speak for them
    api.register(victim)
    assert api.get(f"/users/{victim}/offline_msg_count").json()["data"] == {victim: 0}
    assert api.get(f"/users/{victim}/contacts/users").json()["data"] == []
    assert api.get(f"/users/{victim}/blocks/users").json()["data"] == []
    assert_error(api.get(f"/users/{victim}", token=old_token), 401, "auth_bad_access_token")


# --- password --------------------------------------------------------------------------------------


def test_reset_password(api: Api) -> None:
    name = unique()
    api.register(name)
    r = api.put(f"/users/{name}/password", json={"newpassword": "n3w"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ["action", "timestamp", "duration"], "set user password")
    assert api.user_token(name, "n3w")
    r = api.post("/token", token=None, json={"grant_type": "password", "username": name, "password": "secret1"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_reset_password_errors(api: Api) -> None:
    name = unique()
    api.register(name)
    assert_error(api.put(f"/users/{name}/password", json={}), 400, "illegal_argument", "newpassword is required")
    assert_error(api.put(f"/users/{name}/password", json={"newpassword": ""}), 400, "illegal_argument",
                 "newpassword is required")
    body = assert_error(api.put(f"/users/{unique('ghost')}/password", json={"newpassword": "x"}), 404,
                        "entity_not_found", "User null not found")
    assert body["exception"] == "org.apache.usergrid.persistence.exceptions.EntityNotFoundException"


def test_user_changes_own_password(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    assert_error(api.put(f"/users/{name}/password", token=token, json={"newpassword": "n"}), 400,
                 "illegal_argument", "oldPassword is required")
    assert_error(api.put(f"/users/{name}/password", token=token, json={"oldpassword": "wrong", "newpassword": "n"}),
                 400, "illegal_argument")
    r = api.put(f"/users/{name}/password", token=token, json={"oldpassword": "secret1", "newpassword": "n2"})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "set user password"
    assert api.user_token(name, "n2")


# --- nickname and push settings --------------------------------------------------------------------


def test_modify_nickname_and_push_fields(api: Api) -> None:
    name = unique()
    [created] = api.register(name)
    r = api.put(f"/users/{name}", json={"nickname": "张建国"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENTITY_KEYS, "put")
    assert body["path"] == "/users"
    [entity] = body["entities"]
    assert_user_entity(entity, name, nickname="张建国")
    assert entity["uuid"] == created["uuid"] and entity["created"] == created["created"]
    push = {
        "notification_display_style": 1,
        "notification_no_disturbing": True,
        "notification_no_disturbing_start": "0",
        "notification_no_disturbing_end": "24",
    }
    r = api.put(f"/users/{name}", json=push)
    assert r.status_code == 200, r.text
    [entity] = r.json()["entities"]
    assert_user_entity(entity, name, nickname="张建国", **push)
    assert api.get(f"/users/{name}").json()["entities"][0] == entity


def test_modify_unknown_user_and_bad_values(api: Api) -> None:
    body = assert_error(api.put(f"/users/{unique('ghost')}", json={"nickname": "x"}), 400,
                        "required_property_not_found", "Entity user requires a property named username")
    assert body["exception"] == "org.apache.usergrid.persistence.exceptions.RequiredPropertyNotFoundException"
    name = unique()
    api.register(name)
    assert_error(api.put(f"/users/{name}", json={"nickname": "n" * 101}), 400, "illegal_argument")
    assert_error(api.put(f"/users/{name}", json={"notification_no_disturbing": "yes"}), 400, "illegal_argument")


# --- deactivate / activate / disconnect ------------------------------------------------------------


def test_deactivate_and_activate(api: Api) -> None:
    name = unique()
    api.register(name)
    r = api.post(f"/users/{name}/deactivate")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ["action", "entities", "timestamp", "duration"], "Deactivate user")
    assert_user_entity(body["entities"][0], name, activated=False)
    assert api.get(f"/users/{name}").json()["entities"][0]["activated"] is False
    r = api.post("/token", token=None, json={"grant_type": "password", "username": name, "password": "secret1"})
    assert r.status_code == 401, r.text

    r = api.post(f"/users/{name}/activate")
    assert r.status_code == 200, r.text
    assert_envelope(r.json(), ["action", "timestamp", "duration"], "activate user")
    assert api.get(f"/users/{name}").json()["entities"][0]["activated"] is True
    assert api.user_token(name)


def test_disconnect_is_a_get(api: Api) -> None:
    name = unique()
    api.register(name)
    r = api.get(f"/users/{name}/disconnect")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, DATA_KEYS, "get")
    assert body["entities"] == [] and body["data"] == {"result": False} and body["count"] == 0
    assert_error(api.get(f"/users/{unique('ghost')}/disconnect"), 404, "service_resource_not_found")
    assert api.post(f"/users/{name}/disconnect").status_code == 405


# --- status ----------------------------------------------------------------------------------------


def test_status(api: Api) -> None:
    name = unique("St")
    api.register(name)
    r = api.get(f"/users/{name.lower()}/status")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, DATA_KEYS, "get")
    assert body["entities"] == [] and body["data"] == {name: "offline"} and body["count"] == 0
    assert_error(api.get(f"/users/{unique('ghost')}/status"), 404, "service_resource_not_found")


def test_batch_status(api: Api) -> None:
    a, b = unique(), unique()
    api.register(a, b)
    ghost = unique("ghost")
    r = api.post("/users/batch/status", json={"usernames": [a, ghost, b]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ["action", "data", "timestamp", "duration"], "get batch user status")
    assert body["data"] == [{a: "offline"}, {ghost: "offline"}, {b: "offline"}]
    assert_error(api.post("/users/batch/status", json={"usernames": [f"u{i}" for i in range(101)]}), 400,
                 "illegal_argument")
    assert_error(api.post("/users/batch/status", json={"names": [a]}), 400, "illegal_argument")


# --- concurrency and odd inputs ---------------------------------------------------------------------


def test_concurrent_registration_of_one_name(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    name = unique("race")

    def attempt(i: int) -> int:
        with api.server.client() as http:
            r = http.post(f"{api.prefix}/users", headers=api.headers(api.token),
                          json={"username": name.upper() if i % 2 else name, "password": "pw"})
            assert r.status_code in (200, 400), r.text
            if r.status_code == 400:
                assert r.json()["error"] == "duplicate_unique_property_exists", r.text
            return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert codes.count(200) == 1, codes
    assert api.get(f"/users/{name}").status_code == 200


def test_unicode_password_and_limits(api: Api) -> None:
    name = unique()
    api.register(name, password="pässwörd 密码")
    assert api.user_token(name, "pässwörd 密码")
    assert api.get("/users", params={"limit": "100"}).status_code == 200
    assert_error(api.put(f"/users/{name}", json={}), 400, "illegal_argument")
    assert_error(api.post("/users", json={"username": unique(), "password": "pw", "nickname": 5}), 400,
                 "illegal_argument")


# --- ql (old clients' `GET /users?ql=select * where username='x'`) ----------------------------------


def test_list_filtered_by_ql(paged: tuple[Api, list[dict]]) -> None:
    api, entities = paged
    first, second, third = (e["username"] for e in entities[:3])
    body = api.get("/users", params={"ql": f"select * where username='{second}'"}).json()
    assert_envelope(body, GET_KEYS, "get")
    assert body["params"] == {"ql": [f"select * where username='{second}'"]}
    assert body["count"] == 1 and [e["username"] for e in body["entities"]] == [second]
    assert_user_entity(body["entities"][0], second)
    # any case of the name, `or`, double quotes, no `select *`; each user once, in the order named
    ql = f"SELECT * WHERE username = '{third.upper()}' or username=\"{first}\" OR username='{third}'"
    assert [e["username"] for e in api.get("/users", params={"ql": ql}).json()["entities"]] == [third, first]
    ql = f"where username='{first}' or username='{unique('ghost')}'"
    assert [e["username"] for e in api.get("/users", params={"ql": ql}).json()["entities"]] == [first]
    assert [e["username"] for e in api.get("/users", params={"ql": f"username='{first}'"}).json()["entities"]] == [
        first
    ]
    body = api.get("/users", params={"ql": f"select * where username='{unique('ghost')}'"}).json()
    assert body["entities"] == [] and body["count"] == 0 and "cursor" not in body
    # `limit` still applies; `select *` alone (or an empty ql) is every user
    ql = f"select * where username='{first}' or username='{second}'"
    assert [e["username"] for e in api.get("/users", params={"ql": ql, "limit": "1"}).json()["entities"]] == [first]
    for ql in ("select *", ""):
        body = api.get("/users", params={"ql": ql}).json()
        assert body["count"] == 10 and "cursor" in body


@pytest.mark.parametrize("ql", [
    "select * where name='x'",
    "select * where username='x' and nickname='y'",
    "select * where username='x' order by created desc",
    "select * where username contains 'x'",
    "select username where username='x'",
    "select * where username='x' or",
    "select * where username=x",
    "select * where created > 0",
    "delete * where username='x'",
])
def test_list_refuses_a_ql_it_does_not_understand(api: Api, ql: str) -> None:
    assert_error(api.get("/users", params={"ql": ql}), 400, "illegal_argument")


def test_list_refuses_two_different_ql(api: Api) -> None:
    r = api.get("/users", params=[("ql", "select * where username='a'"), ("ql", "select * where username='b'")])
    assert_error(r, 400, "illegal_argument")
