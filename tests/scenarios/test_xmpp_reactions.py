"""Reactions reach XMPP clients: a reaction added or taken back over REST comes to the
conversation's online members as XEP-0444 `<reactions/>` (the reacting user's current set)."""

from __future__ import annotations

import asyncio
from typing import Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from xmpp_helpers import DOMAIN, TIMEOUT, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]

NS = "{urn:xmpp:reactions:0}"


class Reacting(Client):
    """A client that also queues body-less XEP-0444 messages (slixmpp's `message` event wants a body)."""

    def __init__(self, xs: XServer, username: str) -> None:
        super().__init__(xs, username)
        self.reactions: asyncio.Queue[Any] = asyncio.Queue()
        self.register_handler(Callback("reactions", MatchXPath(f"{{jabber:client}}message/{NS}reactions"),
                                       self.reactions.put_nowait))

    async def next_reactions(self) -> tuple[Any, str, list[str]]:
        """The next reactions message: (the stanza, the message id it names, the reactions)."""
        msg = await asyncio.wait_for(self.reactions.get(), TIMEOUT)
        el = msg.xml.find(f"{NS}reactions")
        return msg, el.get("id"), [r.text for r in el.findall(f"{NS}reaction")]


def test_a_reaction_reaches_the_members_of_the_conversation(xserver: XServer) -> None:
    a, b, c, outsider = (unique(p) for p in ("ra", "rb", "rc", "ro"))
    api = xserver.api
    api.register(a, b, c, outsider)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]
    creds = api.creds
    room = f"{creds.org}#{creds.app}_{gid}@conference.{DOMAIN}"

    async def scenario() -> None:
        bob, carol, other = Reacting(xserver, b), Reacting(xserver, c), Reacting(xserver, outsider)
        for client in (bob, carol, other):
            await client.online()
        r = api.post("/messages/chatgroups", json={"from": a, "to": [gid], "type": "txt", "body": {"msg": "vote"}})
        mid = str(r.json()["data"][str(gid)])
        for client in (bob, carol):
            assert (await client.next_message())["body"] == "vote"
        r = api.post(f"/reaction/user/{b}", json={"msgId": mid, "message": "like"})
        assert r.status_code == 200, r.text
        for client in (bob, carol):
            got, named, listed = await client.next_reactions()
            assert got["type"] == "groupchat" and str(got["from"]) == f"{room}/{b}"
            assert (named, listed) == (mid, ["like"])
        api.post(f"/reaction/user/{b}", json={"msgId": mid, "message": "heart"})
        assert (await carol.next_reactions())[1:] == (mid, ["like", "heart"])
        api.delete(f"/reaction/user/{b}", params={"msgId": mid, "message": "like"})
        assert (await carol.next_reactions())[1:] == (mid, ["heart"])
        # the reacting user's own sessions hear of each change too
        assert [(await bob.next_reactions())[2] for _ in range(2)] == [["like", "heart"], ["heart"]]
        # 1:1: the other side hears of it, from the reacting user
        r = api.post("/messages/users", json={"from": b, "to": [c], "type": "txt", "body": {"msg": "hi"}})
        one = str(r.json()["data"][c])
        assert (await carol.next_message())["body"] == "hi"
        api.post(f"/reaction/user/{c}", json={"msgId": one, "message": "ok"})
        got, named, listed = await bob.next_reactions()
        assert got["type"] == "chat" and str(got["from"]).split("/")[0] == xserver.jid(c)
        assert (named, listed) == (one, ["ok"])
        await asyncio.sleep(0.3)
        assert other.reactions.empty()
        for client in (bob, carol, other):
            await client.close()

    run(scenario)
