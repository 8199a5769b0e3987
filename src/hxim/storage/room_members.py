"""Transactions on who is in a group or chat room: adding and removing members, requests to join
and their answers, invitations, and the roles read to judge a user's token (easemob-rest.md §6,
§7; webim-xmpp.md §2.7, §7.6–§7.9). Each change takes the room's row lock first; one that the
room's state refuses comes back as a `Refused` (`storage.room_checks`), with nothing written.
"""

from __future__ import annotations

from sqlalchemy import Connection

from hxim.model import User
from hxim.storage.groups import (
    ADMIN,
    MEMBER,
    OWNER,
    Room,
    add_members_txn,
    names_with_role_txn,
    remove_members_txn,
    roles_txn,
    room_txn,
    rooms_by_ids_txn,
)
from hxim.storage.room_checks import (
    ItemOutcome,
    Refusal,
    Refused,
    admission,
    find_users,
    member_not_owner,
    room_and_user,
    room_and_users,
)
from hxim.storage.room_lists import (
    add_application_txn,
    applied_ids_txn,
    blocked_ids_txn,
    remove_applications_txn,
)

__all__ = [
    "admit_member_txn",
    "admit_members_txn",
    "answer_application_txn",
    "apply_to_join_txn",
    "drop_member_txn",
    "drop_members_txn",
    "invite_users_txn",
    "rooms_and_roles_txn",
    "target_roles_txn",
]


def _outsider(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str
) -> tuple[Room, User] | Refused:
    """The room, locked, and a user who is not a member: refused `NO_ROOM`, `NO_USER`, then
    `ALREADY_MEMBER`."""
    found = room_and_user(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    if roles_txn(conn, room.id, [user.id]):
        return Refused(Refusal.ALREADY_MEMBER, (user.username,))
    return found


def _newcomers(
    conn: Connection, app_uuid: str, kind: str, room_id: int, wanted: list[str]
) -> tuple[Room, list[User]] | Refused:
    """The room, locked, and the users named in `wanted` who are not members yet: refused
    `NO_ROOM`, then `NO_USER` for the first unknown name."""
    got = room_and_users(conn, app_uuid, kind, room_id, wanted)
    if isinstance(got, Refused):
        return got
    room, found = got
    for name in wanted:
        if name.lower() not in found:
            return Refused(Refusal.NO_USER, (name,))
    users = [found[n.lower()] for n in wanted]
    present = roles_txn(conn, room.id, [u.id for u in users])
    return room, [u for u in users if u.id not in present]


def _enrol(conn: Connection, room: Room, users: list[User], quota: int, now: int) -> Refused | None:
    """Make `users` (none of them a member yet) plain members, if `admission` lets them in."""
    if not users:
        return None
    refused = admission(conn, room, users, quota)
    if refused is None:
        add_members_txn(conn, room.id, [u.id for u in users], MEMBER, now)
    return refused


def admit_member_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str, quota: int, now: int
) -> User | Refused:
    """Make a user a plain member (each user in at most `quota` rooms of the kind). Refused:
    `NO_ROOM`, `NO_USER`, `ALREADY_MEMBER`, then what `admission` refuses."""
    found = _outsider(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    refused = _enrol(conn, room, [user], quota, now)
    return refused if refused is not None else user


def admit_members_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str], quota: int, now: int
) -> list[str] | Refused:
    """Make the users named plain members, skipping those who are; the names added. Refused:
    `NO_ROOM`, `NO_USER` (the first unknown name), then what `admission` refuses."""
    found = _newcomers(conn, app_uuid, kind, room_id, names)
    if isinstance(found, Refused):
        return found
    room, joining = found
    refused = _enrol(conn, room, joining, quota, now)
    return refused if refused is not None else [u.username for u in joining]


