"""A message to a 2,000-member group is stored once and counted offline for exactly the members
who should get it; a 2,000-member chat room keeps no offline copies. On SQLite and PostgreSQL.

The 2,000 users are registered once per module and backend (34 batches of 60)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from test_groups import envelope, group_error

from conftest import Api, Server, unique

SIZE = 2000


@dataclass
class Crowd:
    api: Api
    names: list[str]


@pytest.fixture(scope="module")
def crowd(server: Server) -> Crowd:
    api = Api(server)
    prefix = unique("f")
    names = [f"{prefix}_{i}" for i in range(SIZE)]
    for i in range(0, SIZE, 60):
        api.register(*names[i : i + 60])
    return Crowd(api, names)


def fill(api: Api, path: str, names: list[str]) -> None:
    for i in range(0, len(names), 60):
        r = api.post(f"{path}/users", json={"usernames": names[i : i + 60]})
        assert r.status_code == 200, r.text


def counts(api: Api, names: list[str]) -> dict[str, int]:
    out = {}
    with httpx.Client(base_url=api.server.base_url + api.prefix, headers=api.headers(api.token), timeout=30) as c:
        for name in names:
            r = c.get(f"/users/{name}/offline_msg_count")
            assert r.status_code == 200, r.text
            out[name] = r.json()["data"][name]
    return out


def history_count(api: Api, to: str) -> int:
    body = api.get("/chatmessages?ql=select * where timestamp>0&limit=1000").json()
    seen = [m for m in body["entities"] if m["to"] == to]
    cursor = body.get("cursor")
    while cursor:
        body = api.get(f"/chatmessages?ql=select * where timestamp>0&limit=1000&cursor={cursor}").json()
        seen += [m for m in body["entities"] if m["to"] == to]
        cursor = body.get("cursor")
    return len(seen)


def test_group_message_to_2000_members(crowd: Crowd) -> None:
    api, names = crowd.api, crowd.names
    owner, sender, muted = names[0], names[1], names[2]
    blocked = names[3:8]  # blocked from the group: no longer members
    blockers = names[8:10]  # members who block the sender (user-level blocks)
    r = api.post("/chatgroups", json={"groupname": "big", "desc": "2000 members", "public": True,
                                      "maxusers": SIZE, "owner": owner, "members": names[1:101]})
    gid = envelope(r, "post")["groupid"]
    fill(api, f"/chatgroups/{gid}", names[101:])
    [g] = envelope(api.get(f"/chatgroups/{gid}"), "get", count=True)
    assert g["affiliations_count"] == SIZE
    envelope(api.post(f"/chatgroups/{gid}/blocks/users", json={"usernames": blocked}), "post")
    for b in blockers:
        assert api.post(f"/users/{b}/blocks/users", json={"usernames": [sender]}).status_code == 200
    envelope(api.post(f"/chatgroups/{gid}/mute", json={"usernames": [muted], "mute_duration": -1}), "post")

    before = counts(api, names)
    assert set(before.values()) == {0}
    r = api.post("/messages", json={"target_type": "chatgroups", "target": [gid], "from": sender,
                                    "msg": {"type": "txt", "msg": "hello everyone"}})
    assert r.status_code == 200 and list(r.json()["data"]) == [gid] and r.json()["data"][gid].isdigit()
    # a muted member is refused, and nothing of theirs is stored
    r = api.post("/messages", json={"target_type": "chatgroups", "target": [gid], "from": muted,
                                    "msg": {"type": "txt", "msg": "refused"}})
    group_error(r, 403, "forbidden_op", f"user: {muted} is muted in group: {gid}", "ForbiddenOpException")

    after = counts(api, names)
    expected = {n: 0 if n == sender or n in blocked or n in blockers else 1 for n in names}
    assert after == expected
    assert sum(after.values()) == SIZE - 1 - len(blocked) - len(blockers)
    assert history_count(api, gid) == 1  # stored once


def test_chatroom_message_to_2000_members_keeps_no_offline_copies(crowd: Crowd) -> None:
    api, names = crowd.api, crowd.names
    before = counts(api, names[:50])
    r = api.post("/chatrooms", json={"name": "big room", "description": "d", "maxusers": SIZE, "owner": names[0],
                                     "members": names[1:101]})
    rid = envelope(r, "post")["id"]
    fill(api, f"/chatrooms/{rid}", names[101:])
    r = api.post("/messages", json={"target_type": "chatrooms", "target": [rid], "from": names[5],
                                    "msg": {"type": "txt", "msg": "hello room"}})
    assert r.status_code == 200 and list(r.json()["data"]) == [rid] and r.json()["data"][rid].isdigit()
    assert counts(api, names[:50]) == before
    assert history_count(api, rid) == 1
