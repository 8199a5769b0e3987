"""Transactions on threads (Easemob's "子区", the group_thread_* pages): a thread is a room of kind
"thread" (its name, its owner, its members are `rooms` and `room_members` rows, as a group's are)
linked by `room_threads` to the group it belongs to and the group message it started from.

Its members are a subset of the group's: only group members join, and who leaves the group leaves
its threads (`storage.groups.remove_members_txn`); a deleted group takes its threads along
(`storage.groups.delete_rooms_txn`). A change that the state refuses comes back as a
`ThreadRefused` with nothing written; the thread service names the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, insert, select, tuple_, update

from hxim.storage.groups import (
    MEMBER,
    OWNER,
    Fanout,
    MemberList,
    add_members_txn,
    delete_rooms_txn,
    fanout_txn,
    membership_counts_txn,
    remove_members_txn,
    roles_txn,
    room_txn,
)
from hxim.storage.room_checks import find_user, find_users
from hxim.storage.tables import messages, room_members, room_threads, rooms, users

__all__ = [
    "THREAD",
    "Thread",
    "ThreadRefusal",
    "ThreadRefused",
    "create_thread_txn",
    "delete_thread_txn",
    "join_thread_txn",
    "leave_thread_txn",
    "rename_thread_txn",
    "standing_txn",
    "thread_fanout_txn",
    "thread_ids_txn",
    "thread_members_txn",
    "thread_txn",
    "user_threads_txn",
]

THREAD = "thread"  # the `rooms.kind` of threads


@dataclass(frozen=True, slots=True)
class Thread:
    id: int
    group_id: int
    msg_id: int
    name: str
    owner: str
    created: int

    @property
    def thread_id(self) -> str:
        return str(self.id)


class ThreadRefusal(Enum):
    NO_THREAD = "no thread"
    NO_GROUP = "no group"
    NO_USER = "no user"
    NOT_IN_GROUP = "not in group"  # the user is not a member of the thread's group
    NO_MESSAGE = "no message"
    OTHER_APP = "message of another app"
    NOT_GROUP_MESSAGE = "not a group message"
    NESTED = "a thread's message"  # threads do not start from a thread's messages
    OTHER_GROUP = "message of another group"
    TAKEN = "message has a thread"
    APP_FULL = "app has as many threads as allowed"
    USER_FULL = "user is in as many threads as allowed"


class ThreadRefused(NamedTuple):
    why: ThreadRefusal
    name: str = ""  # the user concerned


_THREADS = (
    select(
        rooms.c.id,
        room_threads.c.parent_id,
        room_threads.c.msg_id,
        rooms.c.name,
        users.c.username.label("owner"),
        rooms.c.created,
    )
    .select_from(rooms)
    .join(room_threads, room_threads.c.room_id == rooms.c.id)
    .join(users, users.c.id == rooms.c.owner_id)
)
_THREAD_BY_ID = _THREADS.where(rooms.c.id == bindparam("id"), rooms.c.app_uuid == bindparam("app"))


def _thread(row: Any) -> Thread:
    return Thread(row.id, row.parent_id, row.msg_id, row.name, row.owner, row.created)


def thread_txn(conn: Connection, app_uuid: str, thread_id: int, lock: bool = False) -> Thread | None:
    """A thread of this app; `lock` takes the row lock of its room (PostgreSQL)."""
    if lock and conn.dialect.name != "sqlite":
        conn.execute(select(rooms.c.id).where(rooms.c.id == thread_id).with_for_update())
    row = conn.execute(_THREAD_BY_ID, {"id": thread_id, "app": app_uuid}).first()
    return _thread(row) if row else None


def _message_refusal(conn: Connection, app_uuid: str, group_id: int, msg_id: int) -> ThreadRefusal | None:
    """Why message `msg_id` cannot start a thread in group `group_id` (None: it can)."""
    found = conn.execute(
        select(messages.c.app_uuid, messages.c.chat_type, messages.c.recipient).where(messages.c.id == msg_id)
    ).first()
    if found is None:
        return ThreadRefusal.NO_MESSAGE
    if found.app_uuid != app_uuid:
        return ThreadRefusal.OTHER_APP
    if found.chat_type != "groupchat":
        return ThreadRefusal.NOT_GROUP_MESSAGE
    target = int(found.recipient) if found.recipient.isdecimal() and len(found.recipient) <= 19 else 0
    if conn.execute(select(room_threads.c.room_id).where(room_threads.c.room_id == target)).first() is not None:
        return ThreadRefusal.NESTED
    if target != group_id:
        return ThreadRefusal.OTHER_GROUP
    if conn.execute(select(room_threads.c.room_id).where(room_threads.c.msg_id == msg_id)).first() is not None:
        return ThreadRefusal.TAKEN
    return None


def create_thread_txn(
    conn: Connection,
    app_uuid: str,
    thread_id: int,
    group_id: int,
    msg_id: int,
    name: str,
    owner: str,
    app_max: int,
    user_max: int,
    now: int,
) -> tuple[Thread, list[str]] | ThreadRefused:
    """Start thread `thread_id` named `name` from message `msg_id` of group `group_id`, owned by
    the group member `owner` (its first member): the thread, and the group's members to tell.
    Refused: `NO_GROUP`, `NO_USER`, `NOT_IN_GROUP`, then what the message refuses, `APP_FULL`,
    `USER_FULL`."""
    group = room_txn(conn, app_uuid, "group", group_id, lock=True)
    if group is None:
        return ThreadRefused(ThreadRefusal.NO_GROUP)
    user = find_user(conn, app_uuid, owner)
    if user is None:
        return ThreadRefused(ThreadRefusal.NO_USER, owner)
    if not roles_txn(conn, group.id, [user.id]):
        return ThreadRefused(ThreadRefusal.NOT_IN_GROUP, user.username)
    refused = _message_refusal(conn, app_uuid, group.id, msg_id)
    if refused is not None:
        return ThreadRefused(refused)
    count = conn.execute(
        select(func.count()).select_from(rooms).where(rooms.c.app_uuid == app_uuid, rooms.c.kind == THREAD)
    ).scalar_one()
    if count >= app_max:
        return ThreadRefused(ThreadRefusal.APP_FULL)
    if membership_counts_txn(conn, THREAD, [user.id]).get(user.id, 0) >= user_max:
        return ThreadRefused(ThreadRefusal.USER_FULL, user.username)
    conn.execute(
        insert(rooms),
        [{
            "id": thread_id, "app_uuid": app_uuid, "kind": THREAD, "name": name, "maxusers": group.maxusers,
            "public": False, "mute_until": 0, "owner_id": user.id, "created": now, "modified": now,
        }],
    )
    conn.execute(insert(room_members), [{"room_id": thread_id, "user_id": user.id, "role": OWNER, "joined": now}])
    conn.execute(insert(room_threads), [{"room_id": thread_id, "parent_id": group.id, "msg_id": msg_id}])
    thread = Thread(thread_id, group.id, msg_id, name, user.username, now)
    return thread, _member_names(conn, group.id)


def _member_names(conn: Connection, room_id: int) -> list[str]:
    rows = conn.execute(
        select(users.c.username)
        .join(room_members, room_members.c.user_id == users.c.id)
        .where(room_members.c.room_id == room_id)
    )
    return [r.username for r in rows]


def rename_thread_txn(
    conn: Connection, app_uuid: str, thread_id: int, name: str, now: int
) -> tuple[Thread, list[str]] | None:
    """Rename a thread: the renamed thread and its group's members; None for no such thread."""
    thread = thread_txn(conn, app_uuid, thread_id, lock=True)
    if thread is None:
        return None
    conn.execute(update(rooms).where(rooms.c.id == thread.id).values(name=name, modified=now))
    return Thread(thread.id, thread.group_id, thread.msg_id, name, thread.owner, thread.created), _member_names(
        conn, thread.group_id
    )


