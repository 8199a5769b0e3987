"""A globally muted user over XMPP: their 1:1 and group messages bounce with `<forbidden/>`, the
text "user is globally muted" and Easemob's `<user-muted/>` (webim-xmpp.md §4.9), and reach
nobody; unmuting, or the mute running out, lets them through."""

from __future__ import annotations

import asyncio
import time

from xmpp_helpers import DOMAIN, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]

MUTED = "user is globally muted"


def _room(xs: XServer, rid: str) -> str:
    creds = xs.api.creds
    return f"{creds.org}#{creds.app}_{rid}@conference.{DOMAIN}"


async def _refused(client: Client, body: str) -> None:
    err = await asyncio.wait_for(client.errors.get(), 5)
    assert err["error"]["condition"] == "forbidden" and err["error"]["text"] == MUTED
    assert err["error"]["code"] == "403" and err["body"] == body
    assert err.xml.find("{jabber:client}error/{easemob:x:mute}user-muted") is not None


def test_muted_client_is_refused_until_unmuted_or_expired(xserver: XServer) -> None:
    a, b = unique("xa"), unique("xb")
    api = xserver.api
    api.register(a, b)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": b,
                                        "members": [a]}).json()["data"]["groupid"]

    def mute(**seconds: int) -> None:
        r = api.post("/mutes", json={"username": a, **seconds})
        assert r.status_code == 200, r.text

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        for client in (alice, bob):
            await client.online()
        # muted for 1:1 chat: refused, and bob gets nothing
        mute(chat=-1)
        alice.send_message(mto=xserver.jid(b), mbody="one", mtype="chat")
        await _refused(alice, "one")
        await bob.quiet(0.3)
        # group messages are another chat type: they pass until muted too
        alice.send_message(mto=_room(xserver, gid), mbody="to the group", mtype="groupchat")
        assert (await bob.next_message())["body"] == "to the group"
        mute(groupchat=100)
        alice.send_message(mto=_room(xserver, gid), mbody="muted in the group", mtype="groupchat")
        await _refused(alice, "muted in the group")
        await bob.quiet(0.3)
        # unmuted: through
        mute(chat=0, groupchat=0)
        alice.send_message(mto=xserver.jid(b), mbody="two", mtype="chat")
        assert (await bob.next_message())["body"] == "two"
        alice.send_message(mto=_room(xserver, gid), mbody="back", mtype="groupchat")
        assert (await bob.next_message())["body"] == "back"
        # a mute of one second: refused, then through once it is over
        mute(chat=1)
        muted_at = time.monotonic()
        alice.send_message(mto=xserver.jid(b), mbody="three", mtype="chat")
        await _refused(alice, "three")
        await asyncio.sleep(max(0.0, 1.2 - (time.monotonic() - muted_at)))
        alice.send_message(mto=xserver.jid(b), mbody="four", mtype="chat")
        assert (await bob.next_message())["body"] == "four"
        assert alice.errors.empty()
        # bob, never muted, was never refused
        bob.send_message(mto=xserver.jid(a), mbody="hello", mtype="chat")
        assert (await alice.next_message())["body"] == "hello"
        for client in (alice, bob):
            await client.close()

    run(scenario)
