"""Who is in a group or chat room: adding and removing members, joining, applications to join and
their answers, invitations, and who may act on whom with a user's token (`group_policy`)
(easemob-rest.md §6, §7; webim-xmpp.md §2.7, §7.6–§7.9).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from hxim import errors
from hxim.model import App, User, now_ms
from hxim.services.group_policy import Level, refusal, target_refusal
from hxim.services.room_common import ItemResult, RoomKind, blacklisted, no_user, not_in, owner_op, parse_room_id
from hxim.services.room_notices import RoomEvent
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
from hxim.storage.room_lists import (
    add_application_txn,
    applied_ids_txn,
    blocked_ids_txn,
    remove_applications_txn,
)

__all__ = ["MembershipService"]


class MembershipService(RoomKind):
    """The members of groups (`kind="group"`) or chat rooms (`kind="chatroom"`)."""

    # --- members ----------------------------------------------------------------------------------
    def _admit(self, conn: Connection, room: Room, joining: list[User]) -> None:
        """Refuse users who are blocked, or who would overfill the room or their quota."""
        blocked = blocked_ids_txn(conn, room.id, [u.id for u in joining])
        for user in joining:
            if user.id in blocked:
                raise blacklisted(user, room)
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
                raise owner_op()
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
                    out.append(ItemResult(name, no_user(name)))
                elif role is None:
                    out.append(ItemResult(user.username, errors.forbidden_op(not_in(user.username, room.room_id))))
                elif role == OWNER:
                    out.append(ItemResult(user.username, owner_op()))
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
                raise blacklisted(user, room)
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

