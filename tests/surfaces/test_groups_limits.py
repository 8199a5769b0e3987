"""Group and chat-room limits are settings: a server started with small ones enforces them
(groups per user, chat rooms per user, owner plus admins, maxusers bounds)."""

from __future__ import annotations

from conftest import Api, Server, assert_error, unique

EXTRA_ENV = {
    "HXIM_GROUPS_PER_USER_MAX": "2",
    "HXIM_CHATROOMS_PER_USER_MAX": "1",
    "HXIM_ROOM_OWNER_ADMINS_MAX": "2",
    "HXIM_GROUP_MAXUSERS_MAX": "10",
    "HXIM_ROOM_BATCH_MAX": "3",
}


def test_limits(extra_server: Server) -> None:
    api = Api(extra_server)
    owner, a, b, c = (unique("l") for _ in range(4))
    api.register(owner, a, b, c)

    def group(**extra: object) -> str:
        r = api.post("/chatgroups", json={"groupname": "g", "public": True, "owner": owner, **extra})
        assert r.status_code == 200, r.text
        return str(r.json()["data"]["groupid"])

    g1, g2 = group(members=[a]), group()
    # the owner is in 2 groups already: a third is refused
    r = api.post("/chatgroups", json={"groupname": "g", "public": True, "owner": owner})
    assert_error(r, 403, "forbidden_op",
                 f"can not join this group, reason：user {owner} has joined too many groups/chatroom!")
    api.post(f"/chatgroups/{g2}/users/{a}")
    assert_error(api.post(f"/chatgroups/{g2}/users/{a}"), 403, "forbidden_op")
    # a is in g1 and g2: full
    r = api.post("/chatgroups", json={"groupname": "g", "public": True, "owner": b, "members": [a]})
    assert_error(
        r, 403, "forbidden_op", f"can not join this group, reason：user {a} has joined too many groups/chatroom!"
    )
    # owner plus admins at most 2: one admin
    api.post(f"/chatgroups/{g1}/users/{b}")
    assert api.post(f"/chatgroups/{g1}/admin", json={"newadmin": a}).status_code == 200
    assert_error(api.post(f"/chatgroups/{g1}/admin", json={"newadmin": b}), 403, "forbidden_op",
                 f"group: {g1} already has 1 admins, the most allowed (owner plus admins at most 2)")
    # maxusers bound and batch size
    r = api.post("/chatgroups", json={"groupname": "g", "public": True, "owner": c, "maxusers": 11})
    assert_error(r, 400, "invalid_parameter", "maxusers must be a number from 1 to 10")
    assert_error(api.post(f"/chatgroups/{g1}/users", json={"usernames": ["x1", "x2", "x3", "x4"]}), 400,
                 "invalid_parameter", "at most 3 users per request")
    # chat rooms are counted apart from groups: one room each
    r = api.post("/chatrooms", json={"name": "r", "owner": c})
    assert r.status_code == 200, r.text
    rid = r.json()["data"]["id"]
    r = api.post("/chatrooms", json={"name": "r", "owner": c})
    assert_error(
        r, 403, "forbidden_op", f"can not join this group, reason：user {c} has joined too many groups/chatroom!"
    )
    assert api.post(f"/chatrooms/{rid}/users/{owner}").status_code == 200
