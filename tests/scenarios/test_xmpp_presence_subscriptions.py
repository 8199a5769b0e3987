"""Easemob presence subscriptions seen by XMPP clients (slixmpp over TCP): a user subscribed over
REST is told when the user they follow logs in, has a status set over REST, and logs out; a
follower who is also a contact gets each change once; a user who follows nobody gets nothing.
The REST reads see the live sessions, and a group's online count counts them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slixmpp.stanza import Presence
from xmpp_helpers import Client, XServer, run, until, xserver

from conftest import unique

__all__ = ["xserver"]

NS = "{urn:hxim:presence}x"


def _code(p: Presence) -> str | None:
    """The Easemob status a presence carries (None: a roster presence, which carries none)."""
    x = p.xml.find(NS)
    return None if x is None else x.get("status")


def _presence_of(xs: XServer, asker: str, name: str) -> dict[str, Any]:
    r = xs.api.post(f"/users/{asker}/presence", json={"usernames": [name]})
    assert r.status_code == 200, r.text
    [found] = r.json()["result"]
    return found


async def _nothing_more(*clients: Client, seconds: float = 0.5) -> None:
    await asyncio.sleep(seconds)
    for c in clients:
        assert c.presences.empty(), (c.name, c.presences.get_nowait())


def test_followers_are_told_of_logins_statuses_and_logouts(xserver: XServer) -> None:
    t, w, f, n = unique("tgt"), unique("watch"), unique("friend"), unique("none")
    api = xserver.api
    api.register(t, w, f, n)
    api.post(f"/users/{t}/contacts/users/{f}")  # f is a contact and follows t too
    for follower in (w, f):
        r = api.post(f"/users/{follower}/presence/3600", json={"usernames": [t]})
        assert r.status_code == 200, r.text
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": t,
                                        "members": [w, n]}).json()["data"]["groupid"]

    def online_members() -> int:
        return int(api.get(f"/presence/online/{gid}/type/1").json()["result"])

    async def scenario() -> None:
        watcher, friend, nobody = Client(xserver, w), Client(xserver, f), Client(xserver, n)
        for c in (watcher, friend, nobody):
            await c.online()
        assert online_members() == 2  # w and n: f is no member, t is not here yet
        await _nothing_more(watcher, friend, nobody, seconds=0.2)

        # t logs in: the follower is told; the contact gets the roster presence alone
        target = Client(xserver, t, resource="phone")
        await target.online()
        p = await watcher.next_presence()
        assert p["from"] == xserver.jid(t, "phone") and p["type"] == "available" and _code(p) == "1"
        p = await friend.next_presence()
        assert p["from"] == xserver.jid(t, "phone") and _code(p) is None
        assert (await target.next_presence())["from"] == xserver.jid(f, "test")  # the probe answer
        assert online_members() == 3
        found = _presence_of(xserver, w, t)
        assert found["status"] == {"phone": "1"} and int(found["last_time"]) > 0

        # a status set over REST: every follower, and t's own session
        r = api.post(f"/users/{t}/presence/phone/2", json={"ext": "in a meeting"})
        assert r.status_code == 200 and r.json() == {"result": "ok"}
        for c in (watcher, friend, target):
            p = await c.next_presence()
            assert p["from"] == xserver.jid(t, "phone"), c.name
            assert p["type"] == "available" and p["status"] == "in a meeting" and _code(p) == "2", c.name
        assert _presence_of(xserver, w, t)["status"] == {"phone": "2"}
        assert online_members() == 3  # online is a session, whatever status is set

        # t logs out: the follower is told, the contact once; the status set went with the device
        await target.close()
        p = await watcher.next_presence()
        assert p["from"] == xserver.jid(t, "phone") and p["type"] == "unavailable" and _code(p) == "0"
        p = await friend.next_presence()
        assert p["type"] == "unavailable" and _code(p) is None
        await until(lambda: online_members() == 2)
        found = _presence_of(xserver, w, t)
        assert found["status"] == {} and found["ext"] == ""

        await _nothing_more(watcher, friend, nobody)
        for c in (watcher, friend, nobody):
            await c.close()

    run(scenario)


def test_no_presence_between_a_follower_and_a_user_who_blocks_them(xserver: XServer) -> None:
    t, w = unique("tgt"), unique("watch")
    api = xserver.api
    api.register(t, w)
    api.post(f"/users/{w}/presence/3600", json={"usernames": [t]})
    api.post(f"/users/{t}/blocks/users", json={"usernames": [w]})

    async def scenario() -> None:
        watcher = Client(xserver, w)
        await watcher.online()
        target = Client(xserver, t, resource="pc")
        await target.online()
        api.post(f"/users/{t}/presence/pc/5", json={"ext": "away"})
        await target.close()
        await _nothing_more(watcher)
        api.delete(f"/users/{t}/blocks/users/{w}")
        api.post(f"/users/{t}/presence/pc/5", json={"ext": "away"})  # no session: the status alone
        p = await watcher.next_presence()
        assert p["from"] == xserver.jid(t, "pc") and p["status"] == "away" and _code(p) == "5"
        await watcher.close()

    run(scenario)
