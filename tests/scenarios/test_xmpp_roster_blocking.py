"""Roster subscription states, blocking pushes and blocked presence over XMPP/TCP with slixmpp
(RFC 6121 §2–§3, XEP-0191 §3.2–§3.4), with REST making some of the changes."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from slixmpp.stanza import Presence
from xmpp_helpers import TIMEOUT, Client, XServer, run, until, xserver

from conftest import unique

__all__ = ["xserver"]

BLOCKING = "{urn:xmpp:blocking}"


def _contacts(xs: XServer, name: str) -> list[str]:
    return sorted(xs.api.get(f"/users/{name}/contacts/users").json()["data"])


def _items(iq: Any) -> dict[str, tuple[str, str | None]]:
    """A roster result or push as {jid: (subscription, ask or None)}."""
    return {str(jid): (item["subscription"], item["ask"] or None) for jid, item in iq["roster"]["items"].items()}


async def _push(client: Client) -> dict[str, tuple[str, str | None]]:
    """The next roster push (a `set`; roster results also raise slixmpp's roster_update)."""
    while True:
        iq = await asyncio.wait_for(client.pushes.get(), TIMEOUT)
        if iq["type"] == "set":
            return _items(iq)


async def _roster(client: Client) -> dict[str, tuple[str, str | None]]:
    return _items(await client.get_roster())


async def _drain_presences(client: Client) -> list[Presence]:
    """Everything presence-like that arrived up to a ping round trip from now."""
    await client.sync()
    await asyncio.sleep(0.2)
    out = []
    while not client.presences.empty():
        out.append(client.presences.get_nowait())
    return out


def _from(presences: list[Presence], jid: str) -> list[Presence]:
    return [p for p in presences if p["from"].bare == jid]


def test_friend_request_is_pending_until_answered(xserver: XServer) -> None:
    """subscribe → ask='subscribe' (push and roster get, on every resource of the requester);
    unsubscribed (decline) and unsubscribe (withdraw) → remove; subscribed → both for both users;
    a subscribed that answers no request changes nothing."""
    a, b, c = unique("qa"), unique("qb"), unique("qc")
    xs = xserver
    xs.api.register(a, b, c)

    async def scenario() -> None:
        alice, laptop = Client(xs, a, resource="phone"), Client(xs, a, resource="laptop")
        bob, carol = Client(xs, b), Client(xs, c)
        for client in (alice, laptop, bob, carol):
            await client.online()
        # a request: both of alice's resources get the pending item; the roster shows it
        alice.send_presence(pto=xs.jid(b), ptype="subscribe", pstatus="hi")
        assert (await bob.next_presence("subscribe"))["status"] == "hi"
        for client in (alice, laptop):
            assert await _push(client) == {xs.jid(b): ("none", "subscribe")}
        assert await _roster(alice) == {xs.jid(b): ("none", "subscribe")}
        assert await _roster(bob) == {}  # an inbound request is no roster item
        assert _contacts(xs, a) == [] and _contacts(xs, b) == []
        # bob declines: the pending item goes away
        bob.send_presence(pto=xs.jid(a), ptype="unsubscribed")
        await alice.next_presence("unsubscribed")
        for client in (alice, laptop):
            assert await _push(client) == {xs.jid(b): ("remove", None)}
        assert await _roster(alice) == {}
        # a subscribed that answers no request (the decline consumed it) is ignored
        bob.send_presence(pto=xs.jid(a), ptype="subscribed")
        await bob.sync()
        assert _contacts(xs, a) == []
        assert not [p for p in await _drain_presences(alice) if p["type"] == "subscribed"]
        # alice asks again, then withdraws her request
        alice.send_presence(pto=xs.jid(b), ptype="subscribe")
        assert await _push(alice) == {xs.jid(b): ("none", "subscribe")}
        alice.send_presence(pto=xs.jid(b), ptype="unsubscribe")
        assert await _push(alice) == {xs.jid(b): ("remove", None)}
        await bob.next_presence("unsubscribe")
        assert await _roster(alice) == {}
        # and again; bob accepts: both rosters get 'both', the request is gone
        alice.send_presence(pto=xs.jid(b), ptype="subscribe")
        assert await _push(alice) == {xs.jid(b): ("none", "subscribe")}
        await laptop.sync()
        while not laptop.pushes.empty():
            laptop.pushes.get_nowait()
        bob.send_presence(pto=xs.jid(a), ptype="subscribed")
        await alice.next_presence("subscribed")
        for client, other in ((alice, b), (laptop, b), (bob, a)):
            assert await _push(client) == {xs.jid(other): ("both", None)}
        assert await _roster(alice) == {xs.jid(b): ("both", None)}
        assert await _roster(bob) == {xs.jid(a): ("both", None)}
        assert _contacts(xs, a) == [b] and _contacts(xs, b) == [a]
        # carol's request to alice, accepted over REST: carol's pending item becomes 'both'
        carol.send_presence(pto=xs.jid(a), ptype="subscribe")
        assert await _push(carol) == {xs.jid(a): ("none", "subscribe")}
        assert xs.api.post(f"/users/{a}/contacts/users/{c}").status_code == 200
        assert await _push(carol) == {xs.jid(a): ("both", None)}
        assert await _roster(carol) == {xs.jid(a): ("both", None)}
        for client in (alice, laptop, bob, carol):
            await client.close()

    run(scenario)


def test_requests_survive_the_requester_going_offline(xserver: XServer) -> None:
    """The pending request is stored: a new session's roster get shows it, and the answer given
    while the requester was away turns it into a contact."""
    a, b = unique("pa"), unique("pb")
    xs = xserver
    xs.api.register(a, b)

    async def scenario() -> None:
        alice = Client(xs, a)
        await alice.online()
        alice.send_presence(pto=xs.jid(b), ptype="subscribe", pstatus="later")
        assert await _push(alice) == {xs.jid(b): ("none", "subscribe")}
        await alice.close()
        again = Client(xs, a, resource="again")
        await again.online()
        assert await _roster(again) == {xs.jid(b): ("none", "subscribe")}
        await again.close()
        bob = Client(xs, b)
        await bob.online()
        request = await bob.next_presence("subscribe")  # kept for bob while he was offline
        assert request["status"] == "later"
        bob.send_presence(pto=xs.jid(a), ptype="subscribed")
        await until(lambda: _contacts(xs, a) == [b])
        await bob.close()
        third = Client(xs, a, resource="third")
        await third.online()
        assert await _roster(third) == {xs.jid(b): ("both", None)}
        await third.close()

    run(scenario)


def test_rest_contact_changes_reach_both_rosters(xserver: XServer) -> None:
    a, b = unique("ka"), unique("kb")
    xs = xserver
    xs.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(xs, a), Client(xs, b)
        await alice.online()
        await bob.online()
        assert xs.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200
        assert await _push(alice) == {xs.jid(b): ("both", None)}
        assert await _push(bob) == {xs.jid(a): ("both", None)}
        assert xs.api.delete(f"/users/{b}/contacts/users/{a}").status_code == 200
        assert await _push(alice) == {xs.jid(b): ("remove", None)}
        assert await _push(bob) == {xs.jid(a): ("remove", None)}
        await alice.close()
        await bob.close()

    run(scenario)


def test_a_deleted_user_leaves_the_rosters(xserver: XServer) -> None:
    """Deleting a user over REST ends their friendships and the requests made to them: each
    online contact and requester gets a `remove` push, and their rosters (kept by the session
    since login) no longer list the user."""
    a, b, c, d = unique("da"), unique("db"), unique("dc"), unique("dd")
    xs = xserver
    xs.api.register(a, b, c, d)
    assert xs.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200
    assert xs.api.post(f"/users/{a}/contacts/users/{c}").status_code == 200

    async def scenario() -> None:
        alice, carol, dave = Client(xs, a), Client(xs, c), Client(xs, d)
        for client in (alice, carol, dave):
            await client.online()
        dave.send_presence(pto=xs.jid(b), ptype="subscribe")  # dave's request to bob, unanswered
        assert await _push(dave) == {xs.jid(b): ("none", "subscribe")}
        assert await _roster(alice) == {xs.jid(b): ("both", None), xs.jid(c): ("both", None)}
        assert xs.api.delete(f"/users/{b}").status_code == 200
        assert await _push(alice) == {xs.jid(b): ("remove", None)}
        assert await _push(dave) == {xs.jid(b): ("remove", None)}
        assert await _roster(alice) == {xs.jid(c): ("both", None)}
        assert await _roster(dave) == {}
        assert await _roster(carol) == {xs.jid(a): ("both", None)}  # untouched
        for client in (alice, carol, dave):
            await client.close()

    run(scenario)


def _block_event(client: Client, kind: str) -> asyncio.Queue[Any]:
    q: asyncio.Queue[Any] = asyncio.Queue()
    client.add_event_handler(kind, q.put_nowait)
    return q


def _pushed_jids(iq: Any, kind: str) -> set[str]:
    payload = iq.xml.find(BLOCKING + kind)
    assert payload is not None, iq
    return {item.get("jid") for item in payload.findall(BLOCKING + "item")}


def test_block_pushes_and_presence(xserver: XServer) -> None:
    """XEP-0191: pushes reach the resources that asked for the block list, whoever changed it
    (REST, another resource); a blocked contact sees the blocker go unavailable and no presence
    passes either way; unblocking sends the current presences again."""
    a, b = unique("xa"), unique("xb")
    xs = xserver
    api = xs.api
    api.register(a, b)
    api.post(f"/users/{a}/contacts/users/{b}")

    async def scenario() -> None:
        phone, laptop, bob = Client(xs, a, resource="phone"), Client(xs, a, resource="laptop"), Client(xs, b)
        blocked_q, unblocked_q = _block_event(phone, "blocked"), _block_event(phone, "unblocked")
        laptop_blocked = _block_event(laptop, "blocked")
        await phone.online()
        await laptop.online()
        await bob.online()
        assert await phone.plugin["xep_0191"].get_blocked_jids() == set()  # phone is interested
        await _drain_presences(bob)
        await _drain_presences(phone)
        # blocked over REST: phone gets the push, laptop (never asked) does not
        assert api.post(f"/users/{a}/blocks/users", json={"usernames": [b]}).status_code == 200
        push = await asyncio.wait_for(blocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "block") == {xs.jid(b)} and push["type"] == "set"
        # bob sees both of alice's resources go; alice sees bob go
        seen = _from(await _drain_presences(bob), xs.jid(a))
        assert sorted((p["type"], p["from"].resource) for p in seen) == [("unavailable", "laptop"),
                                                                         ("unavailable", "phone")]
        seen = _from(await _drain_presences(phone), xs.jid(b))
        assert [p["type"] for p in seen] == ["unavailable"]
        assert laptop_blocked.empty()
        # no presence passes either way while blocked
        bob.send_presence(pstatus="still here")
        phone.send_presence(pstatus="busy")
        await bob.sync()
        assert _from(await _drain_presences(phone), xs.jid(b)) == []
        assert _from(await _drain_presences(bob), xs.jid(a)) == []
        # unblocked over REST: the push, and the current presences again, both ways
        assert api.delete(f"/users/{a}/blocks/users/{b}").status_code == 200
        push = await asyncio.wait_for(unblocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "unblock") == {xs.jid(b)}
        back = _from(await _drain_presences(bob), xs.jid(a))
        assert sorted((p["type"], p["from"].resource, p["status"]) for p in back) == [
            ("available", "laptop", ""), ("available", "phone", "busy")]
        back = _from(await _drain_presences(phone), xs.jid(b))
        assert [(p["type"], p["status"]) for p in back] == [("available", "still here")]
        # blocked from the laptop over XMPP: the phone (interested) gets the push
        await laptop.plugin["xep_0191"].block(xs.jid(b))
        push = await asyncio.wait_for(blocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "block") == {xs.jid(b)}
        assert api.get(f"/users/{a}/blocks/users").json()["data"] == [b]
        # unblock-all from the phone: pushed with the items
        iq = phone.Iq(stype="set")
        iq.xml.append(ET.Element(BLOCKING + "unblock"))  # slixmpp leaves an empty <unblock/> out
        await iq.send()
        push = await asyncio.wait_for(unblocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "unblock") == {xs.jid(b)}
        assert api.get(f"/users/{a}/blocks/users").json()["data"] == []
        await laptop.sync()
        assert laptop_blocked.empty()
        for client in (phone, laptop, bob):
            await client.close()

    run(scenario)


def test_blocked_users_subscription_presences_are_dropped(xserver: XServer) -> None:
    a, b = unique("da"), unique("db")
    xs = xserver
    xs.api.register(a, b)
    assert xs.api.post(f"/users/{a}/blocks/users", json={"usernames": [b]}).status_code == 200

    async def scenario() -> None:
        alice, bob = Client(xs, a), Client(xs, b)
        await alice.online()
        await bob.online()
        bob.send_presence(pto=xs.jid(a), ptype="subscribe", pstatus="let me in")
        bob.send_presence(pto=xs.jid(a), pstatus="directed")
        await bob.sync()
        assert _from(await _drain_presences(alice), xs.jid(b)) == []
        assert await _roster(bob) == {}  # nothing pending either
        await alice.close()
        await bob.close()

    run(scenario)


def test_any_address_can_be_blocked(xserver: XServer) -> None:
    """XEP-0191 lets a client block any JID: another server's user, a name not registered here.
    They are kept and listed beside the users of the app (which also go to the REST list), pushed,
    and unblocked one by one or all at once."""
    a, b = unique("ja"), unique("jb")
    xs = xserver
    xs.api.register(a, b)
    stranger, unknown = "spammer@example.org", xs.jid(unique("nobody"))

    async def scenario() -> None:
        phone, laptop = Client(xs, a, resource="phone"), Client(xs, a, resource="laptop")
        blocked_q, unblocked_q = _block_event(phone, "blocked"), _block_event(phone, "unblocked")
        await phone.online()
        await laptop.online()
        assert await phone.plugin["xep_0191"].get_blocked_jids() == set()
        await laptop.plugin["xep_0191"].block([stranger, unknown, xs.jid(b)])
        pushed: set[str] = set()
        while len(pushed) < 3:
            pushed |= _pushed_jids(await asyncio.wait_for(blocked_q.get(), TIMEOUT), "block")
        assert pushed == {stranger, unknown, xs.jid(b)}
        listed = {str(j) for j in await phone.plugin["xep_0191"].get_blocked_jids()}
        assert listed == {stranger, unknown, xs.jid(b)}
        assert xs.api.get(f"/users/{a}/blocks/users").json()["data"] == [b]  # only the user of the app
        await laptop.plugin["xep_0191"].unblock([stranger])
        push = await asyncio.wait_for(unblocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "unblock") == {stranger}
        iq = phone.Iq(stype="set")
        iq.xml.append(ET.Element(BLOCKING + "unblock"))  # everything
        await iq.send()
        assert await phone.plugin["xep_0191"].get_blocked_jids() == set()
        assert xs.api.get(f"/users/{a}/blocks/users").json()["data"] == []
        for client in (phone, laptop):
            await client.close()

    run(scenario)
