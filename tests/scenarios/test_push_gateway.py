"""Offline pushes (docs/push.md) against a real push gateway in this process: a recipient without a
session gets one push rendered from their settings (display style, push nickname, template,
language, device bindings); a do-not-disturb conversation, a muted user, and a mentions-only
group without a mention get none; an online recipient gets none; the statistics count them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from test_callbacks import Receiver, wait_for
from xmpp_helpers import Client, XServer, run, start_xmpp_server

from conftest import BACKENDS, Api, stop_server, unique

PUSH_PATH = "/push"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module", params=BACKENDS)
def pserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gateway: Receiver
) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-push-{request.param}")
    xs, pg_name = start_xmpp_server(
        tmp, request.param, HXIM_PUSH_URL=gateway.url(PUSH_PATH), HXIM_PUSH_STATS_FLUSH_SECONDS="0.2"
    )
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def pushes_to(gateway: Receiver, user: str) -> list[dict[str, Any]]:
    return [p for p in gateway.bodies(PUSH_PATH) if p["user"] == user]


def send(api: Api, sender: str, to: str, text: str, group: bool = False, ext: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"from": sender, "to": [to], "type": "txt", "body": {"msg": text}}
    if ext is not None:
        body["ext"] = ext
    r = api.post("/messages/chatgroups" if group else "/messages/users", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][to])


def test_offline_recipients_get_pushes_from_their_settings(pserver: XServer, gateway: Receiver) -> None:
    api = pserver.api
    a, b, c, d, e, f = (unique(p) for p in ("pa", "pb", "pc", "pd", "pe", "pf"))
    api.register(a, b, c, d, e, f)
    assert api.put("/push/nickname", json=[{"username": a, "push_nickname": "Alice"}]).status_code == 200
    # b: details shown, one device bound
    assert api.put(f"/users/{b}", json={"notification_display_style": 1}).status_code == 200
    assert api.put(f"/users/{b}/push/binding", json={"device_id": "dev-b", "device_token": "tok-b",
                                                      "notifier_name": "fcm"}).status_code == 200
    # d: the conversation with a is muted for an hour
    r = api.put(f"/users/{d}/notification/user/{a}", json={"ignoreDuration": 3_600_000})
    assert r.status_code == 200, r.text
    # f: a template of the app, in Chinese
    tpl = unique("tpl").replace("_", "")
    r = api.post("/notification/template", json={"name": tpl, "title_pattern": "{$fromNickname} {0}",
                                                   "content_pattern": "{$msg} ({0})"})
    assert r.status_code == 200, r.text
    assert api.put(f"/users/{f}/notification/template", json={"templateName": tpl}).status_code == 200
    assert api.put(f"/users/{f}/notification/language", json={"translationLanguage": "zh"}).status_code == 200
    # e: mentions only in the group of a, c and e
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a, "members": [c, e]})
    gid = str(r.json()["data"]["groupid"])
    assert api.put(f"/users/{e}/notification/chatgroup/{gid}", json={"type": "AT"}).status_code == 200

    state: dict[str, str] = {}

    async def scenario() -> None:
        carol = Client(pserver, c)
        await carol.online()
        state["to_b"] = send(api, a, b, "hello b")
        state["to_c"] = send(api, a, c, "hello c")  # c is online: no push
        state["to_d"] = send(api, a, d, "hello d")  # muted conversation
        state["to_f"] = send(api, a, f, "hello f", ext={"em_push_template": {"title_args": ["说"],
                                                                             "content_args": ["x"]}})
        state["group_plain"] = send(api, a, gid, "to all", group=True)  # e: no mention, c online
        state["group_at"] = send(api, a, gid, "to e", group=True, ext={"em_at_list": [e]})
        await carol.next_message()
        await carol.close()

    run(scenario)
    (to_b,) = wait_for(lambda: pushes_to(gateway, b))
    assert to_b["title"] == "You have a new message" and to_b["content"] == "Alice: hello b"
    assert to_b["devices"] == [{"device_id": "dev-b", "device_token": "tok-b", "notifier_name": "fcm"}]
    assert to_b["msg_id"] == state["to_b"] and to_b["from"] == a and to_b["to"] == b
    assert to_b["chat_type"] == "chat" and to_b["appkey"] == f"{api.creds.org}#{api.creds.app}"
    (to_f,) = wait_for(lambda: pushes_to(gateway, f))
    assert to_f["title"] == "Alice 说" and to_f["content"] == "hello f (x)" and to_f["template"] == tpl
    assert to_f["language"] == "zh"
    (to_e,) = wait_for(lambda: pushes_to(gateway, e))
    assert to_e["msg_id"] == state["group_at"] and to_e["chat_type"] == "groupchat" and to_e["to"] == gid
    assert to_e["content"] == "Tap to view"  # display style 0: no details
    time.sleep(0.5)  # a push that should not be would be here by now
    assert pushes_to(gateway, c) == [] and pushes_to(gateway, d) == []
    assert len(pushes_to(gateway, e)) == 1

    # d mutes everything (user-wide NONE), then lifts the conversation's do-not-disturb: still none
    api.put(f"/users/{d}/notification/user/{d}", json={"type": "NONE"})
    api.put(f"/users/{d}/notification/user/{a}", json={"ignoreDuration": 0})
    send(api, a, d, "again d")
    # the conversation set to ALL wins over the user-wide NONE
    api.put(f"/users/{d}/notification/user/{a}", json={"type": "ALL"})
    marker = send(api, a, d, "now d")
    (to_d,) = wait_for(lambda: pushes_to(gateway, d))
    assert to_d["msg_id"] == marker

    # the statistics count what the gateway accepted
    today = datetime.now(UTC).date().isoformat()

    def counted() -> Any:
        r = api.get(f"/push/data/offline-push/begin/{today}/end/{today}")
        assert r.status_code == 200, r.text
        day = r.json()["data"][today]["HTTP"]
        return day if day["successCount"] >= 4 else None

    assert wait_for(counted)["failCount"] == 0
