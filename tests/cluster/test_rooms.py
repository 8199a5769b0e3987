"""Groups and chat rooms across the nodes of a cluster: a message sent on one node reaches the
members on every node (an offline group member gets it at the next login, on either node; chat
rooms keep nothing), a room joined over XMPP on one node hears the other, and the notices of
REST room calls (joins, invitations) reach sessions on the node that did not take the call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from cluster_clients import counts, metas, msync, seen_online, wait_until
from cluster_helpers import Cluster, cluster
from webim_raw import CLIENT, WebIm
from xmpp_helpers import DOMAIN, Client, XServer, run, until

from conftest import Api, unique
from hxim.msync.wire import pb

__all__ = ["cluster"]

MB = pb.MessageBody
MUC_USER = "{http://jabber.org/protocol/muc#user}"
ROOMTYPE = "{easemob:x:roomtype}roomtype"


def _room(xs: XServer, rid: str) -> str:
    creds = xs.api.creds
    return f"{creds.org}#{creds.app}_{rid}@conference.{DOMAIN}"


def _group(xs: XServer, owner: str, members: list[str], **extra: object) -> str:
    r = xs.api.post(
        "/chatgroups",
        json={
            "groupname": "g",
            "desc": "d",
            "public": True,
            "maxusers": 50,
            "owner": owner,
            "members": members,
            **extra,
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["groupid"])


def _chatroom(xs: XServer, owner: str, members: list[str]) -> str:
    body = {
        "name": "room",
        "description": "d",
        "maxusers": 50,
        "owner": owner,
        **({"members": members} if members else {}),
    }
    r = xs.api.post("/chatrooms", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["id"])


def _roomtype() -> ET.Element:
    return ET.Element(ROOMTYPE, {"type": "chatroom"})


def _members(xs: XServer, gid: str) -> list[str]:
    return sorted(next(iter(m.values())) for m in xs.api.get(f"/chatgroups/{gid}/users").json()["data"])


def test_group_messages_reach_members_on_both_nodes_and_offline_members_on_either(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c, d, e = (unique(p) for p in ("ga", "gb", "gc", "gd", "ge"))
    n1.api.register(a, b, c, d, e)
    gid = _group(n1, a, [b, c, d, e])
    room = _room(n1, gid)

    async def scenario() -> None:
        alice, bob, carol = Client(n1, a), Client(n2, b), await msync(n1, c)
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b, c))
        alice.send_message(mto=room, mbody="hello group", mtype="groupchat")
        got = await bob.next_message()
        assert got["type"] == "groupchat" and got["body"] == "hello group" and str(got["from"]) == f"{room}/{a}"
        assert (await carol.wait_for(1))[0].text == "hello group"
        await alice.quiet(0.3)  # no echo to the sender
        # from node 2 to the members on node 1, XMPP and msync
        bob.send_message(mto=room, mbody="from node 2", mtype="groupchat")
        assert (await alice.next_message())["body"] == "from node 2"
        assert (await carol.wait_for(2))[1].text == "from node 2"
        # a REST send to the group, asked of node 2
        r = n2.api.post(
            "/messages/chatgroups", json={"from": a, "to": [gid], "type": "txt", "body": {"msg": "from the app"}}
        )
        assert r.status_code == 200, r.text
        assert (await bob.next_message())["body"] == "from the app"
        assert (await carol.wait_for(3))[2].text == "from the app"
        # live members keep nothing; dave and eve keep all three, as both nodes count them
        for name in (b, c):
            await until(counts(nodes, name, 0))
        for name in (d, e):
            await until(counts(nodes, name, 3))
        # dave logs in on node 2, eve on node 1: each gets the three
        dave, eve = Client(n2, d), Client(n1, e)
        for client in (dave, eve):
            await client.online()
            got_all = [await client.next_message() for _ in range(3)]
            assert [m["body"] for m in got_all] == ["hello group", "from node 2", "from the app"]
            assert all(m.xml.find("{urn:xmpp:delay}delay") is not None for m in got_all)
        for name in (d, e):
            await until(counts(nodes, name, 0))
        for client in (alice, bob, dave, eve):
            await client.close()
        await carol.close()

    run(scenario)


def test_chat_room_messages_reach_members_on_both_nodes_and_keep_nothing(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c, d = (unique(p) for p in ("ra", "rb", "rc", "rd"))
    n1.api.register(a, b, c, d)
    rid = _chatroom(n1, a, [b, d])

    async def scenario() -> None:
        alice, bob = Client(n1, a), Client(n2, b)
        await alice.online()
        await bob.online()
        carol = await msync(n2, c)
        await carol.muc(rid, pb.MUCBody.JOIN)  # carol joins on node 2, over msync
        await until(seen_online(nodes, a, b, c))
        msg = alice.make_message(mto=_room(n1, rid), mbody="hello room", mtype="groupchat")
        msg.xml.append(_roomtype())
        msg.send()
        got = await bob.next_message()
        assert got["body"] == "hello room" and got.xml.find(ROOMTYPE) is not None
        heard = await metas(carol, pb.Meta.CHAT, 1)
        assert [(m.text, m.body.type) for m in heard] == [("hello room", MB.CHATROOM)]
        # carol, on node 2, to alice on node 1
        carol.received.clear()
        ack = await carol.send(rid, "from msync", chat_type=MB.CHATROOM)
        got = await alice.next_message()
        assert got["body"] == "from msync" and got["id"] == str(ack.server_id)
        # dave was offline: a chat room keeps no offline copy for him, on either node
        await until(counts(nodes, d, 0))
        for name in (b, c):
            await until(counts(nodes, name, 0))
        await alice.close()
        await bob.close()
        await carol.close()

    run(scenario)


def test_a_group_room_joined_on_one_node_hears_the_other(cluster: Cluster) -> None:
    """bob enters the group's room over XMPP on node 2 (MUC presence, status 110); a message alice
    sends on node 1 reaches him from the room with her nick, and his reaches her."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("ja"), unique("jb")
    n1.api.register(a, b)
    gid = _group(n1, a, [b])
    room = _room(n1, gid)

    async def scenario() -> None:
        alice, bob = Client(n1, a), Client(n2, b)
        await alice.online()
        await bob.online()
        bob.send_presence(pto=f"{room}/bobby")
        joined = await bob.next_presence()
        assert str(joined["from"]) == f"{room}/bobby"
        status = joined.xml.find(f"{MUC_USER}x/{MUC_USER}status")
        assert status is not None and status.get("code") == "110"
        await until(seen_online(nodes, a, b))
        alice.send_message(mto=room, mbody="you are in", mtype="groupchat")
        got = await bob.next_message()
        assert got["body"] == "you are in" and str(got["from"]) == f"{room}/{a}"
        bob.send_message(mto=room, mbody="I am", mtype="groupchat")
        back = await alice.next_message()
        assert back["body"] == "I am" and back["type"] == "groupchat"
        await alice.close()
        await bob.close()

    run(scenario)


