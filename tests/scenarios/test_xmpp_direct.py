"""Stanzas one client addresses to another's full JID (RFC 6120 §10.5.4, RFC 6121 §8.5.3).

IQs are routed to the resource, whatever their namespace, and their answers come back; a `get` or
`set` to a resource that is not bound, or to a user who blocks the sender, is answered
`service-unavailable`. A message to a full JID reaches that resource as soon as it is bound, before
its initial presence.
"""

from __future__ import annotations

import asyncio

import pytest
from slixmpp.exceptions import IqError
from xmpp_helpers import DOMAIN, Client, XServer, login_raw, run, xserver

from conftest import unique

__all__ = ["xserver"]


def test_iqs_between_clients_are_routed(xserver: XServer) -> None:
    xs = xserver
    a, b = unique("ia"), unique("ib")
    xs.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xs, a), Client(xs, b, resource="desk")
        await alice.online()
        await bob.online()
        bob_full = xs.jid(b, "desk")
        info = await alice.plugin["xep_0030"].get_info(jid=bob_full, timeout=10)
        assert info["from"] == bob_full and info["type"] == "result"
        version = await alice.plugin["xep_0092"].get_version(bob_full, timeout=10)
        assert version["from"] == bob_full and version["software_version"]["name"]
        await alice.plugin["xep_0199"].ping(bob_full, timeout=10)
        # a resource that is not bound
        with pytest.raises(IqError) as missing:
            await alice.plugin["xep_0030"].get_info(jid=xs.jid(b, "phone"), timeout=10)
        assert missing.value.iq["error"]["condition"] == "service-unavailable"
        # the server still answers what is addressed to it
        info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=10)
        assert info["type"] == "result"
        # a user who blocks the sender
        assert xs.api.post(f"/users/{b}/blocks/users", json={"usernames": [a]}).status_code == 200
        with pytest.raises(IqError) as blocked:
            await alice.plugin["xep_0092"].get_version(bob_full, timeout=10)
        assert blocked.value.iq["error"]["condition"] == "service-unavailable"
        await asyncio.gather(alice.close(), bob.close())

    run(scenario)


def test_a_message_to_a_full_jid_reaches_a_resource_before_its_presence(xserver: XServer) -> None:
    xs = xserver
    a, b = unique("ic"), unique("id")
    xs.api.register(a, b)
    raw = login_raw(xs, b, resource="fresh")  # bound, no initial presence yet

    async def scenario() -> None:
        alice = Client(xs, a)
        await alice.online()
        alice.send_message(mto=xs.jid(b, "fresh"), mbody="to the resource", mtype="chat")
        text = await asyncio.to_thread(raw.read_until, b"</message>")
        assert "to the resource" in text
        # to the bare JID it waits for an available resource, as before
        alice.send_message(mto=xs.jid(b), mbody="to the user", mtype="chat")
        await alice.sync()
        await alice.close()

    run(scenario)
    assert xs.api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 1
    raw.send("<presence/>")
    assert "to the user" in raw.read_until(b"to the user")
    raw.close()