def delete_thread_txn(conn: Connection, app_uuid: str, thread_id: int) -> tuple[Thread, list[str]] | None:
    """Delete a thread (its members and link go with its room): the thread and its group's
    members; None for no such thread."""
    thread = thread_txn(conn, app_uuid, thread_id, lock=True)
    if thread is None:
        return None
    delete_rooms_txn(conn, [thread.id])
    return thread, _member_names(conn, thread.group_id)


def thread_ids_txn(conn: Connection, app_uuid: str, after: int | None, limit: int, newest_first: bool) -> list[int]:
    """Ids of the app's threads in creation (= id) order, or newest first, after the id `after`."""
    query = select(rooms.c.id).where(rooms.c.app_uuid == app_uuid, rooms.c.kind == THREAD)
    if after is not None:
        query = query.where(rooms.c.id < after if newest_first else rooms.c.id > after)
    order = rooms.c.id.desc() if newest_first else rooms.c.id
    return [r.id for r in conn.execute(query.order_by(order).limit(limit))]


def user_threads_txn(
    conn: Connection,
    app_uuid: str,
    username: str,
    group_id: int | None,
    after: tuple[int, int] | None,
    limit: int,
    newest_first: bool,
) -> list[tuple[Thread, int]] | None:
    """(thread, when the user joined it) of the threads the user belongs to (in group `group_id`
    only, unless None), by the time they joined, after the position `after` (joined, thread id);
    None for no such user."""
    user = find_user(conn, app_uuid, username)
    if user is None:
        return None
    key = tuple_(room_members.c.joined, room_members.c.room_id)
    query = (
        _THREADS.add_columns(room_members.c.joined)
        .join(room_members, and_(room_members.c.room_id == rooms.c.id, room_members.c.user_id == user.id))
        .where(rooms.c.app_uuid == app_uuid, rooms.c.kind == THREAD)
    )
    if group_id is not None:
        query = query.where(room_threads.c.parent_id == group_id)
    if after is not None:
        query = query.where(key < tuple_(*after) if newest_first else key > tuple_(*after))
    if newest_first:
        query = query.order_by(room_members.c.joined.desc(), room_members.c.room_id.desc())
    else:
        query = query.order_by(room_members.c.joined, room_members.c.room_id)
    return [(_thread(r), r.joined) for r in conn.execute(query.limit(limit))]


