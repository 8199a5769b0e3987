"""Sending messages (easemob-rest.md §5) and the offline endpoints (§3.9)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, assert_envelope, assert_error, unique

SEND_KEYS = ["action", "application", "path", "uri", "data", "timestamp", "duration", "organization",
             "applicationName"]
DATA_KEYS = ["action", "application", "uri", "entities", "data", "timestamp", "duration", "organization",
             "applicationName", "count"]

MSGS: dict[str, dict[str, Any]] = {
    "txt": {"type": "txt", "msg": "hello from rest 你好"},
    "img": {"type": "img", "url": "https://a1.easemob.com/o/a/chatfiles/0c0f5f3a-e66b-11e3-8863-f1c202c2b3ae",
            "filename": "a.jpg", "secret": "DRGM8OZr", "size": {"width": 480, "height": 720}},
    "audio": {"type": "audio", "url": "https://a1.easemob.com/o/a/chatfiles/1", "filename": "a.amr",
              "length": 10, "secret": "s"},
    "video": {"type": "video", "url": "https://a1.easemob.com/o/a/chatfiles/2", "filename": "v.mp4",
              "thumb": "https://a1.easemob.com/o/a/chatfiles/3", "length": 10, "secret": "s",
              "file_length": 58103, "thumb_secret": "t"},
    "loc": {"type": "loc", "lat": "39.966", "lng": "116.322", "addr": "中国北京市海淀区中关村"},
    "file": {"type": "file", "url": "https://a1.easemob.com/o/a/chatfiles/4", "filename": "x.pdf", "secret": "s",
             "length": 10},
    "cmd": {"type": "cmd", "action": "action1"},
    "custom": {"type": "custom", "customEvent": "gift_1", "customExts": {"name": "flower", "n": "2"}},
}


def send(api: Api, targets: list[str], msg: dict[str, Any] | None = None, query: str = "", **extra: Any) -> dict:
    body = {"target_type": "users", "target": targets, "msg": msg or MSGS["txt"], **extra}
    r = api.post("/messages" + query, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def offline_count(api: Api, name: str) -> int:
    r = api.get(f"/users/{name}/offline_msg_count")
    assert r.status_code == 200, r.text
    [(key, value)] = r.json()["data"].items()
    assert key.lower() == name.lower()
    return value


def history_of(api: Api, msg_id: str) -> dict:
    """The /chatmessages entity of one message (searched from just before it was sent)."""
    ts = int(msg_id) >> 22  # ids carry their millisecond (model.IdGenerator)
    since = ts + 1_388_534_400_000 - 1
    r = api.get("/chatmessages", params={"ql": f"select * where timestamp>{since}", "limit": "1000"})
    assert r.status_code == 200, r.text
    found = [e for e in r.json()["entities"] if e["msg_id"] == msg_id]
    assert len(found) == 1, r.json()
    return found[0]


def test_send_envelope_and_offline_count(api: Api) -> None:
    a, b = unique("Ma"), unique("mb")
    api.register(a, b)
    body = send(api, [a, b.upper()])
    assert_envelope(body, SEND_KEYS, "post")
    assert body["path"] == "/messages"
    assert body["application"] == api.creds.application
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/messages")
    ids = list(body["data"].values())  # one message id per target, as today's Easemob answers
    assert len(ids) == 2 and all(i.isdigit() for i in ids) and len(set(ids)) == 2
    send(api, [a])
    r = api.get(f"/users/{a.lower()}/offline_msg_count")
    assert r.status_code == 200, r.text
    count_body = r.json()
    assert_envelope(count_body, DATA_KEYS, "get")
    assert count_body["entities"] == [] and count_body["count"] == 0
    assert count_body["data"] == {a: 2}
    assert offline_count(api, b) == 1


def test_targets_echoed_as_given(api: Api) -> None:
    a = unique("Echo")
    api.register(a)
    body = send(api, [a.lower()])
    assert list(body["data"]) == [a.lower()]


def test_unknown_targets_still_answered(api: Api) -> None:
    a = unique()
    api.register(a)
    ghost1, ghost2 = unique("ghost"), unique("ghost")
    body = send(api, [ghost1, a, ghost2])
    assert list(body["data"]) == [ghost1, a, ghost2]
    assert all(i.isdigit() for i in body["data"].values())
    assert offline_count(api, a) == 1


@pytest.mark.parametrize("kind", list(MSGS))
def test_every_message_type_is_stored(api: Api, kind: str) -> None:
    a = unique()
    api.register(a)
    ext = {"attr1": "v1", "nested": {"k": [1, 2]}}
    body = send(api, [a], MSGS[kind], query="?useMsgId=true", ext=ext)
    msg_id = body["data"][a]
    assert isinstance(msg_id, str) and msg_id.isdigit()
    assert offline_count(api, a) == 1
    entity = history_of(api, msg_id)
    assert entity["from"] == "admin"
    assert entity["to"] == a
    assert entity["chat_type"] == "chat"
    assert entity["payload"] == {"bodies": [MSGS[kind]], "ext": ext}


def test_from_and_no_ext(api: Api) -> None:
    a, sender = unique(), unique("Snd")
    api.register(a, sender)
    body = send(api, [a], query="?useMsgId=true", **{"from": sender})
    entity = history_of(api, body["data"][a])
    assert entity["from"] == sender
    assert entity["payload"] == {"bodies": [MSGS["txt"]]}


def test_ids_are_distinct_with_or_without_use_msg_id(api: Api) -> None:
    a, b = unique(), unique()
    api.register(a, b)
    body = send(api, [a, b, unique("ghost")], query="?useMsgId=true")
    ids = list(body["data"].values())
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 3
    plain = send(api, [a], query="?useMsgId=false")  # the old switch changes nothing now
    assert plain["data"][a].isdigit() and plain["data"][a] not in ids


def test_offline_msg_status(api: Api) -> None:
    a = unique()
    api.register(a)
    msg_id = send(api, [a], query="?useMsgId=true")["data"][a]
    r = api.get(f"/users/{a}/offline_msg_status/{msg_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, DATA_KEYS, "get")
    assert body["data"] == {msg_id: "undelivered"} and body["entities"] == [] and body["count"] == 0
    assert_error(api.get(f"/users/{unique('ghost')}/offline_msg_status/{msg_id}"), 404, "service_resource_not_found")


def test_offline_count_unknown_user(api: Api) -> None:
    assert_error(api.get(f"/users/{unique('ghost')}/offline_msg_count"), 404, "service_resource_not_found")


def test_offline_endpoints_with_user_token(api: Api) -> None:
    a, b = unique(), unique()
    api.register(a, b)
    msg_id = send(api, [a], query="?useMsgId=true")["data"][a]
    token = api.user_token(a)
    assert api.get(f"/users/{a}/offline_msg_count", token=token).json()["data"] == {a: 1}
    r = api.get(f"/users/{a}/offline_msg_status/{msg_id}", token=token)
    assert r.status_code == 200 and r.json()["data"] == {msg_id: "undelivered"}
    assert_error(api.get(f"/users/{b}/offline_msg_count", token=token), 401, "unauthorized")


def test_blocked_sender_does_not_reach_blocker(api: Api) -> None:
    blocker, sender, other = unique("blk"), unique("snd"), unique("oth")
    api.register(blocker, sender, other)
    assert api.post(f"/users/{blocker}/blocks/users", json={"usernames": [sender]}).status_code == 200
    body = send(api, [blocker, other], query="?useMsgId=true", **{"from": sender})
    assert set(body["data"]) == {blocker, other}
    assert offline_count(api, blocker) == 0
    assert offline_count(api, other) == 1
    r = api.get(f"/users/{blocker}/offline_msg_status/{body['data'][blocker]}")
    assert r.status_code == 200
    # the block is one-way: the blocker still reaches the blocked user
    send(api, [sender], **{"from": blocker})
    assert offline_count(api, sender) == 1
    # other senders still reach the blocker, and after unblocking the sender does too
    send(api, [blocker], **{"from": other})
    assert offline_count(api, blocker) == 1
    assert api.delete(f"/users/{blocker}/blocks/users/{sender}").status_code == 200
    send(api, [blocker], **{"from": sender.upper()})
    assert offline_count(api, blocker) == 2


# --- validation --------------------------------------------------------------------------------------


def test_bad_target_type(api: Api) -> None:
    r = api.post("/messages", json={"target_type": "user", "target": ["x"], "msg": MSGS["txt"]})
    body = assert_error(r, 400, "illegal_argument", "target_type can only be 'users' or 'chatgroups' or 'chatrooms'")
    assert body["exception"] == "java.lang.IllegalArgumentException"


def test_empty_from(api: Api) -> None:
    r = api.post("/messages", json={"target_type": "users", "target": ["x"], "msg": MSGS["txt"], "from": ""})
    assert_error(r, 400, "illegal_argument", "from can't be empty")


@pytest.mark.parametrize(
    "change",
    [
        {"ext": None},
        {"ext": "x"},
        {"target": "x"},
        {"target": []},
        {"msg": {"type": "txt"}},
        {"msg": {"type": "nope", "msg": "x"}},
        {"msg": "hello"},
        {"msg": {"type": "custom", "customEvent": "bad event!"}},
        {"msg": {"type": "loc", "lat": "1", "lng": "2"}},
    ],
)
def test_invalid_message(api: Api, change: dict[str, Any]) -> None:
    body = {"target_type": "users", "target": ["x"], "msg": MSGS["txt"], **change}
    assert_error(api.post("/messages", json=body), 400, "illegal_argument")


def test_message_body_limit(api: Api) -> None:
    big = {"type": "txt", "msg": "x" * (70 * 1024)}
    r = api.post("/messages", json={"target_type": "users", "target": ["x"], "msg": big})
    assert_error(r, 413, "Request Entity Too Large")


def test_user_token_cannot_send(api: Api) -> None:
    a = unique()
    api.register(a)
    token = api.user_token(a)
    r = api.post("/messages", token=token, json={"target_type": "users", "target": [a], "msg": MSGS["txt"]})
    assert_error(r, 401, "unauthorized")
    assert offline_count(api, a) == 0
