"""Chat rooms over the Easemob REST API (easemob-rest.md §7): every endpoint's success JSON
and its error JSON, on SQLite and PostgreSQL. Answers say `id` where groups say `groupid`."""

from __future__ import annotations

import time
from typing import Any

from test_groups import MUTE_FOREVER, envelope, group_error, offline, people

from conftest import Api, assert_error, unique


def make_room(api: Api, owner: str, members: list[str] | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {"name": unique("room"), "description": "a test room", "owner": owner}
    if members:
        body["members"] = members
    body.update(extra)
    data = envelope(api.post("/chatrooms", json=body), "post")
    assert list(data) == ["id"]
    return str(data["id"])


def test_create_and_details(api: Api) -> None:
    owner, m = people(api, 2)
    r = api.post("/chatrooms", json={"name": "testchatroom", "description": "server create chatroom",
                                     "maxusers": 300, "owner": owner, "members": [m]})
    rid = envelope(r, "post")["id"]
    assert isinstance(rid, str) and rid.isdigit()
    [room] = envelope(api.get(f"/chatrooms/{rid}"), "get", count=True)
    assert list(room) == ["id", "name", "description", "membersonly", "allowinvites", "public", "maxusers", "owner",
                          "created", "custom", "mute", "affiliations_count", "affiliations"]
    assert (room["id"], room["name"], room["description"], room["maxusers"], room["owner"]) == (
        rid, "testchatroom", "server create chatroom", 300, owner)
    assert room["public"] is True and room["membersonly"] is False and room["allowinvites"] is False
    assert abs(room["created"] - time.time() * 1000) < 60_000 and room["custom"] == "" and room["mute"] is False
    assert room["affiliations_count"] == 2 and room["affiliations"] == [{"owner": owner}, {"member": m}]
    [room] = envelope(api.get(f"/chatrooms/{make_room(api, owner)}"), "get", count=True)
    assert room["maxusers"] == 200


def test_create_errors(api: Api) -> None:
    [owner] = people(api, 1)
    cases = [
        ({"description": "d", "owner": owner}, 400, "invalid_parameter", "chatroom must contain title/name field!",
         "InvalidParameterException"),
        ({"name": "r", "description": "d"}, 400, "invalid_parameter", "owner must be provided",
         "InvalidParameterException"),
        ({"name": "r", "owner": "user10-nobody"}, 404, "resource_not_found", "username user10-nobody doesn't exist!",
         "ResourceNotFoundException"),
        ({"name": "r", "owner": owner, "maxusers": 5001}, 400, "invalid_parameter",
         "maxusers must be a number from 1 to 5000", "InvalidParameterException"),
    ]
    for body, status, error, description, exc in cases:
        group_error(api.post("/chatrooms", json=body), status, error, description, exc)
    group_error(api.post("/chatrooms", token=None, json={}), 401, "group_authorization", "token is blank!",
                "GroupAuthorizationException")
    group_error(api.get("/chatrooms/1432289956668375"), 404, "service_resource_not_found",
                "do not find this group:1432289956668375", "ServiceResourceNotFoundException")


def test_list_rooms(api: Api) -> None:
    [owner] = people(api, 1)
    mine = {make_room(api, owner) for _ in range(2)}
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = api.get("/chatrooms?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        body = r.json()
        seen += envelope(r, "get", params=True, cursor="cursor" in body, count=True)
        cursor = body.get("cursor")
        if cursor is None:
            break
    entry = next(x for x in seen if x["id"] in mine)
    assert list(entry) == ["id", "name", "owner", "affiliations_count"]
    assert entry["owner"] == owner and entry["affiliations_count"] == 1
    assert mine <= {x["id"] for x in seen}
    # groups and chat rooms are apart
    r = api.get("/chatgroups?limit=100")
    groups = envelope(r, "get", params=True, cursor="cursor" in r.json(), count=True)
    assert not mine & {g["groupid"] for g in groups}
    group_error(api.get(f"/chatgroups/{next(iter(mine))}"), 404, "service_resource_not_found",
                f"do not find this group:{next(iter(mine))}", "ServiceResourceNotFoundException")


def test_modify_and_delete(api: Api) -> None:
    owner, m = people(api, 2)
    rid = make_room(api, owner, [m])
    data = envelope(api.put(f"/chatrooms/{rid}", json={"name": "n2", "description": "d2", "maxusers": 50}), "put")
    assert data == {"groupname": True, "description": True, "maxusers": True}
    [room] = envelope(api.get(f"/chatrooms/{rid}"), "get", count=True)
    assert (room["name"], room["description"], room["maxusers"]) == ("n2", "d2", 50)
    group_error(api.put(f"/chatrooms/{rid}", json={"maxusers": 1}), 403, "forbidden_op",
                "current user count is larger than the maxUsers that you want to update !", "ForbiddenOpException")
    group_error(api.put(f"/chatrooms/{rid}", json={"public": False}), 400, "invalid_parameter",
                "some of [public] are not valid fields", "InvalidParameterException")
    assert envelope(api.delete(f"/chatrooms/{rid}"), "delete") == {"success": True, "id": rid}
    group_error(api.delete(f"/chatrooms/{rid}"), 404, "resource_not_found", f"grpID {rid} does not exist!",
                "ResourceNotFoundException")


def test_members(api: Api) -> None:
    owner, a, b, c, outsider = people(api, 5)
    rid = make_room(api, owner)
    assert envelope(api.post(f"/chatrooms/{rid}/users/{a}"), "post") == {
        "result": True, "action": "add_member", "id": rid, "user": a}
    assert envelope(api.post(f"/chatrooms/{rid}/users", json={"usernames": [b, c]}), "post") == {
        "newmembers": [b, c], "action": "add_member", "id": rid}
    assert envelope(api.get(f"/chatrooms/{rid}/users"), "get", count=True) == [
        {"owner": owner}, {"member": a}, {"member": b}, {"member": c}]
    r = api.get(f"/chatrooms/{rid}/users?pagenum=1&pagesize=1")
    assert envelope(r, "get", params=True, count=True) == [{"owner": owner}]
    assert envelope(api.delete(f"/chatrooms/{rid}/users/{a}"), "delete") == {
        "result": True, "action": "remove_member", "id": rid, "user": a}
    assert envelope(api.delete(f"/chatrooms/{rid}/users/{b},{outsider}"), "delete") == [
        {"result": True, "action": "remove_member", "user": b, "id": rid},
        {"result": False, "action": "remove_member", "reason": f"user: {outsider} doesn't exist in group: {rid}",
         "user": outsider, "id": rid},
    ]
    group_error(api.post(f"/chatrooms/{rid}/users/{c}"), 403, "forbidden_op",
                f"can not join this group, reason:user: {c} already in group: {rid}\n", "ForbiddenOpException")
    group_error(api.delete(f"/chatrooms/{rid}/users/{outsider}"), 403, "forbidden_op",
                f"users [{outsider}] are not members of this group!", "ForbiddenOpException")
    group_error(api.get("/chatrooms/1432289956668375/users"), 404, "resource_not_found",
                "grpID 1432289956668375 does not exist!", "ResourceNotFoundException")


def test_joined_chatrooms(api: Api) -> None:
    owner, m = people(api, 2)
    r1, r2 = make_room(api, owner, [m]), make_room(api, m)
    data = envelope(api.get(f"/users/{m}/joined_chatrooms"), "get", count=True)
    assert data == [{"id": r1, "name": data[0]["name"]}, {"id": r2, "name": data[1]["name"]}]
    assert all(list(d) == ["id", "name"] for d in data)
    # groups and chat rooms are listed apart
    assert envelope(api.get(f"/users/{m}/joined_chatgroups"), "get", count=True) == []


def test_admins_and_mutes(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    rid = make_room(api, owner, [a, b])
    assert envelope(api.post(f"/chatrooms/{rid}/admin", json={"newadmin": a}), "post") == {
        "result": "success", "newadmin": a}
    assert envelope(api.get(f"/chatrooms/{rid}/admin"), "get", count=True) == [a]
    assert envelope(api.delete(f"/chatrooms/{rid}/admin/{a}"), "delete") == {"result": "success", "oldadmin": a}
    group_error(api.delete(f"/chatrooms/{rid}/admin/{a}"), 403, "forbidden_op",
                f"user:{a} is not admin of group:{rid}", "ForbiddenOpException")
    data = envelope(api.post(f"/chatrooms/{rid}/mute", json={"usernames": [a, b], "mute_duration": -1}), "post")
    assert data == [{"result": True, "expire": MUTE_FOREVER, "user": a},
                    {"result": True, "expire": MUTE_FOREVER, "user": b}]
    assert envelope(api.get(f"/chatrooms/{rid}/mute"), "get", count=True) == [
        {"expire": MUTE_FOREVER, "user": a}, {"expire": MUTE_FOREVER, "user": b}]
    group_error(api.post(f"/chatrooms/{rid}/mute", json={"usernames": [outsider], "mute_duration": 1000}), 400,
                "invalid_parameter", f"users [{outsider}] are not members of this group!", "InvalidParameterException")
    assert envelope(api.delete(f"/chatrooms/{rid}/mute/{a},{b}"), "delete") == [
        {"result": True, "user": a}, {"result": True, "user": b}]


def test_blocks_ban_and_whitelist(api: Api) -> None:
    owner, a, b = people(api, 3)
    rid = make_room(api, owner, [a, b])
    assert envelope(api.post(f"/chatrooms/{rid}/blocks/users/{a}"), "post") == {
        "result": True, "action": "add_blocks", "user": a, "id": rid}
    assert envelope(api.get(f"/chatrooms/{rid}/blocks/users"), "get", count=True) == [a]
    assert envelope(api.delete(f"/chatrooms/{rid}/blocks/users/{a}"), "delete") == {
        "result": True, "action": "remove_blocks", "user": a, "id": rid}
    assert envelope(api.post(f"/chatrooms/{rid}/ban"), "post") == {"mute": True}
    assert envelope(api.post(f"/chatrooms/{rid}/white/users/{b}"), "post") == {
        "result": True, "action": "add_user_whitelist", "user": b, "id": rid}
    assert envelope(api.get(f"/chatrooms/{rid}/white/users"), "get", count=True) == [b]
    assert envelope(api.delete(f"/chatrooms/{rid}/ban"), "delete") == {"mute": False}


def test_super_admins(api: Api) -> None:
    a, b = people(api, 2)
    assert envelope(api.post("/chatrooms/super_admin", json={"superadmin": a}), "post") == {
        "result": "success", "newSuperAdmin": a}
    r = api.get("/chatrooms/super_admin?pagenum=1&pagesize=1000")
    assert a in envelope(r, "get", params=True, count=True)
    group_error(api.post("/chatrooms/super_admin", json={"superadmin": a}), 403, "forbidden_op",
                f"user: {a} is already a super admin", "ForbiddenOpException")
    group_error(api.post("/chatrooms/super_admin", json={"superadmin": "nobody-sa"}), 404, "resource_not_found",
                "username nobody-sa doesn't exist!", "ResourceNotFoundException")
    group_error(api.post("/chatrooms/super_admin", json={}), 400, "invalid_parameter", "superadmin must be provided",
                "InvalidParameterException")
    # a super admin may create rooms with their own token (owning them by default); others may not
    r = api.post("/chatrooms", token=api.user_token(a), json={"name": "by-super-admin"})
    rid = envelope(r, "post")["id"]
    [room] = envelope(api.get(f"/chatrooms/{rid}"), "get", count=True)
    assert room["owner"] == a
    assert_error(api.post("/chatrooms", token=api.user_token(b), json={"name": "x"}), 401, "unauthorized")
    assert envelope(api.delete(f"/chatrooms/super_admin/{a}"), "delete") == {"result": "success", "oldSuperAdmin": a}
    group_error(api.delete(f"/chatrooms/super_admin/{a}"), 403, "forbidden_op", f"user: {a} is not a super admin",
                "ForbiddenOpException")
    assert a not in envelope(api.get("/chatrooms/super_admin"), "get", count=True)


def test_room_messages_keep_no_offline_copies(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    rid = make_room(api, owner, [a, b])
    r = api.post("/messages", json={"target_type": "chatrooms", "target": [rid], "from": a,
                                    "msg": {"type": "txt", "msg": "hello room"}})
    assert r.status_code == 200 and r.json()["data"][rid].isdigit()
    assert [offline(api, u) for u in (owner, a, b)] == [0, 0, 0]
    # the message is stored once, as a chat-room message
    history = api.get("/chatmessages?ql=select * where timestamp>0&limit=1000").json()["entities"]
    stored = [m for m in history if m["to"] == rid]
    assert len(stored) == 1 and stored[0]["chat_type"] == "chatroom" and stored[0]["from"] == a
    r = api.post("/messages", json={"target_type": "chatrooms", "target": [rid], "from": outsider,
                                    "msg": {"type": "txt", "msg": "x"}})
    group_error(r, 403, "forbidden_op", f"user: {outsider} doesn't exist in group: {rid}", "ForbiddenOpException")


def test_deleting_the_owner_deletes_their_rooms(api: Api) -> None:
    owner, m = people(api, 2)
    rid = make_room(api, owner, [m])
    assert api.delete(f"/users/{owner}").status_code == 200
    group_error(api.get(f"/chatrooms/{rid}"), 404, "service_resource_not_found", f"do not find this group:{rid}",
                "ServiceResourceNotFoundException")
    assert envelope(api.get(f"/users/{m}/joined_chatrooms"), "get", count=True) == []
