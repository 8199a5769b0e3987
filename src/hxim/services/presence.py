"""Presence: who sees whose availability (RFC 6121 §4, XEP-0191 §3.3–§3.4).

The rules, whatever protocol the users' sessions speak:

* A resource's available and unavailable presence goes to the available resources of the
  user's contacts and to the user's own other available resources (`broadcast`); a newly
  available resource is shown the current presence of its contacts' available resources
  (`current`, the probe answer).
* No presence passes between two users when either blocks the other (`BlockIndex.either_way`),
  except the `unavailable` that a new block itself causes: the blocked contact sees the blocker's
  resources go, and the blocker theirs (`between`, on a block); an unblock shows each the other's
  current presence again.
* A directed presence (RFC 6121 §4.6) goes to the named user (or one resource), contact or not,
  unless either blocks the other.
* New contacts exchange current presences; former contacts see each other go (`between`).
* When a resource becomes available or goes away, the `device_hooks` learn of it, with the users
  the broadcast already told (`PresenceSubscriptions` tells the users who follow the user's
  Easemob presence, but those: one change, one stanza each).

The user's contacts come from the caller (an XMPP session keeps its roster), the sessions and
their current presence from the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from hxim.hub import Event, PresenceChanged, Router
from hxim.model import App, User
from hxim.services.blocks import BlockIndex

__all__ = ["DeviceHook", "PresenceService"]

# (app, user, resource, keys of the users already told): one of the user's resources became
# available, or went away (the router says which: it lists the available sessions).
DeviceHook = Callable[[App, User, str, set[str]], Awaitable[None]]


class PresenceService:
    def __init__(self, router: Router, blocks: BlockIndex) -> None:
        self.router = router
        self.blocks = blocks
        self.device_hooks: list[DeviceHook] = []

    def _users(self, app: App, keys: Iterable[str]) -> dict[str, User]:
        """The users among `keys` with an available session, as their sessions loaded them."""
        found: dict[str, User] = {}
        for key in keys:
            for s in self.router.resources(app.uuid, key):
                if s.user is not None:
                    found[key] = s.user
                    break
        return found

    async def tell(self, app: App, user: User, event: Event, keys: Iterable[str]) -> set[str]:
        """`event`, about `user`, to the available resources of the users `keys` but those who
        block `user` or whom `user` blocks; returns the keys told."""
        peers = self._users(app, sorted(keys))
        if not peers:
            return set()
        hidden = await self.blocks.either_way(user, list(peers.values()))
        told = set()
        for key in peers:
            if key not in hidden:
                self.router.push(app.uuid, key, event)
                told.add(key)
        return told

    async def broadcast(
        self, app: App, user: User, event: PresenceChanged, contacts: Iterable[str], *, arrived: bool = False
    ) -> None:
        """One resource's presence to its contacts and to the user's other resources. `arrived`:
        this presence made the resource available (an `unavailable` one always ends it)."""
        self.router.changed(app.uuid, user.key, event.resource)  # (for the other nodes of a cluster)
        told = await self.tell(app, user, event, contacts)
        self.router.push(app.uuid, user.key, event, skip=event.resource)
        if arrived or not event.available:
            told.add(user.key)
            for hook in self.device_hooks:
                await hook(app, user, event.resource, told)

    async def current(self, app: App, user: User, keys: Iterable[str]) -> list[PresenceChanged]:
        """The current presence of each available resource of `keys` that `user` may see."""
        peers = self._users(app, sorted(keys))
        if not peers:
            return []
        hidden = await self.blocks.either_way(user, list(peers.values()))
        out: list[PresenceChanged] = []
        for key in peers:
            if key not in hidden:
                out.extend(s.presence for s in self.router.resources(app.uuid, key) if s.presence is not None)
        return out

    async def directed(self, app: App, user: User, event: PresenceChanged, key: str, resource: str | None) -> int:
        """A presence addressed to user `key` (to one of their resources when `resource`)."""
        peers = self._users(app, [key])
        if not peers or await self.blocks.either_way(user, [peers[key]]):
            return 0
        return self.router.push(app.uuid, key, event, resource=resource)

    async def between(self, app: App, a: User, b: User, visible: bool) -> None:
        """`a` and `b` start (`visible`) or stop seeing each other: each one's available resources
        are shown to the other's as they are now, or as gone."""
        if visible and await self.blocks.either_way(a, [b]):
            return
        router = self.router
        for one, other in ((a, b), (b, a)):
            for s in router.resources(app.uuid, one.key):
                if s.presence is None:
                    continue
                shown = s.presence if visible else PresenceChanged(one.username, s.resource, False)
                router.push(app.uuid, other.key, shown)
