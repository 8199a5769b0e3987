"""Queries on groups and chat rooms: rooms, members and roles, blocks, mutes, whitelist, super admins.

Groups and chat rooms share one model (`rooms.kind` is "group" or "chatroom"). The owner is a
member row with role "owner". Member lookups go through the primary key (room_id, user_id)
or the index (user_id, room_id), so no query here gets slower with the number of rooms or
users in an app; `fanout_txn` reads a room's whole membership in one indexed range scan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from hxim.model import User
from hxim.storage.tables import (
    blocks,
    room_applications,
    room_attributes,
    room_blocks,
    room_member_attributes,
    room_member_tags,
    room_members,
    room_mutes,
    room_threads,
    room_whitelist,
    rooms,
    users,
)

__all__ = [
    "joined_room_page_txn",
    "ADMIN",
    "MEMBER",
    "OWNER",
    "Fanout",
    "MemberList",
    "Room",
    "add_members_txn",
    "count_roles_txn",
    "delete_rooms_txn",
    "fanout_txn",
    "insert_room_txn",
    "joined_rooms_txn",
    "list_rooms_txn",
    "member_count_txn",
    "members_txn",
    "membership_counts_txn",
    "names_with_role_txn",
    "owned_rooms_txn",
    "remove_members_txn",
    "roles_txn",
    "room_txn",
    "rooms_by_ids_txn",
    "set_role_txn",
    "update_room_txn",
]

OWNER, ADMIN, MEMBER = "owner", "admin", "member"


@dataclass(slots=True)
class Room:
    """A group or a chat room. `owner` is the owner's username; `members` the member count
    (owner included) when the query asked for it."""

    id: int
    app_uuid: str
    kind: str
    name: str
    description: str
    public: bool
    membersonly: bool
    allowinvites: bool
    invite_need_confirm: bool
    maxusers: int
    custom: str
    mute_until: int
    owner_id: int
    owner: str
    created: int
    modified: int
    members: int = 0
    disabled: bool = False  # a disabled group refuses messages and its members' changes
    announcement: str = ""

    @property
    def room_id(self) -> str:
        return str(self.id)

    def muted_all(self, now: int) -> bool:
        return self.mute_until > now


@dataclass(slots=True)
class MemberList:
    """A room's whole membership as of (`version`, `count`): users, their roles (same order)
    and each user's position by case-folded name. A caller may keep it and hand it back to
    `fanout_txn`, which reuses it while the room's `members_version` and member count are
    unchanged. The users are for routing (id, name): their other fields may be stale."""

    version: int
    count: int
    users: list[User]
    roles: list[str]
    index: dict[str, int]


@dataclass(slots=True)
class Fanout:
    """What sending one message to a room needs, read in one transaction."""

    room_id: int
    mute_until: int
    members: MemberList
    disabled: bool = False
    sender: User | None = None  # the sender's user, when registered
    sender_role: str | None = None  # their role in the room, None when not a member
    sender_mute: int = 0  # their mute expiry (0: not muted)
    sender_whitelisted: bool = False
    sender_blocked: bool = False  # on the room's block list
    blockers: set[int] = field(default_factory=set)  # users who block the sender (user-level blocks)


_MEMBER_COUNT = (
    select(func.count()).select_from(room_members).where(room_members.c.room_id == rooms.c.id).scalar_subquery()
)
_ROOM_COLUMNS = (
    rooms.c.id,
    rooms.c.app_uuid,
    rooms.c.kind,
    rooms.c.name,
    rooms.c.description,
    rooms.c.public,
    rooms.c.membersonly,
    rooms.c.allowinvites,
    rooms.c.invite_need_confirm,
    rooms.c.maxusers,
    rooms.c.custom,
    rooms.c.mute_until,
    rooms.c.owner_id,
    users.c.username.label("owner"),
    rooms.c.created,
    rooms.c.modified,
    _MEMBER_COUNT.label("members"),
    rooms.c.disabled,
    rooms.c.announcement,
)
_ROOMS = select(*_ROOM_COLUMNS).join(users, users.c.id == rooms.c.owner_id)
_ROOM_BY_ID = _ROOMS.where(
    rooms.c.id == bindparam("id"), rooms.c.app_uuid == bindparam("app"), rooms.c.kind == bindparam("kind")
)


def _room(row: Any) -> Room:
    return Room(
        id=row.id,
        app_uuid=row.app_uuid,
        kind=row.kind,
        name=row.name,
        description=row.description,
        public=bool(row.public),
        membersonly=bool(row.membersonly),
        allowinvites=bool(row.allowinvites),
        invite_need_confirm=bool(row.invite_need_confirm),
        maxusers=row.maxusers,
        custom=row.custom,
        mute_until=row.mute_until,
        owner_id=row.owner_id,
        owner=row.owner,
        created=row.created,
        modified=row.modified,
        members=row.members or 0,
        disabled=bool(row.disabled),
        announcement=row.announcement,
    )


# --- rooms -----------------------------------------------------------------------------------------


def insert_room_txn(conn: Connection, values: dict[str, Any], members: list[tuple[int, str]], now: int) -> None:
    """Create a room (`values` are its columns) with its first members as (user id, role)."""
    conn.execute(insert(rooms), [values])
    conn.execute(
        insert(room_members), [{"room_id": values["id"], "user_id": u, "role": r, "joined": now} for u, r in members]
    )


def room_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, lock: bool = False) -> Room | None:
    """A room of this app and kind. `lock` takes the row lock (PostgreSQL) that serialises
    concurrent changes to one room; SQLite writers are serialised anyway."""
    if lock and conn.dialect.name != "sqlite":
        conn.execute(select(rooms.c.id).where(rooms.c.id == room_id).with_for_update())
    row = conn.execute(_ROOM_BY_ID, {"id": room_id, "app": app_uuid, "kind": kind}).first()
    return _room(row) if row else None


def rooms_by_ids_txn(conn: Connection, app_uuid: str, kind: str, ids: list[int]) -> list[Room]:
    rows = conn.execute(_ROOMS.where(rooms.c.app_uuid == app_uuid, rooms.c.kind == kind, rooms.c.id.in_(ids)))
    return [_room(r) for r in rows]


def list_rooms_txn(
    conn: Connection, app_uuid: str, kind: str, after: int | None, limit: int, public_only: bool = False
) -> list[Room]:
    """Rooms in creation (= id) order, starting after the id `after`."""
    query = _ROOMS.where(rooms.c.app_uuid == app_uuid, rooms.c.kind == kind)
    if public_only:
        query = query.where(rooms.c.public.is_(True))
    if after is not None:
        query = query.where(rooms.c.id > after)
    return [_room(r) for r in conn.execute(query.order_by(rooms.c.id).limit(limit))]


def update_room_txn(conn: Connection, room_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(rooms).where(rooms.c.id == room_id).values(**values))


def delete_rooms_txn(conn: Connection, room_ids: list[int]) -> None:
    """Delete rooms, with the threads of the groups among them (the link alone would cascade)."""
    if room_ids:
        threads = select(room_threads.c.room_id).where(room_threads.c.parent_id.in_(room_ids))
        conn.execute(delete(rooms).where(rooms.c.id.in_(threads.scalar_subquery())))
        conn.execute(delete(rooms).where(rooms.c.id.in_(room_ids)))


def owned_rooms_txn(conn: Connection, user_ids: list[int]) -> list[tuple[int, str]]:
    """(room id, kind) of every room owned by one of `user_ids`."""
    rows = conn.execute(select(rooms.c.id, rooms.c.kind).where(rooms.c.owner_id.in_(user_ids)))
    return [(r.id, r.kind) for r in rows]


# --- members and roles -----------------------------------------------------------------------------

_COUNT = select(func.count()).select_from(room_members).where(room_members.c.room_id == bindparam("room"))
_OWNER_FIRST = case((room_members.c.role == OWNER, 0), else_=1)


def member_count_txn(conn: Connection, room_id: int) -> int:
    return conn.execute(_COUNT, {"room": room_id}).scalar_one()


def members_txn(conn: Connection, room_id: int, offset: int = 0, limit: int | None = None) -> list[tuple[str, str]]:
    """(username, role) of the members: the owner first, then in the order they joined."""
    query = (
        select(users.c.username, room_members.c.role)
        .join(users, users.c.id == room_members.c.user_id)
        .where(room_members.c.room_id == room_id)
        .order_by(_OWNER_FIRST, room_members.c.joined, room_members.c.user_id)
    )
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return [(r.username, r.role) for r in conn.execute(query)]


def roles_txn(conn: Connection, room_id: int, user_ids: list[int]) -> dict[int, str]:
    """The role of each of `user_ids` that is a member."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(room_members.c.user_id, room_members.c.role).where(
            room_members.c.room_id == room_id, room_members.c.user_id.in_(user_ids)
        )
    )
    return {r.user_id: r.role for r in rows}


