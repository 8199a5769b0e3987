"""Queries on Easemob presence (tables `presence_subscriptions` and `presence_status`).

A subscription is (subscriber, target, expiry in milliseconds); a status row is what was set over
REST for one device (`resource`) of a user: its status, the custom text `ext`, when (`updated`,
milliseconds). Users are named by their row ids here; every row goes with its users (ON DELETE
CASCADE). Nothing here compares with the clock but through the `now` it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from hxim.model import User
from hxim.storage.database import Query
from hxim.storage.tables import presence_status, presence_subscriptions, users
from hxim.storage.users import get_user_txn, get_users_by_keys_txn

__all__ = [
    "StatusRow",
    "StatusSet",
    "Subscribed",
    "device_view_txn",
    "followed_ids_txn",
    "presences_txn",
    "set_status_txn",
    "subscribe_txn",
    "unsubscribe_txn",
    "user_subscriptions_txn",
    "with_status_ids_txn",
    "followers_txn",
    "statuses_txn",
    "put_status_txn",
    "clear_status_txn",
    "drop_expired_txn",
    "subscriber_counts_txn",
    "put_subscriptions_txn",
    "evict_subscriptions_txn",
    "remove_subscriptions_txn",
    "subscriptions_page_txn",
]

subs = presence_subscriptions


class StatusRow(NamedTuple):
    """One device's status as set over REST."""

    resource: str
    status: str
    ext: str
    updated: int


# Run at every login and logout of a user (`PresenceSubscriptions.device_changed`): compiled once.
_FOLLOWERS = Query(
    select(users.c.username_key)
    .join(subs, subs.c.subscriber_id == users.c.id)
    .where(subs.c.target_id == bindparam("target"), subs.c.expiry > bindparam("now"))
)
_STATUSES = Query(
    select(
        presence_status.c.user_id,
        presence_status.c.resource,
        presence_status.c.status,
        presence_status.c.ext,
        presence_status.c.updated,
    )
    .where(presence_status.c.user_id.in_(bindparam("ids", expanding=True)))
    .order_by(presence_status.c.user_id, presence_status.c.updated, presence_status.c.resource)
)


def followers_txn(conn: Connection, target_id: int, now: int) -> list[str]:
    """The case-folded usernames of the users whose subscription to `target_id` runs past `now`."""
    return [key for (key,) in _FOLLOWERS.all(conn, target=target_id, now=now)]


def statuses_txn(conn: Connection, user_ids: list[int]) -> dict[int, list[StatusRow]]:
    """The status rows of each of these users that has any, oldest update first."""
    out: dict[int, list[StatusRow]] = {}
    if user_ids:
        for user_id, resource, status, ext, updated in _STATUSES.all(conn, ids=user_ids):
            out.setdefault(user_id, []).append(StatusRow(resource, status, ext, updated))
    return out


def put_status_txn(
    conn: Connection, app_uuid: str, user_id: int, resource: str, status: str, ext: str, now: int
) -> None:
    """Set the status of the user's device `resource` (replacing what was set before)."""
    clear_status_txn(conn, user_id, resource)
    conn.execute(
        insert(presence_status),
        {"user_id": user_id, "resource": resource, "app_uuid": app_uuid, "status": status, "ext": ext, "updated": now},
    )


def clear_status_txn(conn: Connection, user_id: int, resource: str) -> None:
    """Forget what was set for the user's device `resource` (nothing there is no error)."""
    status = presence_status.c
    conn.execute(delete(presence_status).where(status.user_id == user_id, status.resource == resource))


def drop_expired_txn(
    conn: Connection, now: int, *, subscriber_id: int | None = None, target_id: int | None = None
) -> None:
    """Remove the subscriptions of `subscriber_id` (or to `target_id`) that ended by `now`."""
    query = delete(subs).where(subs.c.expiry <= now)
    if subscriber_id is not None:
        query = query.where(subs.c.subscriber_id == subscriber_id)
    if target_id is not None:
        query = query.where(subs.c.target_id == target_id)
    conn.execute(query)


