"""Easemob presence: each user's status per device with a custom text, and the subscriptions
through which users follow each other's (the presence_set, presence_subscribe,
presence_subscription_list_obtain, presence_get, presence_unsubscribe and
presence_group_online_count_obtain pages).

* **A device's status** is what was set for it over REST (`set_status`: `0` offline, `1` online,
  other digits a custom status), else `1` while a session of any protocol is available on that
  resource. A user's presence: those devices (a user with neither shows none), the custom text
  `ext` of the latest status set, and `last_time`, when this node last saw one of the user's
  sessions come or go, or their status set (Unix seconds, 0 if never).
* **A session that goes away takes what was set for its resource with it**: the device is
  offline (`0`), whatever custom status it had.
* **Subscriptions**: at most `presence_batch_max` users a call, each for `expiry` seconds (at
  most `presence_expiry_max_seconds`); subscribing again replaces the expiry. Nobody follows
  themselves. A user follows at most `presence_subscriptions_max` users: past it the
  subscriptions closest to their expiry make room (the client SDKs' documentation); a user is
  followed by at most `presence_subscribers_max` users, and further subscriptions to them are
  refused. An expired subscription counts for nothing, and the next write that meets it (a
  subscribe or unsubscribe by its subscriber, a status set on its target) removes it.
* **Who is told** (`PresenceStatus`, through `PresenceService.tell`: no presence passes between
  two users when either blocks the other): the available sessions of the users who follow the
  user, when a status is set over REST and when a session becomes available or goes away
  (`device_changed`, a `PresenceService` device hook), but those the roster broadcast already
  told of that change (contacts: one change, one stanza each). A status set over REST also goes to
  the user's own available sessions (Easemob tells the publisher too).
* **A group's online members** are its members with an available session, whatever status was
  set over REST.

Reads answer for users that exist; unknown targets are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hxim import errors
from hxim.config import Settings
from hxim.hub import PresenceStatus, Router
from hxim.model import App, User, now_ms
from hxim.services.presence import PresenceService
from hxim.services.rooms import RoomService
from hxim.storage import Database
from hxim.storage.presence import (
    StatusRow,
    clear_status_txn,
    device_view_txn,
    followed_ids_txn,
    presences_txn,
    set_status_txn,
    subscribe_txn,
    unsubscribe_txn,
    user_subscriptions_txn,
    with_status_ids_txn,
)

__all__ = ["PresenceSubscriptions", "UserPresence"]

OFFLINE = "0"
ONLINE = "1"


@dataclass(frozen=True, slots=True)
class UserPresence:
    """One user's presence as the REST answers show it; `expiry` (Unix seconds) in an answer to a
    subscription."""

    username: str
    last_time: int
    ext: str
    devices: dict[str, str]
    expiry: int | None = None


class PresenceSubscriptions:
    def __init__(
        self, db: Database, settings: Settings, router: Router, presence: PresenceService, rooms: RoomService
    ) -> None:
        self.db = db
        self.settings = settings
        self.router = router
        self.presence = presence
        self.rooms = rooms
        # (app uuid as an int, user key) -> when this node last saw a session of theirs come or go
        self._seen: dict[tuple[int, str], int] = {}
        # per app, read at its first login or logout: the users someone follows, and those with a
        # status set over REST (both only grow here: an id that no longer belongs costs a query)
        self._followed_ids: dict[str, set[int]] = {}
        self._status_ids: dict[str, set[int]] = {}

    async def _followed(self, app: App, now: int) -> set[int]:
        found = self._followed_ids.get(app.id)
        if found is None:
            found = self._followed_ids[app.id] = await self.db.read(followed_ids_txn, app.id, now)
        return found

    def changed_elsewhere(self, app_id: str) -> None:
        """Another node of a cluster changed who follows whom, or a status: read them again."""
        self._followed_ids.pop(app_id, None)
        self._status_ids.pop(app_id, None)

    def reset(self) -> None:
        self._followed_ids.clear()
        self._status_ids.clear()

    async def _statuses(self, app: App) -> set[int]:
        found = self._status_ids.get(app.id)
        if found is None:
            found = self._status_ids[app.id] = await self.db.read(with_status_ids_txn, app.id)
        return found

    def _has_status(self, app: App, user: User) -> None:
        known = self._status_ids.get(app.id)
        if known is not None:  # else read with the row just written, when first needed
            known.add(user.id)

    # --- what a user's presence is ----------------------------------------------------------------
    def _presence(self, app: App, user: User, rows: list[StatusRow], expiry: int | None = None) -> UserPresence:
        devices = {s.resource: ONLINE for s in self.router.resources(app.uuid, user.key)}
        ext = ""
        last = self._seen.get((app.uuid.int, user.key), 0)
        for row in rows:  # oldest first: the latest custom text wins
            devices[row.resource] = row.status
            ext = row.ext
            last = max(last, row.updated // 1000)
        return UserPresence(user.username, last, ext, devices, expiry)

    @staticmethod
    def _event(presence: UserPresence, resource: str) -> PresenceStatus:
        devices = presence.devices
        return PresenceStatus(
            presence.username,
            resource,
            devices.get(resource, OFFLINE),
            presence.ext,
            presence.last_time,
            tuple(sorted(devices.items())),
        )

    # --- checks -----------------------------------------------------------------------------------
    def _check_status(self, resource: str, status: str, ext: str | None) -> None:
        s = self.settings
        if ext is None:
            raise errors.illegal_argument("ext cannot be null")
        if len(ext.encode()) > s.presence_ext_max_bytes:
            raise errors.illegal_argument("ext is too big")
        if not (status.isascii() and status.isdecimal()) or len(status) > s.presence_status_max_length:
            raise errors.illegal_argument(
                f"status must be at most {s.presence_status_max_length} digits: 0 offline, 1 online, others custom"
            )
        if len(resource) > s.presence_resource_max_length:
            raise errors.illegal_argument(f"resource is longer than {s.presence_resource_max_length} characters")

    def _check_names(self, names: list[str], empty: str, too_many: str) -> list[str]:
        """The distinct case-folded names, in order; `empty` and `too_many` are the refusals."""
        if not names:
            raise errors.illegal_argument(empty)
        if len(names) > self.settings.presence_batch_max:
            raise errors.illegal_argument(too_many)
        return list(dict.fromkeys(n.lower() for n in names))

    # --- setting a status -------------------------------------------------------------------------
    async def set_status(self, app: App, uid: str, resource: str, status: str, ext: str | None) -> None:
        """Set the status and custom text of the user's device `resource`; their followers and
        their own sessions are told. 404 for a user that does not exist."""
        self._check_status(resource, status, ext)
        assert ext is not None
        now = now_ms()

        done = await self.db.write(set_status_txn, app.id, uid.lower(), resource, status, ext, now)
        if done is None:
            raise errors.user_not_found()
        user, followers, rows = done
        self._has_status(app, user)
        self.router.tell_nodes("presence-subscriptions", app.id)
        event = self._event(self._presence(app, user, rows), resource)
        await self.presence.tell(app, user, event, followers)
        self.router.push(app.uuid, user.key, event)

    async def device_changed(self, app: App, user: User, resource: str, told: set[str]) -> None:
        """One of the user's sessions became available or went away (a `PresenceService` device
        hook; `told`: the users the roster broadcast told). A device that went away loses what
        was set for it; the user's followers but `told` are shown the change."""
        now = now_ms()
        self._seen[(app.uuid.int, user.key)] = now // 1000
        gone = all(s.resource != resource for s in self.router.resources(app.uuid, user.key))

        # most users are followed by nobody and set no status: no query for them (what a node
        # knows of both is a superset: a stale entry only costs the query)
        followed = user.id in await self._followed(app, now)
        with_status = gone and user.id in await self._statuses(app)
        if not followed and not with_status:
            return
        followers, rows = await self.db.read(device_view_txn, user.id, now, with_status)
        if gone and any(r.resource == resource for r in rows):
            await self.db.write(clear_status_txn, user.id, resource)
            rows = [r for r in rows if r.resource != resource]
        followers = [k for k in followers if k not in told]
        if followers:
            event = self._event(self._presence(app, user, rows), resource)
            await self.presence.tell(app, user, event, followers)

    async def forget(self, app: App, victims: Iterable[User]) -> None:
        """Deleted users: their names may come back as someone else."""
        for user in victims:
            self._seen.pop((app.uuid.int, user.key), None)

    # --- subscriptions ----------------------------------------------------------------------------
    async def subscribe(self, app: App, uid: str, names: list[str], expiry: int) -> list[UserPresence]:
        """`uid` follows the users `names` (those that exist) for `expiry` seconds; returns their
        presences with the subscription's end. 404 for a subscriber that does not exist."""
        s = self.settings
        keys = self._check_names(names, "usernames is empty", "too many sub presence")
        if uid.lower() in keys:
            raise errors.illegal_argument("you can't sub yourself")
        if not 0 < expiry <= s.presence_expiry_max_seconds:
            raise errors.illegal_argument(f"expiry must be from 1 to {s.presence_expiry_max_seconds} seconds")
        now = now_ms()
        until = now + expiry * 1000

        limits = (s.presence_subscribers_max, s.presence_subscriptions_max)
        done = await self.db.write(subscribe_txn, app.id, uid.lower(), keys, now, until, *limits)
        if done is None:
            raise errors.user_not_found()
        if done.full is not None:
            raise errors.illegal_argument(
                f"user {done.full.username} is followed by {s.presence_subscribers_max} users already"
            )
        targets, rows = done.targets, done.rows
        (await self._followed(app, now)).update(t.id for t in targets)
        self.router.tell_nodes("presence-subscriptions", app.id)
        return [self._presence(app, t, rows.get(t.id, []), until // 1000) for t in targets]

    async def unsubscribe(self, app: App, uid: str, names: list[str]) -> None:
        """`uid` stops following `names` (nothing to stop, or no such user, is no error)."""
        keys = self._check_names(names, "usernames cannot be null", "too many unsub presences")
        now = now_ms()

        await self.db.write(unsubscribe_txn, app.id, uid.lower(), keys, now)

    async def subscriptions(self, app: App, uid: str, page: int, size: int) -> tuple[int, list[tuple[str, int]]]:
        """(how many users `uid` follows, page `page` of `size` of them as (username, expiry in
        Unix seconds), by username); nothing for a user that does not exist. Pages count from 1;
        0 is the first page too, as the Web SDK's documentation asks for it."""
        if not 1 <= size <= self.settings.presence_sublist_page_max:
            raise errors.illegal_argument(f"pageSize must be from 1 to {self.settings.presence_sublist_page_max}")
        if page < 0:
            raise errors.illegal_argument("pageNum must be 1 or more")
        page = max(page, 1)
        now = now_ms()

        total, found = await self.db.read(user_subscriptions_txn, app.id, uid.lower(), now, (page - 1) * size, size)
        return total, [(name, expiry // 1000) for name, expiry in found]

    # --- reading presences ------------------------------------------------------------------------
    async def presences(self, app: App, uid: str, names: list[str]) -> list[UserPresence]:
        """The presence of each of `names` that exists, in the order asked (no subscription
        needed); nothing when `uid` does not exist."""
        if len(names) > self.settings.presence_batch_max:
            raise errors.illegal_argument("too many get presences")
        keys = list(dict.fromkeys(n.lower() for n in names))

        found, rows = await self.db.read(presences_txn, app.id, uid.lower(), keys)
        return [self._presence(app, u, rows.get(u.id, [])) for u in found]

    async def group_online(self, app: App, group_id: str, query_type: str) -> int:
        """How many members of group `group_id` have an available session. `query_type` 1 asks
        for a group; 0 is Easemob's for a Circle server, which this server has none of."""
        if query_type not in ("0", "1"):
            raise errors.illegal_argument("Type must be 0 or 1.")
        if query_type == "0":
            raise errors.illegal_argument("Type 0 counts the members of a Circle server; this server has none.")
        members = await self.rooms.members(app, group_id)
        return len(self.router.online(app.uuid, [name.lower() for name, _ in members]))
