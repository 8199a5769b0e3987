"""Groups and chat rooms themselves: creation, settings, the owner, dissolution, who belongs, and
whom a message to one reaches (easemob-rest.md §6, §7; the room helpers are `RoomKind`'s).

`create` takes a `NewRoom` and `modify` a `RoomChanges`: typed commands that each surface builds
from its own input (a REST body, an XMPP configuration form), so that the limits are checked here
once, whatever the surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from hxim import errors
from hxim.config import Settings
from hxim.model import App, IdGenerator, Recipients, User, now_ms
from hxim.services.room_common import ADMIN_SENDER, RoomKind, no_user, not_found, not_in, parse_room_id
from hxim.services.room_members import MembershipService
from hxim.services.room_moderation import ModerationService
from hxim.services.room_notices import RoomEvent, RoomNotifier
from hxim.services.users import decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.groups import (
    MEMBER,
    OWNER,
    MemberList,
    Room,
    delete_rooms_txn,
    fanout_txn,
    insert_room_txn,
    joined_rooms_txn,
    list_rooms_txn,
    members_txn,
    owned_rooms_txn,
    roles_txn,
    room_txn,
    rooms_by_ids_txn,
    set_role_txn,
    update_room_txn,
)

__all__ = ["NewRoom", "RoomChanges", "RoomService", "RoomServices"]


@dataclass(frozen=True, slots=True)
class NewRoom:
    """A room to create. `maxusers` None: the kind's default. Chat rooms are public and open:
    their `public`, `membersonly`, `allowinvites`, `invite_need_confirm` are not read."""

    name: str
    owner: str
    description: str = ""
    public: bool = True
    membersonly: bool = False
    allowinvites: bool = False
    invite_need_confirm: bool = True
    maxusers: int | None = None
    custom: str = ""
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomChanges:
    """What to change in a room: only the fields that are not None (`newowner`: a group's owner)."""

    name: str | None = None
    description: str | None = None
    maxusers: int | None = None
    custom: str | None = None
    public: bool | None = None
    membersonly: bool | None = None
    allowinvites: bool | None = None
    invite_need_confirm: bool | None = None
    newowner: str | None = None


class RoomService(RoomKind):
    """Groups (`kind="group"`) or chat rooms (`kind="chatroom"`) of every app."""

    def __init__(self, db: Database, settings: Settings, ids: IdGenerator, notifier: RoomNotifier, kind: str) -> None:
        super().__init__(db, settings, ids, notifier, kind, self)
        # Member lists of recently messaged rooms, for fan-out; fanout_txn checks each against
        # the room's members_version and member count before reusing it.
        self._fanout_cache: dict[int, MemberList] = {}
        self._fanout_cached = 0

    def _limits(self, name: str | None, description: str | None, custom: str | None, maxusers: int | None) -> None:
        s = self.settings
        for what, value, limit in (
            ("name", name, s.room_name_max_length),
            ("description", description, s.room_description_max_length),
            ("custom", custom, s.room_custom_max_length),
        ):
            if value is not None and len(value) > limit:
                raise errors.invalid_parameter(f"the {what} is longer than {limit} characters")
        if maxusers is not None and not 1 <= maxusers <= self.maxusers_max:
            raise errors.invalid_parameter(f"maxusers must be a number from 1 to {self.maxusers_max}")

    # --- create, read, list -----------------------------------------------------------------------
    async def create(self, app: App, cmd: NewRoom, ident: int | None = None) -> Room:
        """Create a group (§6.3) or a chat room (§7); `ident` is the id an XMPP client chose
        (webim-xmpp.md §7.5), else the server picks one."""
        s = self.settings
        self._limits(cmd.name, cmd.description, cmd.custom, cmd.maxusers)
        maxusers = cmd.maxusers if cmd.maxusers is not None else self.maxusers_default
        if not cmd.owner:
            raise errors.invalid_parameter("owner must be provided")
        member_names = list(dict.fromkeys(cmd.members))
        if len(member_names) > s.room_create_members_max:
            raise errors.invalid_parameter(f"members can list at most {s.room_create_members_max} users")
        if any(n.lower() == cmd.owner.lower() for n in member_names):
            raise errors.invalid_parameter("members must not contain the owner")
        if 1 + len(member_names) > maxusers:
            raise errors.invalid_parameter(f"members and owner are more than maxusers ({maxusers})")
        owner_name, name, description, custom = cmd.owner, cmd.name, cmd.description, cmd.custom
        if self.is_group:
            public, membersonly = cmd.public, cmd.membersonly
            allowinvites, invite_need_confirm = cmd.allowinvites, cmd.invite_need_confirm
        else:
            public, membersonly, allowinvites, invite_need_confirm = True, False, False, False

        def txn(conn: Connection) -> Room:
            owner = self._user(conn, app, owner_name)
            found = self._users(conn, app, member_names)
            members = []
            for n in member_names:
                user = found.get(n.lower())
                if user is None:
                    raise no_user(n)
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

    # --- the members ----------------------------------------------------------------------------------
    async def members(
        self, app: App, rid: str, pagenum: int | None = None, pagesize: int | None = None
    ) -> list[tuple[str, str]]:
        """(username, role) with role `owner` or `member` (admins are members here, as in §6.2)."""
        offset, limit = self._page(pagenum, pagesize)

        def txn(conn: Connection) -> list[tuple[str, str]]:
            room = self._room(conn, app, rid)
            return [(n, OWNER if r == OWNER else MEMBER) for n, r in members_txn(conn, room.id, offset, limit)]

        return await self._read(txn)

    # --- modify, transfer, delete -----------------------------------------------------------------
    async def modify(self, app: App, rid: str, changes: RoomChanges) -> None:
        """Change a room's settings (and a group's owner with `newowner`)."""
        self._limits(changes.name, changes.description, changes.custom, changes.maxusers)
        values: dict[str, Any] = {}
        for column in ("name", "description", "custom", "maxusers"):
            if getattr(changes, column) is not None:
                values[column] = getattr(changes, column)
        if self.is_group:
            for column in ("public", "membersonly", "allowinvites", "invite_need_confirm"):
                if getattr(changes, column) is not None:
                    values[column] = getattr(changes, column)
        newowner = changes.newowner if self.is_group else None

        def txn(conn: Connection) -> None:
            room = self._room(conn, app, rid, lock=True)
            if "maxusers" in values and values["maxusers"] < room.members:
                raise errors.forbidden_op("current user count is larger than the maxUsers that you want to update !")
            if newowner is not None:
                self._transfer(conn, app, room, newowner)
            if values:
                update_room_txn(conn, room.id, {**values, "modified": now_ms()})

        await self._write(txn)

    def _transfer(self, conn: Connection, app: App, room: Room, newowner: Any) -> None:
        if not isinstance(newowner, str) or not newowner:
            raise errors.invalid_parameter("newowner must be a user name")
        user = self._user(conn, app, newowner)
        if user.id == room.owner_id:
            raise errors.forbidden_op("new owner and old owner are the same")
        if user.id not in roles_txn(conn, room.id, [user.id]):
            raise errors.forbidden_op(not_in(user.username, room.room_id))
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
            raise not_found(target)
        key = sender.lower()
        known = self._fanout_cache.get(ident)
        fan = await self.db.read(fanout_txn, app.id, self.kind, ident, key, known)
        if fan is None:
            self._forget(ident)
            raise not_found(target)
        if fan.members is not known:
            self._remember(ident, fan.members)
        rid = str(ident)
        if sender != ADMIN_SENDER:
            name = fan.sender.username if fan.sender else sender
            if fan.sender_role is None:
                if fan.sender_blocked:
                    raise errors.forbidden_op(f"user: {name} is in the blacklist of group: {rid}")
                raise errors.forbidden_op(not_in(name, rid))
            now = now_ms()
            if fan.sender_mute > now:
                raise errors.forbidden_op(f"user: {name} is muted in group: {rid}")
            if fan.mute_until > now and fan.sender_role == MEMBER and not fan.sender_whitelisted:
                raise errors.forbidden_op(f"group: {rid} is muted, user: {name} can not send messages")
        sender_id = fan.sender.id if fan.sender and fan.sender_role is not None else None
        blockers = fan.blockers
        reach = [u for u in fan.members.users if u.id != sender_id and u.id not in blockers]
        return Recipients("groupchat" if self.is_group else "chatroom", rid, reach, self.is_group)


@dataclass(frozen=True, slots=True)
class RoomServices:
    """The services of one kind of room: the rooms themselves, their members, their moderation."""

    rooms: RoomService
    members: MembershipService
    moderation: ModerationService

    @classmethod
    def build(
        cls, db: Database, settings: Settings, ids: IdGenerator, notifier: RoomNotifier, kind: str
    ) -> RoomServices:
        rooms = RoomService(db, settings, ids, notifier, kind)
        return cls(
            rooms,
            MembershipService(db, settings, ids, notifier, kind, rooms),
            ModerationService(db, settings, ids, notifier, kind, rooms),
        )

    @property
    def kind(self) -> str:
        return self.rooms.kind
