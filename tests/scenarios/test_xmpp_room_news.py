"""What XMPP members of a group or chat room see when what it holds changes over REST: the
announcement as the room's subject, a group disabled (then its messages bounce) and enabled,
shared files added and removed, member and room attributes (docs/routing.md)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest
from slixmpp.exceptions import IqError
from slixmpp.stanza import Message
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from test_xmpp_groups import _room
from xmpp_helpers import TIMEOUT, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]

NS = "{urn:hxim:room}"


class Member(Client):
    """A client that also queues body-less messages: subjects and `urn:hxim:room` news."""

    def __init__(self, xs: XServer, username: str) -> None:
        super().__init__(xs, username)
        self.news: asyncio.Queue[Message] = asyncio.Queue()
        for name, path in (("subject", "{jabber:client}message/{jabber:client}subject"),
                           ("news", "{jabber:client}message/{urn:hxim:room}x")):
            self.register_handler(Callback(name, MatchXPath(path), self.news.put_nowait))

    async def next_news(self) -> Message:
        return await asyncio.wait_for(self.news.get(), TIMEOUT)


def test_group_news_reach_xmpp_members(xserver: XServer) -> None:
    a, b = unique("na"), unique("nb")
    api = xserver.api
    api.register(a, b)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b]}).json()["data"]["groupid"]
    room = _room(xserver, gid)

    async def scenario() -> None:
        alice, bob = Member(xserver, a), Member(xserver, b)
        for client in (alice, bob):
            await client.online()
        # the announcement: the room's subject, from the owner (who speaks for the app)
        assert api.post(f"/chatgroups/{gid}/announcement", json={"announcement": "read me"}).status_code == 200
        got = await bob.next_news()
        assert got["type"] == "groupchat" and got["subject"] == "read me" and got["body"] == ""
        assert str(got["from"]) == f"{room}/{a}"
        # disabled: told, and a member's message bounces
        assert api.post(f"/chatgroups/{gid}/disable").status_code == 200
        await alice.next_news()
        got = await bob.next_news()
        x = got.xml.find(NS + "x")
        assert got["type"] == "headline" and str(got["from"]) == room and x is not None and x.get("event") == "disabled"
        await alice.next_news()
        bob.send_message(mto=room, mbody="anyone?", mtype="groupchat")
        err = await asyncio.wait_for(bob.errors.get(), 5)
        assert err["error"]["condition"] == "forbidden" and "disabled" in err["error"]["text"]
        await alice.quiet(0.3)
        # nor does it take changes over XMPP: the owner may not make an admin
        iq = alice.make_iq_set(ito=room)
        query = ET.SubElement(iq.xml, "{http://jabber.org/protocol/muc#admin}query")
        ET.SubElement(query, "{http://jabber.org/protocol/muc#admin}item",
                      {"affiliation": "admin", "jid": str(bob.boundjid.bare)})
        with pytest.raises(IqError) as refused:
            await iq.send(timeout=TIMEOUT)
        assert refused.value.iq["error"]["condition"] == "forbidden"
        assert api.get(f"/chatgroups/{gid}/admin").json()["data"] == []
        assert api.post(f"/chatgroups/{gid}/enable").status_code == 200
        assert (await bob.next_news()).xml.find(NS + "x").get("event") == "enabled"
        await alice.next_news()
        bob.send_message(mto=room, mbody="back", mtype="groupchat")
        assert (await alice.next_message())["body"] == "back"
        # a shared file added and removed, with who uploaded it
        r = api.post(f"/chatgroups/{gid}/share_files", token=api.user_token(b), files={"file": ("a.txt", b"abc")})
        fid = r.json()["data"]["file_id"]
        got = await alice.next_news()
        x = got.xml.find(NS + "x")
        assert x.get("event") == "file-added" and x.get("from", "").startswith(xserver.api.creds.org)
        f = x.find(NS + "file")
        assert (f.get("id"), f.get("name"), f.get("owner"), f.get("size")) == (fid, "a.txt", b, "3")
        await bob.next_news()  # the uploader's own sessions hear of it too
        assert api.delete(f"/chatgroups/{gid}/share_files/{fid}").status_code == 200
        assert (await alice.next_news()).xml.find(NS + "x").get("event") == "file-removed"
        await bob.next_news()
        # a member's attributes
        assert api.put(f"/metadata/chatgroup/{gid}/user/{b}", json={"metaData": {"nick": "B"}}).status_code == 200
        x = (await alice.next_news()).xml.find(NS + "x")
        assert x.get("event") == "member-attributes" and x.get("user") == b
        assert [(e.get("name"), e.get("value")) for e in x.findall(NS + "attribute")] == [("nick", "B")]
        for client in (alice, bob):
            await client.close()

    run(scenario)


def test_chatroom_news_reach_xmpp_members(xserver: XServer) -> None:
    a, b = unique("ra"), unique("rb")
    api = xserver.api
    api.register(a, b)
    rid = api.post("/chatrooms", json={"name": "r", "description": "d", "owner": a,
                                       "members": [b]}).json()["data"]["id"]

    async def scenario() -> None:
        bob = Member(xserver, b)
        await bob.online()
        assert api.post(f"/chatrooms/{rid}/announcement", json={"announcement": "hi all"}).status_code == 200
        got = await bob.next_news()
        assert got["subject"] == "hi all" and got.xml.find("{easemob:x:roomtype}roomtype") is not None
        r = api.put(f"/metadata/chatroom/{rid}/user/{a}", json={"metaData": {"seat": "1"}})
        assert r.status_code == 200
        x = (await bob.next_news()).xml.find(NS + "x")
        assert (x.get("event"), x.get("user")) == ("attributes-set", a)
        assert [(e.get("name"), e.get("value")) for e in x.findall(NS + "attribute")] == [("seat", "1")]
        assert api.delete(f"/metadata/chatroom/{rid}/user/{a}", json={"keys": ["seat"]}).status_code == 200
        x = (await bob.next_news()).xml.find(NS + "x")
        assert x.get("event") == "attributes-removed" and [e.get("name") for e in x.findall(NS + "attribute")] == [
            "seat"]
        await bob.close()

    run(scenario)
