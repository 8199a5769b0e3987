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

from hxim.storage.database import Query
from hxim.storage.tables import presence_status, presence_subscriptions, users

__all__ = [
    "StatusRow",
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
