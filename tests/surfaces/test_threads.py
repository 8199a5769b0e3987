"""Threads of groups over the Easemob REST API, on SQLite and PostgreSQL: create from a group
message, rename, list (the app's, a user's, a user's in a group), members (list, add, remove),
delete (each call's Easemob page: docs/rest-today.md); thread messages sent over REST reach the
thread's members only; who leaves the group leaves its threads; a destroyed group takes them.
Every call: its documented answer, its errors, who may call it with a user token."""

from __future__ import annotations

from typing import Any

import httpx
from test_groups import make_group, offline, people

from conftest import Api, assert_error

NO_THREAD = "1432289956668375"


def _ok(r: httpx.Response, action: str, *, key: str = "data", cursor: bool = False) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    keys = ["action", "application", "uri", *(["entities"] if key == "entities" else []),
            *(["data"] if key == "data" else []), "timestamp", "duration", "organization", "applicationName",
            *(["properties"] if cursor else [])]
    assert list(body) == keys, list(body)
    assert body["action"] == action and body["uri"].endswith(r.request.url.path)
    if cursor:
        assert list(body["properties"]) == ["cursor"]
    return body[key]


def _error(r: httpx.Response, status: int, description: str, error: str = "group_error") -> None:
    assert_error(r, status, error, description)


def _message(api: Api, gid: str, sender: str, text: str = "hi") -> str:
    r = api.post("/messages/chatgroups", json={"from": sender, "to": [gid], "type": "txt", "body": {"msg": text}})
    assert r.status_code == 200, r.text
    return str(r.json()["data"][gid])


def _thread(api: Api, gid: str, owner: str, name: str = "t", token: Any = "default") -> str:
    msg = _message(api, gid, owner)
    r = api.post("/thread", token=token, json={"group_id": int(gid), "name": name, "owner": owner, "msg_id": msg})
    return str(_ok(r, "post")["thread_id"])


def test_create_and_its_errors(api: Api) -> None:
    owner, member, outsider = people(api, 3)
    gid = make_group(api, owner, [member])
    other = make_group(api, owner)
    msg = _message(api, gid, member)
    body = {"group_id": gid, "name": "子区", "owner": member, "msg_id": msg}
    tid = str(_ok(api.post("/thread", json=body), "post")["thread_id"])
    assert tid.isdecimal()
    # one thread per message
    _error(api.post("/thread", json=body), 403, "msg already create thread.not allow to create.")
    fresh = _message(api, gid, member)
    _error(api.post("/thread", json={**body, "msg_id": fresh, "name": "x" * 65}), 400, "thread name limit reached.")
    _error(api.post("/thread", json={**body, "msg_id": fresh, "owner": outsider}), 404, "user not in group.")
    _error(api.post("/thread", json={**body, "msg_id": fresh, "group_id": NO_THREAD}), 404, "group not found.")
    _error(api.post("/thread", json={**body, "msg_id": "1"}), 404, "msg not exist.")
    _error(api.post("/thread", json={**body, "msg_id": fresh, "group_id": other, "owner": owner}), 400,
           "msg not belong to group .")
    chat = api.post("/messages/users", json={"from": owner, "to": [member], "type": "txt", "body": {"msg": "1:1"}})
    _error(api.post("/thread", json={**body, "msg_id": chat.json()["data"][member]}), 400,
           "thread must on group message to create.")
    inside = _message(api, tid, member)  # a thread's message starts no thread
    _error(api.post("/thread", json={**body, "msg_id": inside}), 400, "thread not nested.")
    for broken in ({}, {**body, "owner": ""}, {**body, "name": None}, [1]):
        _error(api.post("/thread", json=broken), 400, "Failed to read HTTP message", "param_illegal")
    # a user token creates threads it owns, in its groups
    mine = _thread(api, gid, member, token=api.user_token(member))
    assert mine.isdecimal()
    r = api.post("/thread", token=api.user_token(member),
                 json={"group_id": gid, "name": "n", "owner": owner, "msg_id": _message(api, gid, owner)})
    _error(r, 403, f"user: {member} can not create a thread owned by user: {owner}", "forbidden_op")
    r = api.post("/thread", token=api.user_token(outsider),
                 json={"group_id": gid, "name": "n", "owner": outsider, "msg_id": _message(api, gid, owner)})
    _error(r, 404, "user not in group.")
    assert api.post("/thread", token=None, json=body).status_code == 401


