"""Threads of groups (Easemob's "子区": the group_thread_* pages of its server documentation and its
SDKs' thread guides): created from a group message, renamed, deleted, joined and left, listed.

A thread is a room of kind "thread" linked to its group (`storage.threads`); its members are
group members who joined it (the creator first, as its owner). Messages to a thread are group
messages addressed to the thread's id: `RoomService.resolve` (groups) takes them, judges the
sender by the group's rules and reaches the thread's members, stored and kept offline as group
messages are. Who leaves the group leaves its threads; a destroyed group takes its threads along.

Who may do what with a user's token (the app's token may do everything), as the SDK guides say:
any group member creates a thread (owned by themself), reads its members and joins it; a member
leaves it; the group's owner and admins add and remove others and destroy it; they and the
thread's owner rename it.

Every change is told with a `NoticeKind.THREAD_*` notice (never kept): a thread created, renamed
or destroyed to the group's online members; joined, left or removed to the thread's members and
the users concerned. The notice's sender is who acted, the thread's owner when the app did.
"""

from __future__ import annotations

from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.errors import HximError
from hxim.hub import Notice, Router
from hxim.model import App, IdGenerator, User, now_ms
from hxim.services.notices import NoticeKind
from hxim.services.room_common import parse_room_id
from hxim.services.users import decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.groups import ADMIN, OWNER
from hxim.storage.threads import (
    Thread,
    ThreadRefusal,
    ThreadRefused,
    create_thread_txn,
    delete_thread_txn,
    join_thread_txn,
    leave_thread_txn,
    rename_thread_txn,
    standing_txn,
    thread_ids_txn,
    thread_members_txn,
    user_threads_txn,
)

__all__ = ["Thread", "ThreadService"]

# each refusal as the pages word it: (status, description)
_REFUSALS: dict[ThreadRefusal, tuple[int, str]] = {
    ThreadRefusal.NO_THREAD: (404, "thread not found."),
    ThreadRefusal.NO_GROUP: (404, "group not found."),
    ThreadRefusal.NO_USER: (404, "user not in group."),
    ThreadRefusal.NOT_IN_GROUP: (404, "user not in group."),
    ThreadRefusal.NO_MESSAGE: (404, "msg not exist."),
    ThreadRefusal.OTHER_APP: (400, "msg not belong to app."),
    ThreadRefusal.NOT_GROUP_MESSAGE: (400, "thread must on group message to create."),
    ThreadRefusal.NESTED: (400, "thread not nested."),
    ThreadRefusal.OTHER_GROUP: (400, "msg not belong to group ."),
    ThreadRefusal.TAKEN: (403, "msg already create thread.not allow to create."),
    ThreadRefusal.APP_FULL: (403, "thread number has reached limit."),
    ThreadRefusal.USER_FULL: (403, "user join thread reach limit."),
}


def _refused(refused: ThreadRefused) -> HximError:
    status, text = _REFUSALS[refused.why]
    return errors.group_error(status, text)


def not_found() -> HximError:
    return errors.group_error(404, "thread not found.")


