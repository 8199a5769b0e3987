"""Groups over the Easemob REST API (easemob-rest.md §6): every endpoint's success JSON and
its error JSON, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from conftest import Api, assert_error, unique

GROUP_EXC = "com.easemob.group.exception."
MUTE_FOREVER = 4638873600000


def envelope(r: httpx.Response, action: str, *, params: bool = False, cursor: bool = False, count: bool = False) -> Any:
    """The group service's success envelope, key by key and in order; returns `data`."""
    assert r.status_code == 200, r.text
    body = r.json()
    keys = ["action", "application", *(["params"] if params else []), "uri", "entities", "data", "timestamp",
            "duration", "organization", "applicationName", *(["cursor"] if cursor else []),
            *(["count"] if count else [])]
    assert list(body) == keys, list(body)
    assert body["action"] == action
    assert body["entities"] == []
    assert isinstance(body["timestamp"], int) and isinstance(body["duration"], int)
    assert body["uri"].endswith(r.request.url.path)
    if count:
        assert body["count"] == len(body["data"])
    return body["data"]


def group_error(r: httpx.Response, status: int, error: str, description: str, exception: str) -> None:
    body = assert_error(r, status, error, description)
    assert list(body) == ["error", "timestamp", "duration", "exception", "error_description"]
    assert body["exception"] == GROUP_EXC + exception


def people(api: Api, n: int) -> list[str]:
    names = [unique("g") for _ in range(n)]
    api.register(*names)
    return names