def test_rename_and_delete(api: Api) -> None:
    owner, admin, creator, member = people(api, 4)
    gid = make_group(api, owner, [admin, creator, member])
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}).status_code == 200
    tid = _thread(api, gid, creator)
    assert _ok(api.put(f"/thread/{tid}", json={"name": "new"}), "put") == {"name": "new"}
    for who in (admin, creator, owner):
        assert _ok(api.put(f"/thread/{tid}", token=api.user_token(who), json={"name": who}), "put") == {"name": who}
    _error(api.put(f"/thread/{tid}", token=api.user_token(member), json={"name": "m"}), 403,
           f"user: {member} is not admin or owner of group: {gid}", "forbidden_op")
    _error(api.put(f"/thread/{tid}", json={"name": "x" * 65}), 400, "thread name limit reached.")
    _error(api.put(f"/thread/{NO_THREAD}", json={"name": "a"}), 404, "thread not found.")
    _error(api.put("/thread/nope", json={"name": "a"}), 404, "thread not found.")
    # delete: the group's owner and admins, not the thread's creator
    _error(api.delete(f"/thread/{tid}", token=api.user_token(creator)), 403,
           f"user: {creator} is not admin or owner of group: {gid}", "forbidden_op")
    assert _ok(api.delete(f"/thread/{tid}", token=api.user_token(admin)), "delete") == {"status": "ok"}
    _error(api.delete(f"/thread/{tid}"), 404, "thread not found.")
    other = _thread(api, gid, creator)
    assert _ok(api.delete(f"/thread/{other}"), "delete") == {"status": "ok"}
    assert api.get(f"/thread/{other}/users").status_code == 404


def test_lists_of_threads(api: Api) -> None:
    owner, member = people(api, 2)
    gid = make_group(api, owner, [member])
    g2 = make_group(api, owner, [member])
    made = [_thread(api, gid, owner, f"t{i}") for i in range(3)] + [_thread(api, g2, owner, "u")]
    # the app's threads, newest first by default, paged with the cursor
    listed: list[str] = []
    cursor = ""
    while True:
        r = api.get(f"/thread?limit=3&cursor={cursor}")
        page = _ok(r, "get", key="entities", cursor=True)
        if not page:
            break
        assert len(page) <= 3 and all(list(e) == ["id"] for e in page)
        listed += [e["id"] for e in page]
        cursor = r.json()["properties"]["cursor"]
    mine = [t for t in listed if t in made]
    assert mine == made[::-1]
    asc = [e["id"] for e in _ok(api.get("/thread?sort=asc&limit=50"), "get", key="entities", cursor=True)]
    assert [t for t in asc if t in made] == made or len(asc) == 50
    _error(api.get("/thread?limit=51"), 400, "query param reaches limit.")
    _error(api.get("/thread?limit=0"), 400, "query param reaches limit.")
    assert api.get("/thread", token=api.user_token(owner)).status_code == 401
    # a user's threads: the ones they joined, newest join first; in one group
    assert _ok(api.post(f"/thread/{made[1]}/users", json={"usernames": [member]}), "post") == {"status": "ok"}
    assert _ok(api.post(f"/thread/{made[3]}/users", json={"usernames": [member]}), "post") == {"status": "ok"}
    found = _ok(api.get(f"/threads/user/{member}"), "get", key="entities", cursor=True)
    assert [t["id"] for t in found] == [made[3], made[1]]
    assert list(found[1]) == ["name", "owner", "id", "msgId", "groupId", "created"]
    assert (found[1]["name"], found[1]["owner"], found[1]["groupId"]) == ("t1", owner, gid)
    assert isinstance(found[1]["created"], int) and found[1]["msgId"].isdecimal()
    found = _ok(api.get(f"/threads/user/{member}?sort=asc&limit=1"), "get", key="entities", cursor=True)
    assert [t["id"] for t in found] == [made[1]]
    in_group = _ok(api.get(f"/threads/chatgroups/{gid}/user/{member}", token=api.user_token(member)), "get",
                   key="entities", cursor=True)
    assert [t["id"] for t in in_group] == [made[1]]
    owned = _ok(api.get(f"/threads/chatgroups/{gid}/user/{owner}"), "get", key="entities", cursor=True)
    assert sorted(t["id"] for t in owned) == sorted(made[:3])
    assert api.get(f"/threads/user/{owner}", token=api.user_token(member)).status_code == 401
    _error(api.get(f"/threads/user/{member}?limit=51"), 400, "query param reaches limit.")
    r = api.get("/threads/user/nobody-here")
    assert r.status_code == 404, r.text


