"""Transactions on the attributes of groups and chat rooms: a group member's attributes (Easemob's
group_member_attribute_* pages), a chat room's attributes, each owned by the member who set it
(chatroom_custom_attribute_*), and chat-room members' tags with the mutes by tag
(chatroom_user_tag_*).

Each change takes the room's row lock first; one that the room refuses comes back as a `Refused`
(`storage.room_checks`) with nothing written. Per-key outcomes are codes (`TAKEN`, `MISSING`,
`FULL`) that the service words.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from hxim.model import User
from hxim.storage.groups import OWNER, Room, roles_txn, room_txn
from hxim.storage.room_checks import Refusal, Refused, find_user, find_users
from hxim.storage.room_lists import remove_mutes_txn, set_mutes_txn
from hxim.storage.tables import room_attributes, room_member_attributes, room_member_tags, users

__all__ = [
    "FULL",
    "MISSING",
    "TAKEN",
    "delete_room_attributes_txn",
    "member_attributes_txn",
    "member_tags_txn",
    "members_of_txn",
    "mute_tag_txn",
    "room_attributes_txn",
    "set_member_attributes_txn",
    "set_member_tags_txn",
    "set_room_attributes_txn",
]

TAKEN = "taken"  # the attribute is another member's (only a forced call changes it)
MISSING = "missing"  # no such attribute
FULL = "full"  # the room has as many attributes as allowed


def members_of_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str], lock: bool = False
) -> tuple[Room, dict[str, User], list[str]] | Refused:
    """The room, those of `names` who are members (by case-folded name) and the names that are
    not (unknown users included, as written); refused `NO_ROOM`."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=lock)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    found = find_users(conn, app_uuid, names)
    roles = roles_txn(conn, room.id, [u.id for u in found.values()])
    members = {k: u for k, u in found.items() if u.id in roles}
    return room, members, [n for n in names if n.lower() not in members]


def _member(conn: Connection, app_uuid: str, kind: str, room_id: int, username: str) -> tuple[Room, User] | Refused:
    """The room, locked, and a member of it: refused `NO_ROOM`, `NOT_MEMBER` (unknown users too)."""
    found = members_of_txn(conn, app_uuid, kind, room_id, [username], lock=True)
    if isinstance(found, Refused):
        return found
    room, members, outside = found
    if outside:
        return Refused(Refusal.NOT_MEMBER, (username,))
    return room, members[username.lower()]


# --- a group member's attributes ----------------------------------------------------------------------


def member_attributes_txn(
    conn: Connection, room_id: int, user_ids: list[int], names: list[str] | None = None
) -> dict[int, dict[str, str]]:
    """Each user's attributes in the room (only `names` when given), by user id."""
    out: dict[int, dict[str, str]] = {u: {} for u in user_ids}
    if not user_ids:
        return out
    t = room_member_attributes.c
    query = select(t.user_id, t.name, t.value).where(t.room_id == room_id, t.user_id.in_(user_ids))
    if names is not None:
        query = query.where(t.name.in_(names))
    for row in conn.execute(query.order_by(t.user_id, t.name)):
        out[row.user_id][row.name] = row.value
    return out


def _size(attributes: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())


def set_member_attributes_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, items: list[tuple[str, dict[str, str]]], max_bytes: int
) -> list[tuple[str, dict[str, str] | None]] | Refused:
    """Set members' attributes (an empty value removes one); for each (username, pairs) item, the
    member's attributes afterwards, or None when they would pass `max_bytes` (nothing written for
    them). Refused: `NO_ROOM`, `NOT_MEMBER` with every name that is not a member's."""
    found = members_of_txn(conn, app_uuid, kind, room_id, [n for n, _ in items], lock=True)
    if isinstance(found, Refused):
        return found
    room, members, outside = found
    if outside:
        return Refused(Refusal.NOT_MEMBER, tuple(outside))
    t = room_member_attributes.c
    out: list[tuple[str, dict[str, str] | None]] = []
    for name, pairs in items:
        user = members[name.lower()]
        current = member_attributes_txn(conn, room.id, [user.id])[user.id]
        after = {**current, **pairs}
        after = {k: v for k, v in after.items() if v != ""}
        if _size(after) > max_bytes:
            out.append((user.username, None))
            continue
        conn.execute(
            delete(room_member_attributes).where(t.room_id == room.id, t.user_id == user.id, t.name.in_(list(pairs)))
        )
        rows = [{"room_id": room.id, "user_id": user.id, "name": k, "value": v} for k, v in pairs.items() if v != ""]
        if rows:
            conn.execute(insert(room_member_attributes), rows)
        out.append((user.username, dict(sorted(after.items()))))
    return out


# --- a chat room's attributes -----------------------------------------------------------------------


def room_attributes_txn(conn: Connection, room_id: int, names: list[str] | None = None) -> dict[str, str]:
    t = room_attributes.c
    query = select(t.name, t.value).where(t.room_id == room_id)
    if names is not None:
        query = query.where(t.name.in_(names))
    return {r.name: r.value for r in conn.execute(query.order_by(t.updated, t.name))}