def make_group(api: Api, owner: str, members: list[str] | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {"groupname": unique("grp"), "desc": "a test group", "public": True, "owner": owner}
    if members:
        body["members"] = members
    body.update(extra)
    if "description" in extra:
        del body["desc"]
    r = api.post("/chatgroups", json=body)
    data = envelope(r, "post")
    assert list(data) == ["groupid"]
    return str(data["groupid"])


# --- create ---------------------------------------------------------------------------------------


def test_create_group(api: Api) -> None:
    owner, m1, m2 = people(api, 3)
    r = api.post("/chatgroups", json={"groupname": "testrestgrp12", "desc": "server create group", "public": True,
                                      "maxusers": 300, "approval": True, "owner": owner, "members": [m1, m2]})
    gid = envelope(r, "post")["groupid"]
    assert isinstance(gid, str) and gid.isdigit()
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert list(g) == ["id", "name", "description", "membersonly", "allowinvites", "invite_need_confirm", "public",
                       "maxusers", "owner", "created", "custom", "mute", "affiliations_count", "affiliations"]
    assert g["id"] == gid and g["name"] == "testrestgrp12" and g["description"] == "server create group"
    assert g["membersonly"] is True and g["allowinvites"] is False and g["invite_need_confirm"] is True
    assert g["public"] is True and g["maxusers"] == 300 and g["owner"] == owner and g["custom"] == ""
    assert g["mute"] is False and abs(g["created"] - time.time() * 1000) < 60_000
    assert g["affiliations_count"] == 3
    assert g["affiliations"] == [{"owner": owner}, {"member": m1}, {"member": m2}]


def test_create_ids_are_numeric_and_time_ordered(api: Api) -> None:
    [owner] = people(api, 1)
    ids = [make_group(api, owner) for _ in range(3)]
    assert ids == sorted(ids, key=int) and len(set(ids)) == 3


def test_create_flag_spellings_and_defaults(api: Api) -> None:
    [owner] = people(api, 1)
    for flag in ("approval", "members_only", "membersonly"):
        gid = make_group(api, owner, **{flag: True, "allowinvites": True, "invite_need_confirm": False,
                                        "custom": "x" * 1024, "public": False})
        [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
        assert g["membersonly"] is True and g["allowinvites"] is True and g["invite_need_confirm"] is False
        assert g["public"] is False and g["custom"] == "x" * 1024
    gid = make_group(api, owner, description="described")
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert g["maxusers"] == 200 and g["membersonly"] is False and g["description"] == "described"
    assert g["affiliations"] == [{"owner": owner}]


def test_create_errors(api: Api) -> None:
    [owner] = people(api, 1)
    base = {"groupname": "g", "desc": "d", "public": True, "owner": owner}
    cases = [
        ({k: v for k, v in base.items() if k != "public"}, 400, "invalid_parameter",
         "group must contain public field!", "InvalidParameterException"),
        ({k: v for k, v in base.items() if k != "groupname"}, 400, "invalid_parameter",
         "group must contain groupname field!", "InvalidParameterException"),
        ({k: v for k, v in base.items() if k != "owner"}, 400, "invalid_parameter", "owner must be provided",
         "InvalidParameterException"),
        ({**base, "owner": "nobody-x"}, 404, "resource_not_found", "username nobody-x doesn't exist!",
         "ResourceNotFoundException"),
        ({**base, "members": ["ghost-y"]}, 404, "resource_not_found", "username ghost-y doesn't exist!",
         "ResourceNotFoundException"),
        ({**base, "members": []}, 400, "invalid_parameter", "members must be a non-empty array of user names",
         "InvalidParameterException"),
        ({**base, "members": [owner]}, 400, "invalid_parameter", "members must not contain the owner",
         "InvalidParameterException"),
        ({**base, "members": [f"m{i}" for i in range(101)]}, 400, "invalid_parameter",
         "members can list at most 100 users", "InvalidParameterException"),
        ({**base, "maxusers": 0}, 400, "invalid_parameter", "maxusers must be a number from 1 to 3000",
         "InvalidParameterException"),
        ({**base, "maxusers": 3001}, 400, "invalid_parameter", "maxusers must be a number from 1 to 3000",
         "InvalidParameterException"),
        ({**base, "public": "yes"}, 400, "invalid_parameter", "public must be true or false",
         "InvalidParameterException"),
        ({**base, "groupname": "n" * 129}, 400, "invalid_parameter",
         "groupname must be a string of at most 128 characters", "InvalidParameterException"),
        ({**base, "desc": "d" * 513}, 400, "invalid_parameter", "desc must be a string of at most 512 characters",
         "InvalidParameterException"),
    ]
    for body, status, error, description, exc in cases:
        group_error(api.post("/chatgroups", json=body), status, error, description, exc)
    group_error(api.post("/chatgroups", content=b"[1]"), 400, "invalid_parameter",
                "the request body must be a JSON object", "InvalidParameterException")
    assert_error(api.post("/chatgroups", content=b"{bad"), 400, "json_parse")


def test_tokens_render_as_group_authorization(api: Api) -> None:
    [owner] = people(api, 1)
    gid = make_group(api, owner)
    group_error(api.get(f"/chatgroups/{gid}", token=None), 401, "group_authorization", "token is blank!",
                "GroupAuthorizationException")
    group_error(api.get(f"/chatgroups/{gid}", token="YWMtbogus"), 401, "group_authorization",
                "this token is bad, or has expired!", "GroupAuthorizationException")
    group_error(api.post("/chatgroups", token="YWMtbogus", json={}), 401, "group_authorization",
                "this token is bad, or has expired!", "GroupAuthorizationException")
    # a user's token is genuine: it is judged by the caller's role in the group
    # (test_group_user_tokens.py), and the list of every group stays admin-only
    user_token = api.user_token(owner)
    assert envelope(api.get(f"/chatgroups/{gid}", token=user_token), "get", count=True)[0]["owner"] == owner
    assert_error(api.get("/chatgroups", token=user_token), 401, "unauthorized")


# --- details, list, public list -------------------------------------------------------------------


def test_details_of_several_ids_and_missing_ids(api: Api) -> None:
    owner, m = people(api, 2)
    g1, g2 = make_group(api, owner, [m]), make_group(api, owner)
    data = envelope(api.get(f"/chatgroups/{g1},{g2},999999,abc"), "get", count=True)
    assert [d["id"] for d in data] == [g1, g2, "999999", "abc"]
    assert data[0]["affiliations"] == [{"owner": owner}, {"member": m}]
    assert data[2] == {"id": "999999", "error": "group id doesn't exist"}
    assert data[3] == {"id": "abc", "error": "group id doesn't exist"}
    data = envelope(api.get(f"/chatgroups/{g1}%2C{g2}"), "get", count=True)
    assert [d["id"] for d in data] == [g1, g2]
    group_error(api.get("/chatgroups/6601645549158"), 404, "service_resource_not_found",
                "do not find this group:6601645549158", "ServiceResourceNotFoundException")
    many = ",".join(str(i) for i in range(1, 102))
    group_error(api.get(f"/chatgroups/{many}"), 400, "invalid_parameter", "at most 100 ids per request",
                "InvalidParameterException")
    group_error(api.get("/chatgroups/notanid"), 404, "service_resource_not_found", "do not find this group:notanid",
                "ServiceResourceNotFoundException")


def test_list_groups_with_limit_and_cursor(api: Api) -> None:
    [owner] = people(api, 1)
    mine = {make_group(api, owner) for _ in range(3)}
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = "/chatgroups?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path)
        body = r.json()
        data = envelope(r, "get", params=True, cursor="cursor" in body, count=True)
        assert body["params"] == ({"limit": ["2"], "cursor": [cursor]} if cursor else {"limit": ["2"]})
        assert len(data) <= 2
        seen += data
        cursor = body.get("cursor")
        if cursor is None:
            break
    ids = [g["groupid"] for g in seen]
    assert ids == sorted(ids, key=int) and len(ids) == len(set(ids))
    assert mine <= set(ids)
    entry = next(g for g in seen if g["groupid"] in mine)
    assert list(entry) == ["groupid", "groupname", "owner", "affiliations", "type", "last_modified"]
    appkey = f"{api.creds.org}#{api.creds.app}"
    assert entry["owner"] == f"{appkey}_{owner.lower()}" and entry["affiliations"] == 1
    assert entry["type"] == "group" and entry["last_modified"].isdigit()
    # without limit: the default page of 10
    body = api.get("/chatgroups").json()
    assert len(body["data"]) == min(10, len(ids)) and body["params"] == {}
    group_error(api.get("/chatgroups?limit=0"), 400, "invalid_parameter", "limit must be a number from 1 to 100",
                "InvalidParameterException")
    assert_error(api.get("/chatgroups?cursor=***"), 400, "illegal_argument")


def test_public_groups(api: Api) -> None:
    [owner] = people(api, 1)
    public, private = make_group(api, owner), make_group(api, owner, public=False)
    ids: list[str] = []
    cursor = None
    while True:
        r = api.get("/publicchatgroups?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        body = r.json()
        data = envelope(r, "get", params=True, cursor="cursor" in body, count=True)
        assert all(list(d) == ["groupid", "groupname", "id", "name"] and d["id"] == d["groupid"] for d in data)
        ids += [d["groupid"] for d in data]
        cursor = body.get("cursor")
        if cursor is None:
            break
    assert public in ids and private not in ids


# --- modify, transfer, delete ---------------------------------------------------------------------


def test_modify_group(api: Api) -> None:
    owner, m = people(api, 2)
    gid = make_group(api, owner, [m])
    r = api.put(f"/chatgroups/{gid}", json={"groupname": "renamed", "description": "new desc", "maxusers": 500,
                                           "membersonly": True, "allowinvites": True, "invite_need_confirm": False,
                                           "custom": "c", "public": False})
    assert envelope(r, "put") == {"groupname": True, "description": True, "maxusers": True, "membersonly": True,
                                  "allowinvites": True, "invite_need_confirm": True, "custom": True,
                                  "public": True}
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert (g["name"], g["description"], g["maxusers"], g["custom"]) == ("renamed", "new desc", 500, "c")
    assert g["membersonly"] and g["allowinvites"] and not g["invite_need_confirm"] and not g["public"]
    group_error(api.put(f"/chatgroups/{gid}", json={"groupid": "1", "groupname": "x"}), 400, "invalid_parameter",
                "some of [groupid] are not valid fields", "InvalidParameterException")
    group_error(api.put(f"/chatgroups/{gid}", json={"maxusers": 1}), 403, "forbidden_op",
                "current user count is larger than the maxUsers that you want to update !", "ForbiddenOpException")
    group_error(api.put("/chatgroups/6601645549158", json={"groupname": "x"}), 404, "resource_not_found",
                "grpID 6601645549158 does not exist!", "ResourceNotFoundException")
    group_error(api.put(f"/chatgroups/{gid}", json={}), 400, "invalid_parameter",
                "the request body must be a JSON object with the fields to change", "InvalidParameterException")


def test_transfer_owner(api: Api) -> None:
    owner, m, outsider = people(api, 3)
    gid = make_group(api, owner, [m])
    assert envelope(api.put(f"/chatgroups/{gid}", json={"newowner": m}), "put") == {"newowner": True}
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert g["owner"] == m and {"member": owner} in g["affiliations"] and g["affiliations"][0] == {"owner": m}
    group_error(api.put(f"/chatgroups/{gid}", json={"newowner": m}), 403, "forbidden_op",
                "new owner and old owner are the same", "ForbiddenOpException")
    group_error(api.put(f"/chatgroups/{gid}", json={"newowner": outsider}), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", "ForbiddenOpException")
    group_error(api.put(f"/chatgroups/{gid}", json={"newowner": "nobody-z"}), 404, "resource_not_found",
                "username nobody-z doesn't exist!", "ResourceNotFoundException")


def test_delete_group(api: Api) -> None:
    [owner] = people(api, 1)
    gid = make_group(api, owner)
    assert envelope(api.delete(f"/chatgroups/{gid}"), "delete") == {"success": True, "groupid": gid}
    group_error(api.get(f"/chatgroups/{gid}"), 404, "service_resource_not_found", f"do not find this group:{gid}",
                "ServiceResourceNotFoundException")
    group_error(api.delete(f"/chatgroups/{gid}"), 404, "resource_not_found", f"grpID {gid} does not exist!",
                "ResourceNotFoundException")


def test_groups_are_per_app(api: Api) -> None:
    [owner] = people(api, 1)
    gid = make_group(api, owner)
    other = Api(api.server, "other")
    group_error(other.get(f"/chatgroups/{gid}"), 404, "service_resource_not_found", f"do not find this group:{gid}",
                "ServiceResourceNotFoundException")


# --- members --------------------------------------------------------------------------------------


def test_members_add_list_remove(api: Api) -> None:
    owner, a, b, c, d = people(api, 5)
    gid = make_group(api, owner)
    assert envelope(api.post(f"/chatgroups/{gid}/users/{a}"), "post") == {
        "result": True, "action": "add_member", "groupid": gid, "user": a}
    assert envelope(api.post(f"/chatgroups/{gid}/users", json={"usernames": [b, c, a]}), "post") == {
        "newmembers": [b, c], "action": "add_member", "groupid": gid}
    data = envelope(api.get(f"/chatgroups/{gid}/users"), "get", count=True)
    assert data == [{"owner": owner}, {"member": a}, {"member": b}, {"member": c}]
    r = api.get(f"/chatgroups/{gid}/users?pagenum=2&pagesize=2")
    assert envelope(r, "get", params=True, count=True) == [{"member": b}, {"member": c}]
    assert r.json()["params"] == {"pagenum": ["2"], "pagesize": ["2"]}
    assert envelope(api.delete(f"/chatgroups/{gid}/users/{a}"), "delete") == {
        "result": True, "action": "remove_member", "groupid": gid, "user": a}
    data = envelope(api.delete(f"/chatgroups/{gid}/users/{b},{d},{owner},nobody-q"), "delete")
    assert data == [
        {"result": True, "action": "remove_member", "user": b, "groupid": gid},
        {"result": False, "action": "remove_member", "reason": f"user: {d} doesn't exist in group: {gid}",
         "user": d, "groupid": gid},
        {"result": False, "action": "remove_member", "reason": "forbidden operation on group owner!",
         "user": owner, "groupid": gid},
        {"result": False, "action": "remove_member", "reason": "username nobody-q doesn't exist!",
         "user": "nobody-q", "groupid": gid},
    ]
    data = envelope(api.delete(f"/chatgroups/{gid}/users/{c}%2C{d}"), "delete")
    assert [x["result"] for x in data] == [True, False]
    assert envelope(api.get(f"/chatgroups/{gid}/users"), "get", count=True) == [{"owner": owner}]


def test_member_errors(api: Api) -> None:
    owner, a, outsider = people(api, 3)
    gid = make_group(api, owner, [a], maxusers=2)
    group_error(api.post(f"/chatgroups/{gid}/users/{a}"), 403, "forbidden_op",
                f"can not join this group, reason:user: {a} already in group: {gid}\n", "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/users/{outsider}"), 403, "forbidden_op",
                f"can not join this group, reason:group: {gid} members count would exceed maxusers 2\n",
                "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/users/nobody-r"), 404, "resource_not_found",
                "username nobody-r doesn't exist!", "ResourceNotFoundException")
    group_error(api.post("/chatgroups/6601645549158/users/" + a), 404, "resource_not_found",
                "grpID 6601645549158 does not exist!", "ResourceNotFoundException")
    body = assert_error(api.post(f"/chatgroups/{gid}/users", json={"usernames": [outsider, "nobody-s"]}), 400,
                        "illegal_argument", "group member nobody-s doesn't exist")
    assert body["exception"] == "java.lang.IllegalArgumentException"
    group_error(api.post(f"/chatgroups/{gid}/users", json={"usernames": [f"u{i}" for i in range(61)]}), 400,
                "invalid_parameter", "at most 60 users per request", "InvalidParameterException")
    group_error(api.post(f"/chatgroups/{gid}/users", json={}), 400, "invalid_parameter",
                "usernames must be a non-empty array of user names", "InvalidParameterException")
    group_error(api.delete(f"/chatgroups/{gid}/users/{outsider}"), 403, "forbidden_op",
                f"users [{outsider}] are not members of this group!", "ForbiddenOpException")
    group_error(api.delete(f"/chatgroups/{gid}/users/{owner}"), 403, "forbidden_op",
                "forbidden operation on group owner!", "ForbiddenOpException")
    group_error(api.get("/chatgroups/6601645549158/users"), 404, "resource_not_found",
                "grpID 6601645549158 does not exist!", "ResourceNotFoundException")
    group_error(api.get(f"/chatgroups/{gid}/users?pagesize=0"), 400, "invalid_parameter",
                "pagesize must be a number from 1 to 1000", "InvalidParameterException")


def test_joined_chatgroups(api: Api) -> None:
    owner, m = people(api, 2)
    g1, g2 = make_group(api, owner, [m]), make_group(api, m)
    r = api.get(f"/users/{m}/joined_chatgroups")
    data = envelope(r, "get", count=True)
    assert [d["groupid"] for d in data] == [g1, g2]
    assert all(list(d) == ["groupid", "groupname"] for d in data)
    r = api.get(f"/users/{m}/joined_chatgroups?pagesize=1&pagenum=2")
    assert [d["groupid"] for d in envelope(r, "get", params=True, count=True)] == [g2]
    # the user's own token may read it too
    assert len(envelope(api.get(f"/users/{m}/joined_chatgroups", token=api.user_token(m)), "get", count=True)) == 2
    assert_error(api.get(f"/users/{owner}/joined_chatgroups", token=api.user_token(m)), 401, "unauthorized")
    group_error(api.get("/users/nobody-t/joined_chatgroups"), 404, "resource_not_found",
                "username nobody-t doesn't exist!", "ResourceNotFoundException")


# --- admins ---------------------------------------------------------------------------------------


def test_admins(api: Api) -> None:
    owner, a, outsider = people(api, 3)
    gid = make_group(api, owner, [a])
    assert envelope(api.get(f"/chatgroups/{gid}/admin"), "get", count=True) == []
    assert envelope(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": a}), "post") == {
        "result": "success", "newadmin": a}
    assert envelope(api.get(f"/chatgroups/{gid}/admin"), "get", count=True) == [a]
    # admins are listed as members in the member list
    assert {"member": a} in envelope(api.get(f"/chatgroups/{gid}/users"), "get", count=True)
    group_error(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": a}), 403, "forbidden_op",
                f"user: {a} is already admin of group: {gid}", "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": owner}), 403, "forbidden_op",
                "forbidden operation on group owner!", "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": outsider}), 404, "resource_not_found",
                f"user: {outsider} doesn't exist in group: {gid}", "ResourceNotFoundException")
    group_error(api.post(f"/chatgroups/{gid}/admin", json={}), 400, "invalid_parameter", "newadmin must be provided",
                "InvalidParameterException")
    assert envelope(api.delete(f"/chatgroups/{gid}/admin/{a}"), "delete") == {"result": "success", "oldadmin": a}
    group_error(api.delete(f"/chatgroups/{gid}/admin/{a}"), 403, "forbidden_op",
                f"user:{a} is not admin of group:{gid}", "ForbiddenOpException")


