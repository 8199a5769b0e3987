"""XMPP over TCP with slixmpp: roster, presence, 1:1 chat, offline replay, blocking, and the REST
API seeing the same state."""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from typing import Any

from xmpp_helpers import Client, XServer, run, until, xserver

from conftest import unique

__all__ = ["xserver"]


def _status(xs: XServer, name: str) -> str:
    return xs.api.get(f"/users/{name}/status").json()["data"][name]


def _offline_count(xs: XServer, name: str) -> int:
    return xs.api.get(f"/users/{name}/offline_msg_count").json()["data"][name]


def _contacts(xs: XServer, name: str) -> list[str]:
    return xs.api.get(f"/users/{name}/contacts/users").json()["data"]


def test_roster_is_the_contact_list(xserver: XServer) -> None:
    a, b = unique("ra"), unique("rb")
    xserver.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.login()
        await bob.login()
        await alice.get_roster()
        assert list(alice.client_roster.keys()) == []
        await alice.update_roster(xserver.jid(b), name=b)  # a roster set adds the contact, mutually
        await until(lambda: _contacts(xserver, a) == [b])
        assert _contacts(xserver, b) == [a]
        await asyncio.wait_for(bob.pushes.get(), 5)  # bob's roster got the push too
        assert bob.client_roster[xserver.jid(a)]["subscription"] == "both"
        roster = await bob.get_roster()
        items = roster["roster"]["items"]
        assert list(items) == [xserver.jid(a)] and items[xserver.jid(a)]["subscription"] == "both"
        # REST changes are pushed, and visible in a roster get
        xserver.api.delete(f"/users/{a}/contacts/users/{b}")
        await until(lambda: _subscription(bob, xserver.jid(a)) in (None, "none", "remove"))
        roster = await bob.get_roster()
        assert dict(roster["roster"]["items"]) == {}
        xserver.api.post(f"/users/{a}/contacts/users/{b}")
        await until(lambda: _subscription(alice, xserver.jid(b)) == "both")
        await bob.del_roster_item(xserver.jid(a))  # subscription='remove'
        await until(lambda: _contacts(xserver, a) == [])
        await alice.close()
        await bob.close()

    run(scenario)


def _subscription(client: Client, jid: str) -> str | None:
    roster = client.client_roster
    return roster[jid]["subscription"] if jid in roster else None


def test_subscription_presences_add_and_remove_contacts(xserver: XServer) -> None:
    a, b = unique("sa"), unique("sb")
    xserver.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.online()
        await bob.online()
        alice.send_presence(pto=xserver.jid(b), ptype="subscribe", pstatus="hi, it's alice")
        request = await bob.next_presence("subscribe")
        assert request["status"] == "hi, it's alice"
        assert request["from"].bare == xserver.jid(a)
        assert _contacts(xserver, a) == []  # a request alone changes nothing
        bob.send_presence(pto=xserver.jid(a), ptype="subscribed")
        await alice.next_presence("subscribed")
        assert _contacts(xserver, a) == [b] and _contacts(xserver, b) == [a]
        # the new contacts see each other
        p = await alice.next_presence("available")
        assert p["from"] == xserver.jid(b, "test")
        bob.send_presence(pto=xserver.jid(a), ptype="unsubscribed", pstatus="rejectAddFriend")
        await alice.next_presence("unsubscribed")
        assert _contacts(xserver, a) == [] and _contacts(xserver, b) == []
        await alice.close()
        await bob.close()

    run(scenario)