def _owners(conn: Connection, room_id: int, names: list[str]) -> dict[str, int]:
    t = room_attributes.c
    rows = conn.execute(select(t.name, t.owner_id).where(t.room_id == room_id, t.name.in_(names)))
    return {r.name: r.owner_id for r in rows}


def set_room_attributes_txn(
    conn: Connection,
    app_uuid: str,
    kind: str,
    room_id: int,
    username: str,
    pairs: dict[str, str],
    auto_delete: bool,
    forced: bool,
    per_room: int,
    now: int,
) -> tuple[str, dict[str, str], dict[str, str]] | Refused:
    """Set attributes of the room as `username`'s (a member): (their name, the pairs set, the
    code of each pair not set: `TAKEN` by another member unless `forced`, or `FULL`). Refused:
    `NO_ROOM`, `NOT_MEMBER`."""
    found = _member(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    owners = _owners(conn, room.id, list(pairs))
    count = len(room_attributes_txn(conn, room.id))
    done: dict[str, str] = {}
    refused: dict[str, str] = {}
    t = room_attributes.c
    for name, value in pairs.items():
        owner = owners.get(name)
        if owner is not None and owner != user.id and not forced:
            refused[name] = TAKEN
            continue
        if owner is None:
            if count >= per_room:
                refused[name] = FULL
                continue
            count += 1
        conn.execute(delete(room_attributes).where(t.room_id == room.id, t.name == name))
        conn.execute(
            insert(room_attributes).values(
                room_id=room.id, name=name, value=value, owner_id=user.id, auto_delete=auto_delete, updated=now
            )
        )
        done[name] = value
    return user.username, done, refused


def delete_room_attributes_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str, names: list[str] | None, forced: bool
) -> tuple[str, list[str], dict[str, str]] | Refused:
    """Remove attributes of the room as `username` (a member; `names` None: all they set): (their
    name, the names removed, the code of each not removed: `MISSING`, or `TAKEN` by another member
    unless `forced`). Refused: `NO_ROOM`, `NOT_MEMBER`."""
    found = _member(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    t = room_attributes.c
    if names is None:
        names = list(conn.execute(select(t.name).where(t.room_id == room.id, t.owner_id == user.id)).scalars())
    owners = _owners(conn, room.id, names)
    done: list[str] = []
    refused: dict[str, str] = {}
    for name in names:
        owner = owners.get(name)
        if owner is None:
            refused[name] = MISSING
        elif owner != user.id and not forced:
            refused[name] = TAKEN
        else:
            done.append(name)
    if done:
        conn.execute(delete(room_attributes).where(t.room_id == room.id, t.name.in_(done)))
    return user.username, done, refused


# --- chat-room members' tags --------------------------------------------------------------------------


def set_member_tags_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str, tags: list[str]
) -> Refused | None:
    """Replace a member's tags (their mute times by tag with them). Refused: `NO_ROOM`, `NOT_MEMBER`."""
    found = _member(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    t = room_member_tags.c
    conn.execute(delete(room_member_tags).where(t.room_id == room.id, t.user_id == user.id))
    if tags:
        conn.execute(
            insert(room_member_tags), [{"room_id": room.id, "user_id": user.id, "tag": g, "expire": 0} for g in tags]
        )
    return None


def member_tags_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str
) -> dict[str, int] | Refused:
    """A member's tags with the end of their mute by each (ms; -1 for ever, 0 none). Refused:
    `NO_ROOM`, `NOT_MEMBER`."""
    room = room_txn(conn, app_uuid, kind, room_id)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    user = find_user(conn, app_uuid, username)
    if user is None or user.id not in roles_txn(conn, room.id, [user.id]):
        return Refused(Refusal.NOT_MEMBER, (username,))
    t = room_member_tags.c
    rows = conn.execute(select(t.tag, t.expire).where(t.room_id == room.id, t.user_id == user.id).order_by(t.tag))
    return {r.tag: r.expire for r in rows}


def mute_tag_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, tag: str, tag_expire: int, mute_expire: int | None
) -> list[str] | Refused | None:
    """Mute the members with `tag` until `mute_expire` (None: unmute them), and mark the tag's
    mute end `tag_expire` on them; the names of the members concerned (the owner, who cannot be
    muted, left out). None when no member has the tag. Refused: `NO_ROOM`."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return Refused(Refusal.NO_ROOM)
    t = room_member_tags.c
    rows = conn.execute(
        select(users.c.id, users.c.username)
        .join(room_member_tags, t.user_id == users.c.id)
        .where(t.room_id == room.id, t.tag == tag)
        .order_by(users.c.id)
    ).all()
    if not rows:
        return None
    conn.execute(update(room_member_tags).where(t.room_id == room.id, t.tag == tag).values(expire=tag_expire))
    roles = roles_txn(conn, room.id, [r.id for r in rows])
    targets = [(r.id, r.username) for r in rows if roles.get(r.id) not in (None, OWNER)]
    ids = [i for i, _ in targets]
    if mute_expire is None:
        remove_mutes_txn(conn, room.id, ids)
    else:
        set_mutes_txn(conn, room.id, [(i, mute_expire) for i in ids])
    return [n for _, n in targets]
