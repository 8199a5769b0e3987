"""Today's send routes: `POST /messages/users`, `/messages/chatgroups`, `/messages/chatrooms`,
and the directed `/messages/chatgroups/users`, `/messages/chatrooms/users` (Easemob's
message_single, message_group and message_chatroom pages): one message id per target, every
message type, `ext`, `routetype: ROUTE_ONLINE`, `roam_ignore_users`, and the errors in Easemob's
words."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from conftest import Api, assert_error, unique

BODIES: dict[str, dict[str, Any]] = {
    "txt": {"msg": "hello"},
    "img": {"filename": "a.jpg", "secret": "s", "url": "https://x/chatfiles/1", "size": {"width": 4, "height": 3}},
    "audio": {"url": "https://x/chatfiles/2", "filename": "a.amr", "length": 10, "secret": "s"},
    "video": {"url": "https://x/chatfiles/3", "filename": "a.mp4", "thumb": "https://x/chatfiles/4", "length": 1,
              "secret": "s", "file_length": 58103, "thumb_secret": "t"},
    "file": {"url": "https://x/chatfiles/5", "filename": "a.pdf", "secret": "s"},
    "loc": {"lat": "39.9", "lng": "116.3", "addr": "Beijing"},
    "cmd": {"action": "refresh"},
    "custom": {"customEvent": "gift", "customExts": {"k": "v"}},
}


def people(api: Api, n: int) -> list[str]:
    names = [unique("t") for _ in range(n)]
    api.register(*names)
    return names


def room(api: Api, kind: str, owner: str, members: list[str]) -> str:
    body: dict[str, Any] = {"name" if kind == "chatrooms" else "groupname": unique("r"), "description": "d",
                            "owner": owner, "members": members}
    if kind == "chatgroups":
        body["public"] = True
    r = api.post(f"/{kind}", json=body)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return str(data.get("groupid") or data.get("id"))


def sent(r: httpx.Response, path: str) -> dict[str, str]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "post" and body["path"] == path, body
    assert all(isinstance(v, str) and v.isdigit() for v in body["data"].values()), body
    return dict(body["data"])


def offline(api: Api, name: str) -> int:
    return int(api.get(f"/users/{name}/offline_msg_count").json()["data"][name])


def history_entity(api: Api, msg_id: str) -> dict[str, Any]:
    for entity in api.get("/chatmessages", params={"limit": 1000}).json()["entities"]:
        if entity["msg_id"] == msg_id:
            return dict(entity)
    raise AssertionError(f"message {msg_id} not in the history")


def roamed_ids(api: Api, user: str, queue: str) -> list[str]:
    body = json.dumps({"queue": queue, "start": -1, "end": -1}).encode()
    r = api.post(f"/users/{user}/messageroaming", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    return [ET.fromstring(s).get("id", "") for s in r.json()["data"]["msgs"]]


@pytest.mark.parametrize("mtype", list(BODIES))
def test_every_type_to_users_answers_ids_and_is_stored(api: Api, mtype: str) -> None:
    a, b, sender = people(api, 3)
    ext = {"em_ignore_notification": True, "n": {"k": [1]}}
    r = api.post("/messages/users", json={"from": sender, "to": [a, b], "type": mtype, "body": BODIES[mtype],
                                          "ext": ext})
    ids = sent(r, "/messages/users")
    assert list(ids) == [a, b] and ids[a] != ids[b]
    assert offline(api, a) == 1 and offline(api, b) == 1
    entity = history_entity(api, ids[a])
    assert entity["from"] == sender and entity["to"] == a and entity["chat_type"] == "chat"
    assert entity["payload"] == {"bodies": [{**BODIES[mtype], "type": mtype}], "ext": ext}


def test_from_defaults_to_admin_and_route_online_keeps_no_offline_copy(api: Api) -> None:
    (a,) = people(api, 1)
    ids = sent(api.post("/messages/users", json={"to": [a], "type": "txt", "body": {"msg": "now or never"},
                                                 "routetype": "ROUTE_ONLINE"}), "/messages/users")
    assert offline(api, a) == 0  # not online: nothing waits for the next login
    assert history_entity(api, ids[a])["from"] == "admin"  # but the message is in the history


def test_legacy_route_answers_ids_too(api: Api) -> None:
    (a,) = people(api, 1)
    r = api.post("/messages", json={"target_type": "users", "target": [a], "msg": {"type": "txt", "msg": "x"}})
    assert r.status_code == 200 and r.json()["data"][a].isdigit()


@pytest.mark.parametrize("kind", ["chatgroups", "chatrooms"])
def test_room_messages_answer_one_id_per_room(api: Api, kind: str) -> None:
    owner, a, b = people(api, 3)
    r1, r2 = room(api, kind, owner, [a, b]), room(api, kind, owner, [a])
    ids = sent(api.post(f"/messages/{kind}", json={"from": a, "to": [r1, r2], "type": "txt",
                                                    "body": {"msg": "hi all"}}), f"/messages/{kind}")
    assert list(ids) == [r1, r2] and ids[r1] != ids[r2]
    entity = history_entity(api, ids[r1])
    assert entity["to"] == r1 and entity["chat_type"] == ("groupchat" if kind == "chatgroups" else "chatroom")
    if kind == "chatgroups":  # group messages wait for offline members; chat-room ones do not
        assert (offline(api, owner), offline(api, a), offline(api, b)) == (2, 0, 1)
    else:
        assert (offline(api, owner), offline(api, b)) == (0, 0)


def test_directed_group_message_reaches_and_roams_to_its_users_only(api: Api) -> None:
    owner, a, b, c = people(api, 4)
    gid = room(api, "chatgroups", owner, [a, b, c])
    ids = sent(api.post("/messages/chatgroups/users", json={"from": a, "to": [gid], "type": "txt",
                                                            "body": {"msg": "psst"}, "users": [b.upper()]}),
               "/messages/chatgroups/users")
    assert (offline(api, owner), offline(api, b), offline(api, c)) == (0, 1, 0)
    queue = f"{gid}@conference.easemob.com"
    assert ids[gid] in roamed_ids(api, b, queue)
    assert ids[gid] in roamed_ids(api, a, queue)  # the sender reads back what they sent
    assert ids[gid] not in roamed_ids(api, c, queue) and ids[gid] not in roamed_ids(api, owner, queue)


def test_directed_chat_room_message(api: Api) -> None:
    owner, a, b = people(api, 3)
    rid = room(api, "chatrooms", owner, [a, b])
    ids = sent(api.post("/messages/chatrooms/users", json={"to": [rid], "type": "cmd", "body": {"action": "x"},
                                                           "users": [b]}), "/messages/chatrooms/users")
    assert history_entity(api, ids[rid])["to"] == rid


def test_roam_ignore_users_do_not_read_it_back(api: Api) -> None:
    a, b = people(api, 2)
    ids = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "m"},
                                                 "roam_ignore_users": [b]}), "/messages/users")
    assert offline(api, b) == 1  # delivered as any other
    assert ids[b] not in roamed_ids(api, b, f"{a}@easemob.com")
    assert ids[b] in roamed_ids(api, a, f"{b}@easemob.com")


def test_errors_in_easemob_words(api: Api) -> None:
    owner, a = people(api, 2)
    good: dict[str, Any] = {"from": a, "to": [owner], "type": "txt", "body": {"msg": "x"}}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/messages/users", {**good, "from": ""}, "param from can't be empty"),
        ("/messages/users", {**good, "to": []}, "param to can't be empty"),
        ("/messages/users", {**good, "to": [""]}, "param to can't be empty"),
        ("/messages/users", {**good, "type": ""}, "param type can't be empty"),
        ("/messages/users", {**good, "body": {}}, "param body can't be empty"),
        ("/messages/users", {**good, "ext": [1]}, "param ext must be JSONObject"),
        ("/messages/users", {**good, "ext": None}, "param ext must be JSONObject"),
        ("/messages/users", {**good, "to": [f"u{i}" for i in range(601)]}, "params to's size can't exceed limit 600"),
        ("/messages/users", {**good, "routetype": "ROUTE_ALL"}, "param routetype can only be ROUTE_ONLINE"),
        ("/messages/chatgroups", {**good, "to": ["1", "2", "3", "4"]}, "params to's size can't exceed limit 3"),
        ("/messages/chatrooms", {**good, "to": [str(i) for i in range(11)]}, "params to's size can't exceed limit 10"),
        ("/messages/chatgroups/users", {**good, "to": ["1"]}, "param users can't be empty"),
        ("/messages/chatgroups/users", {**good, "to": ["1"], "users": [f"u{i}" for i in range(21)]},
         "params users's size can't exceed limit 20"),
        ("/messages/chatgroups/users", {**good, "to": ["1", "2"], "users": [a]},
         "params to's size can't exceed limit 1"),
    ]
    for path, body, description in cases:
        body_error = assert_error(api.post(path, json=body), 400, "message_send_error", description)
        assert body_error["exception"] == "MessageSendException"
    assert_error(api.post("/messages/users", json=[good]), 400, "invalid_request_body")
    # a body its type does not allow, and a group that does not exist
    assert api.post("/messages/users", json={**good, "type": "img", "body": {"filename": "no url"}}).status_code == 400
    assert api.post("/messages/chatgroups", json={**good, "to": ["999999999"]}).status_code == 404
    # nothing of the refused requests was stored
    assert offline(api, owner) == 0


def test_only_the_app_admin_sends(api: Api) -> None:
    a, b = people(api, 2)
    body = {"from": a, "to": [b], "type": "txt", "body": {"msg": "x"}}
    assert api.post("/messages/users", json=body, token=api.user_token(a)).status_code == 401
    assert api.post("/messages/users", json=body, token=None).status_code == 401
    assert offline(api, b) == 0


# --- modify: PUT /messages/rewrite/{msg_id} -------------------------------------------------------


def test_rewrite_a_text_message(api: Api) -> None:
    a, b = people(api, 2)
    ids = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "helo"},
                                                 "ext": {"k": 1, "keep": True}}), "/messages/users")
    r = api.put(f"/messages/rewrite/{ids[b]}", json={"user": a, "new_msg": {"type": "txt", "msg": "hello"},
                                                      "new_ext": {"k": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == "success" and r.json()["action"] == "put"
    entity = history_entity(api, ids[b])
    assert entity["payload"]["bodies"] == [{"type": "txt", "msg": "hello"}]
    assert entity["payload"]["ext"] == {"k": 2, "keep": True}  # merged by default
    assert entity["payload"]["edited"]["by"] == a and entity["payload"]["edited"]["count"] == 1
    # replaced, not merged; and by the app
    r = api.put(f"/messages/rewrite/{ids[b]}", json={"new_msg": {"type": "text", "msg": "hi"}, "new_ext": {"x": 1},
                                                      "is_combine_ext": False})
    assert r.status_code == 200, r.text
    entity = history_entity(api, ids[b])
    assert entity["payload"]["ext"] == {"x": 1} and entity["payload"]["edited"]["by"] == "admin"
    assert entity["payload"]["edited"]["count"] == 2
    assert ids[b] in roamed_ids(api, b, f"{a}@easemob.com")  # the offline reader reads it changed
    r = api.post(f"/users/{b}/messageroaming", content=json.dumps(
        {"queue": f"{a}@easemob.com", "start": -1, "end": -1}).encode(), headers={"Content-Type": "text/plain"})
    newest = r.json()["data"]["msgs"][0]
    assert '"msg":"hi"' in newest.replace("&quot;", '"')


def test_rewrite_custom_and_ext_only_types(api: Api) -> None:
    a, b = people(api, 2)
    custom = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "custom",
                                                    "body": {"customEvent": "e1", "customExts": {"a": "1"}}}),
                  "/messages/users")[b]
    r = api.put(f"/messages/rewrite/{custom}", json={"new_msg": {"type": "custom", "customEvent": "e2",
                                                                 "customExts": {"b": "2"}}})
    assert r.status_code == 200, r.text
    assert history_entity(api, custom)["payload"]["bodies"] == [
        {"type": "custom", "customEvent": "e2", "customExts": {"b": "2"}}]
    img = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "img", "body": BODIES["img"]}),
               "/messages/users")[b]
    r = api.put(f"/messages/rewrite/{img}", json={"new_msg": {"type": "image", "url": "https://elsewhere"},
                                                   "new_ext": {"caption": "c"}})
    assert r.status_code == 200, r.text
    entity = history_entity(api, img)
    assert entity["payload"]["bodies"] == [{**BODIES["img"], "type": "img"}]  # only its ext may change
    assert entity["payload"]["ext"] == {"caption": "c"}


def test_rewrite_errors(api: Api) -> None:
    a, b = people(api, 2)
    cmd = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "cmd", "body": {"action": "go"}}),
               "/messages/users")[b]
    txt = sent(api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "m"}}),
               "/messages/users")[b]
    unsupported = "The message is of a type that is currently not supported for modification."
    assert_error(api.put(f"/messages/rewrite/{cmd}", json={"new_msg": {"type": "cmd", "action": "x"}}), 400,
                 "message_rewrite_error", unsupported)
    assert_error(api.put(f"/messages/rewrite/{txt}", json={"new_msg": {"type": "custom", "customEvent": "x"}}),
                 400, "message_rewrite_error", unsupported)
    assert_error(api.put(f"/messages/rewrite/{txt}", json={}), 400, "illegal_argument", "new_msg is required")
    assert_error(api.put(f"/messages/rewrite/{txt}", json=[1]), 400, "invalid_request_body")
    for bad in ("12ab", "\u00b2"):  # "²" is a digit to str.isdigit, not a number to int()
        assert_error(api.put(f"/messages/rewrite/{bad}", json={"new_msg": {"type": "txt", "msg": "x"}}), 400,
                     "InvalidMessageIdException", "The provided message ID is not a valid number.")
    r = api.get(f"/users/{a}/offline_msg_status/\u00b2")
    assert r.status_code == 404, r.text
    assert_error(api.put("/messages/rewrite/1234567", json={"new_msg": {"type": "txt", "msg": "x"}}), 404,
                 "message_rewrite_error", "The message is unavailable or has expired.")
    for i in range(10):
        assert api.put(f"/messages/rewrite/{txt}", json={"new_msg": {"type": "txt", "msg": f"v{i}"}}).status_code == 200
    assert_error(api.put(f"/messages/rewrite/{txt}", json={"new_msg": {"type": "txt", "msg": "eleventh"}}), 403,
                 "message_rewrite_error", "The message has reached its edit limit and cannot be modified further.")
    assert history_entity(api, txt)["payload"]["bodies"] == [{"type": "txt", "msg": "v9"}]
    assert api.put(f"/messages/rewrite/{txt}", json={"new_msg": {"type": "txt", "msg": "x"}},
                   token=api.user_token(a)).status_code == 401
