"""Chat files: upload and download of the attachments messages point to (easemob-rest.md §8,
webim-xmpp.md §2.5, §2.8).

A file's id is a random UUID (version 4: 122 random bits), so its URL
(`/{org}/{app}/chatfiles/{uuid}`) is a capability: with `chatfile_link_downloads` on (the
default) a GET that presents no credentials is served, because apps put `message.url` straight
into `<img src>`. Credentials that are presented are still checked: a bad token or a wrong
share-secret is refused. Otherwise — the setting off, or a file stored earlier under a
time-based (version 1) id, which is guessable — an upload marked `restrict-access` needs its
share-secret (or an app-admin token) and any other file any valid token of the app.

Lifetimes (Easemob's message_attachment_storage): with `chatfile_lifetime_seconds` set, a file
lives that long after its upload, or after its last `refresh`, unless made `forever`; `default`
counts from the upload again. An expired file is gone: downloads answer 404 and it is removed
then, or by the next upload's purge (at most every `chatfile_purge_interval_seconds`). With the
setting 0 (the default) every file is kept, and the lifetimes set are kept for when it is not.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from hxim import errors
from hxim.config import Settings
from hxim.model import App, b64url, now_ms
from hxim.storage import Database
from hxim.storage.files import delete_file_txn, get_file_txn, insert_file_txn, purge_expired_txn, set_lifetime_txn

__all__ = ["FileService", "StoredFile", "LIFETIMES"]

LIFETIMES = ("default", "refresh", "forever")


@dataclass(frozen=True, slots=True)
class StoredFile:
    uuid: str
    filename: str
    content_type: str
    size: int
    share_secret: str | None
    created: int
    content: bytes


class FileService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._next_purge = 0  # ms: when an upload next removes the expired files

    def _since(self, now: int) -> int | None:
        """The oldest start of a lifetime still alive at `now` (None: files live for ever)."""
        lifetime = self.settings.chatfile_lifetime_seconds
        return now - lifetime * 1000 if lifetime else None

    async def upload(
        self,
        app: App,
        uploader: str | None,
        filename: str,
        content_type: str,
        content: bytes,
        restrict: bool,
        *,
        forever: bool = False,
    ) -> StoredFile:
        """Store a file; `forever`: not subject to `chatfile_lifetime_seconds` (a group's shared file)."""
        if len(content) > self.settings.chatfile_max_bytes:
            raise errors.too_large(self.settings.chatfile_max_bytes)
        stored = StoredFile(
            uuid=str(uuid.uuid4()),
            filename=filename or "file",
            content_type=content_type or "application/octet-stream",
            size=len(content),
            share_secret=b64url(secrets.token_bytes(24)) if restrict else None,
            created=now_ms(),
            content=content,
        )
        await self.db.write(
            insert_file_txn,
            {
                "uuid": stored.uuid,
                "app_uuid": app.id,
                "uploader": uploader,
                "filename": stored.filename,
                "content_type": stored.content_type,
                "size": stored.size,
                "share_secret": stored.share_secret,
                "created": stored.created,
                "content": stored.content,
                "forever": forever,
            },
        )
        since = self._since(stored.created)
        if since is not None and stored.created >= self._next_purge:
            self._next_purge = stored.created + self.settings.chatfile_purge_interval_seconds * 1000
            await self.db.write(purge_expired_txn, since)
        return stored

    def link_only(self, file_uuid: str) -> bool:
        """Whether the id alone may fetch the file: link downloads are on and the id is random."""
        if not self.settings.chatfile_link_downloads:
            return False
        try:
            return uuid.UUID(file_uuid).version == 4
        except ValueError:
            return False

    async def download(
        self, app: App, file_uuid: str, secret: str | None, admin: bool, authenticated: bool
    ) -> StoredFile:
        """The file, for a caller who presented `secret` (or None) and a token already checked
        (`admin`, `authenticated`)."""
        row = await self.db.read(get_file_txn, app.id, file_uuid.lower())
        since = self._since(now_ms())
        if row is not None and since is not None and not row.forever and (row.refreshed or row.created) <= since:
            await self.db.write(delete_file_txn, app.id, row.uuid)  # its lifetime is over
            row = None
        if row is None:
            raise errors.HximError(
                404,
                "service_resource_not_found",
                "Service resource not found",
                "org.apache.usergrid.services.exceptions.ServiceResourceNotFoundException",
                "item-not-found",
            )
        if row.share_secret is not None and not admin:
            if secret is not None:
                if not secrets.compare_digest(secret.encode(), row.share_secret.encode()):
                    raise errors.unauthorized("share-secret does not match", "EasemobSecurityException")
            elif not self.link_only(row.uuid):
                raise errors.unauthorized("share-secret does not match", "EasemobSecurityException")
        elif row.share_secret is None and not authenticated and not self.link_only(row.uuid):
            raise errors.unauthorized("Unable to authenticate (OAuth)", "EasemobSecurityException")
        return StoredFile(
            row.uuid, row.filename, row.content_type, row.size, row.share_secret, row.created, bytes(row.content)
        )

    async def set_lifetime(self, app: App, lifetime: str, file_ids: list[str], uploader: str | None) -> dict[str, bool]:
        """Give these files `lifetime` (`default`: the configured one from the upload; `refresh`:
        the configured one from now; `forever`). `uploader`: only the files this user uploaded
        (None: any file of the app). Whether each id, as given, changed: an unknown or expired
        file, or another's, did not."""
        if lifetime not in LIFETIMES:
            raise errors.illegal_argument("lifetime must be either 'forever' or 'default' or 'refresh'")
        if not file_ids:
            raise errors.illegal_argument("chatfile_ids can't be empty")
        if len(file_ids) > self.settings.chatfile_lifetime_batch_max:
            raise errors.illegal_argument("chatfile_ids size is too large")
        now = now_ms()
        refreshed = now if lifetime == "refresh" else None
        keys = sorted({i.lower() for i in file_ids})
        changed = await self.db.write(
            set_lifetime_txn, app.id, keys, uploader, lifetime == "forever", refreshed, self._since(now)
        )
        return {i: i.lower() in changed for i in file_ids}