_THREADS_OF = select(room_threads.c.room_id).where(room_threads.c.parent_id == bindparam("room"))
_BUMP = update(rooms).where(rooms.c.id == bindparam("room")).values(members_version=rooms.c.members_version + 1)


def _bump(conn: Connection, room_id: int) -> None:
    """Every change to a room's members or roles bumps its `members_version`."""
    conn.execute(_BUMP, {"room": room_id})


def add_members_txn(conn: Connection, room_id: int, user_ids: list[int], role: str, now: int) -> None:
    """Make users members; however they got in, their requests to join are answered by it."""
    if user_ids:
        conn.execute(
            insert(room_members), [{"room_id": room_id, "user_id": u, "role": role, "joined": now} for u in user_ids]
        )
        # a member has no request to join pending any more, however they came in
        conn.execute(
            delete(room_applications).where(
                room_applications.c.room_id == room_id, room_applications.c.user_id.in_(user_ids)
            )
        )
        _bump(conn, room_id)


def remove_members_txn(conn: Connection, room_id: int, user_ids: list[int]) -> None:
    """Take users out of a room, with their mutes, whitelist entries, member attributes and tags
    there, and the chat-room attributes they set to be deleted when they leave."""
    if not user_ids:
        return
    for table in (room_members, room_mutes, room_whitelist, room_member_attributes, room_member_tags):
        conn.execute(delete(table).where(table.c.room_id == room_id, table.c.user_id.in_(user_ids)))
    conn.execute(  # a chat room's attributes set by them to go when they leave
        delete(room_attributes).where(
            room_attributes.c.room_id == room_id,
            room_attributes.c.owner_id.in_(user_ids),
            room_attributes.c.auto_delete.is_(True),
        )
    )
    _bump(conn, room_id)
    # who leaves a group leaves its threads
    threads = [r[0] for r in conn.execute(_THREADS_OF, {"room": room_id})]
    if threads:
        conn.execute(
            delete(room_members).where(room_members.c.room_id.in_(threads), room_members.c.user_id.in_(user_ids))
        )
        conn.execute(
            update(rooms).where(rooms.c.id.in_(threads)).values(members_version=rooms.c.members_version + 1)
        )


