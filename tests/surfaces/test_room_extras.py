"""What groups and chat rooms hold besides their members, over the Easemob REST API, on SQLite
and PostgreSQL: disabling a group, announcements, shared files, member and room attributes,
member tags and mutes by tag, chat-room owner transfer (each call's Easemob page: docs/rest-today.md).
Every call: its documented answer, its errors, who may call it, and its effect."""

from __future__ import annotations

from typing import Any

import httpx
from test_chatrooms import make_room
from test_groups import envelope, group_error, make_group, people, send

from conftest import Api, assert_error

FORBIDDEN = "ForbiddenOpException"
NO_GROUP = "1432289956668375"


def _envelope_properties(r: httpx.Response, action: str) -> Any:
    """The group envelope with the `properties: {}` of the disable, enable and tag pages."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["action", "application", "uri", "entities", "data", "timestamp", "duration",
                          "organization", "applicationName", "properties"]
    assert body["action"] == action and body["properties"] == {} and body["entities"] == []
    return body["data"]


def _metadata(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["timestamp", "data", "duration"]
    return body["data"]


def _room_metadata(r: httpx.Response, action: str, status: bool = False) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["uri", *(["status"] if status else []), "timestamp", "action", "data"]
    assert body["uri"].endswith("/metadata/chatroom") and body["action"] == action
    return body["data"]


# --- disable / enable ----------------------------------------------------------------------------


def test_a_disabled_group_refuses_messages_and_its_users_changes(api: Api) -> None:
    owner, member = people(api, 2)
    gid = make_group(api, owner, [member])
    assert send(api, gid, member).status_code == 200
    assert _envelope_properties(api.post(f"/chatgroups/{gid}/disable"), "post") == {"disabled": True}
    for sender in (member, owner, None):  # the app itself too
        group_error(send(api, gid, sender), 403, "forbidden_op",
                    f"group: {gid} is disabled, no message can be sent to it", FORBIDDEN)
    token = api.user_token(owner)
    group_error(api.put(f"/chatgroups/{gid}", token=token, json={"description": "x"}), 403, "forbidden_op",
                f"group: {gid} is disabled, it can not be changed", FORBIDDEN)
    # members still read it; the app still manages it
    assert envelope(api.get(f"/chatgroups/{gid}/users", token=token), "get", count=True)
    assert envelope(api.put(f"/chatgroups/{gid}", json={"description": "x"}), "put") == {"description": True}
    assert [g["disabled"] for g in api.get(f"/chatgroups/user/{member}").json()["entities"]] == [True]
    assert _envelope_properties(api.post(f"/chatgroups/{gid}/enable"), "post") == {"disabled": False}
    assert send(api, gid, member).status_code == 200


def test_disable_errors_and_access(api: Api) -> None:
    owner, member = people(api, 2)
    gid = make_group(api, owner, [member])
    for what in ("disable", "enable"):
        group_error(api.post(f"/chatgroups/{NO_GROUP}/{what}"), 404, "resource_not_found",
                    f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
        r = api.post(f"/chatgroups/{gid}/{what}", token=api.user_token(owner))
        assert r.status_code == 401, r.text
        group_error(api.post(f"/chatgroups/{gid}/{what}", token=None), 401, "group_authorization",
                    "token is blank!", "GroupAuthorizationException")


# --- announcements -------------------------------------------------------------------------------


def test_group_announcement(api: Api) -> None:
    owner, admin, member, outsider = people(api, 4)
    gid = make_group(api, owner, [admin, member])
    api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin})
    assert envelope(api.get(f"/chatgroups/{gid}/announcement"), "get") == {"announcement": ""}
    r = api.post(f"/chatgroups/{gid}/announcement", json={"announcement": "群组公告…"})
    assert envelope(r, "post") == {"id": gid, "result": True}
    assert envelope(api.get(f"/chatgroups/{gid}/announcement"), "get") == {"announcement": "群组公告…"}
    # owner and admins change it, members read it
    tokens = {n: api.user_token(n) for n in (admin, member, outsider)}
    assert envelope(api.post(f"/chatgroups/{gid}/announcement", token=tokens[admin], json={"announcement": "b"}),
                    "post") == {"id": gid, "result": True}
    assert envelope(api.get(f"/chatgroups/{gid}/announcement", token=tokens[member]), "get") == {"announcement": "b"}
    group_error(api.post(f"/chatgroups/{gid}/announcement", token=tokens[member], json={"announcement": "c"}), 403,
                "forbidden_op", f"user: {member} is not admin or owner of group: {gid}", FORBIDDEN)
    group_error(api.get(f"/chatgroups/{gid}/announcement", token=tokens[outsider]), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", FORBIDDEN)
    # errors
    assert_error(api.post(f"/chatgroups/{gid}/announcement", json={}), 400, "illegal_argument", "announcement is null")
    assert_error(api.post(f"/chatgroups/{gid}/announcement", json={"announcement": "x" * 513}), 403, "FORBIDDEN",
                 "announce info length exceeds limit!")
    group_error(api.get(f"/chatgroups/{NO_GROUP}/announcement"), 404, "resource_not_found",
                f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
    group_error(api.post(f"/chatgroups/{NO_GROUP}/announcement", json={"announcement": "a"}), 404,
                "resource_not_found", f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")


def test_chatroom_announcement(api: Api) -> None:
    owner, member = people(api, 2)
    rid = make_room(api, owner, [member])
    assert envelope(api.get(f"/chatrooms/{rid}/announcement"), "get") == {"announcement": ""}
    assert envelope(api.post(f"/chatrooms/{rid}/announcement", json={"announcement": "聊天室公告…"}), "post") == {
        "id": rid, "result": True}
    assert envelope(api.get(f"/chatrooms/{rid}/announcement"), "get") == {"announcement": "聊天室公告…"}
    group_error(api.post(f"/chatrooms/{rid}/announcement", json={"announcement": "x" * 513}), 403, "forbidden_op",
                "announce info length exceeds limit!", FORBIDDEN)
    group_error(api.get(f"/chatrooms/{NO_GROUP}/announcement"), 404, "resource_not_found",
                f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
    assert api.get(f"/chatrooms/{rid}/announcement", token=api.user_token(member)).status_code == 401


# --- shared files --------------------------------------------------------------------------------


def test_group_shared_files(api: Api) -> None:
    owner, member, other, outsider = people(api, 4)
    gid = make_group(api, owner, [member, other])
    tokens = {n: api.user_token(n) for n in (owner, member, other, outsider)}
    upload = {"file": ("img_3.jpg", b"hello", "image/jpeg")}
    r = api.post(f"/chatgroups/{gid}/share_files", token=tokens[member], files=upload)
    data = envelope(r, "post")
    assert list(data) == ["file_url", "group_id", "file_name", "created", "file_id", "file_size"]
    assert data["group_id"] == gid and data["file_name"] == "img_3.jpg" and data["file_size"] == 5
    fid = data["file_id"]
    assert data["file_url"].endswith(f"/chatgroups/{gid}/share_files/{fid}")
    second = envelope(api.post(f"/chatgroups/{gid}/share_files", files={"file": ("b.txt", b"world")}), "post")
    listed = envelope(api.get(f"/chatgroups/{gid}/share_files?pagenum=1&pagesize=10", token=tokens[other]), "get",
                      params=True)
    assert [f["file_id"] for f in listed] == [second["file_id"], fid]  # newest first
    assert listed[1] == {"file_id": fid, "file_name": "img_3.jpg", "file_owner": member, "file_size": 5,
                         "created": data["created"]}
    assert listed[0]["file_owner"] == "admin"
    assert [f["file_id"] for f in envelope(api.get(f"/chatgroups/{gid}/share_files?pagenum=2&pagesize=1"), "get",
                                           params=True)] == [fid]
    r = api.get(f"/chatgroups/{gid}/share_files/{fid}", token=tokens[other])
    assert r.status_code == 200 and r.content == b"hello" and r.headers["content-type"] == "image/jpeg"
    # not a member: refused everywhere
    group_error(api.get(f"/chatgroups/{gid}/share_files/{fid}", token=tokens[outsider]), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", FORBIDDEN)
    group_error(api.post(f"/chatgroups/{gid}/share_files", token=tokens[outsider], files={"file": ("x", b"x")}),
                403, "forbidden_op", f"user: {outsider} doesn't exist in group: {gid}", FORBIDDEN)
    # a plain member deletes only what they uploaded; the owner anything
    group_error(api.delete(f"/chatgroups/{gid}/share_files/{fid}", token=tokens[other]), 403, "forbidden_op",
                f"user: {other} is not admin or owner of group: {gid}, nor the file's uploader", FORBIDDEN)
    assert envelope(api.delete(f"/chatgroups/{gid}/share_files/{fid}", token=tokens[member]), "delete") == {
        "group_id": gid, "file_id": fid, "result": True}
    assert envelope(api.delete(f"/chatgroups/{gid}/share_files/{second['file_id']}", token=tokens[owner]),
                    "delete")["result"] is True
    assert envelope(api.get(f"/chatgroups/{gid}/share_files"), "get") == []
    assert api.get(f"/chatgroups/{gid}/share_files/{fid}").status_code == 404
    assert api.get(f"/chatfiles/{fid}").status_code == 404  # gone from the file store too
    # errors
    assert_error(api.post(f"/chatgroups/{gid}/share_files", files={"other": ("x", b"x")}), 400, "illegal_argument",
                 "file must be provided.")
    for r in (api.post(f"/chatgroups/{NO_GROUP}/share_files", files={"file": ("x", b"x")}),
              api.get(f"/chatgroups/{NO_GROUP}/share_files"), api.get(f"/chatgroups/{NO_GROUP}/share_files/{fid}"),
              api.delete(f"/chatgroups/{NO_GROUP}/share_files/{fid}")):
        group_error(r, 404, "resource_not_found", f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")


# --- group member attributes ---------------------------------------------------------------------


def test_group_member_attributes(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    gid = make_group(api, owner, [a, b])
    m = f"/metadata/chatgroup/{gid}"
    assert _metadata(api.put(f"{m}/user/{a}", json={"metaData": {"key1": "value1", "nick": "A"}})) == {
        "key1": "value1", "nick": "A"}
    assert _metadata(api.get(f"{m}/user/{a}")) == {"key1": "value1", "nick": "A"}
    assert _metadata(api.put(f"{m}/user/{a}", json={"metaData": {"nick": ""}})) == {"nick": ""}  # "" removes
    assert _metadata(api.get(f"{m}/user/{a}")) == {"key1": "value1"}
    body = [{"username": a, "metadata": {"k2": "v2"}}, {"username": b, "metadata": {"k3": "v3", "k4": ""}}]
    assert _metadata(api.put(f"{m}/users/batch", json=body)) == {
        "updateMetadataFailed:": [],
        "updateMetadataSucceeded:": [{"username": a, "metadata": {"k2": "v2", "key1": "value1"}},
                                     {"username": b, "metadata": {"k3": "v3"}}],
    }
    assert _metadata(api.post(f"{m}/get", json={"targets": [a, b], "properties": ["key1"]})) == {
        a: {"key1": "value1"}, b: {}}
    assert _metadata(api.post(f"{m}/get", json={"targets": [b], "properties": []})) == {b: {"k3": "v3"}}
    # who may: oneself, or the owner and admins for another; members read
    tok = {n: api.user_token(n) for n in (owner, a, b, outsider)}
    assert _metadata(api.put(f"{m}/user/{a}", token=tok[a], json={"metaData": {"x": "1"}})) == {"x": "1"}
    assert _metadata(api.put(f"{m}/user/{a}", token=tok[owner], json={"metaData": {"y": "2"}})) == {"y": "2"}
    group_error(api.put(f"{m}/user/{a}", token=tok[b], json={"metaData": {"z": "3"}}), 403, "forbidden_op",
                f"user: {b} is not admin or owner of group: {gid}", FORBIDDEN)
    assert _metadata(api.get(f"{m}/user/{a}", token=tok[b]))["x"] == "1"
    group_error(api.get(f"{m}/user/{a}", token=tok[outsider]), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {gid}", FORBIDDEN)
    # errors
    assert_error(api.put(f"{m}/user/{a}", json={"metaData": {"k" * 17: "v"}}), 400, "metadata_error",
                 "exceeds chatgroup user metadata single key limit")
    assert_error(api.put(f"{m}/user/{a}", json={"metaData": {"k": "v" * 513}}), 400, "metadata_error",
                 "exceeds chatgroup user metadata single value limit")
    assert_error(api.put(f"{m}/user/{outsider}", json={"metaData": {"k": "v"}}), 400, "metadata_error",
                 f"Some users are not in the group: {outsider}")
    assert_error(api.get(f"{m}/user/{outsider}"), 404, "MetadataException", "user not in group")
    assert_error(api.put(f"/metadata/chatgroup/{NO_GROUP}/user/{a}", json={"metaData": {"k": "v"}}), 404,
                 "metadata_error", "group not exists")
    assert_error(api.put(f"{m}/user/{a}", json={"metaData": "nope"}), 400, "metadata_error")
    many = [{"username": f"{a}{i}", "metadata": {"k": "v"}} for i in range(21)]
    assert_error(api.put(f"{m}/users/batch", json=many), 400, "metadata_error",
                 "exceeds chatgroup metadata batch put users limit")
    assert_error(api.post(f"{m}/get", json={"targets": [a] * 11, "properties": []}), 400, "metadata_error",
                 "query param reaches limit.")
    # a member who leaves loses their attributes
    envelope(api.delete(f"/chatgroups/{gid}/users/{b}"), "delete")
    envelope(api.post(f"/chatgroups/{gid}/users/{b}"), "post")
    assert _metadata(api.get(f"{m}/user/{b}")) == {}


# --- chat-room attributes ------------------------------------------------------------------------


def test_chatroom_attributes(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    rid = make_room(api, owner, [a, b])
    m = f"/metadata/chatroom/{rid}"
    data = _room_metadata(api.put(f"{m}/user/{a}", json={"metaData": {"key1": "value1", "key2": "value2"},
                                                          "autoDelete": "DELETE"}), "put")
    assert data == {"successKeys": ["key1", "key2"], "errorKeys": {}}
    assert _room_metadata(api.post(m, json={"keys": ["key1"]}), "post") == {"key1": "value1"}
    assert _room_metadata(api.post(m), "post") == {"key1": "value1", "key2": "value2"}
    # b may not overwrite a's attribute without forcing it
    data = _room_metadata(api.put(f"{m}/user/{b}", json={"metaData": {"key1": "b1", "k" * 129: "x", "bad key": "y",
                                                                      "key3": "v3"}}), "put")
    assert data["successKeys"] == ["key3"]
    assert set(data["errorKeys"]) == {"key1", "k" * 129, "bad key"}
    assert data["errorKeys"]["k" * 129] == f"properties key '{'k' * 129}' is exceeding maximum limit 128"
    data = _room_metadata(api.put(f"{m}/user/{b}/forced", json={"metaData": {"key1": "b1"}}), "put")
    assert data == {"successKeys": ["key1"], "errorKeys": {}}
    # deleting: a no longer owns key1; forced removes it anyway
    data = _room_metadata(api.delete(f"{m}/user/{a}", json={"keys": ["key1", "key2", "nokey"]}), "delete", True)
    assert data["successKeys"] == ["key2"] and set(data["errorKeys"]) == {"key1", "nokey"}
    data = _room_metadata(api.delete(f"{m}/user/{a}/forced", json={"keys": ["key1"]}), "delete", True)
    assert data == {"successKeys": ["key1"], "errorKeys": {}}
    assert _room_metadata(api.post(m, json={}), "post") == {"key3": "v3"}
    # a user's token: as themselves only; members read
    tok = {n: api.user_token(n) for n in (a, b, outsider)}
    assert _room_metadata(api.put(f"{m}/user/{a}", token=tok[a], json={"metaData": {"mine": "1"}}),
                          "put")["successKeys"] == ["mine"]
    assert_error(api.put(f"{m}/user/{b}", token=tok[a], json={"metaData": {"x": "1"}}), 400, "illegal_argument",
                 "others are not allowed to be set")
    assert _room_metadata(api.post(m, token=tok[b], json={"keys": ["mine"]}), "post") == {"mine": "1"}
    assert_error(api.post(m, token=tok[outsider]), 401, "MetadataException", "user is not in chatroom")
    # errors
    assert_error(api.put(f"{m}/user/{outsider}", json={"metaData": {"x": "1"}}), 401, "MetadataException",
                 "user is not in chatroom")
    assert_error(api.put(f"{m}/user/{a}", json={"metaData": {f"k{i}": "v" for i in range(11)}}), 400,
                 "BAD_REQUEST", "exceed allowed batch size 10")
    assert_error(api.delete(f"{m}/user/{a}", json={"keys": [f"k{i}" for i in range(11)]}), 400, "BAD_REQUEST",
                 "exceed allowed batch size 10")
    group_error(api.post(f"/metadata/chatroom/{NO_GROUP}"), 404, "resource_not_found",
                f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
    # attributes set with autoDelete go when their owner leaves; NO_DELETE ones stay
    _room_metadata(api.put(f"{m}/user/{b}", json={"metaData": {"kept": "1"}, "autoDelete": "NO_DELETE"}), "put")
    envelope(api.delete(f"/chatrooms/{rid}/users/{a}"), "delete")
    envelope(api.delete(f"/chatrooms/{rid}/users/{b}"), "delete")
    assert _room_metadata(api.post(m), "post") == {"kept": "1"}


# --- chat-room member tags -----------------------------------------------------------------------


def test_chatroom_tags_and_mute_by_tag(api: Api) -> None:
    owner, a, b, outsider = people(api, 4)
    rid = make_room(api, owner, [a, b])
    assert _envelope_properties(api.put(f"/chatrooms/{rid}/users/{a}/tag", json={"tags": ["t1", "t2"]}), "put") == {
        "result": True}
    _envelope_properties(api.put(f"/chatrooms/{rid}/users/{b}/tag", json={"tags": ["t2"]}), "put")
    assert _envelope_properties(api.get(f"/chatrooms/{rid}/users/{a}/tag"), "get") == {"t1": "0", "t2": "0"}
    assert _envelope_properties(api.put(f"/chatrooms/{rid}/tag/mute", json={"tag": "t2", "mute_duration": 30}),
                                "put") == {"result": True}
    tags = _envelope_properties(api.get(f"/chatrooms/{rid}/users/{b}/tag"), "get")
    assert int(tags["t2"]) > 0
    muted = {e["user"] for e in envelope(api.get(f"/chatrooms/{rid}/mute"), "get", count=True)}
    assert muted == {a, b}
    body = {"target_type": "chatrooms", "target": [rid], "msg": {"type": "txt", "msg": "hi"}, "from": a}
    group_error(api.post("/messages", json=body), 403, "forbidden_op", f"user: {a} is muted in group: {rid}",
                FORBIDDEN)
    _envelope_properties(api.put(f"/chatrooms/{rid}/tag/mute", json={"tag": "t2", "mute_duration": 0}), "put")
    assert envelope(api.get(f"/chatrooms/{rid}/mute"), "get", count=True) == []
    _envelope_properties(api.put(f"/chatrooms/{rid}/tag/mute", json={"tag": "t1", "mute_duration": -1}), "put")
    assert _envelope_properties(api.get(f"/chatrooms/{rid}/users/{a}/tag"), "get")["t1"] == "-1"
    # [] removes the tags
    _envelope_properties(api.put(f"/chatrooms/{rid}/users/{b}/tag", json={"tags": []}), "put")
    assert _envelope_properties(api.get(f"/chatrooms/{rid}/users/{b}/tag"), "get") == {}
    # errors
    group_error(api.put(f"/chatrooms/{rid}/users/{outsider}/tag", json={"tags": ["t"]}), 400, "forbidden_op",
                f"users [{outsider}] are not members of this group!", FORBIDDEN)
    group_error(api.get(f"/chatrooms/{rid}/users/{outsider}/tag"), 400, "forbidden_op",
                f"users [{outsider}] are not members of this group!", FORBIDDEN)
    group_error(api.put(f"/chatrooms/{rid}/users/{a}/tag", json={"tags": "t1"}), 400, "invalid_parameter",
                "tags should be type of List", "InvalidParameterException")
    assert_error(api.put(f"/chatrooms/{rid}/users/{a}/tag", json={"tags": [f"t{i}" for i in range(11)]}), 403,
                 "exceed_limit", "user group tag count exceed limit")
    assert_error(api.put(f"/chatrooms/{rid}/users/{a}/tag", json={"tags": ["t" * 33]}), 403, "exceed_limit",
                 "tag length exceeds limit!")
    group_error(api.put(f"/chatrooms/{rid}/tag/mute", json={"tag": "none", "mute_duration": 5}), 404,
                "resource_not_found", "group tag not found", "ResourceNotFoundException")
    group_error(api.put(f"/chatrooms/{NO_GROUP}/tag/mute", json={"tag": "t1", "mute_duration": 5}), 404,
                "resource_not_found", f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
    group_error(api.get(f"/chatrooms/{NO_GROUP}/users/{a}/tag"), 404, "resource_not_found",
                f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
    assert api.get(f"/chatrooms/{rid}/users/{a}/tag", token=api.user_token(a)).status_code == 401
    # a member who leaves loses their tags
    envelope(api.delete(f"/chatrooms/{rid}/users/{a}"), "delete")
    envelope(api.post(f"/chatrooms/{rid}/users/{a}"), "post")
    assert _envelope_properties(api.get(f"/chatrooms/{rid}/users/{a}/tag"), "get") == {}


# --- chat-room owner transfer --------------------------------------------------------------------


def test_chatroom_owner_transfer(api: Api) -> None:
    owner, member, outsider = people(api, 3)
    rid = make_room(api, owner, [member])
    assert envelope(api.put(f"/chatrooms/{rid}", json={"newowner": member}), "put") == {"newowner": True}
    [room] = envelope(api.get(f"/chatrooms/{rid}"), "get", count=True)
    assert room["owner"] == member and {"member": owner} in room["affiliations"]
    group_error(api.put(f"/chatrooms/{rid}", json={"newowner": member}), 403, "forbidden_op",
                "new owner and old owner are the same", FORBIDDEN)
    group_error(api.put(f"/chatrooms/{rid}", json={"newowner": "nobody-x"}), 404, "resource_not_found",
                "username nobody-x doesn't exist!", "ResourceNotFoundException")
    group_error(api.put(f"/chatrooms/{rid}", json={"newowner": outsider}), 403, "forbidden_op",
                f"user: {outsider} doesn't exist in group: {rid}", FORBIDDEN)
    group_error(api.put(f"/chatrooms/{NO_GROUP}", json={"newowner": member}), 404, "resource_not_found",
                f"grpID {NO_GROUP} does not exist!", "ResourceNotFoundException")
