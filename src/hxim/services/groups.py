"""Groups and chat rooms: creation, settings, membership and roles, blocks, mutes, whitelist,
chat-room super admins, and who a message to a group or room reaches.

easemob-rest.md §6 (groups) and §7 (chat rooms). Both kinds share one model and one
service class (`RoomService(kind=...)`); the XMPP side will serve them as MUC rooms through
the same methods. Nothing here knows about HTTP: every refusal is an `HximError` carrying
the group service's error code and Easemob's description pattern (§6.4).

Every change that checks and then writes (capacity, quotas, roles) runs as one write
transaction that first takes the room's row lock, so concurrent calls cannot overshoot a
limit. Changes that the users concerned are told about (kicks, bans, dissolution, admin and
mute changes, joins, applications and their answers, invitations) are reported to the
`RoomNotifier` after they commit, whichever surface made them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from hxim import errors
from hxim.config import Settings
from hxim.errors import HximError
from hxim.model import App, IdGenerator, Recipients, User, now_ms
from hxim.services.group_policy import Level, refusal, target_refusal
from hxim.services.room_notices import RoomEvent, RoomNotifier
from hxim.services.users import decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.groups import (
    ADMIN,
    MEMBER,
    OWNER,
    MemberList,
    Room,
    add_application_txn,
    add_members_txn,
    add_room_blocks_txn,
    add_super_admin_txn,
    add_whitelist_txn,
    applied_ids_txn,
    blocked_ids_txn,
    count_roles_txn,
    delete_rooms_txn,
    fanout_txn,
    insert_room_txn,
    joined_rooms_txn,
    list_rooms_txn,
    members_txn,
    membership_counts_txn,
    mutes_txn,
    names_with_role_txn,
    owned_rooms_txn,
    remove_applications_txn,
    remove_members_txn,
    remove_mutes_txn,
    remove_room_blocks_txn,
    remove_super_admin_txn,
    remove_whitelist_txn,
    roles_txn,
    room_block_names_txn,
    room_txn,
    rooms_by_ids_txn,
    set_mutes_txn,
    set_role_txn,
    super_admin_ids_txn,
    super_admin_names_txn,
    update_room_txn,
    whitelist_ids_txn,
    whitelist_names_txn,
)
from hxim.storage.users import get_user_txn, get_users_by_keys_txn

__all__ = [
    "ADMIN", "CHATROOM", "GROUP", "MEMBER", "MUTE_FOREVER", "OWNER", "ItemResult", "Room", "RoomService"
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
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


def _not_found(rid: str) -> HximError:
    return errors.resource_not_found(f"grpID {rid} does not exist!")


def _no_user(name: str) -> HximError:
    return errors.resource_not_found(f"username {name} doesn't exist!")


def _not_in(name: str, rid: str) -> str:
    return f"user: {name} doesn't exist in group: {rid}"


def _blacklisted(user: User, room: Room) -> HximError:
    return errors.forbidden_op(
        f"can not join this group, reason:user: {user.username} is in the blacklist of group: {room.room_id}\n"
    )


def _owner_op() -> HximError:
    return errors.forbidden_op("forbidden operation on group owner!")


def _bool(body: dict[str, Any], *names: str, default: bool | None = None) -> bool | None:
    for name in names:
        if name in body:
            value = body[name]
            if not isinstance(value, bool):
                raise errors.invalid_parameter(f"{name} must be true or false")
            return value
    return default


class RoomService:
    """Groups (`kind="group"`) or chat rooms (`kind="chatroom"`) of every app."""

    def __init__(self, db: Database, settings: Settings, ids: IdGenerator, notifier: RoomNotifier, kind: str) -> None:
        if kind not in (GROUP, CHATROOM):
            raise ValueError(kind)
        self.db = db
        self.settings = settings
        self.ids = ids
        self.notifier = notifier
        self.kind = kind
        self.is_group = kind == GROUP
        # Member lists of recently messaged rooms, for fan-out; fanout_txn checks each against
        # the room's members_version and member count before reusing it.
        self._fanout_cache: dict[int, MemberList] = {}
        self._fanout_cached = 0
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
            await self.notifier.tell(self, app, rid, event, names, actor, detail)

    def _room(self, conn: Connection, app: App, rid: str, lock: bool = False) -> Room:
        ident = parse_room_id(rid)
        room = room_txn(conn, app.id, self.kind, ident, lock) if ident is not None else None
        if room is None:
            raise _not_found(rid)
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
            raise _no_user(str(name))
        return user

    def _quota(self, conn: Connection, joining: list[User]) -> None:
        counts = membership_counts_txn(conn, self.kind, [u.id for u in joining])
        for user in joining:
            if counts.get(user.id, 0) >= self.per_user_max:
                raise errors.forbidden_op(
                    f"can not join this group, reason：user {user.username} has joined too many groups/chatroom!"
                )

    def _text(self, body: dict[str, Any], names: tuple[str, ...], limit: int, default: str | None) -> str | None:
        for name in names:
            if name in body:
                value = body[name]
                if not isinstance(value, str) or len(value) > limit:
                    raise errors.invalid_parameter(f"{name} must be a string of at most {limit} characters")
                return value
        return default

    def _maxusers(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= self.maxusers_max:
            raise errors.invalid_parameter(f"maxusers must be a number from 1 to {self.maxusers_max}")
        return value

    @staticmethod
    def _page(pagenum: int | None, pagesize: int | None) -> tuple[int, int | None]:
        """(offset, limit) for Easemob's pagenum/pagesize; everything when neither is given."""
        if pagenum is None and pagesize is None:
            return 0, None
        size = pagesize or 10
        return ((pagenum or 1) - 1) * size, size

    # --- create, read, list -----------------------------------------------------------------------
    async def create(self, app: App, body: Any, default_owner: str | None = None, ident: int | None = None) -> Room:
        """Create a group (§6.3) or a chat room (§7) from the request body; `ident` is the id an
        XMPP client chose (webim-xmpp.md §7.5), else the server picks one."""
        if not isinstance(body, dict):
            raise errors.invalid_parameter("the request body must be a JSON object")
        s = self.settings
        if self.is_group:
            name = body.get("groupname")
            if name is None or name == "":
                raise errors.invalid_parameter("group must contain groupname field!")
            if "public" not in body:
                raise errors.invalid_parameter("group must contain public field!")
            public = _bool(body, "public")
            membersonly = _bool(body, "membersonly", "members_only", "approval", default=False)
            allowinvites = _bool(body, "allowinvites", default=False)
            invite_need_confirm = _bool(body, "invite_need_confirm", default=True)
            name = self._text(body, ("groupname",), s.room_name_max_length, "")
            description = self._text(body, ("desc", "description"), s.room_description_max_length, "")
        else:
            name = body.get("name")
            if name is None or name == "":
                raise errors.invalid_parameter("chatroom must contain title/name field!")
            name = self._text(body, ("name",), s.room_name_max_length, "")
            description = self._text(body, ("description", "desc"), s.room_description_max_length, "")
            public, membersonly, allowinvites, invite_need_confirm = True, False, False, False
        custom = self._text(body, ("custom",), s.room_custom_max_length, "")
        owner_name = body.get("owner", default_owner)
        if owner_name is None or owner_name == "":
            raise errors.invalid_parameter("owner must be provided")
        if not isinstance(owner_name, str):
            raise errors.invalid_parameter("owner must be a user name")
        maxusers = self._maxusers(body["maxusers"]) if "maxusers" in body else self.maxusers_default
        member_names: list[str] = []
        if "members" in body:
            raw = body["members"]
            if not isinstance(raw, list) or not raw or not all(isinstance(n, str) and n for n in raw):
                raise errors.invalid_parameter("members must be a non-empty array of user names")
            if len(raw) > s.room_create_members_max:
                raise errors.invalid_parameter(f"members can list at most {s.room_create_members_max} users")
            if any(n.lower() == owner_name.lower() for n in raw):
                raise errors.invalid_parameter("members must not contain the owner")
            member_names = list(dict.fromkeys(raw, None))
        if 1 + len(member_names) > maxusers:
            raise errors.invalid_parameter(f"members and owner are more than maxusers ({maxusers})")

        def txn(conn: Connection) -> Room:
            owner = self._user(conn, app, owner_name)
            found = self._users(conn, app, member_names)
            members = []
            for n in member_names:
                user = found.get(n.lower())
                if user is None:
                    raise _no_user(n)
                if user.id != owner.id and user not in members:
                    members.append(user)
            self._quota(conn, [owner, *members])
            now = now_ms()
            room_id = ident if ident is not None else self.ids.next()
            values = {
                "id": room_id,
                "app_uuid": app.id,
                "kind": self.kind,
                "name": name,
                "description": description,
                "public": public,
                "membersonly": membersonly,
                "allowinvites": allowinvites,
                "invite_need_confirm": invite_need_confirm,
                "maxusers": maxusers,
                "custom": custom,
                "mute_until": 0,
                "owner_id": owner.id,
                "created": now,
                "modified": now,
            }
            insert_room_txn(conn, values, [(owner.id, OWNER), *((m.id, MEMBER) for m in members)], now)
            room = room_txn(conn, app.id, self.kind, room_id)
            assert room is not None
            return room

        return await self._write(txn)

    async def get(self, app: App, rid: str) -> Room:
        """One room for a details view: unknown ids give 404 `do not find this group:X`."""
        ident = parse_room_id(rid)
        room = await self.db.read(room_txn, app.id, self.kind, ident) if ident is not None else None
        if room is None:
            raise errors.group_not_found(rid)
        return room

    async def details(self, app: App, rids: list[str]) -> list[tuple[str, Room | None, list[tuple[str, str]]]]:
        """(asked id, room or None, members as (username, role)) for each id, in the order asked."""
        if len(rids) > self.settings.rooms_page_max:
            raise errors.invalid_parameter(f"at most {self.settings.rooms_page_max} ids per request")
        wanted = [i for i in (parse_room_id(r) for r in rids) if i is not None]

        def txn(conn: Connection) -> list[tuple[str, Room | None, list[tuple[str, str]]]]:
            found = {r.id: r for r in rooms_by_ids_txn(conn, app.id, self.kind, wanted)} if wanted else {}
            out: list[tuple[str, Room | None, list[tuple[str, str]]]] = []
            for rid in rids:
                room = found.get(parse_room_id(rid) or 0)
                out.append((rid, room, members_txn(conn, room.id) if room else []))
            return out

        return await self._read(txn)

    async def page(
        self, app: App, limit: int, cursor: str | None, public_only: bool = False
    ) -> tuple[list[Room], str | None]:
        after = decode_cursor(cursor, 1)[0] if cursor else None
        found = await self.db.read(list_rooms_txn, app.id, self.kind, after, limit + 1, public_only)
        more = len(found) > limit
        found = found[:limit]
        return found, (encode_cursor(found[-1].id) if more and found else None)

    async def joined(
        self, app: App, username: str, pagenum: int | None = None, pagesize: int | None = None
    ) -> list[tuple[str, str]]:
        """(room id, name) of the rooms the user belongs to."""
        offset, limit = self._page(pagenum, pagesize)

        def txn(conn: Connection) -> list[tuple[str, str]]:
            user = self._user(conn, app, username)
            return [(str(i), n) for i, n in joined_rooms_txn(conn, self.kind, user.id, offset, limit)]

        return await self._read(txn)

    # --- modify, transfer, delete -----------------------------------------------------------------
    GROUP_FIELDS = (
        "groupname",
        "description",
        "maxusers",
        "membersonly",
        "members_only",
        "approval",
        "allowinvites",
        "invite_need_confirm",
        "custom",
        "public",
    )
    ROOM_FIELDS = ("name", "description", "maxusers")

    async def modify(self, app: App, rid: str, body: Any) -> dict[str, bool]:
        """Change a room's settings (and, for groups, its owner with `newowner`).

        Returns the `data` of the answer: one `true` per field changed. Chat rooms answer
        `groupname` for `name`, as Easemob did from 2018 on (§7).
        """
        if not isinstance(body, dict) or not body:
            raise errors.invalid_parameter("the request body must be a JSON object with the fields to change")
        allowed = self.GROUP_FIELDS if self.is_group else self.ROOM_FIELDS
        newowner = body.get("newowner") if self.is_group else None
        bad = [k for k in body if k not in allowed and not (self.is_group and k == "newowner")]
        if bad:
            raise errors.invalid_parameter(f"some of [{', '.join(bad)}] are not valid fields")
        s = self.settings
        values: dict[str, Any] = {}
        data: dict[str, bool] = {}
        for key in body:
            if key == "newowner":
                continue
            if key in ("groupname", "name"):
                values["name"] = self._text(body, (key,), s.room_name_max_length, None)
                data["groupname" if not self.is_group else key] = True
            elif key == "description":
                values["description"] = self._text(body, (key,), s.room_description_max_length, None)
                data[key] = True
            elif key == "custom":
                values["custom"] = self._text(body, (key,), s.room_custom_max_length, None)
                data[key] = True
            elif key == "maxusers":
                values["maxusers"] = self._maxusers(body[key])
                data[key] = True
            else:
                column = "membersonly" if key in ("members_only", "approval") else key
                values[column] = _bool(body, key)
                data[key] = True

        def txn(conn: Connection) -> None:
            room = self._room(conn, app, rid, lock=True)
            if "maxusers" in values and values["maxusers"] < room.members:
                raise errors.forbidden_op("current user count is larger than the maxUsers that you want to update !")
            if newowner is not None or "newowner" in body:
                self._transfer(conn, app, room, newowner)
                data["newowner"] = True
            if values:
                update_room_txn(conn, room.id, {**values, "modified": now_ms()})

        await self._write(txn)
        return data

    def _transfer(self, conn: Connection, app: App, room: Room, newowner: Any) -> None:
        if not isinstance(newowner, str) or not newowner:
            raise errors.invalid_parameter("newowner must be a user name")
        user = self._user(conn, app, newowner)
        if user.id == room.owner_id:
            raise errors.forbidden_op("new owner and old owner are the same")
        if user.id not in roles_txn(conn, room.id, [user.id]):
            raise errors.forbidden_op(_not_in(user.username, room.room_id))
        set_role_txn(conn, room.id, [room.owner_id], MEMBER)
        set_role_txn(conn, room.id, [user.id], OWNER)
        update_room_txn(conn, room.id, {"owner_id": user.id, "modified": now_ms()})

    async def transfer(self, app: App, rid: str, newowner: Any) -> None:
        def txn(conn: Connection) -> None:
            self._transfer(conn, app, self._room(conn, app, rid, lock=True), newowner)

        await self._write(txn)

    async def delete(self, app: App, rid: str, actor: str | None = None, reason: str = "") -> Room:
        def txn(conn: Connection) -> tuple[Room, list[str]]:
            room = self._room(conn, app, rid, lock=True)
            names = [n for n, _ in members_txn(conn, room.id, 0, None)]
            delete_rooms_txn(conn, [room.id])
            return room, names

        room, names = await self._write(txn)
        await self._tell(app, room.room_id, RoomEvent.DESTROYED, names, actor, reason)
        return room

    async def delete_owned(self, app: App, victims: list[User]) -> None:
        """Delete every group and chat room the users own (a `UserService.delete_hooks` hook)."""

        def txn(conn: Connection) -> None:
            owned = owned_rooms_txn(conn, [u.id for u in victims])
            delete_rooms_txn(conn, [rid for rid, _ in owned])

        await self._write(txn)

    # --- members ----------------------------------------------------------------------------------
    async def members(
        self, app: App, rid: str, pagenum: int | None = None, pagesize: int | None = None
    ) -> list[tuple[str, str]]:
        """(username, role) with role `owner` or `member` (admins are members here, as in §6.2)."""
        offset, limit = self._page(pagenum, pagesize)

        def txn(conn: Connection) -> list[tuple[str, str]]:
            room = self._room(conn, app, rid)
            return [(n, OWNER if r == OWNER else MEMBER) for n, r in members_txn(conn, room.id, offset, limit)]

        return await self._read(txn)

    def _admit(self, conn: Connection, room: Room, joining: list[User]) -> None:
        """Refuse users who are blocked, or who would overfill the room or their quota."""
        blocked = blocked_ids_txn(conn, room.id, [u.id for u in joining])
        for user in joining:
            if user.id in blocked:
                raise _blacklisted(user, room)
        if room.members + len(joining) > room.maxusers:
            raise errors.forbidden_op(
                f"can not join this group, reason:group: {room.room_id} members count would exceed maxusers "
                f"{room.maxusers}\n"
            )
        self._quota(conn, joining)

    async def add_member(self, app: App, rid: str, username: str) -> User:
        def txn(conn: Connection) -> User:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, username)
            if roles_txn(conn, room.id, [user.id]):
                raise errors.forbidden_op(
                    f"can not join this group, reason:user: {user.username} already in group: {room.room_id}\n"
                )
            self._admit(conn, room, [user])
            add_members_txn(conn, room.id, [user.id], MEMBER, now_ms())
            return user

        return await self._write(txn)

    def _outsiders(self, conn: Connection, app: App, room: Room, wanted: list[str]) -> list[User]:
        """The users named in `wanted` who are not members yet; an unknown name fails the call."""
        found = self._users(conn, app, wanted)
        for name in wanted:
            if name.lower() not in found:
                raise errors.illegal_argument(f"group member {name} doesn't exist")
        users = [found[n.lower()] for n in wanted]
        present = roles_txn(conn, room.id, [u.id for u in users])
        return [u for u in users if u.id not in present]

    def _enrol(self, conn: Connection, room: Room, users: list[User]) -> None:
        """Make `users` (none of them a member yet) plain members."""
        if users:
            self._admit(conn, room, users)
            add_members_txn(conn, room.id, [u.id for u in users], MEMBER, now_ms())

    async def add_members(self, app: App, rid: str, names: Any) -> list[str]:
        """Add users; those already members are skipped. Returns the names added."""
        wanted = self._names(names)

        def txn(conn: Connection) -> list[str]:
            room = self._room(conn, app, rid, lock=True)
            joining = self._outsiders(conn, app, room, wanted)
            self._enrol(conn, room, joining)
            return [u.username for u in joining]

        return await self._write(txn)

    async def remove_member(self, app: App, rid: str, username: str, actor: str | None = None) -> User:
        """Remove one member: kicked by `actor` (None: the app), or leaving when it is the user."""

        def txn(conn: Connection) -> User:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, username)
            role = roles_txn(conn, room.id, [user.id]).get(user.id)
            if role is None:
                raise errors.forbidden_op(f"users [{user.username}] are not members of this group!")
            if role == OWNER:
                raise _owner_op()
            remove_members_txn(conn, room.id, [user.id])
            return user

        user = await self._write(txn)
        await self._tell(app, rid, RoomEvent.KICKED, [user.username], actor)
        return user

    async def remove_members(
        self, app: App, rid: str, names: list[str], actor: str | None = None
    ) -> list[ItemResult]:
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            roles = roles_txn(conn, room.id, [u.id for u in found.values()])
            out: list[ItemResult] = []
            gone: list[int] = []
            for name in wanted:
                user = found.get(name.lower())
                role = roles.get(user.id) if user else None
                if user is None:
                    out.append(ItemResult(name, _no_user(name)))
                elif role is None:
                    out.append(ItemResult(user.username, errors.forbidden_op(_not_in(user.username, room.room_id))))
                elif role == OWNER:
                    out.append(ItemResult(user.username, _owner_op()))
                else:
                    gone.append(user.id)
                    out.append(ItemResult(user.username))
            remove_members_txn(conn, room.id, gone)
            return out

        out = await self._write(txn)
        await self._tell(app, rid, RoomEvent.KICKED, [r.user for r in out if r.result], actor)
        return out

    async def join(self, app: App, rid: str, username: str) -> User:
        """The user joins by themselves (a chat-room join, `joinPublicGroup` of an open group): a
        member like `add_member`, and the other members are told (webim-xmpp.md §7.7, §7.8)."""
        user = await self.add_member(app, rid, username)
        await self._tell(app, rid, RoomEvent.JOINED, [user.username], user.username)
        return user

    # --- applications and invitations (webim-xmpp.md §2.7, §7.6, §7.7) ----------------------------
    async def apply(self, app: App, rid: str, username: str, reason: Any) -> bool:
        """A user asks to join a public group: admitted at once when it needs no approval (True;
        `accepted` to them, `joined` to the others), otherwise the request is kept and the owner
        and admins are asked (`applied`). Private groups, members and blocked users are refused."""
        if not isinstance(reason, str) or len(reason) > self.settings.room_description_max_length:
            raise errors.invalid_parameter(
                f"message must be a string of at most {self.settings.room_description_max_length} characters"
            )

        def txn(conn: Connection) -> tuple[User, list[str] | None]:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, username)
            if roles_txn(conn, room.id, [user.id]):
                raise errors.forbidden_op(
                    f"can not join this group, reason:user: {user.username} already in group: {room.room_id}\n"
                )
            if not room.public:
                raise errors.forbidden_op(f"group: {room.room_id} is not public, user: {user.username} can not apply")
            if not room.membersonly:
                self._admit(conn, room, [user])
                add_members_txn(conn, room.id, [user.id], MEMBER, now_ms())
                return user, None
            if blocked_ids_txn(conn, room.id, [user.id]):
                raise _blacklisted(user, room)
            add_application_txn(conn, room.id, user.id, reason, now_ms())
            return user, [room.owner, *names_with_role_txn(conn, room.id, ADMIN)]

        user, managers = await self._write(txn)
        if managers is None:
            await self._tell(app, rid, RoomEvent.JOINED, [user.username], user.username)
            await self._tell(app, rid, RoomEvent.ACCEPTED, [user.username])
            return True
        await self._tell(app, rid, RoomEvent.APPLIED, managers, user.username, reason)
        return False

    async def verify(self, app: App, rid: str, applicant: Any, accept: Any, reason: Any, actor: str | None) -> str:
        """Answer a pending request to join (`apply_verify`): accepted, the applicant becomes a
        member (`accepted` to them, `joined` to the others); declined, they are told (`declined`)."""
        if not isinstance(applicant, str) or not applicant:
            raise errors.invalid_parameter("applicant must be a user name")
        if not isinstance(accept, bool):
            raise errors.invalid_parameter("verifyResult must be true or false")
        if reason is None:
            reason = ""
        if not isinstance(reason, str) or len(reason) > self.settings.room_description_max_length:
            raise errors.invalid_parameter(
                f"reason must be a string of at most {self.settings.room_description_max_length} characters"
            )

        def txn(conn: Connection) -> str:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, applicant)
            if not applied_ids_txn(conn, room.id, [user.id]):
                raise errors.forbidden_op(f"user: {user.username} has not applied to join group: {room.room_id}")
            remove_applications_txn(conn, room.id, [user.id])
            if accept and not roles_txn(conn, room.id, [user.id]):
                self._admit(conn, room, [user])
                add_members_txn(conn, room.id, [user.id], MEMBER, now_ms())
            return user.username

        name = await self._write(txn)
        if accept:
            await self._tell(app, rid, RoomEvent.JOINED, [name], name)
            await self._tell(app, rid, RoomEvent.ACCEPTED, [name], actor)
        else:
            await self._tell(app, rid, RoomEvent.DECLINED, [name], actor, reason)
        return name

    async def invite(self, app: App, rid: str, names: Any, actor: str | None, reason: str = "") -> list[str]:
        """Invite users (§7.6 invitations to each who is not yet a member). A group that needs no
        confirmation (`invite_need_confirm` false) adds them at once and tells the others
        (`joined`). Returns the names invited; unknown users fail the whole call."""
        wanted = self._names(names)

        def txn(conn: Connection) -> tuple[list[str], bool]:
            room = self._room(conn, app, rid, lock=True)
            invited = self._outsiders(conn, app, room, wanted)
            direct = self.is_group and not room.invite_need_confirm
            if direct:
                self._enrol(conn, room, invited)
            return [u.username for u in invited], direct

        invited, direct = await self._write(txn)
        if direct:
            for name in invited:
                await self._tell(app, rid, RoomEvent.JOINED, [name], name)
        await self._tell(app, rid, RoomEvent.INVITED, invited, actor, reason)
        return invited

    # --- who may act (IM-user tokens; `group_policy`) -----------------------------------------------
    async def permit(self, app: App, rids: list[str], user: User, level: Level) -> None:
        """Refuse (403) unless `user` may act at `level` on each of the rooms; ids that name no
        room are left to the operation, which reports them in its own way."""
        idents = [i for i in (parse_room_id(r) for r in rids) if i is not None]

        def txn(conn: Connection) -> None:
            for room in rooms_by_ids_txn(conn, app.id, self.kind, idents) if idents else []:
                refused = refusal(level, room, user.username, roles_txn(conn, room.id, [user.id]).get(user.id))
                if refused is not None:
                    raise refused

        await self._read(txn)

    async def permit_targets(self, app: App, rid: str, user: User, names: Any) -> None:
        """Refuse (403) an admin's action on other admins or the owner (only the owner may)."""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return  # the operation refuses the malformed list itself

        def txn(conn: Connection) -> None:
            ident = parse_room_id(rid)
            room = room_txn(conn, app.id, self.kind, ident) if ident is not None else None
            if room is None:
                return
            found = self._users(conn, app, names[: self.settings.room_batch_max])
            roles = roles_txn(conn, room.id, [user.id, *(u.id for u in found.values())])
            targets = {u.username: roles[u.id] for u in found.values() if u.id in roles and u.id != user.id}
            refused = target_refusal(room, roles.get(user.id), targets)
            if refused is not None:
                raise refused

        await self._read(txn)

    # --- admins -----------------------------------------------------------------------------------
    async def admins(self, app: App, rid: str) -> list[str]:
        def txn(conn: Connection) -> list[str]:
            return names_with_role_txn(conn, self._room(conn, app, rid).id, ADMIN)

        return await self._read(txn)

    async def add_admin(self, app: App, rid: str, username: Any, actor: str | None = None) -> str:
        if not isinstance(username, str) or not username:
            raise errors.invalid_parameter("newadmin must be provided")

        def txn(conn: Connection) -> str:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, username)
            role = roles_txn(conn, room.id, [user.id]).get(user.id)
            if role is None:
                raise errors.resource_not_found(_not_in(user.username, room.room_id))
            if role == OWNER:
                raise _owner_op()
            if role == ADMIN:
                raise errors.forbidden_op(f"user: {user.username} is already admin of group: {room.room_id}")
            limit = self.settings.room_owner_admins_max
            if count_roles_txn(conn, room.id, (OWNER, ADMIN)) >= limit:
                raise errors.forbidden_op(
                    f"group: {room.room_id} already has {limit - 1} admins, the most allowed (owner plus admins "
                    f"at most {limit})"
                )
            set_role_txn(conn, room.id, [user.id], ADMIN)
            return user.username

        name = await self._write(txn)
        await self._tell(app, rid, RoomEvent.ADMIN_ADDED, [name], actor)
        return name

    async def remove_admin(self, app: App, rid: str, username: str, actor: str | None = None) -> str:
        def txn(conn: Connection) -> str:
            room = self._room(conn, app, rid, lock=True)
            user = self._user(conn, app, username)
            if roles_txn(conn, room.id, [user.id]).get(user.id) != ADMIN:
                raise errors.forbidden_op(f"user:{user.username} is not admin of group:{room.room_id}")
            set_role_txn(conn, room.id, [user.id], MEMBER)
            return user.username

        name = await self._write(txn)
        await self._tell(app, rid, RoomEvent.ADMIN_REMOVED, [name], actor)
        return name

    # --- blocks -----------------------------------------------------------------------------------
    async def blocks(self, app: App, rid: str) -> list[str]:
        def txn(conn: Connection) -> list[str]:
            return room_block_names_txn(conn, self._room(conn, app, rid).id)

        return await self._read(txn)

    async def block(self, app: App, rid: str, names: Any, actor: str | None = None) -> list[ItemResult]:
        """Block users from the room (they stop being members). Members only; never the owner."""
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            ids = [u.id for u in found.values()]
            roles = roles_txn(conn, room.id, ids)
            already = blocked_ids_txn(conn, room.id, ids)
            out: list[ItemResult] = []
            new: list[int] = []
            for name in wanted:
                user = found.get(name.lower())
                if user is None:
                    out.append(ItemResult(name, _no_user(name)))
                elif user.id in already:
                    out.append(ItemResult(user.username))
                elif roles.get(user.id) == OWNER:
                    out.append(ItemResult(user.username, _owner_op()))
                elif user.id not in roles:
                    out.append(ItemResult(user.username, errors.forbidden_op(_not_in(user.username, room.room_id))))
                else:
                    new.append(user.id)
                    out.append(ItemResult(user.username))
            add_room_blocks_txn(conn, room.id, new, now_ms())
            return out

        out = await self._write(txn)
        await self._tell(app, rid, RoomEvent.BANNED, [r.user for r in out if r.result], actor)
        return out

    async def unblock(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            blocked = blocked_ids_txn(conn, room.id, [u.id for u in found.values()])
            out: list[ItemResult] = []
            for name in wanted:
                user = found.get(name.lower())
                if user is None:
                    out.append(ItemResult(name, _no_user(name)))
                elif user.id not in blocked:
                    reason = f"user: {user.username} is not in the blacklist of group: {room.room_id}"
                    out.append(ItemResult(user.username, errors.forbidden_op(reason)))
                else:
                    out.append(ItemResult(user.username))
            remove_room_blocks_txn(conn, room.id, list(blocked))
            return out

        return await self._write(txn)

    # --- mutes ------------------------------------------------------------------------------------
    async def mutes(self, app: App, rid: str) -> list[tuple[str, int]]:
        def txn(conn: Connection) -> list[tuple[str, int]]:
            return mutes_txn(conn, self._room(conn, app, rid).id, now_ms())

        return await self._read(txn)

    @staticmethod
    def _expire(duration: Any, now: int, required: bool = True) -> int:
        if duration is None and not required:
            return MUTE_FOREVER
        if isinstance(duration, bool) or not isinstance(duration, int) or not (duration > 0 or duration == -1):
            raise errors.invalid_parameter("mute_duration must be a positive number of milliseconds, or -1 for ever")
        return MUTE_FOREVER if duration == -1 else min(now + duration, MUTE_FOREVER)

    async def mute(self, app: App, rid: str, names: Any, duration: Any, actor: str | None = None) -> list[ItemResult]:
        """Mute members until now + duration (ms; -1 for ever). Non-members fail the whole call."""
        wanted = self._names(names)
        now = now_ms()
        expire = self._expire(duration, now)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            roles = roles_txn(conn, room.id, [u.id for u in found.values()])
            outsiders = [
                found[n.lower()].username if n.lower() in found else n
                for n in wanted
                if n.lower() not in found or found[n.lower()].id not in roles
            ]
            if outsiders:
                raise errors.invalid_parameter(f"users [{', '.join(outsiders)}] are not members of this group!")
            users = [found[n.lower()] for n in wanted]
            if any(roles[u.id] == OWNER for u in users):
                raise _owner_op()
            set_mutes_txn(conn, room.id, [(u.id, expire) for u in users])
            return [ItemResult(u.username, expire=expire) for u in users]

        out = await self._write(txn)
        await self._tell(app, rid, RoomEvent.MUTED, [r.user for r in out], actor)
        return out

    async def unmute(self, app: App, rid: str, names: Any, actor: str | None = None) -> list[ItemResult]:
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            remove_mutes_txn(conn, room.id, [u.id for u in found.values()])
            return [
                ItemResult(found[n.lower()].username) if n.lower() in found else ItemResult(n, _no_user(n))
                for n in wanted
            ]

        out = await self._write(txn)
        await self._tell(app, rid, RoomEvent.UNMUTED, [r.user for r in out if r.result], actor)
        return out

    async def mute_all(self, app: App, rid: str, duration: Any) -> None:
        """Mute every member but the owner, the admins and the whitelist (`ban`)."""
        now = now_ms()
        until = self._expire(duration, now, required=False)

        def txn(conn: Connection) -> None:
            room = self._room(conn, app, rid, lock=True)
            update_room_txn(conn, room.id, {"mute_until": until, "modified": now})

        await self._write(txn)

    async def unmute_all(self, app: App, rid: str) -> None:
        def txn(conn: Connection) -> None:
            room = self._room(conn, app, rid, lock=True)
            update_room_txn(conn, room.id, {"mute_until": 0, "modified": now_ms()})

        await self._write(txn)

    # --- whitelist --------------------------------------------------------------------------------
    async def whitelist(self, app: App, rid: str) -> list[str]:
        def txn(conn: Connection) -> list[str]:
            return whitelist_names_txn(conn, self._room(conn, app, rid).id)

        return await self._read(txn)

    async def whitelist_add(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            ids = [u.id for u in found.values()]
            roles = roles_txn(conn, room.id, ids)
            already = whitelist_ids_txn(conn, room.id, ids)
            out: list[ItemResult] = []
            new: list[int] = []
            for name in wanted:
                user = found.get(name.lower())
                if user is None:
                    out.append(ItemResult(name, _no_user(name)))
                elif user.id not in roles:
                    out.append(ItemResult(user.username, errors.forbidden_op(_not_in(user.username, room.room_id))))
                else:
                    if user.id not in already:
                        new.append(user.id)
                    out.append(ItemResult(user.username))
            add_whitelist_txn(conn, room.id, new, now_ms())
            return out

        return await self._write(txn)

    async def whitelist_remove(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        wanted = self._names(names)

        def txn(conn: Connection) -> list[ItemResult]:
            room = self._room(conn, app, rid, lock=True)
            found = self._users(conn, app, wanted)
            listed = whitelist_ids_txn(conn, room.id, [u.id for u in found.values()])
            out: list[ItemResult] = []
            for name in wanted:
                user = found.get(name.lower())
                if user is None:
                    out.append(ItemResult(name, _no_user(name)))
                elif user.id not in listed:
                    reason = f"user: {user.username} is not in the whitelist of group: {room.room_id}"
                    out.append(ItemResult(user.username, errors.forbidden_op(reason)))
                else:
                    out.append(ItemResult(user.username))
            remove_whitelist_txn(conn, room.id, list(listed))
            return out

        return await self._write(txn)

    # --- chat-room super admins (per app) ----------------------------------------------------------
    async def super_admins(self, app: App, pagenum: int | None = None, pagesize: int | None = None) -> list[str]:
        offset, limit = self._page(pagenum, pagesize)
        return await self.db.read(super_admin_names_txn, app.id, offset, limit)

    async def is_super_admin(self, user: User) -> bool:
        return bool(await self.db.read(super_admin_ids_txn, [user.id]))

    async def add_super_admin(self, app: App, username: Any) -> str:
        if not isinstance(username, str) or not username:
            raise errors.invalid_parameter("superadmin must be provided")

        def txn(conn: Connection) -> str:
            user = self._user(conn, app, username)
            if super_admin_ids_txn(conn, [user.id]):
                raise errors.forbidden_op(f"user: {user.username} is already a super admin")
            add_super_admin_txn(conn, app.id, user.id, now_ms())
            return user.username

        return await self._write(txn)

    async def remove_super_admin(self, app: App, username: str) -> str:
        def txn(conn: Connection) -> str:
            user = self._user(conn, app, username)
            if not super_admin_ids_txn(conn, [user.id]):
                raise errors.forbidden_op(f"user: {user.username} is not a super admin")
            remove_super_admin_txn(conn, user.id)
            return user.username

        return await self._write(txn)

    # --- messages ---------------------------------------------------------------------------------
    async def is_member(self, app: App, rid: str, user: User) -> bool:
        """Whether `user` belongs to room `rid` of this kind (any role); False for no such room.
        The check of message roaming (a `MessageService` room check, webim-xmpp.md §2.6)."""
        ident = parse_room_id(rid)
        if ident is None:
            return False

        def txn(conn: Connection) -> bool:
            room = room_txn(conn, app.id, self.kind, ident)
            return room is not None and user.id in roles_txn(conn, room.id, [user.id])

        return await self._read(txn)

    def _forget(self, ident: int) -> None:
        old = self._fanout_cache.pop(ident, None)
        if old is not None:
            self._fanout_cached -= old.count

    def _remember(self, ident: int, members: MemberList) -> None:
        """Keep a room's member list, evicting the oldest entries past `fanout_cache_members`."""
        self._forget(ident)
        limit = self.settings.fanout_cache_members
        if members.count > limit:
            return
        cache = self._fanout_cache
        while cache and self._fanout_cached + members.count > limit:
            self._forget(next(iter(cache)))
        cache[ident] = members
        self._fanout_cached += members.count

    async def resolve(self, app: App, target: str, sender: str) -> Recipients:
        """Who a message from `sender` to room `target` reaches (a `MessageService` resolver).

        The sender must be a member (the app itself, `admin`, may always post), not blocked
        from the room, not muted, and not silenced by mute-all unless they are the owner, an
        admin or whitelisted. Everyone else in the room receives it, except users who block
        the sender. Group messages keep offline copies; chat-room messages do not.
        """
        ident = parse_room_id(target)
        if ident is None:
            raise _not_found(target)
        key = sender.lower()
        known = self._fanout_cache.get(ident)
        fan = await self.db.read(fanout_txn, app.id, self.kind, ident, key, known)
        if fan is None:
            self._forget(ident)
            raise _not_found(target)
        if fan.members is not known:
            self._remember(ident, fan.members)
        rid = str(ident)
        if sender != ADMIN_SENDER:
            name = fan.sender.username if fan.sender else sender
            if fan.sender_role is None:
                if fan.sender_blocked:
                    raise errors.forbidden_op(f"user: {name} is in the blacklist of group: {rid}")
                raise errors.forbidden_op(_not_in(name, rid))
            now = now_ms()
            if fan.sender_mute > now:
                raise errors.forbidden_op(f"user: {name} is muted in group: {rid}")
            if fan.mute_until > now and fan.sender_role == MEMBER and not fan.sender_whitelisted:
                raise errors.forbidden_op(f"group: {rid} is muted, user: {name} can not send messages")
        sender_id = fan.sender.id if fan.sender and fan.sender_role is not None else None
        blockers = fan.blockers
        reach = [u for u in fan.members.users if u.id != sender_id and u.id not in blockers]
        return Recipients("groupchat" if self.is_group else "chatroom", rid, reach, self.is_group)
