"""Message reactions (Easemob's reaction_add, reaction_get_by_msg_id,
reaction_get_by_msg_id_emoji_id and reaction_delete pages): `/reaction/user/{u}…`."""

from __future__ import annotations

import re
from typing import Any

import httpx

from conftest import Api, assert_error, unique

INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ILLEGAL = "the user operation is illegal!"


def _ok(r: httpx.Response, with_data: bool = True) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == (["requestStatusCode", "timestamp", "data"] if with_data else
                          ["requestStatusCode", "timestamp"]), body
    assert body["requestStatusCode"] == "ok" and isinstance(body["timestamp"], int)
    return body.get("data")


def _users(api: Api, n: int) -> list[str]:
    names = [unique("r") for _ in range(n)]
    api.register(*names)
    return names


def _chat(api: Api, sender: str, to: str, text: str = "hi") -> str:
    r = api.post("/messages/users", json={"from": sender, "to": [to], "type": "txt", "body": {"msg": text}})
    assert r.status_code == 200, r.text
    return str(r.json()["data"][to])


def _group(api: Api, owner: str, members: list[str]) -> tuple[str, str]:
    r = api.post("/chatgroups", json={"groupname": unique("g"), "desc": "d", "public": True, "owner": owner,
                                      "members": members})
    assert r.status_code == 200, r.text
    gid = str(r.json()["data"]["groupid"])
    r = api.post("/messages/chatgroups", json={"from": owner, "to": [gid], "type": "txt", "body": {"msg": "all"}})
    assert r.status_code == 200, r.text
    return gid, str(r.json()["data"][gid])


def _add(api: Api, user: str, msg_id: str, reaction: str, **kw: Any) -> httpx.Response:
    return api.post(f"/reaction/user/{user}", json={"msgId": msg_id, "message": reaction}, **kw)


def _list(api: Api, user: str, ids: list[str], kind: str = "chat", **params: Any) -> Any:
    return api.get(f"/reaction/user/{user}", params={"msgIdList": ",".join(ids), "msgType": kind, **params})


def test_add_answers_the_reaction(api: Api) -> None:
    a, b = _users(api, 2)
    mid = _chat(api, a, b)
    data = _ok(_add(api, b, mid, "emoji_40"))
    assert list(data) == ["id", "msgId", "msgType", "groupId", "reaction", "createdAt", "updatedAt"]
    assert data["id"].isdecimal() and data["msgId"] == mid and data["msgType"] == "chat"
    assert data["groupId"] is None and data["reaction"] == "emoji_40"
    assert INSTANT.fullmatch(data["createdAt"]) and data["createdAt"] == data["updatedAt"]
    # the other side adds the same reaction: one reaction, same id, two users
    again = _ok(_add(api, a, mid, "emoji_40"))
    assert again["id"] == data["id"]


def test_list_counts_state_and_first_three_users(api: Api) -> None:
    owner, *members = _users(api, 5)
    gid, mid = _group(api, owner, members)
    for user in [members[2], members[0], members[1], owner]:
        _ok(_add(api, user, mid, "like"))
    _ok(_add(api, members[3], mid, "heart"))
    data = _ok(_list(api, members[0], [mid], "groupchat", groupId=gid))
    assert [d["msgId"] for d in data] == [mid]
    like, heart = data[0]["reactionList"]
    assert list(like) == ["reactionId", "reaction", "count", "state", "userList"]
    assert (like["reaction"], like["count"], like["state"]) == ("like", 4, True)
    assert like["userList"] == [members[2], members[0], members[1]]  # the earliest three
    assert (heart["reaction"], heart["count"], heart["state"], heart["userList"]) == ("heart", 1, False, [members[3]])


def test_list_leaves_out_messages_without_reactions_or_not_the_users(api: Api) -> None:
    a, b, c = _users(api, 3)
    m1, m2, m3 = _chat(api, a, b), _chat(api, a, b), _chat(api, a, c)
    _ok(_add(api, a, m1, "x"))
    _ok(_add(api, c, m3, "x"))
    data = _ok(_list(api, b, [m1, m2, m3, "123", "nonsense"]))
    assert [d["msgId"] for d in data] == [m1]
    assert data[0]["reactionList"][0]["state"] is False


def test_detail_pages_users_in_order(api: Api) -> None:
    owner, *members = _users(api, 5)
    _, mid = _group(api, owner, members)
    order = [members[3], owner, members[0], members[2], members[1]]
    for user in order:
        _ok(_add(api, user, mid, "🎉"))
    path = f"/reaction/user/{owner}/detail"
    first = _ok(api.get(path, params={"msgId": mid, "message": "🎉", "limit": 2}))
    assert list(first) == ["reactionId", "reaction", "count", "state", "userList", "cursor"]
    assert (first["reaction"], first["count"], first["state"]) == ("🎉", 5, True)
    assert first["userList"] == order[:2]
    second = _ok(api.get(path, params={"msgId": mid, "message": "🎉", "limit": 2, "cursor": first["cursor"]}))
    third = _ok(api.get(path, params={"msgId": mid, "message": "🎉", "limit": 2, "cursor": second["cursor"]}))
    assert second["userList"] == order[2:4] and third["userList"] == order[4:]
    everyone = _ok(api.get(path, params={"msgId": mid, "message": "🎉"}))
    assert everyone["userList"] == order and everyone["reactionId"] == first["reactionId"]
    nobody = _ok(api.get(path, params={"msgId": mid, "message": "none"}))
    assert (nobody["count"], nobody["userList"], nobody["reactionId"]) == (0, [], None)
    assert_error(api.get(path, params={"msgId": mid, "message": "🎉", "limit": 51}), 400, "Bad Request",
                 "Limit exceeds the maximum quantity limit")


