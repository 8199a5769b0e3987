"""Stream messages (Easemob's message_stream_send_single and message_stream_send_group pages):
`POST /stream_message/user` and `/stream_message/chatgroup`, one chunk a call. The first chunk
answers the stream's `msgId` and is stored and sent as a message; each next one completes the
stored message; the limits and refusals in the pages' words. (Live delivery of the chunks:
tests/scenarios/test_xmpp_broadcasts.py.)"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from test_messages_today import history_entity as stored
from test_messages_today import offline

from conftest import Api, Server, assert_envelope, assert_error, new_app, unique

EXTRA_ENV = {
    "HXIM_STREAM_MESSAGE_CHUNK_INTERVAL_SECONDS": "1",
    "HXIM_STREAM_MESSAGE_TOTAL_SECONDS": "2",
    "HXIM_STREAM_MESSAGE_MAX_BYTES": "16",
}
ENVELOPE = ["action", "application", "path", "uri", "data", "timestamp", "duration", "organization",
            "applicationName"]



@pytest.fixture(scope="module")
def api(server: Server) -> Api:
    """An app of this module's own: its history holds only this module's messages."""
    return new_app(server)


def people(api: Api, n: int) -> list[str]:
    names = [unique("s") for _ in range(n)]
    api.register(*names)
    return names


def group(api: Api, owner: str, members: list[str]) -> str:
    r = api.post("/chatgroups", json={"groupname": unique("g"), "desc": "d", "public": True, "owner": owner,
                                      "members": members})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["groupid"])


def chunk(api: Api, kind: str, sender: str, to: str, **body: Any) -> httpx.Response:
    return api.post(f"/stream_message/{kind}", json={"from": sender, "to": to, "body": body})


def first(api: Api, kind: str, sender: str, to: str, text: str, **extra: Any) -> str:
    r = chunk(api, kind, sender, to, msg=text, seq=0, **extra)
    assert r.status_code == 200, r.text
    assert_envelope(r.json(), ENVELOPE, "post")
    assert r.json()["path"] == f"/stream_message/{kind}"
    msg_id = r.json()["data"]["msgId"]
    assert list(r.json()["data"]) == ["msgId"] and msg_id.isdigit()
    return str(msg_id)


def test_a_stream_to_a_user_is_one_message_completed_by_its_chunks(api: Api) -> None:
    a, b = people(api, 2)
    msg_id = first(api, "user", a, b, "Hello", type="markdown")
    entity = stored(api, msg_id)
    assert entity["from"] == a and entity["to"] == b and entity["chat_type"] == "chat"
    assert entity["payload"]["bodies"] == [
        {"type": "txt", "msg": "Hello", "stream": {"format": "markdown", "seq": 0, "finished": False}}
    ]
    r = chunk(api, "user", a, b, msgId=msg_id, msg=", ", seq=1, finish=False)
    assert r.status_code == 200 and r.json()["data"] == {}, r.text  # msgId only in the first answer
    r = chunk(api, "user", a, b, msgId=msg_id, msg="world", seq=5, finish=True, finishReason=1)
    assert r.status_code == 200, r.text
    assert stored(api, msg_id)["payload"]["bodies"] == [
        {"type": "txt", "msg": "Hello, world",
         "stream": {"format": "markdown", "seq": 5, "finished": True, "finishReason": 1}}
    ]
    assert offline(api, b) == 1  # one message waits for b, complete
    assert offline(api, a) == 0
    assert_error(chunk(api, "user", a, b, msgId=msg_id, msg="!", seq=6), 400, "message_send_error",
                 "stream message has already finished")


def test_a_one_chunk_stream_and_the_first_chunks_ext(api: Api) -> None:
    (b,) = people(api, 1)
    r = api.post("/stream_message/user", json={"to": b, "ext": {"k": "v"},
                                                "body": {"msg": "all at once", "seq": 0, "finish": True}})
    assert r.status_code == 200, r.text
    entity = stored(api, r.json()["data"]["msgId"])
    assert entity["from"] == "admin" and entity["payload"]["ext"] == {"k": "v"}
    assert entity["payload"]["bodies"][0]["stream"] == {"format": "text", "seq": 0, "finished": True}


def test_a_stream_to_a_group_waits_for_its_offline_members(api: Api) -> None:
    owner, a, b = people(api, 3)
    gid = group(api, owner, [a, b])
    msg_id = first(api, "chatgroup", a, gid, "one ")
    r = chunk(api, "chatgroup", a, gid, msgId=msg_id, msg="two", seq=1, finish=True)
    assert r.status_code == 200, r.text
    entity = stored(api, msg_id)
    assert entity["to"] == gid and entity["chat_type"] == "groupchat"
    assert entity["payload"]["bodies"][0]["msg"] == "one two"
    assert (offline(api, owner), offline(api, a), offline(api, b)) == (1, 0, 1)
    # the send rules of the app's messages: a group's sender is a member
    (outsider,) = people(api, 1)
    assert_error(chunk(api, "chatgroup", outsider, gid, msg="x", seq=0), 403, "forbidden_op")
    assert_error(chunk(api, "chatgroup", a, "999999999", msg="x", seq=0), 404, "resource_not_found")


def test_chunks_that_do_not_follow_are_refused_in_easemobs_words(api: Api) -> None:
    a, b, c = people(api, 3)
    msg_id = first(api, "user", a, b, "x")
    cases = [
        ({"from": c, "to": b, "body": {"msgId": msg_id, "msg": "y", "seq": 1}}, "stream message from user mismatch"),
        ({"from": a, "to": c, "body": {"msgId": msg_id, "msg": "y", "seq": 1}}, "stream message to user mismatch"),
        ({"from": a, "to": b, "body": {"msgId": msg_id, "msg": "y", "seq": 0}}, "stream message chunk seq too small"),
        ({"from": a, "to": b, "body": {"msgId": "12345", "msg": "y", "seq": 1}},
         "can not find stream message by msgId"),
        ({"from": a, "to": b, "body": {"msgId": "x1", "msg": "y", "seq": 1}}, "can not find stream message by msgId"),
    ]
    for body, description in cases:
        assert_error(api.post("/stream_message/user", json=body), 400, "message_send_error", description)
    # a user stream is not a group's
    assert_error(chunk(api, "chatgroup", a, b, msgId=msg_id, msg="y", seq=1), 400, "message_send_error",
                 "can not find stream message by msgId")
    assert stored(api, msg_id)["payload"]["bodies"][0]["msg"] == "x"  # none of them was appended


@pytest.mark.parametrize(
    ("body", "error", "description"),
    [
        ([], "invalid_request_body", "Request body is invalid. Please check body is correct."),
        ({"from": "", "to": "b", "body": {"msg": "x", "seq": 0}}, "message_send_error", "param from can't be empty"),
        ({"to": "", "body": {"msg": "x", "seq": 0}}, "message_send_error", "param to can't be empty"),
        ({"to": ["b"], "body": {"msg": "x", "seq": 0}}, "message_send_error", "param to can't be empty"),
        ({"to": "b"}, "message_send_error", "param body can't be empty"),
        ({"to": "b", "body": {}}, "message_send_error", "param body can't be empty"),
        ({"to": "b", "body": {"msg": "x"}}, "message_send_error", "param body.seq is illegal"),
        ({"to": "b", "body": {"msg": "x", "seq": -1}}, "message_send_error", "param body.seq is illegal"),
        ({"to": "b", "body": {"msg": "x", "seq": "0"}}, "message_send_error", "param body.seq is illegal"),
        ({"to": "b", "body": {"msg": 1, "seq": 0}}, "message_send_error", "param body.msg must be a string"),
        ({"to": "b", "body": {"msg": "x", "seq": 0, "type": "html"}}, "message_send_error",
         "param body.type must be text or markdown"),
        ({"to": "b", "body": {"msg": "x", "seq": 0, "finish": "yes"}}, "invalid_request_body", None),
        ({"to": "b", "body": {"msg": "x", "seq": 0}, "ext": None}, "message_send_error",
         "param ext must be JSONObject"),
    ],
)
def test_bad_bodies_are_refused(api: Api, body: Any, error: str, description: str | None) -> None:
    assert_error(api.post("/stream_message/user", json=body), 400, error, description)


def test_only_the_app_admin_may_stream(server: Server) -> None:
    api = Api(server)
    a, b = people(api, 2)
    body = {"from": a, "to": b, "body": {"msg": "x", "seq": 0}}
    for path in ("/stream_message/user", "/stream_message/chatgroup"):
        assert_error(api.post(path, json=body, token=None), 401, "unauthorized")
        assert_error(api.post(path, json=body, token=api.user_token(a)), 401, "unauthorized")
    assert offline(api, b) == 0


def test_the_limits_end_a_stream(extra_server: Server) -> None:
    """16 bytes of text, 1 s between chunks, 2 s in all (this module's `EXTRA_ENV`)."""
    api = Api(extra_server)
    a, b = people(api, 2)
    assert_error(chunk(api, "user", a, b, msg="x" * 17, seq=0), 400, "message_send_error",
                 "stream message total length exceeds limit")
    # too long: refused, and the stream ends
    msg_id = first(api, "user", a, b, "x" * 10)
    assert_error(chunk(api, "user", a, b, msgId=msg_id, msg="y" * 7, seq=1), 400, "message_send_error",
                 "stream message total length exceeds limit")
    assert_error(chunk(api, "user", a, b, msgId=msg_id, msg="y", seq=2), 400, "message_send_error",
                 "stream message has already finished")
    assert stored(api, msg_id)["payload"]["bodies"][0] == {
        "type": "txt", "msg": "x" * 10, "stream": {"format": "text", "seq": 0, "finished": True}
    }
    # too slow between two chunks
    msg_id = first(api, "user", a, b, "x")
    time.sleep(1.2)
    assert_error(chunk(api, "user", a, b, msgId=msg_id, msg="y", seq=1), 400, "message_send_error",
                 "stream message chunk interval timeout")
    assert_error(chunk(api, "user", a, b, msgId=msg_id, msg="y", seq=2), 400, "message_send_error",
                 "stream message has already finished")
    # too long in all
    msg_id = first(api, "user", a, b, "x")
    for seq in range(1, 4):
        time.sleep(0.7)
        r = chunk(api, "user", a, b, msgId=msg_id, msg="y", seq=seq)
        if r.status_code != 200:
            break
    assert_error(r, 400, "message_send_error", "stream message total timeout")