# --- blocks ---------------------------------------------------------------------------------------


def test_blocks(api: Api) -> None:
    owner, a, b, c, outsider = people(api, 5)
    gid = make_group(api, owner, [a, b, c])
    assert envelope(api.post(f"/chatgroups/{gid}/blocks/users/{a}"), "post") == {
        "result": True, "action": "add_blocks", "user": a, "groupid": gid}
    data = envelope(api.post(f"/chatgroups/{gid}/blocks/users", json={"usernames": [b, outsider, owner]}), "post")
    assert data == [
        {"result": True, "action": "add_blocks", "user": b, "groupid": gid},
        {"result": False, "action": "add_blocks", "reason": f"user: {outsider} doesn't exist in group: {gid}",
         "user": outsider, "groupid": gid},
        {"result": False, "action": "add_blocks", "reason": "forbidden operation on group owner!", "user": owner,
         "groupid": gid},
    ]
    assert envelope(api.get(f"/chatgroups/{gid}/blocks/users"), "get", count=True) == [a, b]
    # a blocked user is no longer a member and cannot be added back
    assert envelope(api.get(f"/chatgroups/{gid}/users"), "get", count=True) == [{"owner": owner}, {"member": c}]
    group_error(api.post(f"/chatgroups/{gid}/users/{a}"), 403, "forbidden_op",
                f"can not join this group, reason:user: {a} is in the blacklist of group: {gid}\n",
                "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/blocks/users/{owner}"), 403, "forbidden_op",
                "forbidden operation on group owner!", "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/blocks/users/{outsider}"), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", "ForbiddenOpException")
    group_error(api.post(f"/chatgroups/{gid}/blocks/users/nobody-u"), 404, "resource_not_found",
                "username nobody-u doesn't exist!", "ResourceNotFoundException")
    assert envelope(api.delete(f"/chatgroups/{gid}/blocks/users/{a}"), "delete") == {
        "result": True, "action": "remove_blocks", "user": a, "groupid": gid}
    group_error(api.delete(f"/chatgroups/{gid}/blocks/users/{a}"), 403, "forbidden_op",
                f"user: {a} is not in the blacklist of group: {gid}", "ForbiddenOpException")
    data = envelope(api.delete(f"/chatgroups/{gid}/blocks/users/{b}%2C{c}"), "delete")
    assert data == [
        {"result": True, "action": "remove_blocks", "user": b, "groupid": gid},
        {"result": False, "action": "remove_blocks", "reason": f"user: {c} is not in the blacklist of group: {gid}",
         "user": c, "groupid": gid},
    ]
    assert envelope(api.get(f"/chatgroups/{gid}/blocks/users"), "get", count=True) == []
    envelope(api.post(f"/chatgroups/{gid}/users/{a}"), "post")  # unblocked: may join again


