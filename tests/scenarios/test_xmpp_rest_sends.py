"""Today's REST send routes reach XMPP sessions: a message to users, `sync_device` (a copy for
the sender's own sessions), a directed group message (its users only) and `ROUTE_ONLINE`."""

from __future__ import annotations

from xmpp_helpers import Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]


def test_rest_sends_reach_xmpp_sessions(xserver: XServer) -> None:
    a, b, c = unique("sa"), unique("sb"), unique("sc")
    api = xserver.api
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]

    async def scenario() -> None:
        alice, bob, carol = Client(xserver, a), Client(xserver, b), Client(xserver, c)
        for client in (alice, bob, carol):
            await client.online()
        # 1:1 from a, with a copy to a's own session
        r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "to bob"},
                                              "sync_device": True, "ext": {"k": "v"}})
        assert r.status_code == 200, r.text
        msg_id = r.json()["data"][b]
        got = await bob.next_message()
        assert got["body"] == "to bob" and got["id"] == msg_id and f"_{a}@" in str(got["from"])
        mine = await alice.next_message()
        assert mine["body"] == "to bob" and mine["id"] == msg_id
        # a directed group message: bob only
        r = api.post("/messages/chatgroups/users", json={"from": a, "to": [gid], "type": "txt",
                                                         "body": {"msg": "just bob"}, "users": [b]})
        assert r.status_code == 200, r.text
        got = await bob.next_message()
        assert got["type"] == "groupchat" and got["body"] == "just bob"
        await carol.quiet(0.3)
        await alice.quiet(0.1)  # no sync_device: no copy for the sender
        # ROUTE_ONLINE reaches who is online now
        r = api.post("/messages/users", json={"to": [c], "type": "txt", "body": {"msg": "live"},
                                              "routetype": "ROUTE_ONLINE"})
        assert (await carol.next_message())["body"] == "live"
        for client in (alice, bob, carol):
            await client.close()

    run(scenario)


def test_a_modified_message_reaches_online_sessions_as_a_correction(xserver: XServer) -> None:
    a, b = unique("ma"), unique("mb")
    api = xserver.api
    api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.online()
        await bob.online()
        r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "teh"}})
        msg_id = r.json()["data"][b]
        assert (await bob.next_message())["body"] == "teh"
        r = api.put(f"/messages/rewrite/{msg_id}", json={"user": a, "new_msg": {"type": "txt", "msg": "the"}})
        assert r.status_code == 200, r.text
        for client in (bob, alice):  # the recipient, and the sender's own session
            got = await client.next_message()
            assert got["body"] == "the" and got["id"] != msg_id
            replace = got.xml.find("{urn:xmpp:message-correct:0}replace")
            assert replace is not None and replace.get("id") == msg_id
        await alice.close()
        await bob.close()

    run(scenario)
