"""Offline push settings (Easemob's push_* pages): device bindings, batch push nicknames,
notification settings per conversation and user-wide, language, templates (the app's and a
user's), and the push statistics. A user token acts for that user only; the app admin for anyone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conftest import Api, assert_error, new_app, unique

ENVELOPE_APP = {"action", "application", "uri", "timestamp", "duration", "organization", "applicationName"}
PERMISSION = "unauthorized"


def _ok(r: httpx.Response, action: str) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == action and set(body) >= ENVELOPE_APP, body
    return body


def _invalid(r: httpx.Response, field: str) -> None:
    assert_error(r, 400, "illegal_argument", f"parameters is invalid : {field}")


def _users(api: Api, n: int) -> list[str]:
    names = [unique("p") for _ in range(n)]
    api.register(*names)
    return names


# --- device bindings ---------------------------------------------------------------------------------------


def test_bind_unbind_and_list_devices(api: Api) -> None:
    a, b = _users(api, 2)
    r = api.put(f"/users/{a}/push/binding", json={"device_id": "dev1", "device_token": "tok1",
                                                   "notifier_name": "fcm"})
    assert _ok(r, "put")["entities"] == [{"device_id": "dev1", "device_token": "tok1", "notifier_name": "fcm"}]
    # a second certificate on the same device, a second device
    r = api.put(f"/users/{a}/push/binding", json={"device_id": "dev1", "device_token": "tok2",
                                                   "notifier_name": "apns"})
    assert {e["notifier_name"] for e in _ok(r, "put")["entities"]} == {"fcm", "apns"}
    api.put(f"/users/{a}/push/binding", json={"device_id": "dev2", "device_token": "tok3", "notifier_name": "fcm"})
    listed = _ok(api.get(f"/users/{a}/push/binding"), "get")["entities"]
    assert sorted((e["device_id"], e["notifier_name"]) for e in listed) == [
        ("dev1", "apns"), ("dev1", "fcm"), ("dev2", "fcm")]
    # an empty token unbinds one certificate; an empty notifier_name every one of the device
    r = api.put(f"/users/{a}/push/binding", json={"device_id": "dev1", "device_token": "", "notifier_name": "fcm"})
    assert [e["notifier_name"] for e in _ok(r, "put")["entities"]] == ["apns"]
    r = api.put(f"/users/{a}/push/binding", json={"device_id": "dev1", "device_token": "", "notifier_name": ""})
    assert _ok(r, "put")["entities"] == []
    # a device is bound to one user at a time: b taking dev2 unbinds it from a
    api.put(f"/users/{b}/push/binding", json={"device_id": "dev2", "device_token": "tok4", "notifier_name": "fcm"})
    assert _ok(api.get(f"/users/{a}/push/binding"), "get")["entities"] == []
    assert len(_ok(api.get(f"/users/{b}/push/binding"), "get")["entities"]) == 1


def test_bind_refusals_and_permissions(api: Api) -> None:
    a, b = _users(api, 2)
    _invalid(api.put(f"/users/{a}/push/binding", json={"device_token": "t", "notifier_name": "n"}), "device_id")
    _invalid(api.put(f"/users/{a}/push/binding", json={"device_id": "d", "device_token": 5, "notifier_name": "n"}),
             "device_token")
    _invalid(api.put(f"/users/{a}/push/binding", json=[1]), "device_id")
    assert_error(api.get(f"/users/{unique('nobody')}/push/binding"), 400, "required_property_not_found",
                 "Entity user requires a property named username")
    token = api.user_token(a)
    r = api.put(f"/users/{a}/push/binding", token=token,
                json={"device_id": "d", "device_token": "t", "notifier_name": "n"})
    assert r.status_code == 200, r.text
    assert_error(api.get(f"/users/{b}/push/binding", token=token), 401, PERMISSION)
    assert_error(api.get(f"/users/{a}/push/binding", token=None), 401, PERMISSION)


# --- push nicknames -------------------------------------------------------------------------------------------


def test_batch_push_nicknames_set_the_nicknames(api: Api) -> None:
    a, b = _users(api, 2)
    ghost = unique("ghost")
    r = api.put("/push/nickname", json=[{"username": a, "push_nickname": "Alice"},
                                        {"username": b, "push_nickname": "推送昵称"},
                                        {"username": ghost, "push_nickname": "nobody"}])
    body = _ok(r, "put")
    assert body["path"] == "/push"
    assert body["entities"] == [{"push_nickname": "Alice", "username": a}, {"push_nickname": "推送昵称", "username": b}]
    assert api.get(f"/users/{a}").json()["entities"][0]["nickname"] == "Alice"
    assert_error(api.put("/push/nickname", json=[]), 400, "illegal_argument",
                 "put user push nicknames illegal empty request body")
    assert_error(api.put("/push/nickname", json=[{"username": a, "push_nickname": "x"}] * 51), 400,
                 "illegal_argument", "put user push nicknames exceeds the limit")
    assert_error(api.put("/push/nickname", json=[{"username": a, "push_nickname": "x" * 101}]), 400,
                 "illegal_argument", f"{a} push nickname length exceeds the limit")
    assert_error(api.put("/push/nickname", token=api.user_token(a), json=[{"username": a, "push_nickname": "x"}]),
                 401, PERMISSION)


# --- notification settings -------------------------------------------------------------------------------------


def test_conversation_and_user_wide_settings(api: Api) -> None:
    a, b = _users(api, 2)
    # nothing set: a conversation follows the user's setting, the user-wide one is ALL
    data = _ok(api.get(f"/users/{a}/notification/user/{b}"), "get")["data"]
    assert data == {"type": "DEFAULT", "ignoreDuration": 0, "ignoreInterval": ""}
    assert _ok(api.get(f"/users/{a}/notification/user/{a}"), "get")["data"]["type"] == "ALL"
    before = int(time.time() * 1000)
    r = api.put(f"/users/{a}/notification/user/{a}",
                json={"type": "NONE", "ignoreInterval": "21:30-08:00", "ignoreDuration": 86_400_000})
    body = _ok(r, "put")
    assert body["path"] == "/users" and list(body["data"]) == ["type", "ignoreDuration", "ignoreInterval"]
    assert body["data"]["type"] == "NONE" and body["data"]["ignoreInterval"] == "21:30-08:00"
    assert before + 86_400_000 <= body["data"]["ignoreDuration"] <= int(time.time() * 1000) + 86_400_000
    # a partial change keeps the rest
    data = _ok(api.put(f"/users/{a}/notification/user/{a}", json={"type": "AT"}), "put")["data"]
    assert data["type"] == "AT" and data["ignoreInterval"] == "21:30-08:00"
    data = _ok(api.put(f"/users/{a}/notification/user/{a}", json={"ignoreDuration": 0, "ignoreInterval": ""}),
               "put")["data"]
    assert data == {"type": "AT", "ignoreDuration": 0, "ignoreInterval": ""}
    # a group conversation, with the user's own token
    token = api.user_token(a)
    r = api.put(f"/users/{a}/notification/chatgroup/123456", token=token, json={"type": "AT"})
    assert _ok(r, "put")["data"]["type"] == "AT"
    assert _ok(api.get(f"/users/{a}/notification/chatgroup/123456", token=token), "get")["data"]["type"] == "AT"
    # the peer's name is not case-sensitive
    api.put(f"/users/{a}/notification/user/{b.upper()}", json={"type": "NONE"})
    assert _ok(api.get(f"/users/{a}/notification/user/{b}"), "get")["data"]["type"] == "NONE"


def test_setting_refusals_and_permissions(api: Api) -> None:
    a, b = _users(api, 2)
    _invalid(api.put(f"/users/{a}/notification/user/{b}", json={"type": "SOME"}), "type")
    _invalid(api.put(f"/users/{a}/notification/user/{a}", json={"type": "DEFAULT"}), "type")  # not user-wide
    _invalid(api.put(f"/users/{a}/notification/user/{a}", json={"ignoreInterval": "25:00-08:00"}), "ignoreInterval")
    _invalid(api.put(f"/users/{a}/notification/user/{a}", json={"ignoreDuration": 604_800_001}), "ignoreDuration")
    _invalid(api.put(f"/users/{a}/notification/user/{a}", json={"ignoreDuration": -1}), "ignoreDuration")
    _invalid(api.put(f"/users/{a}/notification/chatroom/1", json={"type": "ALL"}), "chattype")
    _invalid(api.get(f"/users/{a}/notification/other/1"), "chattype")
    assert_error(api.put(f"/users/{unique('nobody')}/notification/user/{a}", json={"type": "ALL"}), 400,
                 "required_property_not_found")
    token = api.user_token(a)
    assert_error(api.put(f"/users/{b}/notification/user/{b}", token=token, json={"type": "ALL"}), 401, PERMISSION)
    assert_error(api.get(f"/users/{b}/notification/user/{a}", token=token), 401, PERMISSION)


def test_language(api: Api) -> None:
    (a,) = _users(api, 1)
    assert _ok(api.get(f"/users/{a}/notification/language"), "get")["data"] == {"language": ""}
    body = _ok(api.put(f"/users/{a}/notification/language", json={"translationLanguage": "EU"}), "put")
    assert body["data"] == {"language": "EU"} and body["path"] == "/users"
    token = api.user_token(a)
    assert _ok(api.get(f"/users/{a}/notification/language", token=token), "get")["data"] == {"language": "EU"}
    _ok(api.put(f"/users/{a}/notification/language", token=token, json={"translationLanguage": ""}), "put")
    assert _ok(api.get(f"/users/{a}/notification/language"), "get")["data"] == {"language": ""}
    _invalid(api.put(f"/users/{a}/notification/language", json={}), "translationLanguage")
    (b,) = _users(api, 1)
    assert_error(api.get(f"/users/{b}/notification/language", token=token), 401, PERMISSION)


# --- templates ------------------------------------------------------------------------------------------------


def test_templates_create_query_update_delete(api: Api) -> None:
    name = unique("t").replace("_", "")
    r = api.post("/notification/template", json={"name": name, "title_pattern": "你好,{0}",
                                                  "content_pattern": "推送测试,{0}"})
    data = _ok(r, "post")["data"]
    assert list(data) == ["name", "createAt", "updateAt", "title_pattern", "content_pattern"]
    assert data["name"] == name and data["title_pattern"] == "你好,{0}" and data["createAt"] == data["updateAt"]
    assert _ok(api.get(f"/notification/template/{name}"), "get")["data"] == data
    changed = _ok(api.put(f"/notification/template/{name}", json={"title_pattern": "T", "content_pattern": "C"}),
                  "put")["data"]
    assert changed["title_pattern"] == "T" and changed["createAt"] == data["createAt"]
    assert_error(api.post("/notification/template", json={"name": name, "title_pattern": "a",
                                                           "content_pattern": "b"}), 400, "illegal_argument")
    assert _ok(api.delete(f"/notification/template/{name}"), "delete")["data"]["title_pattern"] == "T"
    assert_error(api.get(f"/notification/template/{name}"), 400, "entity_not_found", f"{name} template is not exist")
    assert_error(api.delete(f"/notification/template/{name}"), 400, "entity_not_found")
    _invalid(api.post("/notification/template", json={"name": "bad name", "title_pattern": "a",
                                                       "content_pattern": "b"}), "name")
    _invalid(api.post("/notification/template", json={"name": "ok1", "content_pattern": "b"}), "title_pattern")
    (a,) = _users(api, 1)
    assert_error(api.get(f"/notification/template/{name}", token=api.user_token(a)), 401, PERMISSION)


def test_a_users_template(api: Api) -> None:
    (a,) = _users(api, 1)
    name = unique("t").replace("_", "")
    api.post("/notification/template", json={"name": name, "title_pattern": "t", "content_pattern": "c"})
    token = api.user_token(a)
    body = _ok(api.put(f"/users/{a}/notification/template", token=token, json={"templateName": name}), "put")
    assert body["data"] == {"templateName": name}
    assert _ok(api.get(f"/users/{a}/notification/template"), "get")["data"] == {"templateName": name}
    assert_error(api.put(f"/users/{a}/notification/template", json={"templateName": "nosuch"}), 400,
                 "entity_not_found", "nosuch template is not exist")
    _invalid(api.put(f"/users/{a}/notification/template", json={}), "templateName")


# --- statistics ---------------------------------------------------------------------------------------------


def test_statistics_without_a_gateway_are_zeros(server: Any) -> None:
    api = new_app(server)
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=1)).isoformat(), today.isoformat()
    r = api.get(f"/push/data/offline-push/begin/{start}/end/{end}", params={"platform": "ALL"})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "OK", "data": {
        end: {"HTTP": {"successCount": 0, "failCount": 0}}, start: {"HTTP": {"successCount": 0, "failCount": 0}}}}
    r = api.get(f"/push/data/offline-push/begin/{end}/end/{end}", params={"platform": "APNS"})
    assert r.json()["data"] == {end: {}}
    assert_error(api.get(f"/push/data/offline-push/begin/{end}/end/{start}"), 400, "illegal_argument")
    assert_error(api.get("/push/data/offline-push/begin/2024-4-1/end/2024-04-02"), 400, "illegal_argument")
    assert_error(api.get("/push/data/offline-push/begin/2024-01-01/end/2024-04-02"), 400, "illegal_argument")
    (a,) = _users(api, 1)
    assert_error(api.get(f"/push/data/offline-push/begin/{end}/end/{end}", token=api.user_token(a)), 401,
                 PERMISSION)