def test_members(api: Api) -> None:
    owner, admin, a, b, outsider = people(api, 5)
    gid = make_group(api, owner, [admin, a, b])
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}).status_code == 200
    tid = _thread(api, gid, a)
    assert _ok(api.get(f"/thread/{tid}/users"), "get", cursor=True) == {"affiliations": [a]}
    assert _ok(api.post(f"/thread/{tid}/users", json={"usernames": [b, owner, b]}), "post") == {"status": "ok"}
    everyone = _ok(api.get(f"/thread/{tid}/users"), "get", cursor=True)["affiliations"]
    assert everyone[0] == a and sorted(everyone[1:]) == sorted([b, owner])  # in the order they joined
    r = api.get(f"/thread/{tid}/users?limit=2")
    first = _ok(r, "get", cursor=True)["affiliations"]
    r = api.get(f"/thread/{tid}/users?limit=2&cursor={r.json()['properties']['cursor']}")
    assert first + _ok(r, "get", cursor=True)["affiliations"] == everyone and len(first) == 2
    # errors
    _error(api.post(f"/thread/{tid}/users", json={"usernames": [outsider]}), 404, "user not in group.")
    _error(api.post(f"/thread/{tid}/users", json={"usernames": [f"u{i}" for i in range(11)]}), 400,
           "request body reaches limit.")
    _error(api.post(f"/thread/{NO_THREAD}/users", json={"usernames": [b]}), 404, "thread not found.")
    _error(api.get(f"/thread/{NO_THREAD}/users"), 404, "thread not found.")
    _error(api.get(f"/thread/{tid}/users?limit=51"), 400, "query param reaches limit.")
    _error(api.post(f"/thread/{tid}/users", json={}), 400, "Failed to read HTTP message", "param_illegal")
    # removing: one result per user named
    r = api.delete(f"/thread/{tid}/users", json={"usernames": [b, outsider]})
    assert _ok(r, "delete", key="entities") == [{"result": True, "user": b}, {"result": False, "user": outsider}]
    _error(api.delete(f"/thread/{NO_THREAD}/users", json={"usernames": [b]}), 404, "thread not found.")
    # user tokens: a group member joins and leaves by themself; the owner and admins move others
    tb, to, tout = api.user_token(b), api.user_token(outsider), api.user_token(outsider)
    assert _ok(api.post(f"/thread/{tid}/users", token=tb, json={"usernames": [b]}), "post") == {"status": "ok"}
    assert _ok(api.get(f"/thread/{tid}/users", token=tb), "get", cursor=True)["affiliations"][-1] == b
    _error(api.get(f"/thread/{tid}/users", token=tout), 403, f"user: {outsider} doesn't exist in group: {gid}",
           "forbidden_op")
    _error(api.post(f"/thread/{tid}/users", token=to, json={"usernames": [outsider]}), 403,
           f"user: {outsider} doesn't exist in group: {gid}", "forbidden_op")
    _error(api.delete(f"/thread/{tid}/users", token=tb, json={"usernames": [a]}), 403,
           f"user: {b} is not admin or owner of group: {gid}", "forbidden_op")
    r = api.delete(f"/thread/{tid}/users", token=tb, json={"usernames": [b]})
    assert _ok(r, "delete", key="entities") == [{"result": True, "user": b}]
    _error(api.post(f"/thread/{tid}/users", token=tb, json={"usernames": [a, b]}), 403,
           f"user: {b} is not admin or owner of group: {gid}", "forbidden_op")
    ta = api.user_token(admin)
    assert _ok(api.post(f"/thread/{tid}/users", token=ta, json={"usernames": [b]}), "post") == {"status": "ok"}
    r = api.delete(f"/thread/{tid}/users", token=ta, json={"usernames": [b]})
    assert _ok(r, "delete", key="entities") == [{"result": True, "user": b}]


