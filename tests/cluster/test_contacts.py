"""Contacts across the nodes of a cluster: presence between contacts on different nodes (changes,
the probe answer at login, unavailable), roster and block pushes caused by REST calls that another
node took, friend requests, and a block set on one node keeping the other node's users out."""

from __future__ import annotations

import asyncio
from typing import Any

from cluster_clients import metas, msync, seen_offline, seen_online
from cluster_helpers import Cluster, cluster
from slixmpp.stanza import Presence
from xmpp_helpers import TIMEOUT, Client, XServer, run, until

from conftest import unique
from hxim.msync.wire import pb

__all__ = ["cluster"]

BLOCKING = "{urn:xmpp:blocking}"


def _items(iq: Any) -> dict[str, tuple[str, str | None]]:
    return {str(jid): (item["subscription"], item["ask"] or None) for jid, item in iq["roster"]["items"].items()}


async def _push(client: Client) -> dict[str, tuple[str, str | None]]:
    """The next roster push (a `set`)."""
    while True:
        iq = await asyncio.wait_for(client.pushes.get(), TIMEOUT)
        if iq["type"] == "set":
            return _items(iq)


async def _drain(client: Client) -> list[Presence]:
    """The presences that arrived up to a ping round trip (and a moment) from now."""
    await client.sync()
    await asyncio.sleep(0.3)
    out = []
    while not client.presences.empty():
        out.append(client.presences.get_nowait())
    return out


def _from(presences: list[Presence], jid: str) -> list[Presence]:
    return [p for p in presences if p["from"].bare == jid]


async def _presence_from(client: Client, jid: str, ptype: str | None = None) -> Presence:
    while True:
        p = await client.next_presence(ptype)
        if p["from"].bare == jid:
            return p


def _block_event(client: Client, kind: str) -> asyncio.Queue[Any]:
    q: asyncio.Queue[Any] = asyncio.Queue()
    client.add_event_handler(kind, q.put_nowait)
    return q


def _pushed_jids(iq: Any, kind: str) -> set[str]:
    payload = iq.xml.find(BLOCKING + kind)
    assert payload is not None, iq
    return {item.get("jid") for item in payload.findall(BLOCKING + "item")}


def _contacts(xs: XServer, name: str) -> list[str]:
    return sorted(xs.api.get(f"/users/{name}/contacts/users").json()["data"])


def test_presence_between_contacts_on_different_nodes(cluster: Cluster) -> None:
    """alice (node 1) is away when bob logs in on node 2: the probe answer shows her as she is;
    each sees the other's changes and departures, and REST status agrees on both nodes."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("pa"), unique("pb")
    n1.api.register(a, b)
    assert n1.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200

    async def scenario() -> None:
        alice = Client(n1, a, resource="phone")
        assert await alice.login() == "ok"
        alice.send_presence(pshow="away", pstatus="lunch", ppriority=5)
        await until(seen_online(nodes, a))
        bob = Client(n2, b)
        await bob.online()
        seen = await _presence_from(bob, n1.jid(a), "away")  # the probe answer, from the other node
        assert seen["from"] == n1.jid(a, "phone") and seen["status"] == "lunch" and seen["priority"] == 5
        arrived = await _presence_from(alice, n1.jid(b))  # bob's initial presence crossed to alice
        assert arrived["from"] == n2.jid(b, "test") and arrived["type"] == "available"
        await until(seen_online(nodes, a, b))
        # a change on node 2 reaches node 1, and back
        bob.send_presence(pshow="dnd", pstatus="busy")
        changed = await _presence_from(alice, n1.jid(b), "dnd")
        assert changed["status"] == "busy"
        alice.send_presence(pstatus="back")
        back = await _presence_from(bob, n1.jid(a), "available")
        assert back["status"] == "back"
        # a second resource of alice on node 2: bob, on the same node, hears it; then it goes
        laptop = Client(n2, a, resource="laptop")
        await laptop.online(priority=-1)
        p = await _presence_from(bob, n1.jid(a))
        assert p["from"] == n1.jid(a, "laptop") and p["priority"] == -1
        await laptop.close()
        assert (await _presence_from(bob, n1.jid(a), "unavailable"))["from"] == n1.jid(a, "laptop")
        assert seen_online(nodes, a)()  # the phone is still there
        # alice's unavailable on node 1 reaches bob on node 2; her status is offline everywhere
        alice.send_presence(ptype="unavailable")
        gone = await _presence_from(bob, n1.jid(a), "unavailable")
        assert gone["from"] == n1.jid(a, "phone")
        await until(seen_offline(nodes, a))
        await alice.close()
        # bob's stream ends without a word: alice, back on node 1, is not told of him again,
        # and nobody reads him online
        again = Client(n1, a, resource="again")
        await again.online()
        probe = await _presence_from(again, n1.jid(b))
        assert probe["type"] == "dnd" and probe["status"] == "busy"
        bob.abort()
        gone = await _presence_from(again, n1.jid(b), "unavailable")
        assert gone["from"] == n2.jid(b, "test")
        await until(seen_offline(nodes, b))
        await again.close()

    run(scenario)


def test_rest_contact_changes_on_one_node_push_rosters_on_both(cluster: Cluster) -> None:
    """A friendship added over REST on node 1 pushes `both` to alice (node 2) and bob (node 1),
    who then see each other's presence; removed over REST on node 2: `remove` and unavailable."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("ka"), unique("kb")
    n1.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(n2, a), Client(n1, b)
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        assert n1.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200
        assert await _push(alice) == {n1.jid(b): ("both", None)}
        assert await _push(bob) == {n1.jid(a): ("both", None)}
        assert (await _presence_from(alice, n1.jid(b)))["type"] == "available"
        assert (await _presence_from(bob, n1.jid(a)))["type"] == "available"
        # alice's roster, read from her node, has bob
        roster = await alice.get_roster()
        assert _items(roster) == {n1.jid(b): ("both", None)}
        assert n2.api.delete(f"/users/{b}/contacts/users/{a}").status_code == 200
        assert await _push(alice) == {n1.jid(b): ("remove", None)}
        assert await _push(bob) == {n1.jid(a): ("remove", None)}
        assert (await _presence_from(alice, n1.jid(b), "unavailable"))["type"] == "unavailable"
        assert (await _presence_from(bob, n1.jid(a), "unavailable"))["type"] == "unavailable"
        await alice.close()
        await bob.close()

    run(scenario)


