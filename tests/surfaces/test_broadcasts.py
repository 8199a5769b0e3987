"""Broadcasts (Easemob's broadcast_to_all_users, broadcast_to_online_users and
broadcast_to_chatrooms pages): `POST /messages/broadcast`, `/messages/users/broadcast` and
`/messages/chatrooms/broadcast` answer a broadcast id at once and send in the background; hxim's
`GET /messages/broadcast/{id}` follows the progress. A node killed mid-broadcast finishes it when
it starts again, every user getting exactly one copy. (Live delivery to online sessions:
tests/scenarios/test_xmpp_broadcasts.py.)"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_messages_today import offline

from conftest import Api, Server, assert_envelope, assert_error, new_app, serve, start_server, stop_server, unique

ENVELOPE = ["action", "application", "path", "uri", "data", "timestamp", "duration", "organization",
            "applicationName"]
TEXT = {"type": "txt", "msg": "to everyone"}


def people(api: Api, n: int) -> list[str]:
    names = [unique("b") for _ in range(n)]
    api.register(*names)
    return names


def chatroom(api: Api, owner: str, members: list[str]) -> str:
    r = api.post("/chatrooms", json={"name": unique("r"), "description": "d", "owner": owner, "members": members})
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["id"])


def started(api: Api, path: str, body: dict[str, Any]) -> int:
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    assert_envelope(r.json(), ENVELOPE, "post")
    assert r.json()["path"] == path
    ident = r.json()["data"]["id"]
    assert isinstance(ident, int) and list(r.json()["data"]) == ["id"], r.text
    return int(ident)


def progress(api: Api, ident: int) -> dict[str, Any]:
    r = api.get(f"/messages/broadcast/{ident}")
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def finished(api: Api, ident: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = progress(api, ident)
        if data["status"] == "finished":
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)


def history(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/chatmessages", params={"limit": 1000}).json()["entities"])


def test_to_all_users_each_user_gets_one_message_kept_offline(server: Server) -> None:
    api = new_app(server)
    names = people(api, 5)
    ident = started(api, "/messages/broadcast", {"target_type": "users", "msg": TEXT, "ext": {"k": "v"}})
    data = finished(api, ident)
    assert data["id"] == ident and data["type"] == "users" and data["from"] == "admin"
    assert (data["total"], data["processed"], data["sent"]) == (5, 5, 5)
    assert data["finished"] >= data["created"]
    got = history(api)
    assert sorted(e["to"] for e in got) == sorted(names)
    assert all(e["from"] == "admin" and e["chat_type"] == "chat" for e in got)
    assert all(e["payload"] == {"bodies": [TEXT], "ext": {"k": "v"}} for e in got)
    assert all(offline(api, n) == 1 for n in names)  # nobody online: each copy waits


def test_to_all_users_from_a_user_skips_the_sender(server: Server) -> None:
    api = new_app(server)
    sender, *others = people(api, 3)
    ident = started(api, "/messages/broadcast", {"target_type": "users", "from": sender,
                                                 "msg": {"type": "custom", "customEvent": "gift"}})
    data = finished(api, ident)
    assert (data["processed"], data["sent"], data["from"]) == (3, 2, sender)
    assert sorted(e["to"] for e in history(api)) == sorted(others)
    assert offline(api, sender) == 0


def test_to_online_users_reaches_nobody_offline_and_keeps_no_copy(server: Server) -> None:
    api = new_app(server)
    names = people(api, 3)
    ident = started(api, "/messages/users/broadcast", {"msg": TEXT})
    data = finished(api, ident)
    assert data["type"] == "online_users" and (data["total"], data["processed"], data["sent"]) == (3, 3, 0)
    assert history(api) == [] and all(offline(api, n) == 0 for n in names)


def test_to_chat_rooms_one_message_per_room_as_admin_or_any_user(server: Server) -> None:
    api = new_app(server)
    owner, a, b, outsider = people(api, 4)
    rooms = [chatroom(api, owner, [a, b]), chatroom(api, owner, [a])]
    ident = started(api, "/messages/chatrooms/broadcast", {"msg": TEXT, "chatroom_msg_level": "low"})
    data = finished(api, ident)
    assert data["type"] == "chatrooms" and (data["total"], data["processed"], data["sent"]) == (2, 2, 2)
    # from a user who is in none of the rooms
    ident = started(api, "/messages/chatrooms/broadcast", {"msg": TEXT, "from": outsider, "ext": {"n": 1}})
    assert finished(api, ident)["sent"] == 2
    got = history(api)
    assert Counter(e["to"] for e in got) == Counter({rooms[0]: 2, rooms[1]: 2})
    assert all(e["chat_type"] == "chatroom" for e in got)
    assert sorted(e["from"] for e in got) == sorted(["admin", "admin", outsider, outsider])
    assert all(offline(api, n) == 0 for n in (owner, a, b))  # chat-room messages wait for nobody


@pytest.mark.parametrize(
    ("path", "body", "status", "error", "description"),
    [
        ("/messages/broadcast", [1], 400, "invalid_request_body",
         "Request body is invalid. Please check body is correct."),
        ("/messages/broadcast", {"msg": TEXT}, 400, "illegal_argument", "target_type must be provided"),
        ("/messages/broadcast", {"target_type": "groups", "msg": TEXT}, 400, "illegal_argument",
         "target_type can only be 'users'"),
        ("/messages/broadcast", {"target_type": "users", "from": "", "msg": TEXT}, 400, "illegal_argument",
         "from can't be empty"),
        ("/messages/users/broadcast", {"msg": TEXT, "ext": None}, 400, "illegal_argument", "ext must be JSONObject"),
        ("/messages/users/broadcast", {"msg": TEXT, "ext": "x"}, 400, "illegal_argument", "ext must be JSONObject"),
        ("/messages/users/broadcast", {"msg": "hello"}, 400, "invalid_request_body", None),
        ("/messages/users/broadcast", {}, 400, "invalid_request_body", None),
        ("/messages/chatrooms/broadcast", {"msg": {"type": "txt"}}, 400, "illegal_argument",
         "msg of type txt requires the field msg"),
        ("/messages/chatrooms/broadcast", {"msg": {"type": "sticker"}}, 400, "illegal_argument", None),
        ("/messages/chatrooms/broadcast", {"msg": TEXT, "chatroom_msg_level": "urgent"}, 400,
         "invalid_request_body", None),
        ("/messages/chatrooms/broadcast", {"msg": TEXT, "from": 7}, 400, "illegal_argument", "from can't be empty"),
    ],
)
def test_bad_bodies_are_refused_in_easemobs_words(
    api: Api, path: str, body: Any, status: int, error: str, description: str | None
) -> None:
    before = len(history(api))
    assert_error(api.post(path, json=body), status, error, description)
    assert len(history(api)) == before


def test_only_the_app_admin_may_broadcast_or_follow_one(server: Server) -> None:
    api = new_app(server)
    (user,) = people(api, 1)
    ident = started(api, "/messages/users/broadcast", {"msg": TEXT})
    user_token = api.user_token(user)
    other = Api(server, "other")
    for path in ("/messages/broadcast", "/messages/users/broadcast", "/messages/chatrooms/broadcast"):
        body = {"target_type": "users", "msg": TEXT}
        assert_error(api.post(path, json=body, token=None), 401, "unauthorized")
        assert_error(api.post(path, json=body, token=user_token), 401, "unauthorized")
        assert_error(api.post(path, json=body, token=other.token), 401, "unauthorized")
    assert_error(api.get(f"/messages/broadcast/{ident}", token=user_token), 401, "unauthorized")
    assert_error(api.get(f"/messages/broadcast/{ident}", token=None), 401, "unauthorized")
    # another app's admin, on its own app: no such broadcast there
    assert_error(other.get(f"/messages/broadcast/{ident}"), 404, "resource_not_found")
    for unknown in ("1", "abc", "99999999999999999999999"):
        assert_error(api.get(f"/messages/broadcast/{unknown}"), 404, "resource_not_found")
    assert history(api) == []


def test_each_kind_may_start_its_daily_allowance_only(server: Server) -> None:
    api = new_app(server)
    for _ in range(3):  # Easemob's three a day to all users (broadcast_users_per_day)
        started(api, "/messages/broadcast", {"target_type": "users", "msg": TEXT})
    assert_error(api.post("/messages/broadcast", json={"target_type": "users", "msg": TEXT}), 403, "forbidden_op",
                 "broadcast message limit exceeded")
    started(api, "/messages/users/broadcast", {"msg": TEXT})  # the other kinds count on their own
    started(api, "/messages/chatrooms/broadcast", {"msg": TEXT})


def test_a_node_killed_mid_broadcast_finishes_it_when_it_starts_again(server: Server, tmp_path: Path) -> None:
    """Batches of 2, 0.3 s apart: the node is killed (SIGKILL) a few batches in; started again on
    the same data it resumes at the job's cursor, and every user has exactly one copy."""
    env = {"HXIM_BROADCAST_BATCH_SIZE": "2", "HXIM_BROADCAST_BATCH_INTERVAL_MS": "300",
           "HXIM_BROADCAST_USERS_PER_DAY": "0"}
    srv, pg_name = start_server(tmp_path, server.backend, env)
    try:
        api = Api(srv)
        names = people(api, 20)
        ident = started(api, "/messages/broadcast", {"target_type": "users", "msg": TEXT})
        deadline = time.monotonic() + 30
        while progress(api, ident)["processed"] < 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(srv.process.pid, signal.SIGKILL)
        srv.process.wait(10)
        midway = api.server.base_url
        srv.process = serve(srv.env, midway, tmp_path / "server.log")
        data = progress(api, ident)
        assert data["status"] == "running" and 4 <= data["processed"] < 20, data  # stopped mid-way
        data = finished(api, ident)
        assert (data["total"], data["processed"], data["sent"]) == (20, 20, 20)
        got = history(api)
        assert Counter(e["to"] for e in got) == Counter(names)  # each user once, none twice
        assert all(offline(api, n) == 1 for n in names)
    finally:
        stop_server(srv, pg_name)
