"""Who is in a group or chat room: adding and removing members, joining, applications to join and
their answers, invitations, and who may act on whom with a user's token (`group_policy`)
(easemob-rest.md §6, §7; webim-xmpp.md §2.7, §7.6–§7.9).
"""

from __future__ import annotations

from typing import Any

from hxim import errors
from hxim.model import App, User, now_ms
from hxim.services.group_policy import Level, refusal, target_refusal
from hxim.services.room_common import ItemResult, RoomKind, parse_room_id
from hxim.services.room_notices import RoomEvent
from hxim.storage.room_checks import Refusal, Refused
from hxim.storage.room_members import (
    admit_member_txn,
    admit_members_txn,
    answer_application_txn,
    apply_to_join_txn,
    drop_member_txn,
    drop_members_txn,
    invite_users_txn,
    rooms_and_roles_txn,
    target_roles_txn,
)

__all__ = ["MembershipService"]


class MembershipService(RoomKind):
    """The members of groups (`kind="group"`) or chat rooms (`kind="chatroom"`)."""

    # --- members ----------------------------------------------------------------------------------
    async def add_member(self, app: App, rid: str, username: str) -> User:
        user = await self._admit(app, rid, username)
        self._called_back(app, rid, RoomEvent.JOINED, [user.username], None)
        return user

    async def _admit(self, app: App, rid: str, username: str) -> User:
        added = await self.db.write(
            admit_member_txn, app.id, self.kind, self._ident(rid), username, self.per_user_max, now_ms()
        )
        return self._ok(added, rid)

    @staticmethod
    def _refuse_unknown(result: object) -> None:
        """An unknown user named in a batch that adds or invites fails the whole call."""
        if isinstance(result, Refused) and result.why is Refusal.NO_USER:
            raise errors.illegal_argument(f"group member {result.name} doesn't exist")

    async def add_members(self, app: App, rid: str, names: Any) -> list[str]:
        """Add users; those already members are skipped. Returns the names added."""
        wanted = self._names(names)
        added = await self.db.write(
            admit_members_txn, app.id, self.kind, self._ident(rid), wanted, self.per_user_max, now_ms()
        )
        self._refuse_unknown(added)
        names = self._ok(added, rid)
        if names:
            self._called_back(app, rid, RoomEvent.JOINED, list(names), None)
        return names

    async def remove_member(self, app: App, rid: str, username: str, actor: str | None = None) -> User:
        """Remove one member: kicked by `actor` (None: the app), or leaving when it is the user."""
        gone = await self.db.write(drop_member_txn, app.id, self.kind, self._ident(rid), username)
        if isinstance(gone, Refused) and gone.why is Refusal.NOT_MEMBER:
            raise errors.forbidden_op(f"users [{gone.name}] are not members of this group!")
        user = self._ok(gone, rid)
        await self._tell(app, rid, RoomEvent.KICKED, [user.username], actor)
        return user

    async def remove_members(
        self, app: App, rid: str, names: list[str], actor: str | None = None
    ) -> list[ItemResult]:
        wanted = self._names(names)
        out = self._items(await self.db.write(drop_members_txn, app.id, self.kind, self._ident(rid), wanted), rid)
        await self._tell(app, rid, RoomEvent.KICKED, [r.user for r in out if r.result], actor)
        return out

    async def join(self, app: App, rid: str, username: str) -> User:
        """The user joins by themselves (a chat-room join, `joinPublicGroup` of an open group): a
        member like `add_member`, and the other members are told (webim-xmpp.md §7.7, §7.8)."""
        user = await self._admit(app, rid, username)
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

        ident = self._ident(rid)
        applied = await self.db.write(
            apply_to_join_txn, app.id, self.kind, ident, username, reason, self.per_user_max, now_ms()
        )
        user, managers = self._ok(applied, rid)
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

        ident = self._ident(rid)
        answered = await self.db.write(
            answer_application_txn, app.id, self.kind, ident, applicant, accept, self.per_user_max, now_ms()
        )
        name = self._ok(answered, rid)
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
        ident = self._ident(rid)
        result = await self.db.write(
            invite_users_txn, app.id, self.kind, ident, wanted, self.is_group, self.per_user_max, now_ms()
        )
        self._refuse_unknown(result)
        invited, direct = self._ok(result, rid)
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
        if not idents:
            return
        for room, role in await self.db.read(rooms_and_roles_txn, app.id, self.kind, idents, user.id):
            refused = refusal(level, room, user.username, role)
            if refused is not None:
                raise refused

    async def permit_targets(self, app: App, rid: str, user: User, names: Any) -> None:
        """Refuse (403) an admin's action on other admins or the owner (only the owner may)."""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return  # the operation refuses the malformed list itself

        ident = parse_room_id(rid)
        if ident is None:
            return
        found = await self.db.read(
            target_roles_txn, app.id, self.kind, ident, user.id, names[: self.settings.room_batch_max]
        )
        if found is None:
            return
        room, role, targets = found
        refused = target_refusal(room, role, targets)
        if refused is not None:
            raise refused