def test_friend_requests_cross_nodes(cluster: Cluster) -> None:
    """An XMPP subscription request from node 1 reaches node 2 and its answer comes back; an SDK
    request (REST `contacts/apply` on node 1) reaches an msync session on node 2, and its
    acceptance on node 2 reaches the requester on node 1."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c, d = unique("fa"), unique("fb"), unique("fc"), unique("fd")
    n1.api.register(a, b, c, d)

    async def scenario() -> None:
        alice, bob = Client(n1, a), Client(n2, b)
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        alice.send_presence(pto=n1.jid(b), ptype="subscribe", pstatus="hi")
        assert (await bob.next_presence("subscribe"))["status"] == "hi"
        assert await _push(alice) == {n1.jid(b): ("none", "subscribe")}
        bob.send_presence(pto=n1.jid(a), ptype="subscribed")
        await alice.next_presence("subscribed")
        assert await _push(alice) == {n1.jid(b): ("both", None)}
        assert await _push(bob) == {n1.jid(a): ("both", None)}
        assert _contacts(n2, a) == [b] and _contacts(n1, b) == [a]
        await alice.close()
        await bob.close()
        # the SDK's way, over msync
        carol, dave = await msync(n1, c), await msync(n2, d)
        await until(seen_online(nodes, c, d))
        r = n1.api.post(
            f"/users/{c}/contacts/apply", token=n1.api.user_token(c), json={"usernames": [d], "reason": "hello"}
        )
        assert r.status_code == 200, r.text
        [invite] = [x.body for x in await metas(dave, pb.Meta.ROSTER, 1)]
        assert invite.operation == pb.RosterBody.ADD and invite.from_.name == c and invite.reason == "hello"
        r = n2.api.post(f"/users/{d}/contacts/accept/users/{c}", token=n2.api.user_token(d))
        assert r.status_code == 200, r.text
        ops = {(x.body.operation, x.body.from_.name) for x in await metas(carol, pb.Meta.ROSTER, 2)}
        assert ops == {(pb.RosterBody.REMOTE_ACCEPT, d), (pb.RosterBody.ACCEPT, d)}
        await carol.close()
        await dave.close()

    run(scenario)


def test_block_pushes_cross_nodes(cluster: Cluster) -> None:
    """A REST block on node 1 pushes to alice's resource on node 2 that asked for the list, and
    bob (node 1) and alice (node 2) see each other go; an unblock shows them again."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("xa"), unique("xb")
    n1.api.register(a, b)
    assert n1.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200

    async def scenario() -> None:
        phone, bob = Client(n2, a, resource="phone"), Client(n1, b)
        blocked_q, unblocked_q = _block_event(phone, "blocked"), _block_event(phone, "unblocked")
        await phone.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        assert await phone.plugin["xep_0191"].get_blocked_jids() == set()
        await _drain(bob)
        await _drain(phone)
        assert n1.api.post(f"/users/{a}/blocks/users", json={"usernames": [b]}).status_code == 200
        push = await asyncio.wait_for(blocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "block") == {n1.jid(b)}
        assert (await _presence_from(bob, n1.jid(a), "unavailable"))["from"] == n1.jid(a, "phone")
        assert (await _presence_from(phone, n1.jid(b), "unavailable"))["from"] == n1.jid(b, "test")
        assert n1.api.delete(f"/users/{a}/blocks/users/{b}").status_code == 200
        push = await asyncio.wait_for(unblocked_q.get(), TIMEOUT)
        assert _pushed_jids(push, "unblock") == {n1.jid(b)}
        assert (await _presence_from(bob, n1.jid(a), "available"))["from"] == n1.jid(a, "phone")
        assert (await _presence_from(phone, n1.jid(b), "available"))["from"] == n1.jid(b, "test")
        await phone.close()
        await bob.close()

    run(scenario)