def test_presence_and_rest_status(xserver: XServer) -> None:
    a, b = unique("pa"), unique("pb")
    api = xserver.api
    api.register(a, b)
    api.post(f"/users/{a}/contacts/users/{b}")

    async def scenario() -> None:
        alice, bob = Client(xserver, a, resource="phone"), Client(xserver, b)
        assert _status(xserver, a) == "offline"
        await alice.login()
        assert _status(xserver, a) == "offline"  # bound but not available yet
        alice.send_presence(pshow="away", pstatus="lunch", ppriority=5)
        await until(lambda: _status(xserver, a) == "online")
        await bob.online()
        seen = await bob.next_presence("away")  # the probe answer carries alice's last presence
        assert seen["from"] == xserver.jid(a, "phone") and seen["status"] == "lunch" and seen["priority"] == 5
        back = await alice.next_presence()  # bob's initial presence is broadcast to alice
        assert back["from"] == xserver.jid(b, "test")
        # a second resource of alice
        laptop = Client(xserver, a, resource="laptop")
        await laptop.online(priority=-1)
        p = await bob.next_presence()
        assert p["from"] == xserver.jid(a, "laptop") and p["priority"] == -1
        # directed presence reaches a non-contact's available resources
        c = unique("pc")
        api.register(c)
        carol = Client(xserver, c)
        await carol.online()
        alice.send_presence(pto=xserver.jid(c), pstatus="psst")
        directed = await carol.next_presence()
        assert directed["status"] == "psst" and directed["from"] == xserver.jid(a, "phone")
        alice.send_presence(ptype="unavailable")
        gone = await bob.next_presence("unavailable")
        assert gone["from"] == xserver.jid(a, "phone")
        assert _status(xserver, a) == "online"  # the laptop is still available
        await laptop.close()
        await until(lambda: _status(xserver, a) == "offline")
        await bob.next_presence("unavailable")
        for client in (alice, bob, carol):
            await client.close()

    run(scenario)


def test_chat_live_stored_and_receipts(xserver: XServer) -> None:
    a, b = unique("ca"), unique("cb")
    api = xserver.api
    api.register(a, b)
    start = int(time.time() * 1000) - 1

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.online()
        await bob.online()
        msg = alice.make_message(mto=xserver.jid(b), mbody="hello <bob> & co", mtype="chat")
        msg["id"] = "client-1"
        msg.append(_request())
        msg.send()
        got = await bob.next_message()
        assert got["body"] == "hello <bob> & co" and got["type"] == "chat"
        assert got["from"] == xserver.jid(a)
        server_id = got["id"]
        assert server_id.isdigit()
        assert got.xml.find("{urn:xmpp:receipts}request") is not None
        # XEP-0184: bob acknowledges the id he saw; alice gets her own id back
        bob.send_raw(f"<message to='{xserver.jid(a)}' id='r1'><received xmlns='urn:xmpp:receipts' "
                     f"id='{server_id}'/></message>")
        receipt = await asyncio.wait_for(alice.receipts.get(), 5)
        assert receipt.xml.find("{urn:xmpp:receipts}received").get("id") == "client-1"
        # an Easemob JSON body is stored as its bodies and ext, and the sender gets the §4.4 ack
        doc = {"from": a, "to": b, "bodies": [{"type": "txt", "msg": "json hi"}], "ext": {"k": 1}}
        alice.send_message(mto=xserver.jid(b), mbody=json.dumps(doc), mtype="chat")
        ack = await alice.next_message()
        assert ack.xml.find("{urn:xmpp:receipts}received").get("mid", "").isdigit()
        got2 = await bob.next_message()
        assert got2["body"] == "json hi"  # bob's client is a standard one: plain text
        await alice.close()
        await bob.close()
        history = api.get("/chatmessages", params={"ql": f"select * where timestamp>{start}", "limit": "50"})
        mine = [e for e in history.json()["entities"] if e["from"] == a]
        assert [e["payload"] for e in mine] == [
            {"bodies": [{"type": "txt", "msg": "hello <bob> & co"}]},
            {"bodies": [{"type": "txt", "msg": "json hi"}], "ext": {"k": 1}},
        ]
        assert mine[0]["msg_id"] == server_id and mine[0]["to"] == b and mine[0]["chat_type"] == "chat"

    run(scenario)


def _request() -> object:
    import xml.etree.ElementTree as ET

    return ET.Element("{urn:xmpp:receipts}request")


def test_unknown_recipient_gets_an_error(xserver: XServer) -> None:
    a = unique("ua")
    xserver.api.register(a)

    async def scenario() -> None:
        alice = Client(xserver, a)
        await alice.online()
        alice.send_message(mto=xserver.jid(unique("ghost")), mbody="anyone?", mtype="chat")
        err = await asyncio.wait_for(alice.errors.get(), 5)
        assert err["error"]["condition"] == "service-unavailable"
        await alice.close()

    run(scenario)