def test_a_chat_room_join_on_one_node_is_announced_to_occupants_on_the_other(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c = unique("oa"), unique("ob"), unique("oc")
    n1.api.register(a, b, c)
    rid = _chatroom(n1, a, [])
    bob, carol = WebIm(n1, b).login(), WebIm(n2, c).login()
    try:
        bob.ping()
        carol.ping()
        room = bob.room(rid)

        def join(client: WebIm, nick: str, pid: str) -> None:
            client.send(
                f"<presence from='{client.full}' to='{room}/{nick}' id='{pid}' xmlns='jabber:client'>"
                "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/>"
                "</x><roomtype xmlns='easemob:x:roomtype' type='chatroom'/></presence>"
            )
            client.expect(lambda el: el.tag == CLIENT + "presence" and el.get("from") == f"{room}/{nick}")
            client.expect_id(pid)

        join(bob, b, "j-b:sendIQ")
        wait_until(seen_online(nodes, b, c))
        join(carol, c, "j-c:sendIQ")
        seen = bob.expect(_member_join(room, c))
        assert seen.find(ROOMTYPE) is not None and seen.get("to") == bob.full
    finally:
        bob.close()
        carol.close()


def _member_join(room: str, nick: str) -> Callable[[ET.Element], bool]:
    def pred(el: ET.Element) -> bool:
        item = el.find(MUC_USER + "x/" + MUC_USER + "item")
        return (
            el.tag == CLIENT + "presence"
            and el.get("from") == f"{room}/{nick}"
            and el.get("type") is None
            and item is not None
            and item.get("affiliation") == "member"
        )

    return pred


def _invite(room: str) -> Callable[[ET.Element], bool]:
    def pred(el: ET.Element) -> bool:
        return el.get("from") == room and el.find(MUC_USER + "x/" + MUC_USER + "invite") is not None

    return pred


def test_group_invitations_reach_the_invitee_on_the_other_node(cluster: Cluster) -> None:
    """alice invites over REST on node 1; carol, on node 2, gets the invitation (and, for a group
    that needs no confirmation, bob on node 2 sees her join); dave, offline, gets his at his next
    login on node 2."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c, d = unique("ia"), unique("ib"), unique("ic"), unique("id")
    n1.api.register(a, b, c, d)
    direct = _group(n1, a, [b], invite_need_confirm=False)
    confirm = _group(n1, a, [b])
    bob, carol = WebIm(n2, b).login(), WebIm(n2, c).login()
    try:
        bob.ping()
        carol.ping()
        wait_until(seen_online(nodes, b, c))
        as_alice = Api(n1.server, token=n1.api.user_token(a))
        r = as_alice.post(f"/chatgroups/{direct}/invite", json={"usernames": [c]})
        assert r.status_code == 200, r.text
        invite = carol.expect(_invite(carol.room(direct)))
        inv = invite.find(MUC_USER + "x/" + MUC_USER + "invite")
        assert inv is not None and inv.get("from") == carol.jid(a)
        bob.expect(_member_join(bob.room(direct), c))
        r = as_alice.post(f"/chatgroups/{confirm}/invite", json={"usernames": [c, d]})
        assert r.status_code == 200, r.text
        carol.expect(_invite(carol.room(confirm)))
        dave = WebIm(n2, d).login()
        try:
            kept = dave.expect(_invite(dave.room(confirm)))
            assert kept.find(MUC_USER + "x/" + MUC_USER + "invite").get("from") == dave.jid(a)  # type: ignore[union-attr]
        finally:
            dave.close()
        assert _members(n2, confirm) == sorted([a, b])
        assert _members(n2, direct) == sorted([a, b, c])
    finally:
        bob.close()
        carol.close()
