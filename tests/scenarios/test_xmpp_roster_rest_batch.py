"""The batch contact calls of today's Easemob API (`POST /users/{u}/contacts/import`, `DELETE
/contacts/users/{u}`) tell online XMPP sessions what a single add or remove tells them: a roster
push to both users' sessions (RFC 6121 §2.1.6), and presence between them."""

from __future__ import annotations

from test_xmpp_roster_blocking import _drain_presences, _from, _push, _roster
from xmpp_helpers import Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]


def test_import_and_remove_all_reach_both_rosters(xserver: XServer) -> None:
    a, b, c, d = unique("ia"), unique("ib"), unique("ic"), unique("id")
    xs = xserver
    xs.api.register(a, b, c, d)
    assert xs.api.post(f"/users/{b}/contacts/users/{d}").status_code == 200

    async def scenario() -> None:
        alice, bob, carol = Client(xs, a), Client(xs, b), Client(xs, c)
        for client in (alice, bob, carol):
            await client.online()
            await _drain_presences(client)

        async def told(subscription: str, presence: str) -> None:
            """Alice's session gets both items, each friend's the one of alice; alice and bob see
            each other come or go."""
            pushed = {**await _push(alice), **await _push(alice)}
            assert pushed == {xs.jid(b): (subscription, None), xs.jid(c): (subscription, None)}
            assert await _push(bob) == {xs.jid(a): (subscription, None)}
            assert await _push(carol) == {xs.jid(a): (subscription, None)}
            assert [p["type"] for p in _from(await _drain_presences(bob), xs.jid(a))] == [presence]
            assert [p["type"] for p in _from(await _drain_presences(alice), xs.jid(c))] == [presence]

        r = xs.api.post(f"/users/{a}/contacts/import", json={"usernames": [b, c, unique("ghost")]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["success"] == [b, c]
        await told("both", "available")
        assert await _roster(alice) == {xs.jid(b): ("both", None), xs.jid(c): ("both", None)}
        # remove all: every former friend's session is told, and only theirs
        assert xs.api.delete(f"/contacts/users/{a}").status_code == 200
        await told("remove", "unavailable")
        assert await _roster(alice) == {}
        assert await _roster(bob) == {xs.jid(d): ("both", None)}
        assert await _roster(carol) == {}
        for client in (alice, bob, carol):
            await client.close()

    run(scenario)
