"""Text moderation (Easemob's keyword_list_*, keyword_* and moderation_text_active pages):
`/moderation/text/list…` and `/moderation/txt/check`, and the lists applied to messages sent over
REST. Each test has an app of its own: a list screens every message of its app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Api, Server, assert_error, new_app, unique

LIST_KEYS = ["id", "name", "moderationId", "appkey", "category", "scope", "tagId", "fullMatch", "suggestion",
             "disposition", "quantity", "status", "createDataTime", "updateDataTime"]
WORD_KEYS = ["id", "appId", "word", "userId", "listId", "status", "createDateTime", "updateDateTime"]
PAGE_KEYS = ["status", "entities", "first", "last", "size", "number", "numberOfElements", "totalPages",
             "totalElements"]
L = "/moderation/text/list"


@pytest.fixture
def app(server: Server) -> Api:
    """An app of the test's own (its lists screen nothing else)."""
    return new_app(server)


@pytest.fixture(scope="module")
def shared(server: Server) -> Api:
    """An app for the tests that send no messages and count no lists."""
    return new_app(server)


def _entity(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["status", "entity"] and body["status"] == "OK", body
    return body["entity"]


def _page(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == PAGE_KEYS and body["status"] == "OK", body
    return body


def _create(api: Api, words: list[str], disposition: str = "EXCHANGE", scope: str = "ALL", **kw: Any) -> dict[str, Any]:
    body = {"name": unique("l"), "scope": scope, "disposition": disposition, "userId": "v1", "textContexts": words,
            **kw}
    return _entity(api.post(L, json=body))


def _send(api: Api, sender: str, to: str, text: str, kind: str = "users") -> httpx.Response:
    return api.post(f"/messages/{kind}", json={"from": sender, "to": [to], "type": "txt", "body": {"msg": text}})


def _history_text(api: Api, msg_id: str) -> str:
    r = api.get("/chatmessages", params={"ql": "select * where timestamp>0", "limit": 100})
    assert r.status_code == 200, r.text
    [found] = [m for m in r.json()["entities"] if m["msg_id"] == msg_id]
    return str(found["payload"]["bodies"][0]["msg"])


# --- lists --------------------------------------------------------------------------------------


def test_create_answers_the_list_and_its_words(shared: Api) -> None:
    entity = _create(shared, ["music", "sport", "entertainment"], "PASS", fullMatch=True)
    assert list(entity) == [*LIST_KEYS, "textList"]
    assert (entity["scope"], entity["disposition"], entity["suggestion"], entity["fullMatch"]) == (
        "ALL", "PASS", "PASS", True)
    assert (entity["quantity"], entity["status"], entity["category"], entity["tagId"]) == (3, "ACTIVE", "DEFAULT", None)
    assert entity["appkey"] == f"{shared.creds.org}#{shared.creds.app}"
    assert isinstance(entity["createDataTime"], int)
    words = entity["textList"]
    assert [w["word"] for w in words] == ["music", "sport", "entertainment"]
    assert all(list(w) == WORD_KEYS and w["listId"] == entity["id"] and w["userId"] == "v1" for w in words)


def test_list_refusals(shared: Api) -> None:
    made = _create(shared, [])
    assert made["quantity"] == 0 and made["textList"] == []
    assert_error(shared.post(L, json={"name": made["name"], "scope": "ALL", "disposition": "PASS"}), 400,
                 "Bad Request", "The textList already exists")
    assert_error(shared.post(L, json={"scope": "ALL", "disposition": "PASS"}), 400, "Bad Request",
                 "request param is empty")
    assert_error(shared.post(L, json={"name": "x", "scope": "SOME", "disposition": "PASS"}), 400, "Bad Request")
    assert_error(shared.post(L, json={"name": "x" * 33, "scope": "ALL", "disposition": "PASS"}), 400, "Bad Request")
    too_many = [f"w{i}" for i in range(201)]
    assert_error(shared.post(L, json={"name": "x", "scope": "ALL", "disposition": "PASS", "textContexts": too_many}),
                 400, "Bad Request", "The text count exceeds the maximum number")


def test_modify_search_and_delete_lists(app: Api) -> None:
    first = _create(app, ["a"], "PASS")
    second = _create(app, ["b", "c"], "REJECT", scope="TAG", tagId="111")
    changed = _entity(app.put(f"{L}/{first['id']}", json={"name": "renamed", "scope": "CHAT",
                                                          "disposition": "EXCHANGE", "fullMatch": True}))
    assert list(changed) == LIST_KEYS
    assert (changed["name"], changed["scope"], changed["disposition"], changed["fullMatch"], changed["quantity"]) == (
        "renamed", "CHAT", "EXCHANGE", True, 1)
    assert_error(app.put(f"{L}/{first['id']}", json={"name": second["name"], "scope": "ALL", "disposition": "PASS"}),
                 400, "Bad Request", "The textList already exists")
    assert_error(app.put(f"{L}/nosuch", json={"name": "n", "scope": "ALL", "disposition": "PASS"}), 400,
                 "Bad Request", "textList data is empty")
    every = _page(app.post(f"{L}/search", json={}))
    assert [e["id"] for e in every["entities"]] == [first["id"], second["id"]]
    assert (every["first"], every["last"], every["size"], every["number"], every["totalElements"]) == (
        True, True, 10, 0, 2)
    named = _page(app.post(f"{L}/search", json={"name": "renamed"}))
    assert [e["name"] for e in named["entities"]] == ["renamed"]
    tagged = _page(app.post(f"{L}/search", json={"tagId": "111"}))
    assert [e["id"] for e in tagged["entities"]] == [second["id"]]
    paged = _page(app.post(f"{L}/search", json={"page": "1", "size": 1}))
    assert [e["id"] for e in paged["entities"]] == [second["id"]]
    assert (paged["first"], paged["last"], paged["totalPages"], paged["numberOfElements"]) == (False, True, 2, 1)
    assert_error(app.post(f"{L}/search", json={"size": 201}), 400, "Bad Request")
    r = app.delete(f"{L}/{first['id']}")
    assert r.status_code == 200 and r.json() == {"status": "OK"}, r.text
    assert_error(app.delete(f"{L}/{first['id']}"), 400, "Bad Request", "textList data is empty")
    assert _page(app.post(f"{L}/search", json={}))["totalElements"] == 1


# --- words --------------------------------------------------------------------------------------


def test_words_add_modify_query_delete(shared: Api) -> None:
    made = _create(shared, ["music"])
    lid = made["id"]
    added = _entity(shared.post(f"{L}/{lid}/word/batch", json={"wordContents": ["musicradio", "musicvideo"],
                                                            "userId": "v2"}))
    assert added["quantity"] == 3 and [w["word"] for w in added["textList"]] == ["musicradio", "musicvideo"]
    assert_error(shared.post(f"{L}/{lid}/word/batch", json={"wordContents": ["music"], "userId": "v1"}), 400,
                 "Bad Request", "The textList already contains the text")
    assert_error(shared.post(f"{L}/{lid}/word/batch", json={"wordContents": [], "userId": "v1"}), 400,
                 "Bad Request", "request data is empty")
    assert_error(shared.post(f"{L}/nosuch/word/batch", json={"wordContents": ["x"], "userId": "v1"}), 400,
                 "Bad Request", "textList data is empty")
    found = _page(shared.post(f"{L}/{lid}/word", json={"word": "VIDEO"}))
    assert [w["word"] for w in found["entities"]] == ["musicvideo"]
    assert all(list(w) == WORD_KEYS for w in found["entities"])
    everything = _page(shared.post(f"{L}/{lid}/word", json={"word": "music", "size": "2", "page": "0"}))
    assert [w["word"] for w in everything["entities"]] == ["music", "musicradio"]
    assert (everything["totalElements"], everything["totalPages"], everything["last"]) == (3, 2, False)
    video = found["entities"][0]
    changed = _entity(shared.put(f"{L}/{lid}/word", json={"id": video["id"], "word": "musictv", "userId": "v3"}))
    assert list(changed) == WORD_KEYS
    assert (changed["id"], changed["word"], changed["userId"]) == (video["id"], "musictv", "v3")
    assert_error(shared.put(f"{L}/{lid}/word", json={"id": "nosuch", "word": "w", "userId": "v"}), 400, "Bad Request",
                 "the param can not be empty")
    r = shared.delete(f"{L}/{lid}/word", params={"wordId": video["id"]})
    assert r.status_code == 200 and r.json() == {"status": "OK", "entity": True}, r.text
    ids = [w["id"] for w in _page(shared.post(f"{L}/{lid}/word", json={"word": ""}))["entities"]]
    assert len(ids) == 2
    r = shared.call("DELETE", f"{L}/{lid}/word/batch", json={"wordIds": ids})
    assert r.status_code == 200 and r.json() == {"status": "OK", "entity": 0}, r.text
    assert _page(shared.post(f"{L}/{lid}/word", json={"word": ""}))["totalElements"] == 0
    assert_error(shared.call("DELETE", f"{L}/{lid}/word/batch", json={"wordIds": []}), 400, "Bad Request",
                 "request data is empty")


def test_only_the_app_admin(shared: Api) -> None:
    name = unique("m")
    shared.register(name)
    token = shared.user_token(name)
    for method, path, body in (("POST", L, {"name": "x", "scope": "ALL", "disposition": "PASS"}),
                               ("POST", f"{L}/search", {}), ("POST", "/moderation/txt/check", {"content": "x"})):
        r = shared.call(method, path, json=body, token=token)
        assert r.status_code == 401, r.text
        r = shared.call(method, path, json=body, token=None)
        assert r.status_code == 401, r.text


# --- the text check -----------------------------------------------------------------------------


def test_text_check(app: Api) -> None:
    def check(content: str) -> dict[str, Any]:
        r = app.post("/moderation/txt/check", json={"content": content})
        assert r.status_code == 200, r.text
        body = r.json()
        assert list(body) == ["code", "data", "meta"] and body["code"] == 200
        assert list(body["meta"]) == ["timestamp", "requestId"]
        return dict(body["data"])

    assert check("anything") == {"type": "PASS", "riskType": "无风险", "riskLabel": "NONE",
                                 "exchangeText": "anything", "sensitiveWords": []}
    _create(app, ["darn"], "EXCHANGE")
    replaced = check("Darn it")
    assert (replaced["type"], replaced["exchangeText"], replaced["sensitiveWords"]) == ("REVIEWED", "*** it", ["Darn"])
    _create(app, ["forbidden"], "REJECT")
    refused = check("darn, forbidden")
    assert (refused["type"], refused["riskLabel"], refused["exchangeText"]) == ("REJECT", "BAN", "***, ***")
    assert sorted(refused["sensitiveWords"]) == ["darn", "forbidden"]
    assert_error(app.post("/moderation/txt/check", json={"content": ""}), 400, "Bad Request",
                 "message content is empty or null")


# --- messages sent over REST ----------------------------------------------------------------------


def test_a_rest_message_is_replaced_or_refused_as_the_list_says(app: Api) -> None:
    a, b = unique("ma"), unique("mb")
    app.register(a, b)
    ok = _send(app, a, b, "no list yet: darn")
    assert ok.status_code == 200, ok.text
    exchange = _create(app, ["darn", "heck"], "EXCHANGE")
    r = _send(app, a, b, "Darn, what the HECK")
    assert r.status_code == 200, r.text
    assert _history_text(app, r.json()["data"][b]) == "***, what the ***"
    reject = _create(app, ["forbidden"], "REJECT")
    assert_error(_send(app, a, b, "this is Forbidden"), 403, "forbidden_op", "message is blocked by moderation")
    # a list of another chat type screens nothing here; a full-match list only whole texts
    _entity(app.put(f"{L}/{reject['id']}", json={"name": reject["name"], "scope": "GROUP", "disposition": "REJECT"}))
    assert _send(app, a, b, "this is forbidden").status_code == 200
    _entity(app.put(f"{L}/{exchange['id']}", json={"name": exchange["name"], "scope": "CHAT",
                                                    "disposition": "EXCHANGE", "fullMatch": True}))
    r = _send(app, a, b, "darn it")
    assert _history_text(app, r.json()["data"][b]) == "darn it"
    r = _send(app, a, b, "DARN")
    assert _history_text(app, r.json()["data"][b]) == "***"
    # words removed, or the list deleted: no longer screened
    app.delete(f"{L}/{exchange['id']}")
    r = _send(app, a, b, "DARN")
    assert _history_text(app, r.json()["data"][b]) == "DARN"


def test_group_messages_are_screened_too(app: Api) -> None:
    owner, member = unique("go"), unique("gm")
    app.register(owner, member)
    r = app.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": owner,
                                      "members": [member]})
    gid = str(r.json()["data"]["groupid"])
    made = _create(app, [], "REJECT", scope="GROUP")
    _entity(app.post(f"{L}/{made['id']}/word/batch", json={"wordContents": ["spam"], "userId": "v"}))
    assert_error(_send(app, member, gid, "buy SPAM", "chatgroups"), 403, "forbidden_op")
    assert _send(app, member, owner, "buy spam").status_code == 200  # 1:1 is another scope
