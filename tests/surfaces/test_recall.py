"""`POST /{org}/{app}/messages/msg_recall`: the app withdraws a message (Easemob's
message_recall_single page), by the rule XMPP recall uses."""

from __future__ import annotations

from typing import Any

from conftest import Api, assert_error, unique


def _send(api: Api, sender: str, to: str, target_type: str = "users", text: str = "oops") -> str:
    body = {"target_type": target_type, "target": [to], "msg": {"type": "txt", "msg": text}, "from": sender}
    r = api.post("/messages?useMsgId=true", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][to])


def _offline(api: Api, name: str) -> int:
    return int(api.get(f"/users/{name}/offline_msg_count").json()["data"][name])


def _recall(api: Api, **body: Any) -> Any:
    return api.post("/messages/msg_recall", json=body)


def test_recall_a_1to1_message(api: Api) -> None:
    a, b = unique("ra"), unique("rb")
    api.register(a, b)
    mid = _send(api, a, b)
    keep = _send(api, a, b, text="stays")
    assert _offline(api, b) == 2
    r = _recall(api, msg_id=mid, to=b, chat_type="chat", **{"from": a}, force=False)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == {"recalled": "yes", "chattype": "chat", "from": a, "to": b, "msg_id": mid}
    assert body["path"] == "/messages/msg_recall" and body["action"] == "post"
    assert _offline(api, b) == 1  # its offline copy went; the other message stays
    assert api.get(f"/users/{b}/offline_msg_status/{keep}").json()["data"][keep] == "undelivered"
    # gone from the history too, and a second recall finds nothing
    ids = {e["msg_id"] for e in api.get("/chatmessages", params={"limit": 1000}).json()["entities"]}
    assert mid not in ids and keep in ids
    assert_error(_recall(api, msg_id=mid, to=b, chat_type="chat", force=True), 403, "message_recall_error",
                 "not_found msg")


def test_recall_a_group_message_as_the_app(api: Api) -> None:
    a, b = unique("rg"), unique("rh")
    api.register(a, b)
    r = api.post("/chatgroups", json={"groupname": "g", "public": True, "owner": a, "members": [b]})
    gid = str(r.json()["data"]["groupid"])
    mid = _send(api, a, gid, "chatgroups")
    assert _offline(api, b) == 1
    r = _recall(api, msg_id=mid, to=gid, chat_type="groupchat", force=False)  # `from` defaults to admin
    assert r.status_code == 200, r.text
    assert r.json()["data"]["from"] == "admin"
    assert _offline(api, b) == 0


def test_refusals(api: Api) -> None:
    a, b = unique("rr"), unique("rs")
    api.register(a, b)
    mid = _send(api, a, b)
    for missing in ("msg_id", "to", "chat_type"):
        body = {"msg_id": mid, "to": b, "chat_type": "chat", "force": False, missing: ""}
        assert_error(api.post("/messages/msg_recall", json=body), 400, "message_recall_error",
                     f"param {missing} can't be empty")
    assert_error(_recall(api, msg_id=mid, to=b, chat_type="chat"), 400, "message_recall_error",
                 "param force can't be empty")
    assert_error(_recall(api, msg_id=mid, to=a, chat_type="chat", force=False), 400, "message_recall_error",
                 "can't find msg to")
    assert_error(_recall(api, msg_id=mid, to=b, chat_type="groupchat", force=False), 400, "message_recall_error",
                 "can't find msg to")
    assert_error(_recall(api, msg_id="12345", to=b, chat_type="chat", force=False), 403, "message_recall_error",
                 "not_found msg")
    # only the sender (or the app) recalls
    assert_error(_recall(api, msg_id=mid, to=b, chat_type="chat", force=False, **{"from": b}), 403, "forbidden_op")
    # a user's token may not
    token = api.user_token(a)
    r = api.post("/messages/msg_recall", json={"msg_id": mid, "to": b, "chat_type": "chat", "force": False},
                 token=token)
    assert r.status_code == 401, r.text
    assert _offline(api, b) == 1


def test_batch_recall_answers_each_message(api: Api) -> None:
    a, b = unique("ba"), unique("bb")
    api.register(a, b)
    first, second, kept = _send(api, a, b), _send(api, a, b), _send(api, a, b, text="stays")
    r = api.post("/messages/batch_recall", json={"msgs": [
        {"msg_id": first, "to": b, "from": a, "chat_type": "chat", "force": False},
        {"msg_id": second, "to": b, "chat_type": "chat", "force": True, "sync_device": False},
        {"msg_id": "999999", "to": b, "chat_type": "chat", "force": False},
        {"msg_id": kept, "to": "someone-else", "chat_type": "chat", "force": False},
    ]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == "/messages/batch_recall" and body["action"] == "post"
    assert body["data"][:2] == [
        {"recalled": "yes", "chattype": "chat", "from": a, "to": b, "msg_id": first},
        {"recalled": "yes", "chattype": "chat", "from": "admin", "to": b, "msg_id": second},
    ]
    assert body["data"][2]["recalled"] == "no" and body["data"][2]["reason"] == "not_found msg"
    assert body["data"][3]["recalled"] == "no" and body["data"][3]["reason"] == "can't find msg to"
    assert _offline(api, b) == 1  # only the kept one waits
    assert_error(api.post("/messages/batch_recall", json={"msgs": []}), 400, "message_recall_error",
                 "param msgs can't be empty")
    too_many = [{"msg_id": "1", "to": b, "chat_type": "chat", "force": False}] * 31
    assert_error(api.post("/messages/batch_recall", json={"msgs": too_many}), 400, "message_recall_error",
                 "param msgs's size can't exceed limit 30")
    assert api.post("/messages/batch_recall", json={"msgs": []}, token=api.user_token(a)).status_code == 401
