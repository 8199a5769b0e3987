"""The REST calls of Easemob's Web SDK 4.x that are not in the server REST API (http/sdk.py, and its
message roaming in http/history.py), made as the SDK makes them: a user token, a JSON body,
`?resource=` on writes, and only HTTP 200 counting as success. What msync clients are told is in
tests/scenarios/test_msync.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
from test_groups import make_group, people

from conftest import Api, assert_error
from hxim.msync.wire import pb

R = "?resource=webim_web_1"
JSON = {"Content-Type": "application/json"}


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()


def contacts(api: Api, user: str) -> list[str]:
    return sorted(ok(api.get(f"/users/{user}/contacts/users"))["data"])


def refused_for_another_user(r: httpx.Response) -> None:
    assert_error(r, 401, "unauthorized")


# --- contacts ---------------------------------------------------------------------------------------


def test_friend_requests_accepted_and_declined(api: Api) -> None:
    a, b, c = people(api, 3)
    ta, tb, tc = (api.user_token(u) for u in (a, b, c))
    # a asks b and c (the SDK sends one name a request)
    for to in (b, c):
        ok(api.post(f"/users/{a}/contacts/apply{R}", token=ta, json={"usernames": [to], "reason": "hi"}))
    refused_for_another_user(api.post(f"/users/{a}/contacts/apply", token=tb, json={"usernames": [c]}))
    assert_error(api.post(f"/users/{a}/contacts/apply", token=ta, json={"usernames": []}), 400, "illegal_argument")
    assert_error(api.post(f"/users/{a}/contacts/apply", token=ta, json={"usernames": [b], "reason": 3}), 400,
                 "illegal_argument")
    assert_error(api.post(f"/users/{a}/contacts/apply", token=ta, json={"usernames": ["nobody-here"]}), 404,
                 "service_resource_not_found")
    # b accepts: friends both ways; a second accept finds no request
    refused_for_another_user(api.post(f"/users/{b}/contacts/accept/users/{a}", token=ta))
    body = ok(api.post(f"/users/{b}/contacts/accept/users/{a}{R}", token=tb, headers=JSON))
    assert body["data"] == {"result": "ok", "username": a}
    assert contacts(api, a) == [b] and contacts(api, b) == [a]
    assert_error(api.post(f"/users/{b}/contacts/accept/users/{a}", token=tb), 400, "illegal_argument",
                 f"no friend request from {a} is waiting")
    # c declines: no friendship, and the request is gone
    ok(api.post(f"/users/{c}/contacts/decline/users/{a}{R}", token=tc))
    assert contacts(api, c) == []
    assert_error(api.post(f"/users/{c}/contacts/accept/users/{a}", token=tc), 400, "illegal_argument")
    # the app admin token acts for anyone
    ok(api.post(f"/users/{c}/contacts/apply", json={"usernames": [b]}))
    ok(api.post(f"/users/{b}/contacts/accept/users/{c}"))
    assert contacts(api, b) == sorted([a, c])


def test_contact_lists_with_remarks(api: Api) -> None:
    me, *friends = people(api, 4)
    token = api.user_token(me)
    for f in friends:
        ok(api.post(f"/users/{me}/contacts/users/{f}"))
    ok(api.put(f"/user/{me}/contacts/users/{friends[0]}", json={"remark": "best"}))
    # getAllContacts: entities [{username, remark}]
    body = ok(api.get(f"/users/{me}/contacts/users?needReturnRemark=true", token=token))
    assert sorted(body["data"]) == sorted(friends)
    remarks = {e["username"]: e["remark"] for e in body["entities"]}
    assert remarks == {friends[0]: "best", friends[1]: "", friends[2]: ""}
    assert ok(api.get(f"/users/{me}/contacts/users", token=token))["entities"] == []
    # getContactsWithCursor: data.{contacts, cursor}, newest first, two pages
    first = ok(api.get(f"/users/{me}/contacts?needReturnRemark=true&limit=2&cursor=", token=token))["data"]
    assert [c["username"] for c in first["contacts"]] == [friends[2], friends[1]] and first["cursor"]
    second = ok(api.get(f"/users/{me}/contacts", params={"limit": 2, "cursor": first["cursor"]}, token=token))["data"]
    assert second == {"contacts": [{"username": friends[0], "remark": "best"}], "cursor": ""}
    refused_for_another_user(api.get(f"/users/{friends[0]}/contacts", token=token))
    assert_error(api.get(f"/users/{me}/contacts?limit=51", token=token), 400, "illegal_argument")


def test_block_list(api: Api) -> None:
    me, x, y = people(api, 3)
    token = api.user_token(me)
    body = ok(api.post(f"/sdk/user/{me}/blocks{R}", token=token, json={"usernames": [x, y]}))
    assert body["data"] == [x, y]
    assert sorted(ok(api.get(f"/users/{me}/blocks/users", token=token))["data"]) == sorted([x, y])
    body = ok(api.delete(f"/sdk/user/{me}/blocks{R}", token=token, json={"usernames": [x]}))
    assert body["data"] == [x]
    assert ok(api.get(f"/users/{me}/blocks/users", token=token))["data"] == [y]
    refused_for_another_user(api.post(f"/sdk/user/{x}/blocks", token=token, json={"usernames": [y]}))
    assert_error(api.post(f"/sdk/user/{me}/blocks", token=token, json={"usernames": "x"}), 400, "illegal_argument")
    assert_error(api.delete(f"/sdk/user/{me}/blocks", token=token, json={}), 400, "illegal_argument")


# --- message history (4.x) --------------------------------------------------------------------------


def send(api: Api, sender: str, to: str, text: str, kind: str = "users", **extra: Any) -> str:
    body = {"from": sender, "to": [to], "type": "txt", "body": {"msg": text}, **extra}
    return str(ok(api.post(f"/messages/{kind}", json=body))["data"][to])


def send_img(api: Api, sender: str, to: str) -> str:
    body = {"from": sender, "to": [to], "type": "img", "body": {"url": "http://x/f", "filename": "f.png"}}
    return str(ok(api.post("/messages/users", json=body))["data"][to])


def metas(data: dict[str, Any]) -> list[pb.Meta]:
    out = []
    for item in data["msgs"]:
        meta = pb.Meta()
        meta.ParseFromString(base64.b64decode(item["msg"]))
        out.append(meta)
    return out


def texts(found: list[pb.Meta]) -> list[str]:
    out = []
    for meta in found:
        body = pb.MessageBody()
        body.ParseFromString(meta.payload)
        out.append(body.contents[0].text)
    return out


def history(api: Api, user: str, token: str, **body: Any) -> dict[str, Any]:
    """getHistoryMessages' request as the SDK builds it (JSON, its own fields)."""
    request = {"start": -1, "pull_number": 20, "is_positive": False, "msgType": "", "end": -1, "startTime": None,
               "endTime": None, "userId": None, **body}
    r = api.post(f"/users/{user}/messageroaming", token=token, json=request)
    data = ok(r)["data"]
    assert list(data) == ["msgs", "next_key", "is_last"]
    return data


