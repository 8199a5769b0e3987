"""What a group or chat room holds besides its members: whether a group is disabled, the
announcement, and a group's shared files (Easemob's group_ban, group_unban,
group_announcement_obtain/modify, chatroom_announcement_get/update, group_shared_file_upload,
_obtain, _download and _delete pages).

A disabled group refuses every message (`RoomService.resolve`, the one check of every send path,
REST and XMPP) and every change its members ask for with their own tokens or over XMPP
(`group_policy.refusal`); the app's admin token still manages it. A shared file is a chat file of
the file store (`FileService`: its size limit, its storage), listed in the group, kept for ever
(not subject to `chatfile_lifetime_seconds`) until deleted. Every change is told to the room's
online members (`RoomNotifier.broadcast`: `NoticeKind.ROOM_DISABLED`, `ROOM_ANNOUNCEMENT`,
`ROOM_FILE`).
"""

from __future__ import annotations

from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.model import App, IdGenerator
from hxim.services.files import FileService, StoredFile
from hxim.services.notices import NoticeKind
from hxim.services.room_common import ADMIN_SENDER, RoomKind, not_found
from hxim.services.room_notices import RoomNotifier
from hxim.storage import Database
from hxim.storage.groups import Room, room_txn
from hxim.storage.room_content import (
    SharedFile,
    add_room_file_txn,
    delete_room_file_txn,
    room_file_txn,
    room_files_txn,
    set_room_columns_txn,
)
from hxim.storage.rooms import in_room_txn

__all__ = ["RoomContentService", "SharedFile", "file_payload"]


def file_payload(found: SharedFile) -> dict[str, Any]:
    """A shared file as the list answers it and as its notices carry it."""
    return {
        "file_id": found.file_id,
        "file_name": found.file_name,
        "file_owner": found.file_owner,
        "file_size": found.file_size,
        "created": found.created,
    }


class RoomContentService(RoomKind):
    """Disabling, announcements and shared files of groups or of chat rooms."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        ids: IdGenerator,
        notifier: RoomNotifier,
        kind: str,
        rooms: Any,
        files: FileService,
    ) -> None:
        super().__init__(db, settings, ids, notifier, kind, rooms)
        self.files = files

    async def room(self, app: App, rid: str) -> Room:
        """The room, or 404 `grpID X does not exist!` (as these pages word it)."""
        room = await self.db.read(room_txn, app.id, self.kind, self._ident(rid))
        if room is None:
            raise not_found(rid)
        return room

    async def _tell_all(self, app: App, rid: str, kind: str, payload: dict[str, Any], actor: str | None) -> None:
        await self.notifier.broadcast(self.rooms, app, rid, kind, payload, actor)

    # --- disabled -----------------------------------------------------------------------------------
    async def set_disabled(self, app: App, rid: str, disabled: bool) -> None:
        if not await self.db.write(set_room_columns_txn, app.id, self.kind, self._ident(rid), {"disabled": disabled}):
            raise not_found(rid)
        await self._tell_all(app, rid, NoticeKind.ROOM_DISABLED, {"disabled": disabled}, None)

    # --- the announcement ---------------------------------------------------------------------------
    async def announcement(self, app: App, rid: str) -> str:
        return (await self.room(app, rid)).announcement

    async def set_announcement(self, app: App, rid: str, text: Any, actor: str | None = None) -> None:
        if text is None:
            raise errors.illegal_argument("announcement is null")
        if not isinstance(text, str):
            raise errors.illegal_argument("announcement must be a string")
        if len(text) > self.settings.room_announcement_max_length:
            if self.is_group:  # the group page says 403 FORBIDDEN, the chat-room page forbidden_op
                raise errors.HximError(403, "FORBIDDEN", "announce info length exceeds limit!", None, "not-acceptable")
            raise errors.forbidden_op("announce info length exceeds limit!")
        ident = self._ident(rid)
        if not await self.db.write(set_room_columns_txn, app.id, self.kind, ident, {"announcement": text}):
            raise not_found(rid)
        payload = {"chatroom": not self.is_group, "announcement": text}
        await self._tell_all(app, rid, NoticeKind.ROOM_ANNOUNCEMENT, payload, actor)

    # --- shared files (groups) ----------------------------------------------------------------------
    async def add_file(
        self, app: App, rid: str, uploader: str | None, filename: str, content_type: str, content: bytes
    ) -> SharedFile:
        """Store a file in the file store and list it in the group (`uploader` None: the app)."""
        await self.room(app, rid)
        stored = await self.files.upload(app, uploader, filename, content_type, content, False, forever=True)
        owner = uploader or ADMIN_SENDER
        await self.db.write(add_room_file_txn, self._ident(rid), stored.uuid, owner, stored.created)
        found = SharedFile(stored.uuid, stored.filename, owner, stored.size, stored.created)
        await self._tell_all(app, rid, NoticeKind.ROOM_FILE, {"event": "added", **file_payload(found)}, uploader)
        return found

    async def file_list(self, app: App, rid: str, pagenum: int, pagesize: int) -> list[SharedFile]:
        """A page of the group's shared files, newest first (`pagenum` from 1)."""
        found = await self.db.read(
            in_room_txn, app.id, self.kind, self._ident(rid), room_files_txn, (pagenum - 1) * pagesize, pagesize
        )
        if found is None:
            raise not_found(rid)
        return found

    async def _file(self, app: App, rid: str, file_id: str) -> SharedFile:
        found = await self.db.read(in_room_txn, app.id, self.kind, self._ident(rid), room_file_txn, file_id.lower())
        if found is None:
            await self.room(app, rid)  # 404 for the group first
            raise errors.resource_not_found(f"file {file_id} does not exist in group: {rid}")
        return found

    async def file(self, app: App, rid: str, file_id: str) -> StoredFile:
        """A shared file's content; the caller's right to the group is checked by the caller."""
        found = await self._file(app, rid, file_id)
        return await self.files.download(app, found.file_id, None, True, True)

    async def delete_file(self, app: App, rid: str, file_id: str, by: str | None, may_any: bool) -> SharedFile:
        """Delete a shared file. `by`: the user deleting it (None: the app); unless `may_any`
        (the app, the owner, an admin) only the user who uploaded it may."""
        found = await self._file(app, rid, file_id)
        if not may_any and (by is None or by.lower() != found.file_owner.lower()):
            raise errors.forbidden_op(f"user: {by} is not admin or owner of group: {rid}, nor the file's uploader")
        gone = await self.db.write(delete_room_file_txn, self._ident(rid), found.file_id)
        if gone is not None:
            await self._tell_all(app, rid, NoticeKind.ROOM_FILE, {"event": "removed", **file_payload(gone)}, by)
        return found