# --- mutes, mute all, whitelist -------------------------------------------------------------------


def test_mute_and_unmute(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    gid = make_group(api, owner, [a, b])
    before = int(time.time() * 1000)
    data = envelope(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [a], "mute_duration": 86400000}), "post")
    assert len(data) == 1 and list(data[0]) == ["result", "expire", "user"]
    assert data[0]["result"] is True and data[0]["user"] == a
    assert before + 86400000 <= data[0]["expire"] <= int(time.time() * 1000) + 86400000
    data = envelope(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [b], "mute_duration": -1}), "post")
    assert data == [{"result": True, "expire": MUTE_FOREVER, "user": b}]
    listed = envelope(api.get(f"/chatgroups/{gid}/mute"), "get", count=True)
    assert [m["user"] for m in listed] == [a, b] and listed[1] == {"expire": MUTE_FOREVER, "user": b}
    assert all(list(m) == ["expire", "user"] for m in listed)
    group_error(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [outsider, a], "mute_duration": 1000}), 400,
                "invalid_parameter", f"users [{outsider}] are not members of this group!",
                "InvalidParameterException")
    group_error(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [a], "mute_duration": 0}), 400,
                "invalid_parameter", "mute_duration must be a positive number of milliseconds, or -1 for ever",
                "InvalidParameterException")
    group_error(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [owner], "mute_duration": 1000}), 403,
                "forbidden_op", "forbidden operation on group owner!", "ForbiddenOpException")
    assert envelope(api.delete(f"/chatgroups/{gid}/mute/{a}"), "delete") == [{"result": True, "user": a}]
    assert envelope(api.delete(f"/chatgroups/{gid}/mute/{b},nobody-v"), "delete") == [
        {"result": True, "user": b},
        {"result": False, "reason": "username nobody-v doesn't exist!", "user": "nobody-v"},
    ]
    assert envelope(api.get(f"/chatgroups/{gid}/mute"), "get", count=True) == []