def test_message_history_of_the_sdk_4(api: Api) -> None:
    a, b, c = people(api, 3)
    ta = api.user_token(a)
    ids = [send(api, a if i % 2 else b, b if i % 2 else a, f"m{i}") for i in range(5)]
    img = send_img(api, b, a)
    send(api, c, a, "other conversation")
    queue = f"{b}@easemob.com"
    # newest first, two pages of 3
    first = history(api, a, ta, queue=queue, pull_number=3)
    found = metas(first)
    assert [str(m.id) for m in found] == [img, ids[4], ids[3]] and first["is_last"] is False
    assert first["next_key"] == ids[3]
    body = pb.MessageBody()
    body.ParseFromString(found[1].payload)
    assert body.type == pb.MessageBody.CHAT and body.from_.name == b and body.to.name == a  # m4: b to a
    assert found[1].ns == pb.Meta.CHAT and found[1].timestamp > 0
    second = history(api, a, ta, queue=queue, pull_number=3, start=first["next_key"])
    assert [str(m.id) for m in metas(second)] == ids[2::-1] and second["is_last"] is True
    # oldest first (direction "down") from a message
    down = history(api, a, ta, queue=queue, pull_number=2, is_positive=True, start=ids[1])
    assert texts(metas(down)) == ["m2", "m3"] and down["next_key"] == ids[3] and down["is_last"] is False
    oldest = history(api, a, ta, queue=queue, pull_number=1, is_positive=True)
    assert texts(metas(oldest)) == ["m0"]
    # filters: message types, time
    assert [str(m.id) for m in metas(history(api, a, ta, queue=queue, msgType="img"))] == [img]
    assert len(metas(history(api, a, ta, queue=queue, msgType="txt,img"))) == 6
    assert metas(history(api, a, ta, queue=queue, startTime=int(time.time() * 1000) + 60_000)) == []
    # fetchHistoryMessages (older 4.x): queue, start and end only, declared JSON
    r = api.post(f"/users/{a}/messageroaming", token=ta, json={"queue": queue, "start": -1, "end": -1})
    assert len(metas(ok(r)["data"])) == 6
    # the Web IM SDK 1.8's request still gets stanzas
    r = api.post(f"/users/{a}/messageroaming", token=ta, headers={"Content-Type": "text/plain;charset=UTF-8"},
                 content=json.dumps({"queue": queue, "start": -1, "end": -1}).encode())
    assert ok(r)["data"]["msgs"][0].startswith("<message")
    # what a deletes for themselves is gone from their history only
    ok(api.delete(f"/rest/message/roaming/chat/user/{a}?userId={b}&msgIdList={ids[4]}"))
    assert ids[4] not in [str(m.id) for m in metas(history(api, a, ta, queue=queue))]
    tb = api.user_token(b)
    assert ids[4] in [str(m.id) for m in metas(history(api, b, tb, queue=f"{a}@easemob.com"))]
    # another user's history, bad fields
    refused_for_another_user(api.post(f"/users/{b}/messageroaming", token=ta, json={"queue": queue, "start": -1}))
    for bad in ({"pull_number": 0}, {"pull_number": 51}, {"is_positive": "yes"}, {"start": "x"}, {"msgType": 3}):
        r = api.post(f"/users/{a}/messageroaming", token=ta, json={"queue": queue, "end": -1, **bad})
        assert_error(r, 400, "illegal_argument")