def test_offline_replay(xserver: XServer) -> None:
    a, b = unique("oa"), unique("ob")
    api = xserver.api
    api.register(a, b)

    async def scenario() -> None:
        alice = Client(xserver, a)
        await alice.online()
        for i in range(3):
            alice.send_message(mto=xserver.jid(b), mbody=f"m{i}", mtype="chat")
        await until(lambda: _offline_count(xserver, b) == 3)
        r = api.post("/messages?useMsgId=true", json={"target_type": "users", "target": [b],
                                                      "msg": {"type": "txt", "msg": "rest"},
                                        "from": a})
        rest_id = r.json()["data"][b]
        assert _offline_count(xserver, b) == 4
        assert api.get(f"/users/{b}/offline_msg_status/{rest_id}").json()["data"] == {rest_id: "undelivered"}
        bob = Client(xserver, b)
        assert await bob.login() == "ok"
        await bob.quiet(0.3)  # nothing before the initial presence
        bob.send_presence()
        got = [await bob.next_message() for _ in range(4)]
        assert [m["body"] for m in got] == ["m0", "m1", "m2", "rest"]
        for m in got:
            assert m.xml.find("{urn:xmpp:delay}delay").get("stamp", "").endswith("Z")
        await until(lambda: _offline_count(xserver, b) == 0)
        assert api.get(f"/users/{b}/offline_msg_status/{rest_id}").json()["data"] == {rest_id: "delivered"}
        # once online, new messages come live, without <delay/>
        alice.send_message(mto=xserver.jid(b), mbody="live", mtype="chat")
        live = await bob.next_message()
        assert live["body"] == "live" and live.xml.find("{urn:xmpp:delay}delay") is None
        await bob.close()
        await alice.close()

    run(scenario)


def test_rest_message_reaches_online_clients(xserver: XServer) -> None:
    b = unique("rb")
    api = xserver.api
    api.register(b)

    async def scenario() -> None:
        phone, web = Client(xserver, b, resource="phone"), Client(xserver, b, resource="webim")
        await phone.online()
        await web.online()
        assert (await phone.next_presence())["from"] == xserver.jid(b, "webim")  # web is available
        r = api.post("/messages", json={"target_type": "users", "target": [b],
                                        "msg": {"type": "txt", "msg": "from the app server"}, "ext": {"e": 1}})
        assert r.status_code == 200, r.text
        got = await phone.next_message()
        assert got["body"] == "from the app server" and got["from"].bare == xserver.jid("admin")
        web_got = await web.next_message()  # the Web IM resource gets Easemob JSON
        assert json.loads(web_got["body"]) == {"from": "admin", "to": b, "ext": {"e": 1},
                                               "bodies": [{"type": "txt", "msg": "from the app server"}]}
        assert _offline_count(xserver, b) == 0
        await phone.close()
        await web.close()

    run(scenario)


def test_blocking_command_uses_the_rest_block_list(xserver: XServer) -> None:
    a, b = unique("ba"), unique("bb")
    api = xserver.api
    api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.online()
        await bob.online()
        await bob.plugin["xep_0191"].block(xserver.jid(a))
        assert api.get(f"/users/{b}/blocks/users").json()["data"] == [a]
        blocked = await bob.plugin["xep_0191"].get_blocked()
        assert _items(blocked) == [xserver.jid(a)]
        alice.send_message(mto=xserver.jid(b), mbody="let me in", mtype="chat")
        err = await asyncio.wait_for(alice.errors.get(), 5)
        assert err["error"]["condition"] == "service-unavailable"
        await bob.quiet()
        assert _offline_count(xserver, b) == 0
        # REST unblock, then XMPP sees an empty list and messages flow
        api.delete(f"/users/{b}/blocks/users/{a}")
        blocked = await bob.plugin["xep_0191"].get_blocked()
        assert _items(blocked) == []
        alice.send_message(mto=xserver.jid(b), mbody="thanks", mtype="chat")
        assert (await bob.next_message())["body"] == "thanks"
        await bob.plugin["xep_0191"].block(xserver.jid(a))
        bob.send_raw("<iq type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'/></iq>")  # no items: everyone
        await until(lambda: api.get(f"/users/{b}/blocks/users").json()["data"] == [])
        await alice.close()
        await bob.close()

    run(scenario)