def subscriber_counts_txn(conn: Connection, target_ids: list[int], now: int, but: int) -> dict[int, int]:
    """How many users other than `but` follow each of `target_ids` past `now` (absent: none)."""
    if not target_ids:
        return {}
    rows = conn.execute(
        select(subs.c.target_id, func.count())
        .where(subs.c.target_id.in_(target_ids), subs.c.expiry > now, subs.c.subscriber_id != but)
        .group_by(subs.c.target_id)
    )
    return {target: count for target, count in rows}


def put_subscriptions_txn(
    conn: Connection, app_uuid: str, subscriber_id: int, target_ids: list[int], expiry: int
) -> None:
    """`subscriber_id` follows each of `target_ids` until `expiry` (an earlier expiry is replaced)."""
    remove_subscriptions_txn(conn, subscriber_id, target_ids)
    if target_ids:
        row = {"subscriber_id": subscriber_id, "app_uuid": app_uuid, "expiry": expiry}
        conn.execute(insert(subs), [{**row, "target_id": t} for t in target_ids])


def evict_subscriptions_txn(conn: Connection, subscriber_id: int, keep: int, spare: Iterable[int]) -> None:
    """Past `keep` subscriptions of `subscriber_id`, remove those closest to their expiry, never
    the ones to `spare` (the ones just made)."""
    spared = set(spare)
    rows = conn.execute(
        select(subs.c.target_id).where(subs.c.subscriber_id == subscriber_id).order_by(subs.c.expiry, subs.c.target_id)
    ).all()
    extra = len(rows) - keep
    if extra <= 0:
        return
    victims = [t for (t,) in rows if t not in spared][:extra]
    remove_subscriptions_txn(conn, subscriber_id, victims)


def remove_subscriptions_txn(conn: Connection, subscriber_id: int, target_ids: list[int]) -> None:
    if target_ids:
        conn.execute(delete(subs).where(subs.c.subscriber_id == subscriber_id, subs.c.target_id.in_(target_ids)))


def subscriptions_page_txn(
    conn: Connection, subscriber_id: int, now: int, offset: int, limit: int
) -> tuple[int, list[tuple[str, int]]]:
    """(how many users `subscriber_id` follows past `now`, one page of them as (username, expiry)
    by username)."""
    live = (subs.c.subscriber_id == subscriber_id, subs.c.expiry > now)
    total = conn.execute(select(func.count()).select_from(subs).where(*live)).scalar() or 0
    rows = conn.execute(
        select(users.c.username, subs.c.expiry)
        .join(users, users.c.id == subs.c.target_id)
        .where(*live)
        .order_by(users.c.username_key)
        .offset(offset)
        .limit(limit)
    )
    return int(total), [(name, expiry) for name, expiry in rows]


# --- whole operations, one transaction each (the rules that need a consistent read live here as
# typed results; their wording is the service's) ---------------------------------------------------


class StatusSet(NamedTuple):
    """After a status was set: the user, their followers (keys) and their status rows."""

    user: User
    followers: list[str]
    rows: list[StatusRow]


def set_status_txn(
    conn: Connection, app_uuid: str, key: str, resource: str, status: str, ext: str, now: int
) -> StatusSet | None:
    """Set user `key`'s status for `resource`; None when there is no such user."""
    user = get_user_txn(conn, app_uuid, key)
    if user is None:
        return None
    put_status_txn(conn, app_uuid, user.id, resource, status, ext, now)
    drop_expired_txn(conn, now, target_id=user.id)
    return StatusSet(user, followers_txn(conn, user.id, now), statuses_txn(conn, [user.id]).get(user.id, []))