def test_expired_mutes_are_not_listed(api: Api) -> None:
    owner, a = people(api, 2)
    gid = make_group(api, owner, [a])
    envelope(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [a], "mute_duration": 1}), "post")
    time.sleep(0.05)
    assert envelope(api.get(f"/chatgroups/{gid}/mute"), "get", count=True) == []


def test_mute_all_and_whitelist(api: Api) -> None:
    owner, a, b = people(api, 3)
    gid = make_group(api, owner, [a, b])
    assert envelope(api.post(f"/chatgroups/{gid}/ban", json={"mute_duration": 86400000}), "post") == {"mute": True}
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert g["mute"] is True
    assert envelope(api.put(f"/chatgroups/{gid}/ban"), "put") == {"mute": True}
    assert envelope(api.delete(f"/chatgroups/{gid}/ban"), "delete") == {"mute": False}
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert g["mute"] is False
    # whitelist
    assert envelope(api.get(f"/chatgroups/{gid}/white/users"), "get", count=True) == []
    assert envelope(api.post(f"/chatgroups/{gid}/white/users/{a}"), "post") == {
        "result": True, "action": "add_user_whitelist", "user": a, "groupid": gid}
    data = envelope(api.post(f"/chatgroups/{gid}/white/users", json={"usernames": [b, "nobody-w"]}), "post")
    assert data == [
        {"result": True, "action": "add_user_whitelist", "user": b, "groupid": gid},
        {"result": False, "action": "add_user_whitelist", "reason": "username nobody-w doesn't exist!",
         "user": "nobody-w", "groupid": gid},
    ]
    assert envelope(api.get(f"/chatgroups/{gid}/white/users"), "get", count=True) == [a, b]
    [outsider] = people(api, 1)
    group_error(api.post(f"/chatgroups/{gid}/white/users/{outsider}"), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", "ForbiddenOpException")
    assert envelope(api.delete(f"/chatgroups/{gid}/white/users/{a}"), "delete") == {
        "result": True, "action": "remove_user_whitelist", "user": a, "groupid": gid}
    data = envelope(api.delete(f"/chatgroups/{gid}/white/users/{a},{b}"), "delete")
    assert data == [
        {"result": False, "action": "remove_user_whitelist",
         "reason": f"user: {a} is not in the whitelist of group: {gid}", "user": a, "groupid": gid},
        {"result": True, "action": "remove_user_whitelist", "user": b, "groupid": gid},
    ]


# --- messages -------------------------------------------------------------------------------------


def send(api: Api, gid: str, sender: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"target_type": "chatgroups", "target": [gid], "msg": {"type": "txt", "msg": "hi"}}
    if sender is not None:
        body["from"] = sender
    return api.post("/messages", json=body)


def offline(api: Api, user: str) -> int:
    return int(api.get(f"/users/{user}/offline_msg_count").json()["data"][user])


def test_group_message_rules(api: Api) -> None:
    owner, admin, a, b, white, outsider = people(api, 6)
    gid = make_group(api, owner, [admin, a, b, white])
    envelope(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}), "post")
    r = send(api, gid, a)
    assert r.status_code == 200 and r.json()["data"][gid].isdigit()
    assert [offline(api, u) for u in (owner, admin, a, b, white)] == [1, 1, 0, 1, 1]
    assert send(api, gid).json()["data"][gid].isdigit()  # from "admin", the app itself
    assert offline(api, a) == 1
    group_error(send(api, gid, outsider), 403, "forbidden_op", f"user: {outsider} doesn't exist in group: {gid}",
                "ForbiddenOpException")
    group_error(send(api, "6601645549158", a), 404, "resource_not_found", "grpID 6601645549158 does not exist!",
                "ResourceNotFoundException")
    # muted individually
    envelope(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [b], "mute_duration": -1}), "post")
    group_error(send(api, gid, b), 403, "forbidden_op", f"user: {b} is muted in group: {gid}", "ForbiddenOpException")
    envelope(api.delete(f"/chatgroups/{gid}/mute/{b}"), "delete")
    assert send(api, gid, b).status_code == 200
    # mute all: members silenced; owner, admins and the whitelist may still post
    envelope(api.post(f"/chatgroups/{gid}/white/users/{white}"), "post")
    envelope(api.post(f"/chatgroups/{gid}/ban", json={}), "post")
    group_error(send(api, gid, a), 403, "forbidden_op", f"group: {gid} is muted, user: {a} can not send messages",
                "ForbiddenOpException")
    for sender in (owner, admin, white):
        assert send(api, gid, sender).status_code == 200, sender
    envelope(api.delete(f"/chatgroups/{gid}/ban"), "delete")
    assert send(api, gid, a).status_code == 200
    # a blocked user is out of the group and refused
    envelope(api.post(f"/chatgroups/{gid}/blocks/users/{b}"), "post")
    before = offline(api, b)
    group_error(send(api, gid, b), 403, "forbidden_op", f"user: {b} is in the blacklist of group: {gid}",
                "ForbiddenOpException")
    assert send(api, gid, a).status_code == 200
    assert offline(api, b) == before
    # a refused target fails the whole call: nothing is stored
    before = offline(api, owner)
    r = api.post("/messages", json={"target_type": "chatgroups", "target": [gid, "6601645549158"], "from": a,
                                    "msg": {"type": "txt", "msg": "x"}})
    assert r.status_code == 404 and offline(api, owner) == before