def set_role_txn(conn: Connection, room_id: int, user_ids: list[int], role: str) -> None:
    conn.execute(
        update(room_members)
        .where(room_members.c.room_id == room_id, room_members.c.user_id.in_(user_ids))
        .values(role=role)
    )
    _bump(conn, room_id)


def membership_counts_txn(conn: Connection, kind: str, user_ids: list[int]) -> dict[int, int]:
    """How many rooms of `kind` each of `user_ids` belongs to (absent: none)."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(room_members.c.user_id, func.count())
        .join(rooms, rooms.c.id == room_members.c.room_id)
        .where(room_members.c.user_id.in_(user_ids), rooms.c.kind == kind)
        .group_by(room_members.c.user_id)
    )
    return {r[0]: r[1] for r in rows}


def joined_rooms_txn(
    conn: Connection, kind: str, user_id: int, offset: int = 0, limit: int | None = None
) -> list[tuple[int, str]]:
    """(room id, name) of the rooms of `kind` the user belongs to, oldest room first."""
    query = (
        select(rooms.c.id, rooms.c.name)
        .join(room_members, room_members.c.room_id == rooms.c.id)
        .where(room_members.c.user_id == user_id, rooms.c.kind == kind)
        .order_by(rooms.c.id)
    )
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return [(r.id, r.name) for r in conn.execute(query)]


def joined_room_page_txn(conn: Connection, kind: str, user_id: int, offset: int, limit: int) -> tuple[int, list[Room]]:
    """(how many rooms of `kind` the user belongs to, a page of them, oldest room first)."""
    mine = (room_members.c.user_id == user_id, rooms.c.kind == kind)
    total = conn.execute(
        select(func.count()).select_from(rooms.join(room_members, room_members.c.room_id == rooms.c.id)).where(*mine)
    ).scalar()
    theirs = select(room_members.c.room_id).where(room_members.c.user_id == user_id).scalar_subquery()
    page = conn.execute(  # no join on room_members here: the member count reads that table itself
        _ROOMS.where(rooms.c.id.in_(theirs), rooms.c.kind == kind).order_by(rooms.c.id).offset(offset).limit(limit)
    )
    return int(total or 0), [_room(r) for r in page]


def names_with_role_txn(conn: Connection, room_id: int, role: str) -> list[str]:
    rows = conn.execute(
        select(users.c.username)
        .join(room_members, room_members.c.user_id == users.c.id)
        .where(room_members.c.room_id == room_id, room_members.c.role == role)
        .order_by(room_members.c.joined, users.c.id)
    )
    return [r.username for r in rows]


def count_roles_txn(conn: Connection, room_id: int, roles: tuple[str, ...]) -> int:
    return conn.execute(
        select(func.count())
        .select_from(room_members)
        .where(room_members.c.room_id == room_id, room_members.c.role.in_(roles))
    ).scalar_one()


# --- fan-out ---------------------------------------------------------------------------------------

_FANOUT_ROOM = select(
    rooms.c.mute_until, rooms.c.members_version, _MEMBER_COUNT.label("members"), rooms.c.disabled
).where(
    rooms.c.id == bindparam("id"), rooms.c.app_uuid == bindparam("app"), rooms.c.kind == bindparam("kind")
)
# The whole membership in one range scan of room_members' primary key, joined to users by theirs.
_FANOUT_MEMBERS = (
    select(
        users.c.id,
        users.c.uuid,
        users.c.username,
        users.c.username_key,
        users.c.nickname,
        users.c.activated,
        users.c.created,
        users.c.modified,
        users.c.token_epoch,
        users.c.profile,
        room_members.c.role,
    )
    .select_from(room_members)
    .join(users, users.c.id == room_members.c.user_id)
    .where(room_members.c.room_id == bindparam("id"))
)
_SENDER = select(
    users.c.id,
    users.c.uuid,
    users.c.username,
    users.c.nickname,
    users.c.activated,
    users.c.created,
    users.c.modified,
    users.c.token_epoch,
    users.c.profile,
).where(users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key"))
_SENDER_MUTE = select(room_mutes.c.expire).where(
    room_mutes.c.room_id == bindparam("id"), room_mutes.c.user_id == bindparam("user")
)
_SENDER_WHITE = select(room_whitelist.c.user_id).where(
    room_whitelist.c.room_id == bindparam("id"), room_whitelist.c.user_id == bindparam("user")
)
_SENDER_BLOCKED = select(room_blocks.c.user_id).where(
    room_blocks.c.room_id == bindparam("id"), room_blocks.c.user_id == bindparam("user")
)
_BLOCKERS = select(blocks.c.owner_id).where(blocks.c.blocked_id == bindparam("user"))


# A user's UUID never changes, so parsed UUIDs are shared between fan-outs: parsing 2,000
# UUID strings costs more than reading the 2,000 member rows. Bounded; cleared when full.
_UUIDS: dict[str, uuid.UUID] = {}
_UUIDS_MAX = 200_000


def _uuid(text: str) -> uuid.UUID:
    value = _UUIDS.get(text)
    if value is None:
        if len(_UUIDS) >= _UUIDS_MAX:
            _UUIDS.clear()
        value = _UUIDS[text] = uuid.UUID(text)
    return value


def _member_list(conn: Connection, app: uuid.UUID, room_id: int, version: int) -> MemberList:
    users_: list[User] = []
    roles: list[str] = []
    index: dict[str, int] = {}
    append, add_role, parse, loads = users_.append, roles.append, _uuid, orjson.loads
    # columns: id, uuid, username, username_key, nickname, activated, created, modified, token_epoch, profile, role
    for r in conn.execute(_FANOUT_MEMBERS, {"id": room_id}):
        profile = r[9]
        index[r[3]] = len(users_)
        append(
            User(r[0], parse(r[1]), app, r[2], r[4], r[5], r[6], r[7], r[8], loads(profile) if profile != "{}" else {})
        )
        add_role(r[10])
    return MemberList(version, len(users_), users_, roles, index)


def fanout_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, sender_key: str, known: MemberList | None = None
) -> Fanout | None:
    """A room's members and the sender's standing in it; None when there is no such room.

    A constant number of indexed statements whatever the room's size: the room with its
    member count, its membership (one range scan of room_members' primary key), and
    primary-key probes for the sender's mute, whitelist and block entries, plus the users
    who block the sender. `known`, a `MemberList` from an earlier call, is reused instead of
    reading the membership while the room's `members_version` and member count still match
    it: every change made here bumps the version, and a member removed by a user's deletion
    (ON DELETE CASCADE) lowers the count. Rows are read by position: on a 2,000-member room
    attribute access by name costs more than the query.
    """
    head = conn.execute(_FANOUT_ROOM, {"id": room_id, "app": app_uuid, "kind": kind}).first()
    if head is None:
        return None
    version, count = head[1], head[2]
    if known is None or known.version != version or known.count != count:
        known = _member_list(conn, uuid.UUID(app_uuid), room_id, version)
    out = Fanout(room_id, head[0], known, bool(head[3]))
    at = known.index.get(sender_key)
    if at is not None:
        out.sender, out.sender_role = known.users[at], known.roles[at]
    app = uuid.UUID(app_uuid)
    if out.sender is None:
        found = conn.execute(_SENDER, {"app": app_uuid, "key": sender_key}).first()
        if found is None:
            return out
        out.sender = User(
            found.id,
            uuid.UUID(found.uuid),
            app,
            found.username,
            found.nickname,
            bool(found.activated),
            found.created,
            found.modified,
            found.token_epoch,
            {},
        )
        out.sender_blocked = conn.execute(_SENDER_BLOCKED, {"id": room_id, "user": found.id}).first() is not None
        return out
    sender_id = out.sender.id
    mute = conn.execute(_SENDER_MUTE, {"id": room_id, "user": sender_id}).first()
    out.sender_mute = mute.expire if mute else 0
    out.sender_whitelisted = conn.execute(_SENDER_WHITE, {"id": room_id, "user": sender_id}).first() is not None
    out.blockers = {r.owner_id for r in conn.execute(_BLOCKERS, {"user": sender_id})}
    return out