def device_view_txn(conn: Connection, user_id: int, now: int, rows_anyway: bool) -> tuple[list[str], list[StatusRow]]:
    """The user's followers, and their status rows if they have followers or `rows_anyway`."""
    followers = followers_txn(conn, user_id, now)
    rows = statuses_txn(conn, [user_id]).get(user_id, []) if followers or rows_anyway else []
    return followers, rows


class Subscribed(NamedTuple):
    """A subscription's outcome: the targets followed and their status rows, or the first target
    that has `subscribers_max` followers already (nothing written then)."""

    targets: list[User]
    rows: dict[int, list[StatusRow]]
    full: User | None = None


def subscribe_txn(
    conn: Connection,
    app_uuid: str,
    key: str,
    target_keys: list[str],
    now: int,
    until: int,
    subscribers_max: int,
    subscriptions_max: int,
) -> Subscribed | None:
    """User `key` follows the users `target_keys` (those that exist) until `until`; None when
    there is no such subscriber. The subscriber's row is locked (PostgreSQL; SQLite writes one at
    a time) so that their concurrent subscriptions are counted against each other."""
    subscriber = get_user_txn(conn, app_uuid, key)
    if subscriber is None:
        return None
    conn.execute(select(users.c.id).where(users.c.id == subscriber.id).with_for_update())
    targets = get_users_by_keys_txn(conn, app_uuid, target_keys)
    ids = [t.id for t in targets]
    drop_expired_txn(conn, now, subscriber_id=subscriber.id)
    counts = subscriber_counts_txn(conn, ids, now, subscriber.id)
    for target in targets:
        if counts.get(target.id, 0) >= subscribers_max:
            return Subscribed([], {}, target)
    put_subscriptions_txn(conn, app_uuid, subscriber.id, ids, until)
    evict_subscriptions_txn(conn, subscriber.id, subscriptions_max, ids)
    return Subscribed(targets, statuses_txn(conn, ids))


def unsubscribe_txn(conn: Connection, app_uuid: str, key: str, target_keys: list[str], now: int) -> None:
    """User `key` stops following `target_keys` (nothing to stop, or no such user, is nothing)."""
    subscriber = get_user_txn(conn, app_uuid, key)
    if subscriber is not None:
        targets = get_users_by_keys_txn(conn, app_uuid, target_keys)
        remove_subscriptions_txn(conn, subscriber.id, [t.id for t in targets])
        drop_expired_txn(conn, now, subscriber_id=subscriber.id)


def user_subscriptions_txn(
    conn: Connection, app_uuid: str, key: str, now: int, offset: int, limit: int
) -> tuple[int, list[tuple[str, int]]]:
    """`subscriptions_page_txn` for user `key`; nothing for a user that does not exist."""
    subscriber = get_user_txn(conn, app_uuid, key)
    if subscriber is None:
        return 0, []
    return subscriptions_page_txn(conn, subscriber.id, now, offset, limit)


def presences_txn(
    conn: Connection, app_uuid: str, key: str, target_keys: list[str]
) -> tuple[list[User], dict[int, list[StatusRow]]]:
    """The users `target_keys` that exist and their status rows, asked by user `key` (nothing
    when there is no such user)."""
    if not target_keys or get_user_txn(conn, app_uuid, key) is None:
        return [], {}
    found = get_users_by_keys_txn(conn, app_uuid, target_keys)
    return found, statuses_txn(conn, [u.id for u in found])


def followed_ids_txn(conn: Connection, app_uuid: str, now: int) -> set[int]:
    """The ids of the app's users someone follows past `now`."""
    rows = conn.execute(
        select(subs.c.target_id).where(subs.c.app_uuid == app_uuid, subs.c.expiry > now).distinct()
    )
    return {t for (t,) in rows}


def with_status_ids_txn(conn: Connection, app_uuid: str) -> set[int]:
    """The ids of the app's users with a status set over REST."""
    rows = conn.execute(select(presence_status.c.user_id).where(presence_status.c.app_uuid == app_uuid).distinct())
    return {u for (u,) in rows}