def test_group_history_of_the_sdk_4(api: Api) -> None:
    owner, m, outsider = people(api, 3)
    gid = make_group(api, owner, [m])
    for i, sender in enumerate((owner, m, owner)):
        send(api, sender, gid, f"g{i}", "chatgroups")
    tm = api.user_token(m)
    data = history(api, m, tm, queue=f"{gid}@conference.easemob.com")
    found = metas(data)
    assert texts(found) == ["g2", "g1", "g0"] and data["is_last"] is True
    assert found[0].to.domain == "conference.easemob.com"
    body = pb.MessageBody()
    body.ParseFromString(found[0].payload)
    assert body.type == pb.MessageBody.GROUPCHAT and body.to.name == gid and body.from_.name == owner
    # searchOptions.from: one member's messages
    assert texts(metas(history(api, m, tm, queue=f"{gid}@conference.easemob.com", userId=m))) == ["g1"]
    r = api.post(f"/users/{outsider}/messageroaming", token=api.user_token(outsider),
                 json={"queue": f"{gid}@conference.easemob.com", "start": -1, "pull_number": 5})
    assert_error(r, 403, "forbidden_op")


# --- the conversation list ----------------------------------------------------------------------------


def channels(api: Api, user: str, token: str, path: str = "", **params: Any) -> dict[str, Any]:
    r = api.get(path or f"/sdk/user/{user}/user_channels/list", token=token, params=params)
    data = ok(r)["data"]
    assert list(data) == ["channel_infos", "cursor"]
    return data


