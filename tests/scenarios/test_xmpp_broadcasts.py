"""Broadcasts, stream messages and imports as XMPP sessions see them: a broadcast reaches the
online users (and to all users waits offline for the others), a chat-room broadcast reaches the
room's members; a stream message arrives as a message, then as XEP-0308 corrections with the text
so far; an imported message reaches nobody."""

from __future__ import annotations

import time

from xmpp_helpers import Client, XServer, run, until, xserver

from conftest import unique

__all__ = ["xserver"]

CORRECT = "{urn:xmpp:message-correct:0}replace"


def test_broadcasts_reach_online_sessions(xserver: XServer) -> None:
    a, b, owner = unique("ba"), unique("bb"), unique("bo")
    api = xserver.api
    api.register(a, b, owner)
    room = api.post("/chatrooms", json={"name": "r", "description": "d", "owner": owner,
                                        "members": [a]}).json()["data"]["id"]

    def offline(name: str) -> int:
        return int(api.get(f"/users/{name}/offline_msg_count").json()["data"][name])

    def done(path: str, body: dict[str, object]) -> int:
        r = api.post(path, json=body)
        assert r.status_code == 200, r.text
        ident = r.json()["data"]["id"]
        deadline = time.monotonic() + 10
        while api.get(f"/messages/broadcast/{ident}").json()["data"]["status"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return int(ident)

    async def scenario() -> None:
        alice = Client(xserver, a)
        await alice.online()
        done("/messages/users/broadcast", {"msg": {"type": "txt", "msg": "to who is here"}})
        got = await alice.next_message()
        assert got["body"] == "to who is here" and got["type"] == "chat" and "_admin@" in str(got["from"])
        assert offline(b) == 0  # b was not online: nothing for b
        done("/messages/broadcast", {"target_type": "users", "msg": {"type": "txt", "msg": "to all"}})
        assert (await alice.next_message())["body"] == "to all"
        assert await until(lambda: offline(b) == 1)  # waits for b's next login
        done("/messages/chatrooms/broadcast", {"msg": {"type": "txt", "msg": "to every room"}, "from": b})
        got = await alice.next_message()
        assert got["type"] == "groupchat" and got["body"] == "to every room"
        assert f"_{room}@conference." in str(got["from"]) and str(got["from"]).endswith(f"/{b}")
        await alice.quiet(0.3)  # one copy each
        await alice.close()

    run(scenario)


def test_a_stream_message_arrives_then_is_corrected_and_an_import_reaches_nobody(xserver: XServer) -> None:
    a, b = unique("sa"), unique("sb")
    api = xserver.api
    api.register(a, b)

    def chunk(**body: object) -> dict[str, object]:
        r = api.post("/stream_message/user", json={"from": b, "to": a, "body": body})
        assert r.status_code == 200, r.text
        return dict(r.json()["data"])

    async def scenario() -> None:
        alice = Client(xserver, a)
        await alice.online()
        msg_id = str(chunk(msg="Hel", seq=0)["msgId"])
        got = await alice.next_message()
        assert got["body"] == "Hel" and got["id"] == msg_id and f"_{b}@" in str(got["from"])
        for text, seq, finish, expected in (("lo", 1, False, "Hello"), (", world", 2, True, "Hello, world")):
            chunk(msgId=msg_id, msg=text, seq=seq, finish=finish)
            got = await alice.next_message()
            assert got["body"] == expected and got["id"] != msg_id
            replace = got.xml.find(CORRECT)
            assert replace is not None and replace.get("id") == msg_id
        r = api.post("/messages/users/import", json={"from": b, "target": a, "type": "txt",
                                                     "body": {"msg": "from the old system"},
                                                     "msg_timestamp": int(time.time() * 1000) - 86_400_000})
        assert r.status_code == 200, r.text
        await alice.quiet(0.5)  # imported: stored, not delivered
        await alice.close()

    run(scenario)
