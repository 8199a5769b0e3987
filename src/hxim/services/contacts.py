"""Contacts (friends), friend requests and block lists (easemob-rest.md §4, RFC 6121 §3,
XEP-0191).

Adding a contact is mutual and immediate: both users' lists change, as the XMPP roster
(subscription both) and the client SDKs model it. A friend request (an XMPP `subscribe`) is kept
until it is answered: accepted (`accept`, or any way the two become contacts), declined or
withdrawn (`withdraw`); meanwhile the requester's roster shows it (`ask='subscribe'`). A block
is one-way: the blocker stops receiving the blocked user's messages and presence.

Surfaces learn of changes through hooks, whoever made them (REST or XMPP): `contact_hooks` (a
pair became contacts or stopped being), `request_hooks` (a request became pending or was
answered without a friendship) and `block_hooks` (users were blocked or unblocked). A user's
deletion ends their friendships and the requests made to them: each is reported through the
same hooks (`_users_deleted`), so a surface that keeps these lists (an XMPP session's roster)
can trust them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.model import App, User, now_ms
from hxim.services.users import UserService
from hxim.storage import Database
from hxim.storage.database import Batcher
from hxim.storage.social import (
    add_blocks_txn,
    add_contact_pairs_txn,
    add_request_txn,
    block_count_txn,
    block_names_txn,
    blocked_by_txn,
    blocking_owners_txn,
    contact_counts_txn,
    contact_names_txn,
    has_request_txn,
    is_contact_txn,
    remove_block_txn,
    remove_blocks_txn,
    remove_contact_pair_txn,
    remove_request_txn,
    request_count_txn,
    roster_txn,
    ties_txn,
)

__all__ = ["ContactService"]


# Called after a contact pair changed: (app, owner, friend, added). The XMPP side pushes rosters.
ContactHook = Callable[[App, User, User, bool], None]
# Called after a friend request changed: (app, requester, target, pending). False: answered
# or withdrawn without a friendship (an accepted request is reported by the contact hook).
RequestHook = Callable[[App, User, User, bool], None]
# Called after blocks changed: (app, owner, the users concerned, blocked).
BlockHook = Callable[[App, User, list[User], bool], None]


class ContactService:
    def __init__(self, db: Database, settings: Settings, users: UserService) -> None:
        self.db = db
        self.settings = settings
        self.users = users
        self.contact_hooks: list[ContactHook] = []
        self.request_hooks: list[RequestHook] = []
        self.block_hooks: list[BlockHook] = []
        self._pairs: Batcher[tuple[int, int, int]] = Batcher(db, add_contact_pairs_txn)  # group commit
        # Ids of users who may block someone: every user with a block when first needed, plus
        # everyone who blocks since (never shrunk: unblocking only costs a query). Lets the
        # message path skip the block query for the many users who block nobody.
        self._may_block: set[int] = set()
        self._may_block_loaded = False
        users.delete_hooks.append(self._users_deleted)

    async def add(self, app: App, owner: User, friend_name: str) -> User:
        friend = await self.users.get(app, friend_name)
        if friend.id == owner.id:
            raise errors.illegal_argument("a user can not add themselves as a contact")
        counts = await self.db.read(contact_counts_txn, [owner.id, friend.id])
        for user in (owner, friend):
            if counts.get(user.id, 0) >= self.settings.contacts_max:
                raise errors.HximError(
                    403,
                    "forbidden_op",
                    f"user [{user.username}] already has {self.settings.contacts_max} contacts",
                    "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
                    "resource-constraint",
                )
        await self._pairs.submit((owner.id, friend.id, now_ms()))
        for hook in self.contact_hooks:
            hook(app, owner, friend, True)
        return friend

    async def remove(self, app: App, owner: User, friend_name: str) -> User:
        friend = await self.users.get(app, friend_name)
        await self.db.write(remove_contact_pair_txn, owner.id, friend.id)
        for hook in self.contact_hooks:
            hook(app, owner, friend, False)
        return friend

    async def names(self, owner: User) -> list[str]:
        return await self.db.read(contact_names_txn, owner.id)

    async def roster(self, owner: User) -> tuple[list[str], list[str]]:
        """`owner`'s contacts and unanswered requests (`names`, `requests`) in one query."""
        return await self.db.read(roster_txn, owner.id)

    async def _users_deleted(self, app: App, victims: list[User]) -> None:
        """A `UserService.delete_hooks` hook: the friendships of the deleted users, and the
        requests made to them, end with them; report each through the hooks."""
        by_id = {v.id: v for v in victims}
        for is_request, owner, victim_id in await self.db.read(ties_txn, list(by_id)):
            for hook in self.request_hooks if is_request else self.contact_hooks:
                hook(app, owner, by_id[victim_id], False)

    # --- friend requests --------------------------------------------------------------------------
    async def request(self, app: App, owner: User, target_name: str) -> tuple[User, bool]:
        """`owner` asks `target` to be friends: (the target, whether the request is new). Contacts
        already are answered by the caller (nothing is kept for them)."""
        target = await self.users.get(app, target_name)
        if target.id == owner.id:
            raise errors.illegal_argument("a user can not add themselves as a contact")
        if await self.db.read(is_contact_txn, owner.id, target.id):
            return target, False
        if await self.db.read(request_count_txn, owner.id) >= self.settings.contact_requests_max:
            raise errors.HximError(
                403,
                "forbidden_op",
                f"user [{owner.username}] already has {self.settings.contact_requests_max} friend requests waiting",
                "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
                "resource-constraint",
            )
        new = await self.db.write(add_request_txn, owner.id, target.id, now_ms())
        if new:
            for hook in self.request_hooks:
                hook(app, owner, target, True)
        return target, new

    async def accept(self, app: App, owner: User, requester_name: str) -> User | None:
        """`owner` accepts `requester`'s pending request: they become contacts (the contact hook
        reports it). None, and nothing changes, when no request of theirs is pending."""
        requester = await self.users.get(app, requester_name)
        if not await self.db.read(has_request_txn, requester.id, owner.id):
            return None
        await self.add(app, owner, requester.username)
        return requester

    async def withdraw(self, app: App, requester: User, target: User) -> bool:
        """`requester`'s request to `target` ends unanswered (declined by the target, or taken
        back by the requester); False when none was pending."""
        gone = await self.db.write(remove_request_txn, requester.id, target.id)
        if gone:
            for hook in self.request_hooks:
                hook(app, requester, target, False)
        return bool(gone)

    # --- blocks -----------------------------------------------------------------------------------
    async def block(self, app: App, owner: User, names: Any) -> list[str]:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise errors.illegal_argument("usernames must be a non-empty array of strings")
        found = {u.key: u for u in await self.users.get_many(app, names)}
        for name in names:
            if name.lower() not in found:
                raise errors.illegal_argument(
                    f"attempt to adding new block[{name}] for user[{owner.username}],but user[{name}] not found."
                )
        targets = [found[n.lower()] for n in names]
        if any(t.id == owner.id for t in targets):
            raise errors.illegal_argument("a user can not block themselves")
        current = await self.db.read(block_count_txn, owner.id)
        if current + len(targets) > self.settings.blocks_max:
            raise errors.illegal_argument(f"a user can block at most {self.settings.blocks_max} users")
        self._may_block.add(owner.id)  # before the write: a concurrent send queries
        await self.db.write(add_blocks_txn, owner.id, [t.id for t in targets], now_ms())
        for hook in self.block_hooks:
            hook(app, owner, targets, True)
        return [t.username for t in targets]

    async def unblock(self, app: App, owner: User, name: str) -> User:
        target = await self.users.get(app, name)
        await self.db.write(remove_block_txn, owner.id, target.id)
        for hook in self.block_hooks:
            hook(app, owner, [target], False)
        return target

    async def unblock_many(self, app: App, owner: User, names: list[str]) -> list[str]:
        """Unblock several users in one write (unknown names fail the whole call)."""
        if not names:
            return []
        found = {u.key: u for u in await self.users.get_many(app, names)}
        if any(n.lower() not in found for n in names):
            raise errors.user_not_found()
        targets = list({n.lower(): found[n.lower()] for n in names}.values())
        await self.db.write(remove_blocks_txn, owner.id, [t.id for t in targets])
        for hook in self.block_hooks:
            hook(app, owner, targets, False)
        return [t.username for t in targets]

    async def blocked_names(self, owner: User) -> list[str]:
        return await self.db.read(block_names_txn, owner.id)

    async def blocked_keys(self, owner: User) -> set[str]:
        """The (case-folded) usernames `owner` blocks; no query for users known to block nobody."""
        if not self._may_block_loaded:
            self._may_block |= await self.db.read(blocking_owners_txn)
            self._may_block_loaded = True
        if owner.id not in self._may_block:
            return set()
        return {n.lower() for n in await self.db.read(block_names_txn, owner.id)}

    async def blockers_of(self, sender: User, recipients: list[User]) -> set[int]:
        """Ids of the `recipients` who block `sender`."""
        if not self._may_block_loaded:
            self._may_block |= await self.db.read(blocking_owners_txn)  # keeps blocks added meanwhile
            self._may_block_loaded = True
        owners = [r.id for r in recipients if r.id in self._may_block]
        return await self.db.read(blocked_by_txn, sender.id, owners) if owners else set()
