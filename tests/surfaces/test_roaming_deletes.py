"""One-sided deletes of what a user reads back of their conversations (message roaming):
by message id and up to a time, for 1:1 chats and groups (`/rest/message/roaming/...`), every
conversation at once (`…/delete/all`), and a conversation with its messages
(`DELETE /users/{u}/user_channel`). The other side keeps reading everything."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx

from conftest import Api, assert_error, unique


def people(api: Api, n: int) -> list[str]:
    names = [unique("rd") for _ in range(n)]
    api.register(*names)
    return names


def say(api: Api, sender: str, to: str, text: str, kind: str = "users") -> str:
    r = api.post(f"/messages/{kind}", json={"from": sender, "to": [to], "type": "txt", "body": {"msg": text}})
    assert r.status_code == 200, r.text
    return str(r.json()["data"][to])


def roamed(api: Api, user: str, queue: str) -> list[str]:
    body = json.dumps({"queue": queue, "start": -1, "end": -1}).encode()
    r = api.post(f"/users/{user}/messageroaming", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    return [ET.fromstring(s).get("id", "") for s in r.json()["data"]["msgs"]]


def ok(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["requestStatusCode"] == "ok" and isinstance(body["timestamp"], int), body


def test_delete_chat_messages_by_id_for_one_side(api: Api) -> None:
    a, b = people(api, 2)
    m1, m2, m3 = say(api, a, b, "one"), say(api, b, a, "two"), say(api, a, b, "three")
    ok(api.delete(f"/rest/message/roaming/chat/user/{a}", params={"userId": b, "msgIdList": f"{m1},{m2}",
                                                                  "isNotify": "false"}))
    assert roamed(api, a, f"{b}@easemob.com") == [m3]
    assert roamed(api, b, f"{a}@easemob.com") == [m3, m2, m1]  # the other side is untouched
    # the history export keeps every message
    ids = {e["msg_id"] for e in api.get("/chatmessages", params={"limit": 1000}).json()["entities"]}
    assert {m1, m2, m3} <= ids


def test_clear_a_chat_up_to_a_time(api: Api) -> None:
    a, b = people(api, 2)
    old = say(api, a, b, "old")
    time.sleep(0.01)
    cut = int(time.time() * 1000)
    time.sleep(0.01)
    new = say(api, a, b, "new")
    ok(api.delete(f"/rest/message/roaming/chat/user/{b}/time", params={"userId": a, "delTime": str(cut)}))
    assert roamed(api, b, f"{a}@easemob.com") == [new]
    assert roamed(api, a, f"{b}@easemob.com") == [new, old]
    ok(api.delete(f"/rest/message/roaming/chat/user/{b}/time", params={"userId": a, "delTime": "1"}))
    assert roamed(api, b, f"{a}@easemob.com") == [new]  # an earlier time takes nothing back


def test_group_deletes_by_id_and_time(api: Api) -> None:
    owner, a = people(api, 2)
    gid = str(api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": owner,
                                            "members": [a]}).json()["data"]["groupid"])
    m1, m2 = say(api, owner, gid, "g1", "chatgroups"), say(api, owner, gid, "g2", "chatgroups")
    queue = f"{gid}@conference.easemob.com"
    ok(api.delete(f"/rest/message/roaming/group/user/{a}", params={"groupId": gid, "msgIdList": m2}))
    assert roamed(api, a, queue) == [m1] and roamed(api, owner, queue) == [m2, m1]
    ok(api.delete(f"/rest/message/roaming/group/user/{a}/time",
                  params={"groupId": gid, "delTime": str(int(time.time() * 1000))}))
    assert roamed(api, a, queue) == []
    m3 = say(api, owner, gid, "g3", "chatgroups")
    assert roamed(api, a, queue) == [m3]


def test_delete_all_and_conversation_delete(api: Api) -> None:
    a, b, c = people(api, 3)
    say(api, b, a, "from b"), say(api, c, a, "from c")
    r = api.post(f"/rest/message/roaming/user/{a}/delete/all")
    ok(r)
    assert roamed(api, a, f"{b}@easemob.com") == [] and roamed(api, a, f"{c}@easemob.com") == []
    assert len(roamed(api, b, f"{a}@easemob.com")) == 1
    later = say(api, b, a, "later")
    assert roamed(api, a, f"{b}@easemob.com") == [later]
    # the conversation with b, and its messages
    r = api.delete(f"/users/{a}/user_channel", json={"channel": b, "type": "chat", "delete_roam": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"result": "ok"} and r.json()["action"] == "delete"
    assert roamed(api, a, f"{b}@easemob.com") == []
    kept = say(api, c, a, "kept")
    r = api.delete(f"/users/{a}/user_channel", json={"channel": c, "type": "chat", "delete_roam": False})
    assert r.status_code == 200 and roamed(api, a, f"{c}@easemob.com") == [kept]


def test_errors(api: Api) -> None:
    a, b = people(api, 2)
    too_many = ",".join(str(i) for i in range(1, 52))
    assert_error(api.delete(f"/rest/message/roaming/chat/user/{a}", params={"userId": b, "msgIdList": too_many}),
                 400, "param exception", "delete msg list limit can not greater than 50")
    assert api.delete(f"/rest/message/roaming/chat/user/{a}", params={"userId": b}).status_code == 400
    assert api.delete(f"/rest/message/roaming/chat/user/{a}", params={"msgIdList": "1"}).status_code == 400
    assert api.delete(f"/rest/message/roaming/chat/user/{a}/time", params={"userId": b}).status_code == 400
    assert api.delete(f"/rest/message/roaming/chat/user/{unique('no')}",
                      params={"userId": b, "msgIdList": "1"}).status_code == 404
    channel = f"/users/{a}/user_channel"
    assert_error(api.delete(channel, json={"type": "chat", "delete_roam": True}), 400, "illegal_argument",
                 "field channel cannot be null or empty")
    assert_error(api.delete(channel, json={"channel": b, "delete_roam": True}), 400, "illegal_argument",
                 "field type cannot be null or empty")
    assert_error(api.delete(channel, json={"channel": b, "type": "chat"}), 400, "illegal_argument",
                 "field delete_roam cannot be null")
    assert_error(api.delete(channel, json=[]), 400, "invalid_request_body")
    token = api.user_token(a)
    assert api.post(f"/rest/message/roaming/user/{a}/delete/all", token=token).status_code == 401