def test_thread_messages_reach_its_members_only(api: Api) -> None:
    owner, a, b, c = people(api, 4)
    gid = make_group(api, owner, [a, b, c])
    tid = _thread(api, gid, a)
    assert api.post(f"/thread/{tid}/users", json={"usernames": [b]}).status_code == 200
    before = {u: offline(api, u) for u in (owner, a, b, c)}
    msg = _message(api, tid, a, "in the thread")
    after = {u: offline(api, u) for u in (owner, a, b, c)}
    assert {u: after[u] - before[u] for u in after} == {owner: 0, a: 0, b: 1, c: 0}
    # the app sends too; a group member who has not joined may not
    assert _message(api, tid, "admin", "from the app")
    r = api.post("/messages/chatgroups", json={"from": c, "to": [tid], "type": "txt", "body": {"msg": "x"}})
    assert_error(r, 403, "forbidden_op", f"user: {c} doesn't exist in thread: {tid}")
    # the group's mutes hold in its threads
    assert api.post(f"/chatgroups/{gid}/mute", json={"usernames": [b], "mute_duration": 60}).status_code == 200
    r = api.post("/messages/chatgroups", json={"from": b, "to": [tid], "type": "txt", "body": {"msg": "x"}})
    assert_error(r, 403, "forbidden_op", f"user: {b} is muted in group: {gid}")
    # stored as a group message to the thread
    found = api.get("/chatmessages?ql=select * where timestamp>0&limit=1000").json()["entities"]
    stored = [m for m in found if m["msg_id"] == msg]
    assert stored and stored[0]["to"] == tid and stored[0]["chat_type"] == "groupchat"
    # read back by the thread's members (message roaming), not by the group's others
    queue = {"queue": f"{tid}@conference.easemob.com", "start": -1, "end": -1}
    r = api.post(f"/users/{b}/messageroaming", json=queue)
    assert r.status_code == 200 and len(r.json()["data"]["msgs"]) == 2, r.text
    r = api.post(f"/users/{c}/messageroaming", json=queue)
    assert_error(r, 403, "forbidden_op")


def test_the_group_takes_its_threads_along(api: Api) -> None:
    owner, a, b = people(api, 3)
    gid = make_group(api, owner, [a, b])
    tid = _thread(api, gid, a)
    assert api.post(f"/thread/{tid}/users", json={"usernames": [b]}).status_code == 200
    # who leaves the group leaves its threads
    assert api.delete(f"/chatgroups/{gid}/users/{b}").status_code == 200
    assert _ok(api.get(f"/thread/{tid}/users"), "get", cursor=True) == {"affiliations": [a]}
    assert _ok(api.get(f"/threads/user/{b}"), "get", key="entities", cursor=True) == []
    # a destroyed group destroys them
    assert api.delete(f"/chatgroups/{gid}").status_code == 200
    _error(api.get(f"/thread/{tid}/users"), 404, "thread not found.")
    assert _ok(api.get(f"/threads/user/{a}"), "get", key="entities", cursor=True) == []
