"""Message import (Easemob's message_import_single and message_import_group pages):
`POST /messages/users/import` and `/messages/chatgroups/import` store one message as it was (its
time, and with hxim's `msg_id` its id), read back like any message and delivered to nobody: no
offline copy (and no live delivery: tests/scenarios/test_xmpp_broadcasts.py). A duplicate id is
refused; bodies are checked as the send routes check them."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from test_messages_today import history_entity as stored
from test_messages_today import offline, roamed_ids

from conftest import Api, Server, assert_envelope, assert_error, new_app, unique

ENVELOPE = ["action", "application", "path", "uri", "entities", "data", "timestamp", "duration", "organization",
            "applicationName"]
DAY = 86_400_000



@pytest.fixture(scope="module")
def api(server: Server) -> Api:
    """An app of this module's own: its history holds only this module's messages."""
    return new_app(server)


def people(api: Api, n: int) -> list[str]:
    names = [unique("i") for _ in range(n)]
    api.register(*names)
    return names


def imported(r: httpx.Response, path: str) -> str:
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, ENVELOPE, "post")
    assert body["path"] == path and body["entities"] == [] and list(body["data"]) == ["msg_id"], body
    assert body["data"]["msg_id"].isdigit()
    return str(body["data"]["msg_id"])


def test_a_1to1_message_keeps_its_time_and_sorts_by_it(api: Api) -> None:
    a, b = people(api, 2)
    now = int(time.time() * 1000)
    older = imported(api.post("/messages/users/import", json={
        "from": a, "target": b, "type": "txt", "body": {"msg": "first"}, "msg_timestamp": now - 2 * DAY,
    }), "/messages/users/import")
    newer = imported(api.post("/messages/users/import", json={
        "from": b, "target": a, "type": "img", "body": {"url": "https://x/y.png", "filename": "y.png"},
        "ext": {"k": "v"}, "msg_timestamp": now - DAY, "need_download": False, "is_ack_read": True,
    }), "/messages/users/import")
    entity = stored(api, older)
    assert (entity["from"], entity["to"], entity["chat_type"], entity["timestamp"]) == (a, b, "chat", now - 2 * DAY)
    assert entity["payload"] == {"bodies": [{"msg": "first", "type": "txt"}]}
    assert stored(api, newer)["payload"] == {"bodies": [{"url": "https://x/y.png", "filename": "y.png",
                                                          "type": "img"}], "ext": {"k": "v"}}
    assert offline(api, a) == 0 and offline(api, b) == 0  # delivered to nobody
    live = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "today"}})
    assert live.status_code == 200, live.text
    # roaming reads the conversation newest first: the imports sort by their own time
    assert roamed_ids(api, a, f"{b}@easemob.com") == [live.json()["data"][b], newer, older]


def test_a_message_without_time_is_stamped_now(api: Api) -> None:
    a, b = people(api, 2)
    before = int(time.time() * 1000)
    msg_id = imported(api.post("/messages/users/import", json={"from": a, "target": b, "type": "cmd",
                                                               "body": {"action": "sync"}}), "/messages/users/import")
    assert before - 1000 <= stored(api, msg_id)["timestamp"] <= int(time.time() * 1000) + 1000


def test_a_given_msg_id_is_kept_and_never_taken_twice(api: Api) -> None:
    a, b = people(api, 2)
    wanted = str(10_212_123_848_595 + int(time.time() * 1000) % 1_000_000)
    body = {"from": a, "target": b, "type": "txt", "body": {"msg": "kept"}, "msg_timestamp": 1_656_906_628_428,
            "msg_id": wanted}
    assert imported(api.post("/messages/users/import", json=body), "/messages/users/import") == wanted
    assert stored(api, wanted)["timestamp"] == 1_656_906_628_428
    again = {**body, "body": {"msg": "another"}, "msg_id": int(wanted)}
    assert_error(api.post("/messages/users/import", json=again), 400, "duplicate_unique_property_exists",
                 f"message with msg_id [{wanted}] already exists")
    assert stored(api, wanted)["payload"]["bodies"] == [{"msg": "kept", "type": "txt"}]
    # the id of a message sent here is taken too (past the second in which this node may still give ids)
    sent = api.post("/messages/users", json={"to": [b], "type": "txt", "body": {"msg": "x"}}).json()["data"][b]
    time.sleep(1.1)
    assert_error(api.post("/messages/users/import", json={**body, "msg_id": sent}), 400,
                 "duplicate_unique_property_exists")


def test_a_group_message_needs_the_group_and_a_time_after_its_creation(api: Api) -> None:
    owner, a = people(api, 2)
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": owner, "members": [a]})
    gid = str(r.json()["data"]["groupid"])
    created = api.get(f"/chatgroups/{gid}").json()["data"][0]["created"]
    time.sleep(0.05)
    msg_id = imported(api.post("/messages/chatgroups/import", json={
        "from": a, "target": gid, "type": "txt", "body": {"msg": "hi group"}, "msg_timestamp": created + 1,
    }), "/messages/chatgroups/import")
    entity = stored(api, msg_id)
    assert (entity["to"], entity["chat_type"], entity["timestamp"]) == (gid, "groupchat", created + 1)
    assert offline(api, owner) == 0
    assert msg_id in roamed_ids(api, owner, f"{gid}@conference.easemob.com")
    # a former member's message imports too: only the group must exist
    (gone,) = people(api, 1)
    imported(api.post("/messages/chatgroups/import", json={"from": gone, "target": gid, "type": "txt",
                                                           "body": {"msg": "x"}}), "/messages/chatgroups/import")
    assert_error(api.post("/messages/chatgroups/import", json={
        "from": a, "target": gid, "type": "txt", "body": {"msg": "x"}, "msg_timestamp": created - DAY,
    }), 400, "illegal_argument", "msg_timestamp must be later than the group's creation")
    assert_error(api.post("/messages/chatgroups/import", json={
        "from": a, "target": "99999999999", "type": "txt", "body": {"msg": "x"},
    }), 404, "service_resource_not_found")


@pytest.mark.parametrize(
    ("body", "error", "description"),
    [
        ([], "invalid_request_body", "Request body is invalid. Please check body is correct."),
        ({"from": "a", "target": "b", "type": "txt"}, "illegal_argument", "message body not allow empty"),
        ({"from": "a", "target": "b", "type": "txt", "body": {}}, "illegal_argument",
         "message body not allow empty"),
        ({"from": "a", "target": "b", "type": "", "body": {"msg": "x"}}, "illegal_argument", "type not allow empty"),
        ({"target": "b", "type": "txt", "body": {"msg": "x"}}, "illegal_argument", "from not allow empty"),
        ({"from": "a", "target": ["b"], "type": "txt", "body": {"msg": "x"}}, "illegal_argument",
         "target not allow empty"),
        ({"from": "a", "target": "b", "type": "gif", "body": {"msg": "x"}}, "message_send_error",
         "param type must be one of txt, img, audio, video, file, loc, cmd, custom"),
        ({"from": "a", "target": "b", "type": "txt", "body": "x"}, "message_send_error", "param body can't be empty"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "ext": []}, "message_send_error",
         "param ext must be JSONObject"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"text": "x"}}, "illegal_argument",
         "msg of type txt requires the field msg"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_timestamp": 0}, "illegal_argument",
         "msg_timestamp must be a time in milliseconds (1000 or more)"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_timestamp": "1656906628428"},
         "illegal_argument", "msg_timestamp must be a time in milliseconds (1000 or more)"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_timestamp": 5_000_000_000_000},
         "illegal_argument", "msg_timestamp must not be later than now"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_timestamp": 1000},
         "illegal_argument", "msg_timestamp must be in 2014 or later (or the message needs its msg_id)"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_id": "m1"}, "illegal_argument",
         "msg_id must be a message id: digits"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_id": 0}, "illegal_argument",
         "msg_id must be a message id: digits"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "msg_id": str(2**62)}, "illegal_argument",
         f"msg_id [{2**62}] is an id this server may still give"),
        ({"from": "a", "target": "b", "type": "txt", "body": {"msg": "x"}, "need_download": "yes"},
         "invalid_request_body", None),
    ],
)
def test_bad_bodies_are_refused(api: Api, body: Any, error: str, description: str | None) -> None:
    assert_error(api.post("/messages/users/import", json=body), 400, error, description)


def test_only_the_app_admin_may_import(server: Server) -> None:
    api = Api(server)
    a, b = people(api, 2)
    body = {"from": a, "target": b, "type": "txt", "body": {"msg": "x"}}
    for path in ("/messages/users/import", "/messages/chatgroups/import"):
        assert_error(api.post(path, json=body, token=None), 401, "unauthorized")
        assert_error(api.post(path, json=body, token=api.user_token(a)), 401, "unauthorized")
        assert_error(api.post(path, json=body, token=Api(server, "other").token), 401, "unauthorized")