def test_user_blocks_apply_to_group_messages(api: Api) -> None:
    owner, a, b = people(api, 3)
    gid = make_group(api, owner, [a, b])
    assert api.post(f"/users/{b}/blocks/users", json={"usernames": [a]}).status_code == 200
    assert send(api, gid, a).status_code == 200
    assert (offline(api, owner), offline(api, b)) == (1, 0)


def test_deleting_the_owner_deletes_their_groups(api: Api) -> None:
    owner, m = people(api, 2)
    owned, other = make_group(api, owner, [m]), make_group(api, m, [owner])
    assert api.delete(f"/users/{owner}").status_code == 200
    group_error(api.get(f"/chatgroups/{owned}"), 404, "service_resource_not_found", f"do not find this group:{owned}",
                "ServiceResourceNotFoundException")
    # groups the user only belonged to stay, without them
    assert envelope(api.get(f"/chatgroups/{other}/users"), "get", count=True) == [{"owner": m}]
    assert [g["groupid"] for g in envelope(api.get(f"/users/{m}/joined_chatgroups"), "get", count=True)] == [other]


@pytest.mark.parametrize("method", ["PATCH"])
def test_wrong_method(api: Api, method: str) -> None:
    r = api.call(method, "/chatgroups")
    assert r.status_code == 405


