"""Groups and chat rooms as another server holds them (`hxim migrate-from-easemob`, easemob-rest.md
§6, §7): written with their own ids, creation times, settings, owner, members and roles, mutes and
block lists, without the checks and notices of the room services, which are for changes made here.

Copying a room again adds only what is missing: members, admin roles, mutes and blocks; the
settings and the owner of a room already here stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, insert, select, update

from hxim.storage.database import insert_ignore
from hxim.storage.groups import ADMIN, MEMBER, OWNER, roles_txn
from hxim.storage.room_checks import find_users
from hxim.storage.tables import room_blocks, room_members, room_mutes, rooms

__all__ = ["RoomCopy", "Copied", "copy_room_txn"]


@dataclass(frozen=True, slots=True)
class RoomCopy:
    """A group (`kind` "group") or a chat room ("chatroom") as another server holds it: `members`
    are (username, role) with role `admin` or `member` (the owner is `owner`), `mutes` (username,
    expiry in ms), `blocks` the usernames on its block list."""

    id: int
    kind: str
    name: str
    owner: str
    created: int
    description: str = ""
    public: bool = True
    membersonly: bool = False
    allowinvites: bool = False
    invite_need_confirm: bool = True
    maxusers: int = 200
    custom: str = ""
    mute_until: int = 0
    disabled: bool = False
    announcement: str = ""
    members: tuple[tuple[str, str], ...] = ()
    mutes: tuple[tuple[str, int], ...] = ()
    blocks: tuple[str, ...] = ()


@dataclass
class Copied:
    """What copying one room wrote: whether the room is new, and how many members, admin roles,
    mutes and blocks were added; the names no user of the app holds (left out); or, with nothing
    written, why the room could not be copied (`refused`)."""

    created: bool = False
    members: int = 0
    admins: int = 0
    mutes: int = 0
    blocks: int = 0
    unknown: list[str] = field(default_factory=list)
    refused: str | None = None


def copy_room_txn(conn: Connection, app_uuid: str, room: RoomCopy, now: int) -> Copied:
    """Write `room` into the app `app_uuid`, or add to the room of its id what it lacks."""
    out = Copied()
    holder = conn.execute(select(rooms.c.app_uuid, rooms.c.kind).where(rooms.c.id == room.id)).first()
    if holder is not None and (holder.app_uuid, holder.kind) != (app_uuid, room.kind):
        where = "another app" if holder.app_uuid != app_uuid else f"a {holder.kind} of this app"
        out.refused = f"its id {room.id} is taken by {where}"
        return out
    names = [room.owner, *(n for n, _ in room.members), *(n for n, _ in room.mutes), *room.blocks]
    users = find_users(conn, app_uuid, names)
    out.unknown = list(dict.fromkeys(n for n in names if n.lower() not in users))
    owner = users.get(room.owner.lower())
    if owner is None:
        out.refused = f"its owner {room.owner} is no user here"
        return out
    wanted: dict[int, str] = {}  # user id -> role, the owner first
    for name, role in ((room.owner, OWNER), *room.members):
        user = users.get(name.lower())
        if user is not None and user.id not in wanted:
            wanted[user.id] = role if role in (OWNER, ADMIN) else MEMBER
    if holder is None:
        conn.execute(
            insert(rooms),
            [
                {
                    "id": room.id, "app_uuid": app_uuid, "kind": room.kind, "name": room.name,
                    "description": room.description, "public": room.public, "membersonly": room.membersonly,
                    "allowinvites": room.allowinvites, "invite_need_confirm": room.invite_need_confirm,
                    "maxusers": room.maxusers, "custom": room.custom, "mute_until": room.mute_until,
                    "disabled": room.disabled, "announcement": room.announcement, "owner_id": owner.id,
                    "created": room.created, "modified": room.created,
                }
            ],
        )
        out.created = True
        have: dict[int, str] = {}
    else:
        have = roles_txn(conn, room.id, list(wanted))
    new = [(uid, role) for uid, role in wanted.items() if uid not in have]
    promoted = [uid for uid, role in wanted.items() if role == ADMIN and have.get(uid) == MEMBER]
    if new:
        conn.execute(
            insert(room_members), [{"room_id": room.id, "user_id": uid, "role": r, "joined": now} for uid, r in new]
        )
    if promoted:
        conn.execute(
            update(room_members)
            .where(room_members.c.room_id == room.id, room_members.c.user_id.in_(promoted))
            .values(role=ADMIN)
        )
    if new or promoted:
        conn.execute(
            update(rooms).where(rooms.c.id == room.id).values(members_version=rooms.c.members_version + 1)
        )
    out.members = sum(1 for _, role in new if role != OWNER)
    out.admins = sum(1 for _, role in new if role == ADMIN) + len(promoted)
    out.mutes = _add_missing(
        conn, room_mutes, room.id,
        {
            u.id: {"expire": expire}
            for name, expire in room.mutes
            if (u := users.get(name.lower())) is not None and wanted.get(u.id, OWNER) != OWNER  # members only
        },
    )
    out.blocks = _add_missing(
        conn, room_blocks, room.id, {u.id: {"created": now} for name in room.blocks if (u := users.get(name.lower()))},
    )
    return out


def _add_missing(conn: Connection, table: Table, room_id: int, rows: dict[int, dict[str, int]]) -> int:
    """Insert the rows (by user id) of a (room_id, user_id)-keyed table that it lacks; how many."""
    if not rows:
        return 0
    present = {
        r[0]
        for r in conn.execute(
            select(table.c.user_id).where(table.c.room_id == room_id, table.c.user_id.in_(list(rows)))
        )
    }
    missing = [{"room_id": room_id, "user_id": uid, **values} for uid, values in rows.items() if uid not in present]
    if missing:
        conn.execute(insert_ignore(conn, table), missing)
    return len(missing)