def test_a_block_set_on_one_node_holds_on_the_other(cluster: Cluster) -> None:
    """alice blocks bob on node 2 (over XMPP, then over REST after an unblock): bob, on node 1,
    can no longer reach her, neither with messages nor with presence; unblocked on node 2, his
    messages flow again. (Node 1 has been asked about blocks before, so it has its own copy.)"""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("ya"), unique("yb")
    n1.api.register(a, b)
    assert n1.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200

    async def scenario() -> None:
        alice, bob = Client(n2, a), Client(n1, b)
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        bob.send_message(mto=n1.jid(a), mbody="before", mtype="chat")
        assert (await alice.next_message())["body"] == "before"
        await alice.plugin["xep_0191"].block(n2.jid(b))
        assert n1.api.get(f"/users/{a}/blocks/users").json()["data"] == [b]
        await _drain(bob)
        await _drain(alice)
        bob.send_message(mto=n1.jid(a), mbody="let me in", mtype="chat")
        err = await asyncio.wait_for(bob.errors.get(), 5)
        assert err["error"]["condition"] == "service-unavailable"
        bob.send_presence(pstatus="still here")
        await bob.sync()
        await alice.quiet(0.5)
        assert _from(await _drain(alice), n1.jid(b)) == []
        # unblocked on node 2: node 1 lets bob's messages through again
        assert n2.api.delete(f"/users/{a}/blocks/users/{b}").status_code == 200
        await _drain(bob)
        bob.send_message(mto=n1.jid(a), mbody="thanks", mtype="chat")
        assert (await alice.next_message())["body"] == "thanks"
        await alice.close()
        await bob.close()

    run(scenario)


def _code(p: Presence) -> str | None:
    """The Easemob status a presence carries (None: a roster presence)."""
    x = p.xml.find("{urn:hxim:presence}x")
    return None if x is None else x.get("status")


def test_presence_subscriptions_made_on_one_node_hold_on_the_other(cluster: Cluster) -> None:
    """watcher (node 1) follows target's Easemob presence over REST on node 1; target logs in on
    node 2, has a status set over REST on node 1 and logs out: watcher is told each time."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    t, w = unique("tgt"), unique("watch")
    n1.api.register(t, w)

    async def scenario() -> None:
        early = Client(n2, t, resource="early")  # node 2 has seen someone come and go before
        await early.online()
        await early.close()
        watcher = Client(n1, w)
        await watcher.online()
        r = n1.api.post(f"/users/{w}/presence/3600", json={"usernames": [t]})
        assert r.status_code == 200, r.text
        target = Client(n2, t, resource="phone")
        await target.online()
        p = await _presence_from(watcher, n1.jid(t))
        assert p["from"] == n1.jid(t, "phone") and p["type"] == "available" and _code(p) == "1"
        await until(seen_online(nodes, t))
        r = n1.api.post(f"/users/{t}/presence/phone/2", json={"ext": "in a meeting"})
        assert r.status_code == 200, r.text
        p = await _presence_from(watcher, n1.jid(t))
        assert p["status"] == "in a meeting" and _code(p) == "2"
        await target.close()
        p = await _presence_from(watcher, n1.jid(t), "unavailable")
        assert _code(p) == "0"
        await watcher.close()

    run(scenario)