def thread_members_txn(
    conn: Connection, app_uuid: str, thread_id: int, after: tuple[int, int] | None, limit: int
) -> list[tuple[str, int, int]] | None:
    """(username, joined, user id) of a thread's members in the order they joined, after the
    position `after` (joined, user id); None for no such thread."""
    if thread_txn(conn, app_uuid, thread_id) is None:
        return None
    key = tuple_(room_members.c.joined, room_members.c.user_id)
    query = (
        select(users.c.username, room_members.c.joined, room_members.c.user_id)
        .join(users, users.c.id == room_members.c.user_id)
        .where(room_members.c.room_id == thread_id)
    )
    if after is not None:
        query = query.where(key > tuple_(*after))
    query = query.order_by(room_members.c.joined, room_members.c.user_id).limit(limit)
    return [(r.username, r.joined, r.user_id) for r in conn.execute(query)]


def join_thread_txn(
    conn: Connection, app_uuid: str, thread_id: int, names: list[str], quota: int, now: int
) -> tuple[Thread, list[str], list[str]] | ThreadRefused:
    """Make the users named members of a thread (those who are stay): the thread, the names that
    joined, and the thread's members to tell. Refused: `NO_THREAD`, `NOT_IN_GROUP` (a user who
    does not exist or is not a member of the group), `USER_FULL`."""
    thread = thread_txn(conn, app_uuid, thread_id, lock=True)
    if thread is None:
        return ThreadRefused(ThreadRefusal.NO_THREAD)
    found = find_users(conn, app_uuid, names)
    wanted = []
    for name in names:
        user = found.get(name.lower())
        if user is None:
            return ThreadRefused(ThreadRefusal.NOT_IN_GROUP, name)
        wanted.append(user)
    in_group = roles_txn(conn, thread.group_id, [u.id for u in wanted])
    for user in wanted:
        if user.id not in in_group:
            return ThreadRefused(ThreadRefusal.NOT_IN_GROUP, user.username)
    present = roles_txn(conn, thread.id, [u.id for u in wanted])
    joining = [u for u in wanted if u.id not in present]
    counts = membership_counts_txn(conn, THREAD, [u.id for u in joining])
    for user in joining:
        if counts.get(user.id, 0) >= quota:
            return ThreadRefused(ThreadRefusal.USER_FULL, user.username)
    add_members_txn(conn, thread.id, [u.id for u in joining], MEMBER, now)
    return thread, [u.username for u in joining], _member_names(conn, thread.id)


def leave_thread_txn(
    conn: Connection, app_uuid: str, thread_id: int, names: list[str]
) -> tuple[Thread, list[tuple[str, bool]], list[str]] | None:
    """Take the users named out of a thread: the thread, (name, whether they were a member and
    left) for each, and the members who remain; None for no such thread."""
    thread = thread_txn(conn, app_uuid, thread_id, lock=True)
    if thread is None:
        return None
    found = find_users(conn, app_uuid, names)
    present = roles_txn(conn, thread.id, [u.id for u in found.values()])
    out: list[tuple[str, bool]] = []
    leaving: list[int] = []
    for name in names:
        user = found.get(name.lower())
        member = user is not None and user.id in present
        out.append((user.username if user is not None and member else name, member))
        if user is not None and member:
            leaving.append(user.id)
    remove_members_txn(conn, thread.id, leaving)
    return thread, out, _member_names(conn, thread.id)


def standing_txn(
    conn: Connection, app_uuid: str, thread_id: int, user_id: int
) -> tuple[Thread, str | None, str | None] | None:
    """A thread, the user's role in its group and in the thread (None: not a member); None for no
    such thread. What a user's token may do with the thread is judged on it."""
    thread = thread_txn(conn, app_uuid, thread_id)
    if thread is None:
        return None
    group_role = roles_txn(conn, thread.group_id, [user_id]).get(user_id)
    return thread, group_role, roles_txn(conn, thread.id, [user_id]).get(user_id)


_PARENT = (
    select(room_threads.c.parent_id)
    .join(rooms, rooms.c.id == room_threads.c.room_id)
    .where(room_threads.c.room_id == bindparam("id"), rooms.c.app_uuid == bindparam("app"))
)


def thread_fanout_txn(
    conn: Connection,
    app_uuid: str,
    thread_id: int,
    sender_key: str,
    known_thread: MemberList | None,
    known_group: MemberList | None,
) -> tuple[Fanout, Fanout] | None:
    """What sending to a thread needs: the thread's fan-out (its members, the sender's place
    among them) and its group's (the sender's standing there: mutes, blocks, a disabled group);
    None when `thread_id` is no thread of the app."""
    parent = conn.execute(_PARENT, {"id": thread_id, "app": app_uuid}).first()
    if parent is None:
        return None
    thread = fanout_txn(conn, app_uuid, THREAD, thread_id, sender_key, known_thread)
    group = fanout_txn(conn, app_uuid, "group", parent.parent_id, sender_key, known_group)
    if thread is None or group is None:
        return None
    return thread, group
