"""Keeping order in groups and chat rooms: admins, the room's block list, mutes (one member, or
everyone but the whitelisted), the whitelist, and chat-room super admins (easemob-rest.md §6, §7;
webim-xmpp.md §7.9–§7.11).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from hxim import errors
from hxim.model import App, User, now_ms
from hxim.services.room_common import MUTE_FOREVER, ItemResult, RoomKind, no_user, not_in, owner_op
from hxim.services.room_notices import RoomEvent
from hxim.storage.groups import (
    ADMIN,
    MEMBER,
    OWNER,
    count_roles_txn,
    names_with_role_txn,
    roles_txn,
    set_role_txn,
    update_room_txn,
)
from hxim.storage.room_lists import (
    add_room_blocks_txn,
    add_super_admin_txn,
    add_whitelist_txn,
    blocked_ids_txn,
    mutes_txn,
    remove_mutes_txn,
    remove_room_blocks_txn,
    remove_super_admin_txn,
    remove_whitelist_txn,
    room_block_names_txn,
    set_mutes_txn,
    super_admin_ids_txn,
    super_admin_names_txn,
    whitelist_ids_txn,
    whitelist_names_txn,
)

__all__ = ["ModerationService"]


class ModerationService(RoomKind):
    """Admins, blocks, mutes and the whitelist of groups or chat rooms, and chat-room super admins."""

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
                raise errors.resource_not_found(not_in(user.username, room.room_id))
            if role == OWNER:
                raise owner_op()
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
                    out.append(ItemResult(name, no_user(name)))
                elif user.id in already:
                    out.append(ItemResult(user.username))
                elif roles.get(user.id) == OWNER:
                    out.append(ItemResult(user.username, owner_op()))
                elif user.id not in roles:
                    out.append(ItemResult(user.username, errors.forbidden_op(not_in(user.username, room.room_id))))
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
                    out.append(ItemResult(name, no_user(name)))
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
                raise owner_op()
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
                ItemResult(found[n.lower()].username) if n.lower() in found else ItemResult(n, no_user(n))
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
                    out.append(ItemResult(name, no_user(name)))
                elif user.id not in roles:
                    out.append(ItemResult(user.username, errors.forbidden_op(not_in(user.username, room.room_id))))
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
                    out.append(ItemResult(name, no_user(name)))
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