def _ident(value: Any) -> int | None:
    """An id given as a number or as its decimal string (None: neither)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return parse_room_id(value) if isinstance(value, str) else None


def payload(thread: Thread) -> dict[str, Any]:
    """A thread as the notices carry it."""
    return {
        "thread": thread.thread_id,
        "group": str(thread.group_id),
        "name": thread.name,
        "owner": thread.owner,
        "msg_id": str(thread.msg_id),
        "created": thread.created,
    }


class ThreadService:
    def __init__(self, db: Database, settings: Settings, ids: IdGenerator, router: Router) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.router = router

    # --- checks -------------------------------------------------------------------------------------
    def _name(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise errors.param_illegal()
        if len(name) > self.settings.thread_name_max_length:
            raise errors.group_error(400, "thread name limit reached.")
        return name

    def _limit(self, limit: int | None) -> int:
        most = self.settings.threads_page_max
        if limit is None:
            return most
        if not 1 <= limit <= most:
            raise errors.group_error(400, "query param reaches limit.")
        return limit

    def _names(self, names: Any) -> list[str]:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise errors.param_illegal()
        if len(names) > self.settings.thread_members_batch_max:
            raise errors.group_error(400, "request body reaches limit.")
        return list({n.lower(): n for n in reversed(names)}.values())[::-1]

    async def _standing(self, app: App, tid: str, user: User) -> tuple[Thread, str | None, str | None]:
        ident = parse_room_id(tid)
        found = await self.db.read(standing_txn, app.id, ident, user.id) if ident is not None else None
        if found is None:
            raise not_found()
        return found

    async def _permit(self, app: App, tid: str, by: User | None, *, manage: bool, owner_too: bool = False) -> None:
        """Let `by` (None: the app) act on thread `tid`: any group member, or with `manage` the
        group's owner and admins (and with `owner_too` the thread's owner)."""
        if by is None:
            return
        thread, group_role, _ = await self._standing(app, tid, by)
        gid = thread.group_id
        if group_role is None:
            raise errors.forbidden_op(f"user: {by.username} doesn't exist in group: {gid}")
        if not manage or group_role in (OWNER, ADMIN):
            return
        if owner_too and thread.owner.lower() == by.key:
            return
        raise errors.forbidden_op(f"user: {by.username} is not admin or owner of group: {gid}")

    # --- the threads --------------------------------------------------------------------------------
    async def create(self, app: App, body: dict[str, Any], by: User | None) -> Thread:
        """Start a thread from a group message (`body`: group_id, name, msg_id, owner)."""
        group_id, msg_id, owner = _ident(body.get("group_id")), _ident(body.get("msg_id")), body.get("owner")
        if group_id is None or msg_id is None or not isinstance(owner, str) or not owner:
            raise errors.param_illegal()
        name = self._name(body.get("name"))
        if by is not None and owner.lower() != by.key:
            raise errors.forbidden_op(f"user: {by.username} can not create a thread owned by user: {owner}")
        s = self.settings
        found = await self.db.write(
            create_thread_txn, app.id, self.ids.next(), group_id, msg_id, name, owner,
            s.threads_per_app_max, s.threads_per_user_max, now_ms(),
        )
        if isinstance(found, ThreadRefused):
            raise _refused(found)
        thread, group_members = found
        self._tell(app, NoticeKind.THREAD_CREATED, thread, group_members, thread.owner)
        return thread

    async def rename(self, app: App, tid: str, name: Any, by: User | None) -> Thread:
        name = self._name(name)
        await self._permit(app, tid, by, manage=True, owner_too=True)
        ident = parse_room_id(tid)
        found = await self.db.write(rename_thread_txn, app.id, ident, name, now_ms()) if ident is not None else None
        if found is None:
            raise not_found()
        thread, group_members = found
        self._tell(app, NoticeKind.THREAD_UPDATED, thread, group_members, by.username if by else thread.owner)
        return thread

    async def delete(self, app: App, tid: str, by: User | None) -> Thread:
        await self._permit(app, tid, by, manage=True)
        ident = parse_room_id(tid)
        found = await self.db.write(delete_thread_txn, app.id, ident) if ident is not None else None
        if found is None:
            raise not_found()
        thread, group_members = found
        self._tell(app, NoticeKind.THREAD_DESTROYED, thread, group_members, by.username if by else thread.owner)
        return thread

    async def page(self, app: App, limit: int | None, cursor: str | None, newest_first: bool) -> tuple[list[int], str]:
        """A page of the app's thread ids, and the cursor of the next (the given one past the end)."""
        after = decode_cursor(cursor, 1)[0] if cursor else None
        found = await self.db.read(thread_ids_txn, app.id, after, self._limit(limit), newest_first)
        return found, (encode_cursor(found[-1]) if found else cursor or "")

    async def joined(
        self,
        app: App,
        username: str,
        group: str | None,
        limit: int | None,
        cursor: str | None,
        newest_first: bool,
    ) -> tuple[list[Thread], str]:
        """A page of the threads `username` belongs to (in `group` only, when given), by the time
        they joined, and the next page's cursor."""
        after = decode_cursor(cursor, 2) if cursor else None
        group_id = None
        if group is not None:
            group_id = parse_room_id(group)
            if group_id is None:
                return [], cursor or ""
        found = await self.db.read(
            user_threads_txn, app.id, username, group_id, after, self._limit(limit), newest_first
        )
        if found is None:
            raise errors.resource_not_found(f"username {username} doesn't exist!")
        next_cursor = encode_cursor(found[-1][1], found[-1][0].id) if found else cursor or ""
        return [t for t, _ in found], next_cursor

    # --- the members --------------------------------------------------------------------------------
    async def members(
        self, app: App, tid: str, limit: int | None, cursor: str | None, by: User | None
    ) -> tuple[list[str], str]:
        """A page of a thread's members in the order they joined, and the next page's cursor."""
        size = self._limit(limit)
        await self._permit(app, tid, by, manage=False)
        after = decode_cursor(cursor, 2) if cursor else None
        ident = parse_room_id(tid)
        found = await self.db.read(thread_members_txn, app.id, ident, after, size) if ident is not None else None
        if found is None:
            raise not_found()
        next_cursor = encode_cursor(found[-1][1], found[-1][2]) if found else cursor or ""
        return [name for name, _, _ in found], next_cursor

    async def add_members(self, app: App, tid: str, names: Any, by: User | None) -> list[str]:
        """Group members join the thread (a user's token: themself; the group's owner and admins:
        anyone). The names that joined."""
        wanted = self._names(names)
        await self._permit(app, tid, by, manage=not (by is not None and [n.lower() for n in wanted] == [by.key]))
        ident = parse_room_id(tid)
        if ident is None:
            raise not_found()
        found = await self.db.write(
            join_thread_txn, app.id, ident, wanted, self.settings.threads_per_user_max, now_ms()
        )
        if isinstance(found, ThreadRefused):
            raise _refused(found)
        thread, joined, members = found
        actor = by.username if by else thread.owner
        for name in joined:
            self._tell(app, NoticeKind.THREAD_JOINED, thread, members, actor, user=name)
        return joined

    async def remove_members(self, app: App, tid: str, names: Any, by: User | None) -> list[tuple[str, bool]]:
        """Users leave the thread (a user's token: themself; the group's owner and admins:
        anyone): (name, whether they left) for each."""
        wanted = self._names(names)
        alone = by is not None and [n.lower() for n in wanted] == [by.key]
        if not alone:
            await self._permit(app, tid, by, manage=True)
        ident = parse_room_id(tid)
        found = await self.db.write(leave_thread_txn, app.id, ident, wanted) if ident is not None else None
        if found is None:
            raise not_found()
        thread, outcome, members = found
        actor = by.username if by else thread.owner
        kind = NoticeKind.THREAD_LEFT if alone else NoticeKind.THREAD_KICKED
        for name, left in outcome:
            if left:
                self._tell(app, kind, thread, [*members, name], actor, user=name)
        return outcome

    # --- notices ------------------------------------------------------------------------------------
    def _tell(
        self, app: App, kind: str, thread: Thread, names: list[str], actor: str, user: str | None = None
    ) -> None:
        """Push a notice of the thread to the online sessions of `names` (never kept)."""
        body = payload(thread)
        if user is not None:
            body["user"] = user
        notice = Notice(kind, actor, body)
        for name in names:
            self.router.push(app.uuid, name.lower(), notice)