def test_membership_changes_between_messages(api: Api) -> None:
    """Each send sees the membership as it is now: joins, leaves, role changes and members whose
    user was deleted (removed by the database's cascade) between two messages."""
    owner, a, b, c, d = people(api, 5)
    gid = make_group(api, owner, [a, b, c])
    assert send(api, gid, a).status_code == 200
    envelope(api.post(f"/chatgroups/{gid}/users/{d}"), "post")  # joins
    envelope(api.delete(f"/chatgroups/{gid}/users/{c}"), "delete")  # leaves
    assert api.delete(f"/users/{b}").status_code == 200  # deleted: leaves by cascade
    assert send(api, gid, a).status_code == 200
    assert [offline(api, u) for u in (owner, a, c, d)] == [2, 0, 1, 1]
    # a role change applies at once: an admin may post under mute-all, a member may not
    envelope(api.post(f"/chatgroups/{gid}/ban", json={}), "post")
    group_error(send(api, gid, d), 403, "forbidden_op", f"group: {gid} is muted, user: {d} can not send messages",
                "ForbiddenOpException")
    envelope(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": d}), "post")
    assert send(api, gid, d).status_code == 200
    envelope(api.delete(f"/chatgroups/{gid}/admin/{d}"), "delete")
    assert send(api, gid, d).status_code == 403
    # and a deleted group refuses
    envelope(api.delete(f"/chatgroups/{gid}"), "delete")
    assert send(api, gid, owner).status_code == 404


def test_is_joined(api: Api) -> None:
    """`GET /chatgroups/{id}/user/{u}/is_joined` (Easemob's group_check_joined)."""
    owner, member, admin, outsider = people(api, 4)
    gid = make_group(api, owner, [member, admin])
    envelope(api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}), "post")

    def joined(name: str) -> Any:
        r = api.get(f"/chatgroups/{gid}/user/{name}/is_joined")
        assert r.status_code == 200, r.text
        assert r.json()["action"] == "get"
        return r.json()["data"]

    assert [joined(n) for n in (owner, member.upper(), admin, outsider, unique("nobody"))] == [
        True, True, True, False, False]
    api.delete(f"/chatgroups/{gid}/users/{member}")
    assert joined(member) is False
    assert api.get(f"/chatgroups/999999999999/user/{owner}/is_joined").status_code == 404
    assert api.get(f"/chatgroups/{gid}/user/{owner}/is_joined", token=api.user_token(owner)).status_code == 401


