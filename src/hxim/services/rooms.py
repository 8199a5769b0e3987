"""Groups and chat rooms themselves: creation, settings, the owner, dissolution, who belongs, and
whom a message to one reaches (easemob-rest.md §6, §7; the room helpers are `RoomKind`'s).

`create` takes a `NewRoom` and `modify` a `RoomChanges`: typed commands that each surface builds
from its own input (a REST body, an XMPP configuration form), so that the limits are checked here
once, whatever the surface.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.model import App, IdGenerator, Recipients, User, now_ms
from hxim.services.files import FileService
from hxim.services.room_attributes import RoomAttributeService
from hxim.services.room_common import (
    ADMIN_SENDER,
    RoomKind,
    no_user,
    not_found,
    not_in,
    parse_room_id,
    refused_error,
)
from hxim.services.room_content import RoomContentService
from hxim.services.room_members import MembershipService
from hxim.services.room_moderation import ModerationService
from hxim.services.room_notices import RoomEvent, RoomNotifier
from hxim.services.users import decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.groups import (
    MEMBER,
    OWNER,
    Fanout,
    MemberList,
    Room,
    fanout_txn,
    list_rooms_txn,
    members_txn,
    room_txn,
)
from hxim.storage.room_checks import Refusal
from hxim.storage.rooms import (
    change_room_txn,
    create_room_txn,
    delete_owned_rooms_txn,
    delete_room_txn,
    in_room_txn,
    is_room_member_txn,
    rooms_with_members_txn,
    user_room_page_txn,
    user_rooms_txn,
)
from hxim.storage.threads import THREAD, thread_fanout_txn

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
    """What to change in a room: only the fields that are not None (`newowner`: the room's owner)."""

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
        self._thread_parents: dict[int, int] = {}  # thread id -> its group's id, for the cache

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
        if self.is_group:
            public, membersonly = cmd.public, cmd.membersonly
            allowinvites, invite_need_confirm = cmd.allowinvites, cmd.invite_need_confirm
        else:
            public, membersonly, allowinvites, invite_need_confirm = True, False, False, False
        values: dict[str, Any] = {
            "id": ident if ident is not None else self.ids.next(),
            "app_uuid": app.id,
            "kind": self.kind,
            "name": cmd.name,
            "description": cmd.description,
            "public": public,
            "membersonly": membersonly,
            "allowinvites": allowinvites,
            "invite_need_confirm": invite_need_confirm,
            "maxusers": maxusers,
            "custom": cmd.custom,
            "mute_until": 0,
        }
        created = await self.db.write(create_room_txn, values, cmd.owner, member_names, self.per_user_max, now_ms())
        room = self._ok(created)
        if self.notifier.callbacks.wants(app.id, "group_op"):  # Easemob's CREATE, then the members' JOIN
            info = {
                "owner": f"{app.appkey}_{room.owner}", "created": str(room.created), "custom": room.custom,
                "description": room.description, "mute": str(room.mute_until != 0).lower(), "title": room.name,
                "max_users": str(room.maxusers), "invite_need_confirm": str(room.invite_need_confirm).lower(),
                "public": str(room.public).lower(), "allow_user_invites": str(room.allowinvites).lower(),
                "disabled": "false", "last_modified": str(room.modified),
            }
            payload = {"role": {room.owner: "owner"}, "member": member_names, "info": info}
            self.notifier.callbacks.room(app, self.kind, room.room_id, "CREATE", room.owner, payload)
            if member_names:
                self._called_back(app, room.room_id, RoomEvent.JOINED, member_names, room.owner)
        return room

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
        found = await self.db.read(rooms_with_members_txn, app.id, self.kind, wanted) if wanted else {}
        out: list[tuple[str, Room | None, list[tuple[str, str]]]] = []
        for rid in rids:
            room, members = found.get(parse_room_id(rid) or 0, (None, []))
            out.append((rid, room, members))
        return out

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
        found = await self.db.read(user_rooms_txn, app.id, self.kind, username, offset, limit)
        if found is None:
            raise no_user(username)
        return [(str(i), n) for i, n in found]

    async def joined_page(self, app: App, username: str, pagenum: int, pagesize: int) -> tuple[int, list[Room]]:
        """(how many rooms the user belongs to, page `pagenum` (from 0) of `pagesize` of them)."""
        found = await self.db.read(user_room_page_txn, app.id, self.kind, username, pagenum * pagesize, pagesize)
        if found is None:
            raise no_user(username)
        return found

    # --- the members ----------------------------------------------------------------------------------
    async def members(
        self, app: App, rid: str, pagenum: int | None = None, pagesize: int | None = None
    ) -> list[tuple[str, str]]:
        """(username, role) with role `owner` or `member` (admins are members here, as in §6.2)."""
        offset, limit = self._page(pagenum, pagesize)
        found = await self.db.read(in_room_txn, app.id, self.kind, self._ident(rid), members_txn, offset, limit)
        if found is None:
            raise not_found(rid)
        return [(n, OWNER if r == OWNER else MEMBER) for n, r in found]

    async def audience(self, app: App, rid: str) -> list[str]:
        """The names of whom a message to `rid` was for: the room's members, or (groups) those of
        the thread `rid`; none when there is no such room any more."""
        ident = parse_room_id(rid)
        if ident is None:
            return []
        found = await self.db.read(in_room_txn, app.id, self.kind, ident, members_txn)
        if found is None and self.is_group:
            found = await self.db.read(in_room_txn, app.id, THREAD, ident, members_txn)
        return [n for n, _ in found or []]

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
        await self._change(app, rid, values, changes.newowner is not None, changes.newowner)

    async def transfer(self, app: App, rid: str, newowner: Any) -> None:
        await self._change(app, rid, {}, True, newowner)

    async def _change(self, app: App, rid: str, values: dict[str, Any], transfer: bool, newowner: Any) -> None:
        """Change the columns in `values` and, with `transfer`, hand the room to `newowner`."""
        valid = isinstance(newowner, str) and bool(newowner)
        # a name that cannot be one is looked up as "", refused as no user where the name is looked up
        asked = (newowner if valid else "") if transfer else None
        before = None
        if transfer and self.notifier.callbacks.wants(app.id, "group_op"):
            with contextlib.suppress(errors.HximError):
                before = await self.get(app, rid)
        refused = await self.db.write(change_room_txn, app.id, self.kind, self._ident(rid), values, asked, now_ms())
        if refused is None:
            if before is not None and isinstance(newowner, str) and newowner.lower() != before.owner.lower():
                payload = {"owner": before.owner, "new_owner": newowner, "type": "OWNER"}
                self.notifier.callbacks.room(app, self.kind, rid, "UPDATE", None, payload)
            return
        if refused.why is Refusal.NO_USER and not valid:
            raise errors.invalid_parameter("newowner must be a user name")
        raise refused_error(refused, rid)

    async def delete(self, app: App, rid: str, actor: str | None = None, reason: str = "") -> Room:
        found = await self.db.write(delete_room_txn, app.id, self.kind, self._ident(rid))
        if found is None:
            raise not_found(rid)
        room, names = found
        await self._tell(app, room.room_id, RoomEvent.DESTROYED, names, actor, reason)
        return room

    async def delete_owned(self, app: App, victims: list[User]) -> None:
        """Delete every group and chat room the users own (a `UserService.delete_hooks` hook)."""
        await self.db.write(delete_owned_rooms_txn, [u.id for u in victims])

    # --- messages ---------------------------------------------------------------------------------
    async def is_member(self, app: App, rid: str, user: User) -> bool:
        """Whether `user` belongs to room `rid` of this kind (any role), or to thread `rid` of a group;
        False for no such room.
        The check of message roaming (a `MessageService` room check, webim-xmpp.md §2.6)."""
        ident = parse_room_id(rid)
        if ident is None:
            return False
        if await self.db.read(is_room_member_txn, app.id, self.kind, ident, user.id):
            return True
        # a thread's conversation is a group conversation read by the thread's members
        return self.is_group and await self.db.read(is_room_member_txn, app.id, THREAD, ident, user.id)

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

        A disabled group takes no message at all (Easemob's group_ban page). Otherwise the
        sender must be a member (the app itself, `admin`, may always post), not blocked
        from the room, not muted, and not silenced by mute-all unless they are the owner, an
        admin or whitelisted. Everyone else in the room receives it, except users who block
        the sender. Group messages keep offline copies; chat-room messages do not.

        A group message to a thread's id is a thread message (Easemob's thread messages are
        group messages addressed to the thread): the thread's group judges the sender by those
        rules, the sender must also have joined the thread, and it reaches the thread's members.
        """
        ident = parse_room_id(target)
        if ident is None:
            raise not_found(target)
        key = sender.lower()
        known = self._fanout_cache.get(ident)
        fan = await self.db.read(fanout_txn, app.id, self.kind, ident, key, known)
        if fan is None:
            self._forget(ident)
            if self.is_group:
                return await self._resolve_thread(app, ident, target, key, sender)
            raise not_found(target)
        if fan.members is not known:
            self._remember(ident, fan.members)
        rid = str(ident)
        self._judge(fan, rid, sender)
        return Recipients("groupchat" if self.is_group else "chatroom", rid, self._reach(fan), self.is_group)

    async def _resolve_thread(self, app: App, ident: int, target: str, key: str, sender: str) -> Recipients:
        parent = self._thread_parents.get(ident)
        known_group = self._fanout_cache.get(parent) if parent is not None else None
        known = self._fanout_cache.get(ident)
        found = await self.db.read(thread_fanout_txn, app.id, ident, key, known, known_group)
        if found is None:
            self._thread_parents.pop(ident, None)
            raise not_found(target)
        thread, group = found
        if len(self._thread_parents) >= self.settings.fanout_cache_members:
            self._thread_parents.clear()
        self._thread_parents[ident] = group.room_id
        for fan, was in ((thread, known), (group, known_group)):
            if fan.members is not was:
                self._remember(fan.room_id, fan.members)
        rid = str(ident)
        self._judge(group, str(group.room_id), sender)
        if sender != ADMIN_SENDER and thread.sender_role is None:
            raise errors.forbidden_op(f"user: {thread.sender.username if thread.sender else sender} "
                                      f"doesn't exist in thread: {rid}")
        return Recipients("groupchat", rid, self._reach(thread), True)

    @staticmethod
    def _judge(fan: Fanout, rid: str, sender: str) -> None:
        """Refuse `sender`'s message to room `rid` unless the room's rules let it through."""
        if fan.disabled:  # the app itself may not post to a disabled group either
            raise errors.forbidden_op(f"group: {rid} is disabled, no message can be sent to it")
        if sender == ADMIN_SENDER:
            return
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

    @staticmethod
    def _reach(fan: Fanout) -> list[User]:
        """The room's members but the sender and the users who block the sender."""
        sender_id = fan.sender.id if fan.sender and fan.sender_role is not None else None
        blockers = fan.blockers
        return [u for u in fan.members.users if u.id != sender_id and u.id not in blockers]


@dataclass(frozen=True, slots=True)
class RoomServices:
    """The services of one kind of room: the rooms themselves, their members, their moderation,
    what they hold (disabled, announcement, shared files) and their attributes and tags."""

    rooms: RoomService
    members: MembershipService
    moderation: ModerationService
    content: RoomContentService
    attributes: RoomAttributeService

    @classmethod
    def build(
        cls,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        notifier: RoomNotifier,
        kind: str,
        files: FileService,
    ) -> RoomServices:
        rooms = RoomService(db, settings, ids, notifier, kind)
        return cls(
            rooms,
            MembershipService(db, settings, ids, notifier, kind, rooms),
            ModerationService(db, settings, ids, notifier, kind, rooms),
            RoomContentService(db, settings, ids, notifier, kind, rooms, files),
            RoomAttributeService(db, settings, ids, notifier, kind, rooms),
        )

    @property
    def kind(self) -> str:
        return self.rooms.kind