def drop_member_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, username: str) -> User | Refused:
    """Take a member out of a room. Refused: `NO_ROOM`, `NO_USER`, `NOT_MEMBER`, `OWNER`."""
    found = member_not_owner(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user, _ = found
    remove_members_txn(conn, room.id, [user.id])
    return user


def drop_members_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str]
) -> list[ItemOutcome] | Refused:
    """Take the members named out of a room; each other name is left out (`NO_USER`,
    `NOT_MEMBER`, `OWNER`). Refused: `NO_ROOM`."""
    got = room_and_users(conn, app_uuid, kind, room_id, names)
    if isinstance(got, Refused):
        return got
    room, found = got
    roles = roles_txn(conn, room.id, [u.id for u in found.values()])
    out: list[ItemOutcome] = []
    gone: list[int] = []
    for name in names:
        user = found.get(name.lower())
        role = roles.get(user.id) if user else None
        if user is None:
            out.append((name, Refusal.NO_USER))
        elif role is None:
            out.append((user.username, Refusal.NOT_MEMBER))
        elif role == OWNER:
            out.append((user.username, Refusal.OWNER))
        else:
            gone.append(user.id)
            out.append((user.username, None))
    remove_members_txn(conn, room.id, gone)
    return out


def apply_to_join_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, username: str, reason: str, quota: int, now: int
) -> tuple[User, list[str] | None] | Refused:
    """A user asks to join a public room: (the user, None) when it needs no approval and they are
    in; otherwise the request is kept, replacing an earlier one: (the user, the names of the owner
    and admins). Refused: `NO_ROOM`, `NO_USER`, `ALREADY_MEMBER`, `NOT_PUBLIC`, then what
    `admission` refuses (`BLOCKED` for a request)."""
    found = _outsider(conn, app_uuid, kind, room_id, username)
    if isinstance(found, Refused):
        return found
    room, user = found
    if not room.public:
        return Refused(Refusal.NOT_PUBLIC, (user.username,))
    if not room.membersonly:
        refused = _enrol(conn, room, [user], quota, now)
        return refused if refused is not None else (user, None)
    if blocked_ids_txn(conn, room.id, [user.id]):
        return Refused(Refusal.BLOCKED, (user.username,))
    add_application_txn(conn, room.id, user.id, reason, now)
    return user, [room.owner, *names_with_role_txn(conn, room.id, ADMIN)]


def answer_application_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, applicant: str, accept: bool, quota: int, now: int
) -> str | Refused:
    """Answer a pending request to join: it is gone, and accepted, the applicant is a member. The
    applicant's name. Refused: `NO_ROOM`, `NO_USER`, `NOT_APPLIED`, then (accepted) what
    `admission` refuses."""
    found = room_and_user(conn, app_uuid, kind, room_id, applicant)
    if isinstance(found, Refused):
        return found
    room, user = found
    if not applied_ids_txn(conn, room.id, [user.id]):
        return Refused(Refusal.NOT_APPLIED, (user.username,))
    joining = accept and not roles_txn(conn, room.id, [user.id])
    refused = admission(conn, room, [user], quota) if joining else None
    if refused is not None:
        return refused
    remove_applications_txn(conn, room.id, [user.id])
    if joining:
        add_members_txn(conn, room.id, [user.id], MEMBER, now)
    return user.username


def invite_users_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, names: list[str], direct: bool, quota: int, now: int
) -> tuple[list[str], bool] | Refused:
    """Invite the users named who are not members: (their names, whether they were made members
    at once, as they are when `direct` and the room needs no confirmation of invitations).
    Refused: `NO_ROOM`, `NO_USER` (the first unknown name), then what `admission` refuses."""
    found = _newcomers(conn, app_uuid, kind, room_id, names)
    if isinstance(found, Refused):
        return found
    room, invited = found
    added = direct and not room.invite_need_confirm
    if added:
        refused = _enrol(conn, room, invited, quota, now)
        if refused is not None:
            return refused
    return [u.username for u in invited], added


def rooms_and_roles_txn(
    conn: Connection, app_uuid: str, kind: str, ids: list[int], user_id: int
) -> list[tuple[Room, str | None]]:
    """The rooms of these ids that exist, each with the user's role there (None: not a member)."""
    return [(r, roles_txn(conn, r.id, [user_id]).get(user_id)) for r in rooms_by_ids_txn(conn, app_uuid, kind, ids)]


def target_roles_txn(
    conn: Connection, app_uuid: str, kind: str, room_id: int, user_id: int, names: list[str]
) -> tuple[Room, str | None, dict[str, str]] | None:
    """A room, the role there of the user acting (None: not a member) and the roles of the other
    members among `names`, by username; None for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id)
    if room is None:
        return None
    found = find_users(conn, app_uuid, names)
    roles = roles_txn(conn, room.id, [user_id, *(u.id for u in found.values())])
    targets = {u.username: roles[u.id] for u in found.values() if u.id in roles and u.id != user_id}
    return room, roles.get(user_id), targets
