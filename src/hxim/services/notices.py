"""Notices kept for users who are not online: friend requests and answers, room invitations and
Easemob's group notifications (webim-xmpp.md §5.1, §7.6, §7.11, §9(d).4).

A notice is protocol-neutral: a `kind`, the sending user (or room) and a JSON payload. The XMPP
side renders it into a stanza when it replays it after the user's next initial presence, then
removes it; messages have their own offline queue (`MessageService`).
"""

from __future__ import annotations

from typing import Any

from hxim.model import IdGenerator, User
from hxim.storage import Database
from hxim.storage.notices import Notice, add_notice_txn, forget_notices_txn, notices_txn, remove_notices_txn

__all__ = ["Notice", "NoticeService"]


class NoticeService:
    def __init__(self, db: Database, ids: IdGenerator) -> None:
        self.db = db
        self.ids = ids

    async def keep(self, user: User, kind: str, sender: str, payload: dict[str, Any], *, replace: bool = False) -> None:
        """Store a notice for `user`; `replace` drops earlier ones of the same kind and sender."""
        await self.db.write(add_notice_txn, user.id, self.ids.next(), kind, sender, payload, replace)

    async def pending(self, user: User, limit: int) -> list[Notice]:
        """The oldest `limit` notices waiting for the user."""
        return await self.db.read(notices_txn, user.id, limit)

    async def remove(self, user: User, ids: list[int]) -> None:
        if ids:
            await self.db.write(remove_notices_txn, user.id, ids)

    async def forget(self, user: User, kind: str, sender: str) -> None:
        """Drop the notices of one kind from one sender still kept for `user` (a withdrawn request)."""
        await self.db.write(forget_notices_txn, user.id, kind, sender)
