"""What every service of groups and chat rooms shares: the kinds, ids, errors and helpers.

easemob-rest.md §6 (groups) and §7 (chat rooms). Both kinds share one model; each service of
rooms (`RoomService`: a room and who it reaches; `MembershipService`: who is in it;
`ModerationService`: admins, blocks, mutes, the whitelist) is built per kind on `RoomKind`, whose
helpers run the transactions and name the errors. Nothing here knows about HTTP: every refusal is
an `HximError` carrying the group service's error code and Easemob's description pattern (§6.4).

Every change that checks and then writes (capacity, quotas, roles) runs as one write transaction
that first takes the room's row lock, so concurrent calls cannot overshoot a limit. Changes that
the users concerned are told about are reported to the `RoomNotifier` after they commit,
whichever surface made them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from hxim import errors
from hxim.config import Settings
from hxim.errors import HximError
from hxim.model import App, IdGenerator, User
from hxim.services.room_notices import RoomEvent, RoomNotifier
from hxim.storage import Database
from hxim.storage.groups import (
    ADMIN,
    MEMBER,
    OWNER,
    Room,
    membership_counts_txn,
    room_txn,
)
from hxim.storage.users import get_user_txn, get_users_by_keys_txn

__all__ = [
    "ADMIN",
    "ADMIN_SENDER",
    "MEMBER",
    "OWNER",
    "Room",
    "CHATROOM",
    "GROUP",
    "MUTE_FOREVER",
    "ItemResult",
    "RoomKind",
    "parse_room_id",
]

GROUP = "group"
CHATROOM = "chatroom"
# `mute_duration: -1` mutes until this fixed instant (easemob-rest.md §7), 2117-01-01.
MUTE_FOREVER = 4_638_873_600_000
# The sender name that stands for the app itself; it may post to any room.
ADMIN_SENDER = "admin"
_MAX_ID = (1 << 63) - 1

T = TypeVar("T")

@dataclass(slots=True)
class ItemResult:
    """The outcome for one user of a batch operation. A batch answers 200 with `result: false`
    and the error's description as `reason`; the one-user form of the call raises `error`."""

    user: str
    error: HximError | None = None
    expire: int | None = None

    @property
    def result(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str | None:
        return self.error.description if self.error else None


def parse_room_id(text: str) -> int | None:
    """A room id from its numeric string; None for anything that cannot name a room."""
    if not text.isdecimal() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


def not_found(rid: str) -> HximError:
    return errors.resource_not_found(f"grpID {rid} does not exist!")


def no_user(name: str) -> HximError:
    return errors.resource_not_found(f"username {name} doesn't exist!")


def not_in(name: str, rid: str) -> str:
    return f"user: {name} doesn't exist in group: {rid}"


def blacklisted(user: User, room: Room) -> HximError:
    return errors.forbidden_op(
        f"can not join this group, reason:user: {user.username} is in the blacklist of group: {room.room_id}\n"
    )


def owner_op() -> HximError:
    return errors.forbidden_op("forbidden operation on group owner!")


class RoomKind:
    """The base of the services of one kind of room (`kind="group"` or `"chatroom"`)."""

    def __init__(
        self, db: Database, settings: Settings, ids: IdGenerator, notifier: RoomNotifier, kind: str, rooms: Any
    ) -> None:
        """`rooms`: the kind's `RoomService` (itself, for that one), which the notices read rooms from."""
        if kind not in (GROUP, CHATROOM):
            raise ValueError(kind)
        self.rooms = rooms
        self.db = db
        self.settings = settings
        self.ids = ids
        self.notifier = notifier
        self.kind = kind
        self.is_group = kind == GROUP
        if self.is_group:
            self.maxusers_default = settings.group_maxusers_default
            self.maxusers_max = settings.group_maxusers_max
            self.per_user_max = settings.groups_per_user_max
        else:
            self.maxusers_default = settings.chatroom_maxusers_default
            self.maxusers_max = settings.chatroom_maxusers_max
            self.per_user_max = settings.chatrooms_per_user_max

    # --- helpers ----------------------------------------------------------------------------------
    async def _tell(
        self, app: App, rid: str, event: RoomEvent, names: list[str], actor: str | None = None, detail: str = ""
    ) -> None:
        if names:
            await self.notifier.tell(self.rooms, app, rid, event, names, actor, detail)

    def _room(self, conn: Connection, app: App, rid: str, lock: bool = False) -> Room:
        ident = parse_room_id(rid)
        room = room_txn(conn, app.id, self.kind, ident, lock) if ident is not None else None
        if room is None:
            raise not_found(rid)
        return room

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        return await self.db.write(fn)

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        return await self.db.read(fn)

    def _names(self, names: Any, what: str = "usernames") -> list[str]:
        """A non-empty list of at most `room_batch_max` distinct user names, in order."""
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise errors.invalid_parameter(f"{what} must be a non-empty array of user names")
        if len(names) > self.settings.room_batch_max:
            raise errors.invalid_parameter(f"at most {self.settings.room_batch_max} users per request")
        out: list[str] = []
        seen: set[str] = set()
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return out

    @staticmethod
    def _users(conn: Connection, app: App, names: list[str]) -> dict[str, User]:
        """The users with these names, by case-folded name (missing ones left out)."""
        return {u.key: u for u in get_users_by_keys_txn(conn, app.id, [n.lower() for n in names])}

    @staticmethod
    def _user(conn: Connection, app: App, name: Any) -> User:
        user = get_user_txn(conn, app.id, name.lower()) if isinstance(name, str) and name else None
        if user is None:
            raise no_user(str(name))
        return user

    def _quota(self, conn: Connection, joining: list[User]) -> None:
        counts = membership_counts_txn(conn, self.kind, [u.id for u in joining])
        for user in joining:
            if counts.get(user.id, 0) >= self.per_user_max:
                raise errors.forbidden_op(
                    f"can not join this group, reason：user {user.username} has joined too many groups/chatroom!"
                )

    @staticmethod
    def _page(pagenum: int | None, pagesize: int | None) -> tuple[int, int | None]:
        """(offset, limit) for Easemob's pagenum/pagesize; everything when neither is given."""
        if pagenum is None and pagesize is None:
            return 0, None
        size = pagesize or 10
        return ((pagenum or 1) - 1) * size, size
