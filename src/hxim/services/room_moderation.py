"""Keeping order in groups and chat rooms: admins, the room's block list, mutes (one member, or
everyone but the whitelisted), the whitelist, and chat-room super admins (easemob-rest.md §6, §7;
webim-xmpp.md §7.9–§7.11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hxim import errors
from hxim.model import App, User, now_ms
from hxim.services.room_common import MUTE_FOREVER, ItemResult, RoomKind, not_found, not_in
from hxim.services.room_notices import RoomEvent
from hxim.storage.groups import ADMIN, names_with_role_txn
from hxim.storage.room_checks import Refusal, Refused
from hxim.storage.room_lists import (
    mutes_txn,
    room_block_names_txn,
    super_admin_ids_txn,
    super_admin_names_txn,
    whitelist_names_txn,
)
from hxim.storage.room_moderation import (
    RoomList,
    add_admin_txn,
    grant_super_admin_txn,
    mute_members_txn,
    mute_room_txn,
    put_on_list_txn,
    remove_admin_txn,
    revoke_super_admin_txn,
    take_off_list_txn,
    unmute_members_txn,
)
from hxim.storage.rooms import in_room_txn

__all__ = ["ModerationService"]

T = TypeVar("T")


class ModerationService(RoomKind):
    """Admins, blocks, mutes and the whitelist of groups or chat rooms, and chat-room super admins."""

    async def _listed(self, app: App, rid: str, fn: Callable[..., T], *args: Any) -> T:
        """One of a room's lists, read by `fn(conn, room id, *args)`; 404 for no such room."""
        found = await self.db.read(in_room_txn, app.id, self.kind, self._ident(rid), fn, *args)
        if found is None:
            raise not_found(rid)
        return found

    # --- admins -----------------------------------------------------------------------------------
    async def admins(self, app: App, rid: str) -> list[str]:
        return await self._listed(app, rid, names_with_role_txn, ADMIN)

    async def add_admin(self, app: App, rid: str, username: Any, actor: str | None = None) -> str:
        if not isinstance(username, str) or not username:
            raise errors.invalid_parameter("newadmin must be provided")
        ident = self._ident(rid)
        added = await self.db.write(
            add_admin_txn, app.id, self.kind, ident, username, self.settings.room_owner_admins_max
        )
        if isinstance(added, Refused) and added.why is Refusal.NOT_MEMBER:
            raise errors.resource_not_found(not_in(added.name, str(ident)))
        name = self._ok(added, rid)
        await self._tell(app, rid, RoomEvent.ADMIN_ADDED, [name], actor)
        return name

    async def remove_admin(self, app: App, rid: str, username: str, actor: str | None = None) -> str:
        name = self._ok(await self.db.write(remove_admin_txn, app.id, self.kind, self._ident(rid), username), rid)
        await self._tell(app, rid, RoomEvent.ADMIN_REMOVED, [name], actor)
        return name

    # --- blocks -----------------------------------------------------------------------------------
    async def blocks(self, app: App, rid: str) -> list[str]:
        return await self._listed(app, rid, room_block_names_txn)

    async def block(self, app: App, rid: str, names: Any, actor: str | None = None) -> list[ItemResult]:
        """Block users from the room (they stop being members). Members only; never the owner."""
        out = await self._put_on(app, rid, RoomList.BLOCKS, names)
        await self._tell(app, rid, RoomEvent.BANNED, [r.user for r in out if r.result], actor)
        return out

    async def unblock(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        return await self._take_off(app, rid, RoomList.BLOCKS, names)

    async def _put_on(self, app: App, rid: str, which: RoomList, names: Any) -> list[ItemResult]:
        wanted = self._names(names)
        return self._items(
            await self.db.write(put_on_list_txn, app.id, self.kind, self._ident(rid), which, wanted, now_ms()), rid
        )

    async def _take_off(self, app: App, rid: str, which: RoomList, names: Any) -> list[ItemResult]:
        wanted = self._names(names)
        return self._items(
            await self.db.write(take_off_list_txn, app.id, self.kind, self._ident(rid), which, wanted), rid
        )

    # --- mutes ------------------------------------------------------------------------------------
    async def mutes(self, app: App, rid: str) -> list[tuple[str, int]]:
        return await self._listed(app, rid, mutes_txn, now_ms())

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
        muted = await self.db.write(mute_members_txn, app.id, self.kind, self._ident(rid), wanted, expire)
        if isinstance(muted, Refused) and muted.why is Refusal.NOT_MEMBER:
            raise errors.invalid_parameter(f"users [{', '.join(muted.names)}] are not members of this group!")
        out = [ItemResult(name, expire=expire) for name in self._ok(muted, rid)]
        await self._tell(app, rid, RoomEvent.MUTED, [r.user for r in out], actor)
        return out

    async def unmute(self, app: App, rid: str, names: Any, actor: str | None = None) -> list[ItemResult]:
        wanted = self._names(names)
        unmuted = await self.db.write(unmute_members_txn, app.id, self.kind, self._ident(rid), wanted)
        out = self._items(unmuted, rid)
        await self._tell(app, rid, RoomEvent.UNMUTED, [r.user for r in out if r.result], actor)
        return out

    async def mute_all(self, app: App, rid: str, duration: Any) -> None:
        """Mute every member but the owner, the admins and the whitelist (`ban`)."""
        now = now_ms()
        until = self._expire(duration, now, required=False)
        await self._mute_room(app, rid, until, now)

    async def unmute_all(self, app: App, rid: str) -> None:
        await self._mute_room(app, rid, 0, now_ms())

    async def _mute_room(self, app: App, rid: str, until: int, now: int) -> None:
        if not await self.db.write(mute_room_txn, app.id, self.kind, self._ident(rid), until, now):
            raise not_found(rid)

    # --- whitelist --------------------------------------------------------------------------------
    async def whitelist(self, app: App, rid: str) -> list[str]:
        return await self._listed(app, rid, whitelist_names_txn)

    async def whitelist_add(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        return await self._put_on(app, rid, RoomList.WHITELIST, names)

    async def whitelist_remove(self, app: App, rid: str, names: Any) -> list[ItemResult]:
        return await self._take_off(app, rid, RoomList.WHITELIST, names)

    # --- chat-room super admins (per app) ----------------------------------------------------------
    async def super_admins(self, app: App, pagenum: int | None = None, pagesize: int | None = None) -> list[str]:
        offset, limit = self._page(pagenum, pagesize)
        return await self.db.read(super_admin_names_txn, app.id, offset, limit)

    async def is_super_admin(self, user: User) -> bool:
        return bool(await self.db.read(super_admin_ids_txn, [user.id]))

    async def add_super_admin(self, app: App, username: Any) -> str:
        if not isinstance(username, str) or not username:
            raise errors.invalid_parameter("superadmin must be provided")
        return self._ok(await self.db.write(grant_super_admin_txn, app.id, username, now_ms()))

    async def remove_super_admin(self, app: App, username: str) -> str:
        return self._ok(await self.db.write(revoke_super_admin_txn, app.id, username))