def test_conversation_list(api: Api) -> None:
    me, b, c, d = people(api, 4)
    gid = make_group(api, b, [me])
    token = api.user_token(me)
    send(api, me, b, "to b")
    send(api, c, me, "from c 1")
    send(api, c, me, "from c 2")
    group_msg = send(api, b, gid, "in the group", "chatgroups", ext={"k": 1})
    last_b = send(api, b, me, "from b")
    send(api, c, d, "not mine")
    data = channels(api, me, token, limit=20, cursor="", need_mark="true", needEmptySession="false")
    infos = data["channel_infos"]
    assert [(i["session_to"], i["session_type"]) for i in infos] == [(b, "chat"), (gid, "groupchat"), (c, "chat")]
    assert data["cursor"] == ""
    first = infos[0]
    assert list(first) == ["session_to", "session_type", "unread_num", "is_top", "update_top_status_time", "marks",
                           "meta"]
    assert first["is_top"] is False and first["marks"] == []
    assert first["meta"]["id"] == last_b and isinstance(first["meta"]["timestamp"], int)
    payload = json.loads(first["meta"]["payload"])
    assert payload == {"from": b, "to": me, "type": "chat", "ext": {}, "bodies": [{"type": "txt", "msg": "from b"}]}
    group = infos[1]
    assert group["meta"]["id"] == group_msg
    assert json.loads(group["meta"]["payload"])["type"] == "groupchat"
    assert json.loads(group["meta"]["payload"])["ext"] == {"k": 1}
    # unread: the user's offline messages in each conversation (no session read them)
    assert [i["unread_num"] for i in infos] == [1, 1, 2]
    # pages of one, by cursor
    seen, cursor = [], ""
    for _ in range(5):
        page = channels(api, me, token, limit=1, cursor=cursor)
        seen += [i["session_to"] for i in page["channel_infos"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == [b, gid, c]
    # nothing pinned; the older calls
    assert channels(api, me, token, is_top="true")["channel_infos"] == []
    old = channels(api, me, token, f"/users/{me}/user_channels")
    assert [i["session_to"] for i in old["channel_infos"]] == [b, gid, c]
    numbered = channels(api, me, token, f"/users/{me}/user_channels/page", pageNum=2, pageSize=2)
    assert [i["session_to"] for i in numbered["channel_infos"]] == [c]
    assert channels(api, me, token, f"/users/{me}/user_channels/page", pageNum=3, pageSize=2)["channel_infos"] == []
    # deleteConversation with its roaming: gone from the list (the peer keeps it)
    r = api.delete(f"/user/{me}/user_channel{R}", token=token, json={"channel": c, "type": "chat", "delete_roam": True})
    ok(r)
    assert [i["session_to"] for i in channels(api, me, token)["channel_infos"]] == [b, gid]
    tc = api.user_token(c)
    assert [i["session_to"] for i in channels(api, c, tc)["channel_infos"]] == [d, me]
    # a message hidden from me (deleted for myself) is not the last one shown
    ok(api.delete(f"/rest/message/roaming/chat/user/{me}?userId={b}&msgIdList={last_b}"))
    assert channels(api, me, token)["channel_infos"][0]["session_to"] == gid
    refused_for_another_user(api.get(f"/sdk/user/{c}/user_channels/list", token=token))
    refused_for_another_user(api.delete(f"/user/{c}/user_channel", token=token,
                                        json={"channel": me, "type": "chat", "delete_roam": True}))
    assert_error(api.get(f"/sdk/user/{me}/user_channels/list?limit=51", token=token), 400, "illegal_argument")
    assert_error(api.get(f"/users/{me}/user_channels/page?pageNum=0&pageSize=2", token=token), 400,
                 "illegal_argument")


# --- groups, token --------------------------------------------------------------------------------------


def test_group_calls_with_the_sdk_query(api: Api) -> None:
    owner, friend, joiner = people(api, 3)
    to, tf, tj = (api.user_token(u) for u in (owner, friend, joiner))
    gid = make_group(api, owner, invite_need_confirm=False)
    q = "?resource=webim_web_1&version=v3"
    body = ok(api.post(f"/chatgroups/{gid}/invite{q}", token=to, json={"usernames": [friend]}))
    assert body["data"]["action"] == "invite"
    body = ok(api.post(f"/chatgroups/{gid}/apply{q}", token=tj, json={"message": "let me in"}))
    assert body["data"]["joined"] is True
    assert ok(api.get(f"/chatgroups/user/{joiner}/joined_count", token=tj))["data"] == 1
    ok(api.delete(f"/chatgroups/{gid}/quit{q}", token=tj))
    assert ok(api.get(f"/chatgroups/user/{joiner}/joined_count", token=tj))["data"] == 0
    assert ok(api.get(f"/chatgroups/user/{friend}/joined_count", token=tf))["data"] == 1
    assert ok(api.get(f"/chatgroups/user/{owner}/joined_count"))["data"] == 1
    refused_for_another_user(api.get(f"/chatgroups/user/{owner}/joined_count", token=tj))
    # listGroups (version v3) reads id and name
    data = ok(api.get("/publicchatgroups?version=v3&limit=100", token=tj))["data"]
    entry = next(d for d in data if d["id"] == gid)
    assert entry["groupid"] == gid and entry["name"] == entry["groupname"]


def test_token_expiry(api: Api) -> None:
    [me, other] = people(api, 2)
    r = api.post("/token", token=None, json={"grant_type": "password", "username": me, "password": "secret1",
                                            "ttl": 3600})
    token = r.json()["access_token"]
    body = ok(api.get(f"/sdk/users/{me}/token/expires", token=token))
    assert list(body) == ["expire_timestamp"]
    assert abs(body["expire_timestamp"] - (time.time() + 3600) * 1000) < 60_000
    refused_for_another_user(api.get(f"/sdk/users/{other}/token/expires", token=token))
    assert_error(api.get(f"/sdk/users/{me}/token/expires", token=None), 401, "unauthorized")
