"""User collections: the items (messages, files, anything of the app's) a user saves and keeps.

Easemob's user_collection_add_single, _add_batch, _ext_modify, _get and _delete pages. A
collection is `{id, type, data, ext, createdAt, updatedAt}`: `id` the client's or a random UUID,
unique for its user; `type` an integer of the app's; `data` at most
`collection_data_max_length` (20480) characters, `ext` at most `collection_ext_max_length`
(1024). A batch adds at most `collection_batch_max` (20), all or none; a delete removes as many,
all or none. Pages are read newest first (or oldest first), by creation time or from a given
collection on, at most `collections_page_max` (200) at a time. A user keeps at most
`collections_per_user_max`. The collections go with their user.

Who may call is the surface's (the app admin, or the user themselves). A user who does not
exist is Easemob's 400 "username X is not legal".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from hxim import errors
from hxim.config import Settings
from hxim.model import App, User, now_ms
from hxim.services.users import UserService
from hxim.storage import Database
from hxim.storage.collections import (
    Collection,
    add_collections_txn,
    collection_txn,
    collections_page_txn,
    delete_collections_txn,
    set_collection_ext_txn,
)

__all__ = ["Collection", "CollectionService", "NewCollection"]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # `type` is a Java int
LATEST_MS = 2**53  # the latest `createdAt` a batch may give


@dataclass(frozen=True, slots=True)
class NewCollection:
    """A collection to add: `id` None for a random one, `created` None for now."""

    type: int
    data: str
    ext: str | None = None
    id: str | None = None
    created: int | None = None


def not_found() -> errors.HximError:
    return errors.illegal_argument("user collection not found")


class CollectionService:
    def __init__(self, db: Database, settings: Settings, users: UserService) -> None:
        self.db = db
        self.settings = settings
        self.users = users

    async def _owner(self, app: App, username: str) -> User:
        user = await self.users.find(app, username)
        if user is None:
            raise errors.illegal_argument(f"username {username} is not legal")
        return user

    def _check_ext(self, ext: str | None) -> str | None:
        longest = self.settings.collection_ext_max_length
        if ext is not None and len(ext) > longest:
            raise errors.illegal_argument(f"ext must be at most {longest} characters")
        return ext or None

    def _checked(self, item: NewCollection, now: int) -> Collection:
        settings = self.settings
        ident = item.id if item.id is not None else str(uuid.uuid4())
        if not ident or len(ident) > settings.collection_id_max_length:
            raise errors.illegal_argument(f"id must be 1 to {settings.collection_id_max_length} characters")
        if not INT_MIN <= item.type <= INT_MAX:
            raise errors.illegal_argument("type must be a 32-bit integer")
        if not item.data:
            raise errors.illegal_argument("data can't be empty")
        if len(item.data) > settings.collection_data_max_length:
            raise errors.illegal_argument(f"data must be at most {settings.collection_data_max_length} characters")
        created = now if item.created is None else item.created
        if not 0 <= created <= LATEST_MS:
            raise errors.illegal_argument("createdAt must be a time in milliseconds")
        return Collection(ident, item.type, item.data, self._check_ext(item.ext), created, now)

    async def add(self, app: App, username: str, items: list[NewCollection]) -> list[Collection]:
        """Add `items` to the user's collections, all or none; returns them as stored."""
        most = self.settings.collection_batch_max
        if not items:
            raise errors.illegal_argument("collections can't be empty")
        if len(items) > most:
            raise errors.illegal_argument(f"at most {most} collections can be added at once")
        now = now_ms()
        checked = [self._checked(item, now) for item in items]
        ids = [c.id for c in checked]
        if len(set(ids)) != len(ids):
            raise errors.illegal_argument("the collections to add must have different ids")
        owner = await self._owner(app, username)
        keep = self.settings.collections_per_user_max

        def check(taken: set[str], held: int) -> None:
            if taken:
                raise errors.illegal_argument(f"collection [{min(taken)}] already exists")
            if held > keep:
                raise errors.forbidden_op(f"a user can keep at most {keep} collections")

        try:
            await self.db.write(add_collections_txn, owner.id, checked, check)
        except IntegrityError:  # added concurrently (the lock makes it unlikely)
            raise errors.illegal_argument("a collection with one of these ids already exists") from None
        return checked

    async def set_ext(self, app: App, username: str, collection_id: str, ext: str | None) -> Collection:
        """Set (or, empty or None, remove) one collection's `ext`; returns the collection."""
        ext = self._check_ext(ext)
        owner = await self._owner(app, username)
        found = await self.db.write(set_collection_ext_txn, owner.id, collection_id, ext, now_ms())
        if found is None:
            raise not_found()
        return found

    async def page(
        self,
        app: App,
        username: str,
        *,
        descending: bool = True,
        limit: int | None = None,
        kind: int | None = None,
        begin: int = 0,
        end: int | None = None,
        start_id: str | None = None,
    ) -> list[Collection]:
        """One page of the user's collections (of type `kind`, if given): from collection
        `start_id` on (itself included) when given, else those created from `begin` to `end`
        (ms, both included; `end` None: now)."""
        most = self.settings.collections_page_max
        limit = self.settings.collections_page_default if limit is None else limit
        if limit > most:
            raise errors.illegal_argument(f"limit should be less than {most}")
        if limit < 1:
            raise errors.illegal_argument(f"limit must be a number from 1 to {most}")
        end = now_ms() if end is None else end
        if begin > end:
            raise errors.illegal_argument("begin_time must not be later than end_time")
        owner = await self._owner(app, username)
        anchor = None
        if start_id is not None:
            anchor = await self.db.read(collection_txn, owner.id, start_id)
            if anchor is None:
                raise not_found()
        return await self.db.read(collections_page_txn, owner.id, descending, limit, kind, begin, end, anchor)

    async def delete(self, app: App, username: str, ids: list[str]) -> None:
        """Remove these collections of the user, all or none."""
        most = self.settings.collection_batch_max
        if not ids:
            raise errors.illegal_argument("collection_ids can't be empty")
        if len(ids) > most:
            raise errors.illegal_argument(f"at most {most} collections can be deleted at once")
        owner = await self._owner(app, username)
        if not await self.db.write(delete_collections_txn, owner.id, ids):
            raise not_found()
