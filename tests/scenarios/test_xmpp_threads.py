"""Threads of a group seen by XMPP members (slixmpp clients): a thread created over REST is told
to the group's members, joining it to its members; a thread message sent over XMPP to the
thread's room JID reaches the thread's members and not the group's other members, who may not
send there before they join; renaming and destroying it are told to the group."""

from __future__ import annotations

import asyncio

from slixmpp.stanza import Message
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from test_xmpp_groups import _room
from test_xmpp_room_news import NS, Member
from xmpp_helpers import TIMEOUT, XServer, run, xserver

from conftest import unique
from hxim.c2s.recall import NS as RECALL

__all__ = ["xserver"]


class Reader(Member):
    """A member whose message queue holds messages with a body only (news go to `news`, recalls
    to `recalls`)."""

    def __init__(self, xs: XServer, username: str) -> None:
        super().__init__(xs, username)
        self.recalls: asyncio.Queue[Message] = asyncio.Queue()
        self.register_handler(Callback("recalls", MatchXPath(f"{{jabber:client}}message/{{{RECALL}}}recall"),
                                       self.recalls.put_nowait))

    def _on_message(self, msg: Message) -> None:
        if msg["type"] != "error" and msg["body"]:
            self.messages.put_nowait(msg)


async def _event(client: Reader, event: str) -> dict[str, str]:
    """The next thread notice: it must be `event`; the thread's attributes, `user` added."""
    got = await client.next_news()
    x = got.xml.find(NS + "x")
    assert got["type"] == "headline" and x is not None and x.get("event") == event, got
    thread = x.find(NS + "thread")
    assert thread is not None
    return {**thread.attrib, **({"user": x.get("user", "")} if x.get("user") else {})}


def test_thread_messages_and_events_reach_the_thread(xserver: XServer) -> None:
    a, b, c = unique("ta"), unique("tb"), unique("tc")
    api = xserver.api
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]

    async def scenario() -> None:
        alice, bob, carol = Reader(xserver, a), Reader(xserver, b), Reader(xserver, c)
        for client in (alice, bob, carol):
            await client.online()
        group = _room(xserver, gid)
        bob.send_message(mto=group, mbody="start a thread here", mtype="groupchat")
        first = await alice.next_message()
        await carol.next_message()
        history = api.get("/chatmessages?ql=select * where timestamp>0&limit=1000").json()["entities"]
        parent = next(m["msg_id"] for m in history if m["to"] == gid and m["from"] == b)
        assert first["body"] == "start a thread here"
        # bob starts a thread with his own token: the whole group is told
        r = api.post("/thread", token=api.user_token(b), json={"group_id": gid, "name": "topic", "owner": b,
                                                               "msg_id": parent})
        assert r.status_code == 200, r.text
        tid = r.json()["data"]["thread_id"]
        for client in (alice, bob, carol):
            got = await _event(client, "thread-created")
            assert got == {"id": tid, "name": "topic", "owner": b, "group": gid, "msg_id": parent,
                           "created": got["created"]}
        # alice joins: the thread's members hear of it, carol does not
        assert api.post(f"/thread/{tid}/users", token=api.user_token(a), json={"usernames": [a]}).status_code == 200
        for client in (alice, bob):
            assert (await _event(client, "thread-joined"))["user"] == a
        # a thread message over XMPP: to the thread's room JID, reaching its members only
        thread = _room(xserver, tid)
        bob.send_message(mto=thread, mbody="in the thread", mtype="groupchat")
        got = await alice.next_message()
        assert (got["body"], str(got["from"]), got["type"]) == ("in the thread", f"{thread}/{b}", "groupchat")
        alice.send_message(mto=thread, mbody="answer", mtype="groupchat")
        assert (await bob.next_message())["body"] == "answer"
        await carol.quiet(0.5)
        assert carol.news.empty()
        # carol has not joined: her message bounces
        carol.send_message(mto=thread, mbody="me too", mtype="groupchat")
        err = await carol.errors.get()
        assert err["error"]["condition"] == "forbidden" and f"doesn't exist in thread: {tid}" in err["error"]["text"]
        # the REST send addresses the thread the same way
        r = api.post("/messages/chatgroups", json={"from": a, "to": [tid], "type": "txt", "body": {"msg": "rest"}})
        assert r.status_code == 200, r.text
        assert (await bob.next_message())["body"] == "rest"
        # recalled: the thread's members who had it are told
        mid = r.json()["data"][tid]
        r = api.post("/messages/msg_recall", json={"msg_id": mid, "to": tid, "chat_type": "groupchat", "from": a,
                                                   "force": True})
        assert r.status_code == 200 and r.json()["data"]["recalled"] == "yes", r.text
        got = await asyncio.wait_for(bob.recalls.get(), TIMEOUT)
        assert str(got["from"]) == thread
        # alice is removed by the app: she is told, and the thread's messages stop reaching her
        r = api.delete(f"/thread/{tid}/users", json={"usernames": [a]})
        assert r.json()["entities"] == [{"result": True, "user": a}]
        assert (await _event(alice, "thread-kicked"))["user"] == a
        assert (await _event(bob, "thread-kicked"))["user"] == a
        bob.send_message(mto=thread, mbody="alone", mtype="groupchat")
        await bob.sync()
        await alice.quiet(0.5)
        # renamed and destroyed: told to the group
        assert api.put(f"/thread/{tid}", json={"name": "renamed"}).status_code == 200
        for client in (alice, bob, carol):
            assert (await _event(client, "thread-updated"))["name"] == "renamed"
        assert api.delete(f"/thread/{tid}", token=api.user_token(a)).status_code == 200
        for client in (alice, bob, carol):
            assert (await _event(client, "thread-destroyed"))["id"] == tid
        for client in (alice, bob, carol):
            await client.close()

    run(scenario)
