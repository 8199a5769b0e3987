"""Groups and chat rooms as rooms at conference.<domain>: a member's groupchat message reaches
every other member (offline group members on their next login; chat rooms keep no offline
copies); a non-member's message bounces in the Web IM SDK's form (webim-xmpp.md §4.9)."""

from __future__ import annotations

import asyncio

from xmpp_helpers import DOMAIN, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]


def _room(xs: XServer, rid: str) -> str:
    creds = xs.api.creds
    return f"{creds.org}#{creds.app}_{rid}@conference.{DOMAIN}"


def test_group_and_chatroom_messages(xserver: XServer) -> None:
    a, b, c, outsider = (unique(p) for p in ("ga", "gb", "gc", "gx"))
    api = xserver.api
    api.register(a, b, c, outsider)
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                      "members": [b, c]})
    gid = r.json()["data"]["groupid"]
    r = api.post("/chatrooms", json={"name": "room", "description": "d", "maxusers": 10, "owner": a, "members": [b, c]})
    rid = r.json()["data"]["id"]

    async def scenario() -> None:
        alice, bob, stranger = Client(xserver, a), Client(xserver, b), Client(xserver, outsider)
        for client in (alice, bob, stranger):
            await client.online()
        alice.send_message(mto=_room(xserver, gid), mbody="hello group", mtype="groupchat")
        got = await bob.next_message()
        assert got["type"] == "groupchat" and got["body"] == "hello group"
        assert str(got["from"]) == f"{_room(xserver, gid)}/{a}"
        await alice.quiet(0.3)  # no echo to the sender
        # a chat room message (Easemob marks it with <roomtype/>)
        msg = alice.make_message(mto=_room(xserver, rid), mbody="hello room", mtype="groupchat")
        msg.xml.append(_roomtype())
        msg.send()
        got = await bob.next_message()
        assert got["body"] == "hello room" and got.xml.find("{easemob:x:roomtype}roomtype") is not None
        # carol was offline: the group message waits for her, the chat-room one does not
        assert api.get(f"/users/{c}/offline_msg_count").json()["data"][c] == 1
        carol = Client(xserver, c)
        await carol.online()
        replayed = await carol.next_message()
        assert replayed["body"] == "hello group" and replayed.xml.find("{urn:xmpp:delay}delay") is not None
        await carol.quiet(0.3)
        # a non-member is refused, the body kept and a <text/> given
        stranger.send_message(mto=_room(xserver, gid), mbody="let me in", mtype="groupchat")
        err = await asyncio.wait_for(stranger.errors.get(), 5)
        assert err["error"]["condition"] == "forbidden" and err["error"]["text"] and err["body"] == "let me in"
        for client in (alice, bob, carol, stranger):
            await client.close()

    run(scenario)


def _roomtype() -> object:
    import xml.etree.ElementTree as ET

    return ET.Element("{easemob:x:roomtype}roomtype", {"type": "chatroom"})


def test_join_rooms_with_presence_and_discover_them(xserver: XServer) -> None:
    a, b, outsider = unique("ja"), unique("jb"), unique("jx")
    api = xserver.api
    api.register(a, b, outsider)
    gid = api.post("/chatgroups", json={"groupname": "team", "desc": "d", "public": False, "maxusers": 10,
                                        "owner": a, "members": [b]}).json()["data"]["groupid"]
    rid = api.post("/chatrooms", json={"name": "lobby", "description": "d", "maxusers": 10,
                                       "owner": a}).json()["data"]["id"]

    async def scenario() -> None:
        bob, stranger = Client(xserver, b), Client(xserver, outsider)
        await bob.online()
        await stranger.online()
        bob.send_presence(pto=f"{_room(xserver, gid)}/bobby")
        joined = await bob.next_presence()
        assert str(joined["from"]) == f"{_room(xserver, gid)}/bobby"
        x = joined.xml.find("{http://jabber.org/protocol/muc#user}x")
        assert x is not None and x.find("{http://jabber.org/protocol/muc#user}status").get("code") == "110"
        # a chat room admits anyone: entering makes the user a member (REST sees it)
        stranger.send_presence(pto=f"{_room(xserver, rid)}/s")
        await stranger.next_presence()
        members = api.get(f"/chatrooms/{rid}/users").json()["data"]
        assert {"member": outsider} in members, members
        # a group does not
        stranger.send_presence(pto=f"{_room(xserver, gid)}/s")
        refused = await stranger.next_presence("error")
        assert refused["error"]["condition"] == "registration-required"
        # discovery: the rooms the user belongs to, and what a room is
        items = await stranger.plugin["xep_0030"].get_items(jid=f"conference.{DOMAIN}")
        assert [i[0] for i in items["disco_items"]["items"]] == [_room(xserver, rid)]
        info = await bob.plugin["xep_0030"].get_info(jid=_room(xserver, gid))
        assert any(ident[-1] == "team" for ident in info["disco_info"]["identities"])
        assert "muc_membersonly" in info["disco_info"]["features"]
        # leaving the chat room ends the membership
        stranger.send_presence(pto=f"{_room(xserver, rid)}/s", ptype="unavailable")
        await stranger.next_presence("unavailable")
        assert {"member": outsider} not in api.get(f"/chatrooms/{rid}/users").json()["data"]
        await bob.close()
        await stranger.close()

    run(scenario)
