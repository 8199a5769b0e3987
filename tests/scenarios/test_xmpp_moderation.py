"""Keyword lists screen what XMPP clients send: a word of a replacing list reaches the recipient
as `***`, a message matching a refusing list bounces with `<policy-violation/>` and reaches
nobody, in 1:1 chats and groups alike."""

from __future__ import annotations

import asyncio

import pytest
from xmpp_helpers import DOMAIN, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]

L = "/moderation/text/list"
REFUSED = "message is blocked by moderation"


async def _refused(client: Client, body: str) -> None:
    err = await asyncio.wait_for(client.errors.get(), 5)
    # (slixmpp knows RFC 3920's conditions only: policy-violation is read from the XML)
    condition = err.xml.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}policy-violation")
    assert condition is not None and err["error"]["text"] == REFUSED, err
    assert err["body"] == body


@pytest.fixture(autouse=True)
def _no_lists_left(xserver: XServer) -> object:
    """The scenario app's lists are removed after each test (they screen every message of it)."""
    yield None
    found = xserver.api.post(f"{L}/search", json={"size": 200}).json()["entities"]
    for entity in found:
        xserver.api.delete(f"{L}/{entity['id']}")


def test_words_replaced_or_messages_refused(xserver: XServer) -> None:
    a, b = unique("ma"), unique("mb")
    api = xserver.api
    api.register(a, b)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": b,
                                        "members": [a]}).json()["data"]["groupid"]
    creds = api.creds
    room = f"{creds.org}#{creds.app}_{gid}@conference.{DOMAIN}"
    for words, disposition in ((["darn", "heck"], "EXCHANGE"), (["forbidden"], "REJECT")):
        r = api.post(L, json={"name": unique("l"), "scope": "ALL", "disposition": disposition,
                              "textContexts": words})
        assert r.status_code == 200, r.text

    async def scenario() -> None:
        alice, bob = Client(xserver, a), Client(xserver, b)
        for client in (alice, bob):
            await client.online()
        alice.send_message(mto=xserver.jid(b), mbody="Darn, what the heck", mtype="chat")
        assert (await bob.next_message())["body"] == "***, what the ***"
        alice.send_message(mto=xserver.jid(b), mbody="something FORBIDDEN", mtype="chat")
        await _refused(alice, "something FORBIDDEN")
        alice.send_message(mto=room, mbody="heck, group", mtype="groupchat")
        assert (await bob.next_message())["body"] == "***, group"
        alice.send_message(mto=room, mbody="forbidden in the group", mtype="groupchat")
        await _refused(alice, "forbidden in the group")
        await bob.quiet(0.3)
        # the REST sends of the app are screened alike, and reach the client so
        r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "oh darn"}})
        assert r.status_code == 200, r.text
        assert (await bob.next_message())["body"] == "oh ***"
        alice.send_message(mto=xserver.jid(b), mbody="all clean", mtype="chat")
        assert (await bob.next_message())["body"] == "all clean"
        for client in (alice, bob):
            await client.close()

    run(scenario)
