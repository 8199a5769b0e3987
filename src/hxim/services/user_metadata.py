"""User attributes: the key-value pairs (nickname, avatar URL, …) kept for each user of an app.

Easemob's user_attribute_set, _obtain_single, _obtain_batch, _capacity_get and _delete pages.
Who may act: the app admin on anyone; a user on their own attributes (set, delete), and on
anyone's of the app for reading, as the client SDKs' `fetchUserInfo` does; the app's total size
is the admin's only (the HTTP surface requires the admin token for it).

Limits (settings `user_metadata_*`, Easemob's numbers by default): a user's attributes add up
to at most 2 KB, an app's to at most 10 GB (a size is the UTF-8 bytes of key and value); the
attributes the SDKs know by name (`nickname`, `avatarurl`, `phone`, `mail`, `sign`, `birth`) are
at most as long as Easemob documents; names are at most `user_metadata_key_max_bytes`; a batch
read names at most 100 users. Setting merges: attributes not named keep their values.
"""

from __future__ import annotations

from hxim import errors
from hxim.config import Settings
from hxim.model import App, User
from hxim.storage import Database
from hxim.storage.user_metadata import (
    app_attributes_size_txn,
    attributes_of_many_txn,
    attributes_txn,
    delete_attributes_txn,
    set_attributes_txn,
)

__all__ = ["UserMetadataService"]


class UserMetadataService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @staticmethod
    def _may_change(caller: User | None, username: str) -> None:
        """`caller` (None: the app admin) may change `username`'s attributes, or 401 auth error."""
        if caller is not None and caller.key != username.lower():
            raise errors.metadata_auth()

    def _check_pairs(self, pairs: dict[str, str]) -> None:
        settings = self.settings
        if not pairs:
            raise errors.illegal_argument("no attribute to set: the body must hold key=value pairs")
        for key, value in pairs.items():
            if not key:
                raise errors.illegal_argument("an attribute name can not be empty")
            if len(key.encode()) > settings.user_metadata_key_max_bytes:
                raise errors.illegal_argument(
                    f"attribute name [{key[:64]}] is longer than {settings.user_metadata_key_max_bytes} bytes"
                )
            if "\x00" in key or "\x00" in value:
                raise errors.illegal_argument("an attribute holds the character U+0000 (NUL), which is not accepted")
            longest = settings.user_metadata_field_max_lengths.get(key)
            if longest is not None and len(value) > longest:
                raise errors.metadata_size(
                    f"size of metadata for this single user exceeds the current mysql column size, {longest}Bytes"
                )

    def _check_sizes(self, user_total: int, app_total: int | None) -> None:
        user_max = self.settings.user_metadata_user_max_bytes
        if user_total > user_max:
            raise errors.metadata_size(
                f"size of metadata for this single user exceeds the user defined limit, {user_max}Bytes"
            )
        app_max = self.settings.user_metadata_app_max_bytes
        if app_total is not None and app_total > app_max:
            raise errors.metadata_size(
                f"total size of user metadata for this app exceeds the user defined limit, {app_max}Bytes"
            )

    async def set(self, app: App, caller: User | None, username: str, pairs: dict[str, str]) -> dict[str, str]:
        """Set `pairs` on the user; returns them. 404 for a user that does not exist."""
        self._may_change(caller, username)
        self._check_pairs(pairs)
        if not await self.db.write(set_attributes_txn, app.id, username.lower(), pairs, self._check_sizes):
            raise errors.user_not_found()
        return pairs

    async def get(self, app: App, username: str) -> dict[str, str]:
        """All of the user's attributes ({} for a user without any, or that does not exist)."""
        return await self.db.read(attributes_txn, app.id, username.lower())

    async def get_many(
        self, app: App, targets: list[str], properties: list[str] | None
    ) -> dict[str, dict[str, str]]:
        """The named attributes (`properties`; None or empty: all) of each target, by the target as
        given; {} for a target without any."""
        if not targets:
            raise errors.illegal_argument("targets must name at least one user")
        if len(targets) > self.settings.user_metadata_batch_max:
            raise errors.metadata_batch(self.settings.user_metadata_batch_max)
        found = await self.db.read(attributes_of_many_txn, app.id, sorted({t.lower() for t in targets}))
        wanted = set(properties) if properties else None
        out: dict[str, dict[str, str]] = {}
        for target in targets:
            attributes = found.get(target.lower(), {})
            out[target] = attributes if wanted is None else {k: v for k, v in attributes.items() if k in wanted}
        return out

    async def capacity(self, app: App) -> int:
        """The size of all the app's attributes, bytes."""
        return await self.db.read(app_attributes_size_txn, app.id)

    async def delete(self, app: App, caller: User | None, username: str) -> None:
        """Remove all of the user's attributes (nothing to remove is no error)."""
        self._may_change(caller, username)
        await self.db.write(delete_attributes_txn, app.id, username.lower())
