"""Who is told what when a group or chat room changes (webim-xmpp.md §7.6–§7.11), whichever
surface made the change.

`RoomService` reports each change it committed as a `RoomEvent` with the users it concerns;
`RoomNotifier.tell` turns it into notices (`NoticeKind`) and sends them through the
`NoticeService`: kept for offline users of a group, never for a chat room (chat rooms keep
nothing). A join, and a member leaving by themself, is announced to the room's other members that
are online, never kept: a member who logs in later reads the member list instead. So is what
changes what a room holds (`broadcast`: its announcement, a group disabled, shared files,
attributes): a member who was away reads it over REST.

The notice's sender is the user who acted; when the app acted (REST, no user), the room's owner
speaks for it. A user who removes themself is not told of it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.hub import Notice, Router
from hxim.model import App
from hxim.services.callbacks import CallbackService
from hxim.services.notices import NoticeKind, NoticeService
from hxim.services.users import UserService

if TYPE_CHECKING:
    from hxim.services.rooms import RoomService

__all__ = ["RoomEvent", "RoomNotifier"]


class RoomEvent(StrEnum):
    JOINED = "joined"  # the users joined (an open group, an accepted application, a chat room...)
    ACCEPTED = "accepted"  # their application was accepted
    DECLINED = "declined"  # their application was declined (detail: the reason)
    APPLIED = "applied"  # to the owner and admins: the actor applied (detail: the reason)
    INVITED = "invited"  # the users were invited by the actor (detail: the reason)
    KICKED = "kicked"
    BANNED = "banned"
    DESTROYED = "destroyed"  # to every member (detail: the reason)
    ADMIN_ADDED = "admin_added"
    ADMIN_REMOVED = "admin_removed"
    MUTED = "muted"
    UNMUTED = "unmuted"


_ROLES = (RoomEvent.ADMIN_ADDED, RoomEvent.ADMIN_REMOVED, RoomEvent.MUTED, RoomEvent.UNMUTED)


class RoomNotifier:
    def __init__(self, users: UserService, notices: NoticeService, router: Router, callbacks: CallbackService) -> None:
        self.users = users
        self.notices = notices
        self.router = router
        self.callbacks = callbacks  # group_op_event callbacks (`RoomCommon._tell`)

    async def tell(
        self, rooms: RoomService, app: App, rid: str, event: RoomEvent, names: list[str], actor: str | None, detail: str
    ) -> None:
        """Tell `names` (or, for a join, the other members) what happened in room `rid`."""
        if event is RoomEvent.JOINED:
            await self._announce(rooms, app, rid, names, NoticeKind.ROOM_JOIN)
            return
        if event is RoomEvent.KICKED and actor is not None and [n.lower() for n in names] == [actor.lower()]:
            await self._announce(rooms, app, rid, names, NoticeKind.ROOM_LEAVE)  # left by themself
            return
        room_name = ""
        if actor is None or event is RoomEvent.APPLIED:  # the app acted (REST): the owner speaks for it
            try:
                room = await rooms.get(app, rid)
                actor, room_name = actor or room.owner, room.name
            except errors.HximError:
                actor = actor or "admin"
        keep = rooms.kind == "group"
        for name in names:
            user = await self.users.find(app, name)
            if user is None or (event is RoomEvent.KICKED and user.key == actor.lower()):
                continue  # leaving by oneself is no news to oneself
            payload: dict[str, Any] = {"room": rid}
            if event in (RoomEvent.KICKED, RoomEvent.BANNED):
                kind = NoticeKind.ROOM_REMOVED
                payload.update(nick=user.username, code="307" if event is RoomEvent.KICKED else "321")
            elif event is RoomEvent.DESTROYED:
                kind = NoticeKind.ROOM_DESTROYED
                payload["reason"] = detail
            elif event in _ROLES:
                kind = NoticeKind.ROOM_ROLE
                payload["event"] = event.value
            elif event is RoomEvent.APPLIED:
                kind = NoticeKind.ROOM_APPLY
                payload.update(name=room_name, reason=detail)
            elif event is RoomEvent.ACCEPTED:
                kind = NoticeKind.ROOM_ACCEPT
            elif event is RoomEvent.DECLINED:
                kind = NoticeKind.ROOM_DECLINE
                payload["reason"] = detail
            else:  # INVITED
                kind = NoticeKind.ROOM_INVITE
                payload["reason"] = detail
            await self.notices.send(app, user, Notice(kind, actor, payload), keep=keep)

    async def broadcast(
        self, rooms: RoomService, app: App, rid: str, kind: str, payload: dict[str, Any], actor: str | None
    ) -> None:
        """Tell every online member of room `rid` (the actor's own sessions too) a notice of
        `kind`; never kept. `actor` None: the app acted, and the owner speaks for it."""
        try:
            members = await rooms.members(app, rid)
        except errors.HximError:
            return
        if actor is None:
            actor = next((n for n, role in members if role == "owner"), "admin")
        notice = Notice(kind, actor, {"room": rid, **payload})
        for name, _ in members:
            self.router.push(app.uuid, name.lower(), notice)

    async def _announce(self, rooms: RoomService, app: App, rid: str, names: list[str], kind: str) -> None:
        """Tell the room's other members who are online that `names` joined or left (never kept)."""
        try:
            members = [n.lower() for n, _ in await rooms.members(app, rid)]
        except errors.HximError:
            return
        concerned = {n.lower() for n in names}
        payload = {"room": rid, "chatroom": rooms.kind == "chatroom"}
        for key in members:
            if key not in concerned:
                for nick in names:
                    self.router.push(app.uuid, key, Notice(kind, nick, payload))
