"""Who blocks whom: the one place every rule that depends on a block asks (XEP-0191 §3.3 and
easemob-rest.md §4.5: a user who blocks another receives neither their messages nor their
presence).

`BlockIndex` answers from storage with two savings: users known to block nobody cost no query
(the ids of users with a block are read once, then kept as blocks are added), and the set a
user blocks is kept once read, dropped when `ContactService` changes it. Both live in this
process: a deployment of several nodes must tell every node of a change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hxim.hub.router import nowhere
from hxim.model import User
from hxim.storage import Database
from hxim.storage.social import block_names_txn, blocked_by_txn, blocking_owners_txn

__all__ = ["BlockIndex"]

_NOBODY: frozenset[str] = frozenset()


class BlockIndex:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Ids of users who may block someone: every user with a block when first needed, plus
        # everyone who blocks since (never shrunk: unblocking only costs a query).
        self._may_block: set[int] = set()
        self._loaded = False
        self._sets: dict[int, frozenset[str]] = {}  # user id -> the keys they block
        self._changes = 0  # changes so far: a read that saw one meanwhile keeps nothing
        # tells a cluster's other nodes of a change (`Router.tell_nodes`; nothing on one node)
        self.tell_nodes: Callable[..., None] = nowhere

    async def _load(self) -> None:
        if not self._loaded:
            self._may_block |= await self.db.read(blocking_owners_txn)  # keeps blocks added meanwhile
            self._loaded = True

    async def blocked_keys(self, owner: User) -> frozenset[str]:
        """The (case-folded) usernames `owner` blocks."""
        if not self._loaded:
            await self._load()
        if owner.id not in self._may_block:
            return _NOBODY
        found = self._sets.get(owner.id)
        if found is None:
            seen = self._changes
            found = frozenset(n.lower() for n in await self.db.read(block_names_txn, owner.id))
            if self._changes == seen:
                self._sets[owner.id] = found
        return found

    def may_block(self, users: Iterable[User]) -> bool:
        """Whether one of `users` may block someone (False: `blockers_of` would find nobody; a
        shortcut without a coroutine for the message path, where nobody blocks anybody mostly)."""
        if not self._loaded:
            return True
        may = self._may_block
        for u in users:  # noqa: SIM110 (no generator: this runs for every message)
            if u.id in may:
                return True
        return False

    async def blockers_of(self, sender: User, recipients: list[User]) -> set[int]:
        """Ids of the `recipients` who block `sender`."""
        if not self._loaded:
            await self._load()
        owners = [r.id for r in recipients if r.id in self._may_block]
        return await self.db.read(blocked_by_txn, sender.id, owners) if owners else set()

    async def either_way(self, user: User, others: list[User]) -> set[str]:
        """The keys of `others` that block `user` or that `user` blocks: no presence passes."""
        mine = await self.blocked_keys(user)
        out = {o.key for o in others if o.key in mine}
        for other in others:
            if other.id in self._may_block and user.key in await self.blocked_keys(other):
                out.add(other.key)
        return out

    def will_block(self, owner: User) -> None:
        """`owner` is about to block someone (called before the write: a concurrent send queries)."""
        self._may_block.add(owner.id)
        self.tell_nodes("blocks", owner.id)

    def forget(self) -> None:
        """Drop every kept set (users were deleted: their names may come back)."""
        self._drop_sets()
        self.tell_nodes("blocks-all")

    def _drop_sets(self) -> None:
        self._sets.clear()
        self._changes += 1

    def changed(self, owner: User) -> None:
        """`owner`'s blocks changed (or `owner` is gone)."""
        self._sets.pop(owner.id, None)
        self._changes += 1
        self.tell_nodes("blocks", owner.id)

    def changed_elsewhere(self, owner_id: int) -> None:
        """Another node of a cluster changed the blocks of user `owner_id`."""
        self._may_block.add(owner_id)
        self._sets.pop(owner_id, None)
        self._changes += 1

    def reset(self) -> None:
        """Read everything again when next needed (changes on other nodes may have been missed)."""
        self._loaded = False
        self._drop_sets()
