"""Chat files: upload and download of the attachments messages point to (easemob-rest.md §8,
webim-xmpp.md §2.5, §2.8).

A file's id is a random UUID (version 4: 122 random bits), so its URL
(`/{org}/{app}/chatfiles/{uuid}`) is a capability: with `chatfile_link_downloads` on (the
default) a GET that presents no credentials is served, because apps put `message.url` straight
into `<img src>`. Credentials that are presented are still checked: a bad token or a wrong
share-secret is refused. Otherwise — the setting off, or a file stored earlier under a
time-based (version 1) id, which is guessable — an upload marked `restrict-access` needs its
share-secret (or an app-admin token) and any other file any valid token of the app.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from hxim import errors
from hxim.config import Settings
from hxim.model import App, b64url, now_ms
from hxim.storage import Database
from hxim.storage.files import get_file_txn, insert_file_txn

__all__ = ["FileService", "StoredFile"]


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

    async def upload(
        self, app: App, uploader: str | None, filename: str, content_type: str, content: bytes, restrict: bool
    ) -> StoredFile:
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
            },
        )
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
