"""What every service of groups and chat rooms shares: the kinds, ids, errors and helpers.

easemob-rest.md §6 (groups) and §7 (chat rooms). Both kinds share one model; each service of
rooms (`RoomService`: a room and who it reaches; `MembershipService`: who is in it;
`ModerationService`: admins, blocks, mutes, the whitelist) is built per kind on `RoomKind`, whose
helpers name the errors. Nothing here knows about HTTP: every refusal is an `HximError` carrying
the group service's error code and Easemob's description pattern (§6.4).

Every change that checks and then writes (capacity, quotas, roles) runs as one write transaction
of storage (`storage.rooms`, `storage.room_members`, `storage.room_moderation`) that first takes
the room's row lock, so concurrent calls cannot overshoot a limit; a transaction that may not go
on writes nothing and says why (`Refused`), and `refused_error` names the error. Changes that the
users concerned are told about are reported to the `RoomNotifier` after they commit, whichever
surface made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from hxim import errors
from hxim.config import Settings
from hxim.errors import HximError
from hxim.model import App, IdGenerator
from hxim.services.room_notices import RoomEvent, RoomNotifier
from hxim.storage import Database
from hxim.storage.groups import ADMIN, MEMBER, OWNER, Room
from hxim.storage.room_checks import ItemOutcome, Refusal, Refused

# each change as Easemob's callbacks name it: (operation, the payload's list of users, its type)
_OPERATIONS: dict[RoomEvent, tuple[str, str, str]] = {
    RoomEvent.JOINED: ("JOIN", "member", "DIRECT"),
    RoomEvent.KICKED: ("LEAVE", "member", "KICK"),
    RoomEvent.BANNED: ("LEAVE", "member", "BLOCK"),
    RoomEvent.DESTROYED: ("DELETE", "", ""),
    RoomEvent.ADMIN_ADDED: ("ADMIN", "admin", "ADD"),
    RoomEvent.ADMIN_REMOVED: ("ADMIN", "admin", "REMOVE"),
    RoomEvent.MUTED: ("MUTE", "member", "ADD"),
    RoomEvent.UNMUTED: ("MUTE", "member", "REMOVE"),
}

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
    "refused_error",
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


def owner_op() -> HximError:
    return errors.forbidden_op("forbidden operation on group owner!")


# The other refusals are 403 `forbidden_op`, described with the user (`name`), the room's id
# (`gid`) and the limit in question (`limit`; `admins`: the admins the limit allows).
_FORBIDDEN = {
    Refusal.NOT_MEMBER: not_in("{name}", "{gid}"),
    Refusal.ALREADY_MEMBER: "can not join this group, reason:user: {name} already in group: {gid}\n",
    Refusal.BLOCKED: "can not join this group, reason:user: {name} is in the blacklist of group: {gid}\n",
    Refusal.ROOM_FULL: "can not join this group, reason:group: {gid} members count would exceed maxusers {limit}\n",
    Refusal.TOO_MANY_ROOMS: "can not join this group, reason：user {name} has joined too many groups/chatroom!",
    Refusal.NOT_PUBLIC: "group: {gid} is not public, user: {name} can not apply",
    Refusal.NOT_APPLIED: "user: {name} has not applied to join group: {gid}",
    Refusal.MAXUSERS_BELOW_MEMBERS: "current user count is larger than the maxUsers that you want to update !",
    Refusal.SAME_OWNER: "new owner and old owner are the same",
    Refusal.ALREADY_ADMIN: "user: {name} is already admin of group: {gid}",
    Refusal.NOT_ADMIN: "user:{name} is not admin of group:{gid}",
    Refusal.TOO_MANY_ADMINS: (
        "group: {gid} already has {admins} admins, the most allowed (owner plus admins at most {limit})"
    ),
    Refusal.NOT_BLOCKED: "user: {name} is not in the blacklist of group: {gid}",
    Refusal.NOT_WHITELISTED: "user: {name} is not in the whitelist of group: {gid}",
    Refusal.ALREADY_SUPER_ADMIN: "user: {name} is already a super admin",
    Refusal.NOT_SUPER_ADMIN: "user: {name} is not a super admin",
}


def refused_error(refused: Refused, rid: str = "") -> HximError:
    """The error a refused room transaction answers with (§6.4); `rid`: the room's id as the caller
    wrote it. Some calls word a refusal their own way before they come here."""
    if refused.why is Refusal.NO_ROOM:
        return not_found(rid)
    if refused.why is Refusal.NO_USER:
        return no_user(refused.name)
    if refused.why is Refusal.OWNER:
        return owner_op()
    ident = parse_room_id(rid)
    text = _FORBIDDEN[refused.why].format(
        name=refused.name,
        gid=str(ident) if ident is not None else rid,  # as the room's own id writes it
        limit=refused.limit,
        admins=refused.limit - 1,
    )
    return errors.forbidden_op(text)


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
            self._called_back(app, rid, event, names, actor)
            await self.notifier.tell(self.rooms, app, rid, event, names, actor, detail)

    def _called_back(self, app: App, rid: str, event: RoomEvent, names: list[str], actor: str | None) -> None:
        """The post-send group_op_event callback of a change (Easemob's callback_group_* pages):
        applications and invitations have none until the user joins."""
        if not self.notifier.callbacks.wants(app.id, "group_op"):
            return
        found = _OPERATIONS.get(event)
        if found is None:
            return
        operation, key, kind = found
        if event is RoomEvent.KICKED and actor is not None and [actor.lower()] == [n.lower() for n in names]:
            kind = "QUIT"  # leaving by oneself
        payload: dict[str, Any] | None = {key: names, "type": kind} if key else None
        self.notifier.callbacks.room(app, self.kind, rid, operation, actor, payload)

    @staticmethod
    def _ident(rid: str) -> int:
        """The room id in `rid`; a text that cannot name a room is a room that does not exist."""
        ident = parse_room_id(rid)
        if ident is None:
            raise not_found(rid)
        return ident

    @staticmethod
    def _ok(result: T | Refused, rid: str = "") -> T:
        """What a room transaction returned, unless it refused: then its error."""
        if isinstance(result, Refused):
            raise refused_error(result, rid)
        return result

    def _items(self, result: list[ItemOutcome] | Refused, rid: str) -> list[ItemResult]:
        """A batch's outcome per user (`ItemResult`), unless the transaction refused."""
        return [
            ItemResult(name, refused_error(Refused(why, (name,)), rid) if why is not None else None)
            for name, why in self._ok(result, rid)
        ]

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
    def _page(pagenum: int | None, pagesize: int | None) -> tuple[int, int | None]:
        """(offset, limit) for Easemob's pagenum/pagesize; everything when neither is given."""
        if pagenum is None and pagesize is None:
            return 0, None
        size = pagesize or 10
        return ((pagenum or 1) - 1) * size, size