def test_groups_of_a_user_in_pages(api: Api) -> None:
    """`GET /chatgroups/user/{u}?pagesize=&pagenum=` (Easemob's group_obtain_joined)."""
    owner, member = people(api, 2)
    gids = [make_group(api, owner, [member], groupname=f"g{i}", desc=f"d{i}", public=i % 2 == 0) for i in range(7)]

    def page(query: str = "") -> Any:
        r = api.get(f"/chatgroups/user/{member}{query}")
        assert r.status_code == 200, r.text
        return r.json()

    first = page()
    assert first["action"] == "get" and first["total"] == 7
    assert [e["groupId"] for e in first["entities"]] == gids[:5]  # 5 a page by default, oldest first
    one = first["entities"][0]
    assert one == {"name": "g0", "avatar": "", "owner": owner, "id": gids[0], "groupId": gids[0],
                   "description": "d0", "disabled": False, "public": True, "allowinvites": False,
                   "membersonly": one["membersonly"], "maxusers": one["maxusers"], "created": one["created"]}
    assert [e["groupId"] for e in page("?pagesize=5&pagenum=1")["entities"]] == gids[5:]
    assert [e["groupId"] for e in page("?pagesize=3&pagenum=2")["entities"]] == gids[6:]
    assert len(page("?pagesize=100")["entities"]) == 7  # a larger pagesize gets at most 20
    api.delete(f"/chatgroups/{gids[0]}/users/{member}")
    assert page()["total"] == 6
    assert api.get(f"/chatgroups/user/{unique('nobody')}").status_code == 404
    assert api.get(f"/chatgroups/user/{member}?pagesize=x").status_code == 400
    assert api.get(f"/chatgroups/user/{member}", token=api.user_token(member)).status_code == 401