def _items(iq: Any) -> list[str]:
    return [i.get("jid") for i in iq.xml.iter("{urn:xmpp:blocking}item")]


def test_conflict_and_rest_disconnect(xserver: XServer) -> None:
    a = unique("ka")
    api = xserver.api
    api.register(a)

    async def scenario() -> None:
        first = Client(xserver, a, resource="same")
        await first.online()
        second = Client(xserver, a, resource="same")
        await second.online()
        await asyncio.wait_for(first.gone.wait(), 5)
        assert first.stream_errors == ["conflict"]
        assert _status(xserver, a) == "online"
        r = api.get(f"/users/{a}/disconnect")
        assert r.status_code == 200, r.text
        await asyncio.wait_for(second.gone.wait(), 5)
        assert second.stream_errors == ["policy-violation"]
        assert _status(xserver, a) == "offline"

    run(scenario)


def test_server_queries(xserver: XServer) -> None:
    a = unique("qa")
    xserver.api.register(a)

    async def scenario() -> None:
        alice = Client(xserver, a)
        await alice.online()
        info = await alice.plugin["xep_0030"].get_info(jid="easemob.com")
        features = info["disco_info"]["features"]
        assert "urn:xmpp:ping" in features and "urn:xmpp:blocking" in features
        items = await alice.plugin["xep_0030"].get_items(jid="easemob.com")
        assert [i[0] for i in items["disco_items"]["items"]] == ["conference.easemob.com"]
        version = await alice.plugin["xep_0092"].get_version("easemob.com")
        assert version["software_version"]["name"] == "hxim"
        rtt = await alice.plugin["xep_0199"].ping("easemob.com", timeout=5)
        assert rtt < 5
        await alice.close()

    run(scenario)


def test_extension_elements_reach_the_recipient_live_and_offline(xserver: XServer) -> None:
    """What a client puts beside the body (a XEP-0308 correction, a XEP-0461 reply, a thread, any
    extension) reaches XMPP recipients as sent, live and from offline storage; what only the
    server may write (a delay, a stanza id) is not taken from the client."""
    a, b, c = unique("xa"), unique("xb"), unique("xc")
    xserver.api.register(a, b, c)

    def extras(msg: Any) -> tuple[Any, Any, Any, Any]:
        return (msg.xml.find("{urn:xmpp:message-correct:0}replace"), msg.xml.find("{urn:xmpp:reply:0}reply"),
                msg.xml.findtext("{jabber:client}thread"), msg.xml.find("{urn:xmpp:sid:0}stanza-id"))

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        await alice.online()
        await bob.online()
        for to in (xserver.jid(b), xserver.jid(c)):
            msg = alice.make_message(mto=to, mbody="fixed text", mtype="chat")
            msg.xml.append(ET.fromstring("<replace xmlns='urn:xmpp:message-correct:0' id='first-id'/>"))
            msg.xml.append(ET.fromstring("<reply xmlns='urn:xmpp:reply:0' to='someone' id='orig'/>"))
            msg.xml.append(ET.fromstring("<thread xmlns='jabber:client'>t-1</thread>"))
            msg.xml.append(ET.fromstring("<stanza-id xmlns='urn:xmpp:sid:0' by='spoofed' id='x'/>"))
            msg.send()
        got = await bob.next_message()
        replace, reply, thread, sid = extras(got)
        assert got["body"] == "fixed text" and replace is not None and replace.get("id") == "first-id"
        assert reply is not None and reply.get("id") == "orig" and thread == "t-1" and sid is None
        await alice.sync()
        carol = Client(xserver, c)
        await carol.online()
        got = await carol.next_message()
        replace, reply, thread, sid = extras(got)
        assert replace is not None and reply is not None and thread == "t-1" and sid is None
        for client in (alice, bob, carol):
            await client.close()

    run(scenario)
