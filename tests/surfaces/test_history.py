"""Chat history export, Usergrid query form (easemob-rest.md §9.1): `GET /chatmessages`."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from conftest import Api, Server, assert_envelope, assert_error, new_app, unique

GET_KEYS = ["action", "application", "params", "path", "uri", "entities", "timestamp", "duration",
            "organization", "applicationName", "count"]
PAGE_KEYS = [*GET_KEYS[:-1], "cursor", "count"]
ENTITY_KEYS = ["uuid", "type", "created", "modified", "timestamp", "from", "msg_id", "to", "chat_type", "payload"]


@pytest.fixture(scope="module")
def history(server: Server) -> tuple[Api, int, list[dict]]:
    """An app of its own with 12 messages sent one by one; returns (api, time before, what was sent)."""
    api = new_app(server)
    a, b = unique("Ha"), unique("hb")
    api.register(a, b)
    start = int(time.time() * 1000) - 1
    sent = []
    for i in range(12):
        target = a if i % 2 else b
        sender = b if i % 2 else "admin"
        msg = {"type": "txt", "msg": f"m{i}"}
        r = api.post("/messages?useMsgId=true",
                     json={"target_type": "users", "target": [target], "msg": msg, "from": sender, "ext": {"i": i}})
        assert r.status_code == 200, r.text
        sent.append({"msg_id": r.json()["data"][target], "to": target, "from": sender, "msg": msg, "i": i})
    return api, start, sent


def _ql(since: int) -> str:
    return f"select * where timestamp>{since}"


def test_entity_fields(history: tuple[Api, int, list[dict]]) -> None:
    api, start, sent = history
    r = api.get("/chatmessages", params={"ql": _ql(start), "limit": "50"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, GET_KEYS, "get")
    assert body["path"] == "/chatmessages"
    assert body["params"] == {"ql": [_ql(start)], "limit": ["50"]}
    assert body["count"] == 12 == len(body["entities"])
    for entity, want in zip(body["entities"], sent, strict=True):
        assert list(entity) == ENTITY_KEYS
        assert uuid.UUID(entity["uuid"])
        assert entity["type"] == "chatmessage"
        assert entity["msg_id"] == want["msg_id"]
        assert entity["from"] == want["from"] and entity["to"] == want["to"]
        assert entity["chat_type"] == "chat"
        assert entity["created"] == entity["modified"] == entity["timestamp"]
        assert entity["timestamp"] > start
        assert entity["payload"] == {"bodies": [want["msg"]], "ext": {"i": want["i"]}}
    assert len({e["uuid"] for e in body["entities"]}) == 12
    stamps = [e["timestamp"] for e in body["entities"]]
    assert stamps == sorted(stamps)


def test_paging_with_cursor(history: tuple[Api, int, list[dict]]) -> None:
    api, start, sent = history
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"ql": _ql(start), "limit": "5", **({"cursor": cursor} if cursor else {})}
        r = api.get("/chatmessages", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert body["params"] == {k: [v] for k, v in params.items()}
        assert body["count"] == len(body["entities"])
        seen += [e["msg_id"] for e in body["entities"]]
        if "cursor" not in body:
            assert list(body) == GET_KEYS
            break
        assert list(body) == PAGE_KEYS
        cursor = body["cursor"]
    assert pages == 3
    assert seen == [m["msg_id"] for m in sent]


def test_default_limit_is_ten(history: tuple[Api, int, list[dict]]) -> None:
    api, start, sent = history
    body = api.get("/chatmessages", params={"ql": _ql(start)}).json()
    assert [e["msg_id"] for e in body["entities"]] == [m["msg_id"] for m in sent[:10]]
    assert body["count"] == 10 and "cursor" in body


def test_timestamp_condition(history: tuple[Api, int, list[dict]]) -> None:
    api, start, _ = history
    every = api.get("/chatmessages", params={"ql": _ql(start), "limit": "50"}).json()["entities"]
    pivot = every[5]["timestamp"]
    after = api.get("/chatmessages", params={"ql": _ql(pivot), "limit": "50"}).json()["entities"]
    assert [e["msg_id"] for e in after] == [e["msg_id"] for e in every if e["timestamp"] > pivot]
    assert all(e["timestamp"] > pivot for e in after)
    last = every[-1]["timestamp"]
    body = api.get("/chatmessages", params={"ql": _ql(last), "limit": "5"}).json()
    assert body["entities"] == [] and body["count"] == 0 and "cursor" not in body
    # '+' for spaces, as in the Easemob examples
    r = api.get(f"/chatmessages?ql=select+*+where+timestamp>{start}&limit=50")
    assert r.status_code == 200 and r.json()["count"] == 12


def test_without_ql_and_descending(history: tuple[Api, int, list[dict]]) -> None:
    api, start, sent = history
    body = api.get("/chatmessages", params={"limit": "50"}).json()
    assert [e["msg_id"] for e in body["entities"]] == [m["msg_id"] for m in sent]
    ql = f"select * where timestamp>{start} order by timestamp desc"
    ids: list[str] = []
    params = {"ql": ql, "limit": "7"}
    body = api.get("/chatmessages", params=params).json()
    ids += [e["msg_id"] for e in body["entities"]]
    body = api.get("/chatmessages", params={**params, "cursor": body["cursor"]}).json()
    ids += [e["msg_id"] for e in body["entities"]]
    assert "cursor" not in body
    assert ids == [m["msg_id"] for m in reversed(sent)]


def test_history_is_per_app(history: tuple[Api, int, list[dict]]) -> None:
    api, start, sent = history
    other = Api(api.server, "other")
    ids = {m["msg_id"] for m in sent}
    body = other.get("/chatmessages", params={"ql": _ql(start), "limit": "1000"}).json()
    assert not ids & {e["msg_id"] for e in body["entities"]}


@pytest.mark.parametrize("ql", ["select * where msg_id>1", "delete * where timestamp>1", "select * where timestamp>x"])
def test_unsupported_ql(api: Api, ql: str) -> None:
    assert_error(api.get("/chatmessages", params={"ql": ql}), 400, "illegal_argument",
                 "This chatmessage request is not supported")


def test_bad_limit_and_cursor(api: Api) -> None:
    assert_error(api.get("/chatmessages", params={"limit": "0"}), 400, "illegal_argument")
    assert_error(api.get("/chatmessages", params={"cursor": "%%%"}), 400, "illegal_argument")


def test_user_token_refused(api: Api) -> None:
    name = unique()
    api.register(name)
    assert_error(api.get("/chatmessages", token=api.user_token(name)), 401, "unauthorized")


# --- GET /chatmessages/{yyyyMMddHH}: an hour's messages as a gzip file -----------------------------


def test_an_hours_messages_as_a_gzip_file(api: Api) -> None:
    a, b = unique("hf"), unique("hf")
    api.register(a, b)
    r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "in the file"},
                                          "ext": {"k": "v"}})
    msg_id = r.json()["data"][b]
    hour = datetime.now(UTC).strftime("%Y%m%d%H")
    r = api.get(f"/chatmessages/{hour}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "get" and len(body["data"]) == 1
    url = body["data"][0]["url"]
    assert "Expires=" in url and "Signature=" in url
    path = url.split(f"/{api.creds.org}/{api.creds.app}", 1)[1]
    got = api.get(path, token=None)  # the link is its own credential
    assert got.status_code == 200 and got.headers["content-type"] == "application/gzip"
    records = [json.loads(line) for line in gzip.decompress(got.content).splitlines()]
    mine = [rec for rec in records if rec["msg_id"] == msg_id]
    assert mine == [{"msg_id": msg_id, "timestamp": mine[0]["timestamp"], "direction": "outgoing", "to": b,
                     "from": a, "chat_type": "chat",
                     "payload": {"bodies": [{"type": "txt", "msg": "in the file"}], "ext": {"k": "v"},
                                 "from": a, "to": b}}]
    # a link that was changed, or has expired, is refused
    assert api.get(path.replace("Signature=", "Signature=0"), token=None).status_code == 403
    expired = path.split("?")[0] + "?Expires=1&Signature=00"
    assert api.get(expired, token=None).status_code == 403
    # an hour with nothing in it, a time that is not one, and a user's token
    assert_error(api.get("/chatmessages/2001010100"), 404, "storage_object_not_found")
    assert_error(api.get("/chatmessages/20011301"), 400, "illegal_argument",
                 f"illegal arguments: appkey: {api.creds.org}#{api.creds.app}, time: 20011301")
    assert_error(api.get("/chatmessages/2001133100"), 400, "illegal_argument")
    assert api.get(f"/chatmessages/{hour}", token=api.user_token(a)).status_code == 401