def test_delete_takes_back_ones_own_reaction(api: Api) -> None:
    a, b = _users(api, 2)
    mid = _chat(api, a, b)
    _ok(_add(api, a, mid, "x"))
    _ok(_add(api, b, mid, "x"))
    _ok(api.delete(f"/reaction/user/{a}", params={"msgId": mid, "message": "x"}), with_data=False)
    [entry] = _ok(_list(api, a, [mid]))
    assert entry["reactionList"][0]["userList"] == [b] and entry["reactionList"][0]["state"] is False
    assert_error(api.delete(f"/reaction/user/{a}", params={"msgId": mid, "message": "x"}), 400, "Bad Request",
                 ILLEGAL)
    _ok(api.delete(f"/reaction/user/{b}", params={"msgId": mid, "message": "x"}), with_data=False)
    assert _ok(_list(api, a, [mid])) == []


def test_refusals_in_the_pages_words(api: Api) -> None:
    a, b, c = _users(api, 3)
    mid = _chat(api, a, b)
    _ok(_add(api, a, mid, "x"))
    assert_error(_add(api, a, mid, "x"), 400, "Bad Request", "the user is already operation this message")
    assert_error(_add(api, c, mid, "x"), 400, "Bad Request", ILLEGAL)  # not a side of the conversation
    for i in range(19):
        _ok(_add(api, b, mid, f"e{i}"))
    assert_error(_add(api, b, mid, "one too many"), 400, "Bad Request", "The quantity has exceeded the limit!")
    _ok(_add(api, b, mid, "x"))  # an existing reaction still takes users
    assert_error(_add(api, a, mid, "y" * 129), 400, "Bad Request")
    assert_error(_add(api, a, "999", "x"), 400, "Bad Request")
    assert_error(_add(api, a, "", "x"), 400, "Bad Request", "msgId can not be empty!")
    too_many = [str(i) for i in range(1, 22)]
    assert_error(_list(api, a, too_many), 400, "Bad Request", "msgIdList exceeds the maximum number limit")
    assert_error(_list(api, a, [mid], "groupchat"), 400, "Bad Request", "groupId can not be null!")
    assert_error(api.post(f"/reaction/user/{unique('nobody')}", json={"msgId": mid, "message": "x"}), 404,
                 "service_resource_not_found")


def test_group_members_only_and_no_chat_rooms(api: Api) -> None:
    owner, member, outsider = _users(api, 3)
    gid, mid = _group(api, owner, [member])
    assert_error(_add(api, outsider, mid, "x"), 400, "Bad Request", ILLEGAL)
    assert_error(_list(api, outsider, [mid], "groupchat", groupId=gid), 400, "Bad Request", ILLEGAL)
    r = api.post("/chatrooms", json={"name": "r", "description": "d", "owner": owner, "members": [member]})
    assert r.status_code == 200, r.text
    rid = str(r.json()["data"]["id"])
    r = api.post("/messages/chatrooms", json={"from": owner, "to": [rid], "type": "txt", "body": {"msg": "m"}})
    assert r.status_code == 200, r.text
    assert_error(_add(api, member, str(r.json()["data"][rid]), "x"), 400, "Bad Request", ILLEGAL)


def test_user_tokens_act_for_themselves_only(api: Api) -> None:
    a, b = _users(api, 2)
    mid = _chat(api, a, b)
    mine = api.user_token(a)
    _ok(_add(api, a, mid, "x", token=mine))
    assert _ok(_list(api, a, [mid], token=mine))[0]["reactionList"][0]["state"] is True
    r = _add(api, b, mid, "x", token=mine)
    assert r.status_code == 401, r.text
    r = api.get(f"/reaction/user/{b}", params={"msgIdList": mid, "msgType": "chat"}, token=mine)
    assert r.status_code == 401, r.text
    r = _add(api, a, mid, "y", token=None)
    assert r.status_code == 401, r.text


def test_a_recalled_message_loses_its_reactions(api: Api) -> None:
    a, b = _users(api, 2)
    mid = _chat(api, a, b)
    _ok(_add(api, b, mid, "x"))
    r = api.post("/messages/msg_recall", json={"msg_id": mid, "to": b, "chat_type": "chat", "from": a,
                                               "force": True})
    assert r.status_code == 200, r.text
    assert _ok(_list(api, b, [mid])) == []
    assert_error(_add(api, b, mid, "x"), 400, "Bad Request")
