"""Contacts (friends), friend requests and block lists (easemob-rest.md §4, RFC 6121 §3,
XEP-0191).

Adding a contact is mutual and immediate: both users' lists change, as the XMPP roster
(subscription both) and the client SDKs model it. A friend request (an XMPP `subscribe`) is kept
until it is answered: accepted (`accept`, or any way the two become contacts), declined or
withdrawn (`withdraw`); meanwhile the requester's roster shows it (`ask='subscribe'`). A block
is one-way: the blocker stops receiving the blocked user's messages and presence.

Every change, whoever made it (REST or a client), is told to the sessions of the users it
concerns through the router, so that a session that keeps these lists (an XMPP session's roster)
can trust them: a pair that became contacts or stopped being (`RosterPush` `both` or `remove` to
both users' sessions, and each sees the other's presence come or go), a request that became
pending or was answered without a friendship (`none` with `ask`, then `remove`, to the
requester's), and blocks (`BlockPush` to the owner's sessions, and between contacts the presence
effects of XEP-0191 §3.3–§3.4). A user's deletion ends their friendships and the requests made
to them, told the same way (`_users_deleted`). The batch calls of today's Easemob API (importing
contacts, removing them all) make and end friendships one pair at a time through the same paths,
so they are told alike.

A contact may carry its owner's remark (one-sided: each of the two has their own); it goes with
the friendship.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.hub import BlockPush, Notice, RosterPush, Router
from hxim.model import App, User, now_ms
from hxim.services.blocks import BlockIndex
from hxim.services.callbacks import CallbackService
from hxim.services.notices import NoticeKind, NoticeService
from hxim.services.presence import PresenceService
from hxim.services.users import UserService, decode_cursor, encode_cursor
from hxim.storage import Database
from hxim.storage.database import Batcher
from hxim.storage.social import (
    add_blocks_txn,
    add_contact_pairs_native,
    add_contact_pairs_txn,
    add_jid_blocks_txn,
    add_request_txn,
    block_count_txn,
    block_names_txn,
    contact_counts_native,
    contact_counts_txn,
    contact_keys_txn,
    contact_names_txn,
    contact_page_txn,
    has_request_txn,
    is_contact_txn,
    jid_blocks_txn,
    remove_all_contacts_txn,
    remove_block_txn,
    remove_blocks_txn,
    remove_contact_pair_txn,
    remove_jid_blocks_txn,
    remove_request_txn,
    request_count_txn,
    roster_txn,
    set_remark_txn,
    ties_txn,
)

__all__ = ["Answer", "ContactService", "Imported"]

Answer = tuple[str, "str | None"]  # a subscription presence's type and its status text


@dataclass
class Imported:
    """What an import did with each name asked for (each name once, whatever its case)."""

    added: list[str] = field(default_factory=list)  # contacts now (or already)
    unknown: list[str] = field(default_factory=list)  # no such user
    over_limit: list[str] = field(default_factory=list)  # one of the two had `contacts_max` contacts
    failed: list[str] = field(default_factory=list)  # not a possible contact: the owner themselves


def _limit_reached(description: str, error: str = "forbidden_op") -> errors.HximError:
    return errors.HximError(
        403,
        error,
        description,
        "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
        "resource-constraint",
    )



class ContactService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        users: UserService,
        router: Router,
        blocks: BlockIndex,
        presence: PresenceService,
        notices: NoticeService,
        callbacks: CallbackService,
    ) -> None:
        self.db = db
        self.settings = settings
        self.users = users
        self.router = router
        self.blocks = blocks
        self.presence = presence
        self.notices = notices
        self.callbacks = callbacks  # post-send `roster` callbacks: each change below tells them once
        self._pairs: Batcher[tuple[int, int, int]] = Batcher(  # group commit
            db, add_contact_pairs_txn, native=add_contact_pairs_native
        )
        users.delete_hooks.append(self._users_deleted)

    async def add(self, app: App, owner: User, friend_name: str) -> User:
        friend = await self.users.get(app, friend_name)
        if friend.id == owner.id:
            raise errors.illegal_argument("a user can not add themselves as a contact")
        await self._add(app, owner, friend)
        return friend

    async def _add(self, app: App, owner: User, friend: User, told: Notice | None = None) -> None:
        counts = await self.db.read(contact_counts_txn, [owner.id, friend.id], native=contact_counts_native)
        for user in (owner, friend):
            if counts.get(user.id, 0) >= self.settings.contacts_max:
                raise _limit_reached(f"user [{user.username}] already has {self.settings.contacts_max} contacts")
        await self._pairs.submit((owner.id, friend.id, now_ms()))
        await self._pair_changed(app, owner, friend, True, told)

    async def remove(self, app: App, owner: User, friend_name: str, status: Answer | None = None) -> User:
        """The friendship ends (either side may end it); `status`: the subscription presence the
        other side is told it with, when a client ended it (`unsubscribe`, `unsubscribed`)."""
        friend = await self.users.get(app, friend_name)
        await self.db.write(remove_contact_pair_txn, owner.id, friend.id)
        await self._pair_changed(app, owner, friend, False, self._answer(owner, status))
        return friend

    async def import_contacts(self, app: App, owner: User, names: list[str]) -> Imported:
        """`owner` and each user of `names` become contacts, each pair as `add` makes it (told the
        same way), while `contacts_max` allows. Refused (403 `exceed_limit`) when `owner` has no
        room left to begin with."""
        counts = await self.db.read(contact_counts_txn, [owner.id])
        if counts.get(owner.id, 0) >= self.settings.contacts_max:
            raise _limit_reached("Inviter's contact max count.", "exceed_limit")
        found = {u.key: u for u in await self.users.get_many(app, names)}
        already = await self.db.read(contact_keys_txn, owner.id, list(found))
        asked: dict[str, str] = {}
        for name in names:
            asked.setdefault(name.lower(), name)
        out = Imported()
        for key, name in asked.items():
            friend = found.get(key)
            if friend is None:
                out.unknown.append(name)
            elif friend.id == owner.id:
                out.failed.append(name)
            elif friend.key in already:
                out.added.append(friend.username)
            else:
                try:
                    await self._add(app, owner, friend)
                except errors.HximError as exc:
                    if exc.status != 403:
                        raise
                    out.over_limit.append(friend.username)
                else:
                    out.added.append(friend.username)
        return out

    async def remove_all(self, app: App, owner: User) -> list[User]:
        """Every friendship of `owner` ends (both sides, and the remarks with them; blocks stay),
        each told as `remove` tells it; returns the former contacts."""
        gone = await self.db.write(remove_all_contacts_txn, owner.id)
        for friend in gone:
            await self._pair_changed(app, owner, friend, False)
        return gone

    async def set_remark(self, app: App, owner: User, friend_name: str, remark: str) -> User:
        """`owner`'s remark on their contact `friend_name` (400 when the two are not contacts)."""
        most = self.settings.contact_remark_max_length
        if len(remark) > most:
            raise errors.illegal_argument(f"remark must be at most {most} characters")
        friend = await self.users.get(app, friend_name)
        if not await self.db.write(set_remark_txn, owner.id, friend.id, remark):
            raise errors.illegal_argument("updateRemark they are not friends, please add as a friend first.")
        return friend

    async def _pair_changed(self, app: App, owner: User, friend: User, added: bool, told: Notice | None = None) -> None:
        """Both users' sessions get the roster item; `told` reaches `friend` (the answer to a
        request, or the end of the friendship); then the two see each other come, or go."""
        subscription = "both" if added else "remove"
        if not added:
            self.callbacks.roster(app, owner.username, friend.username, "remove")
        for me, other in ((owner, friend), (friend, owner)):
            self.router.push(app.uuid, me.key, RosterPush(other.username, subscription), available=False)
        if told is not None:
            await self._tell(app, friend, told)
        await self.presence.between(app, owner, friend, added)

    @staticmethod
    def _answer(owner: User, status: Answer | None) -> Notice | None:
        if status is None:
            return None
        return Notice(NoticeKind.SUBSCRIPTION, owner.username, {"type": status[0], "status": status[1]})

    async def _tell(self, app: App, user: User, notice: Notice) -> None:
        """A subscription presence: now, or (but a withdrawn request) at the user's next login,
        the latest one per sender."""
        keep = notice.payload["type"] != "unsubscribe"
        await self.notices.send(app, user, notice, keep=keep, replace=True)

    def _request_changed(self, app: App, requester: User, target: User, pending: bool) -> None:
        push = RosterPush(target.username, "none", ask=True) if pending else RosterPush(target.username, "remove")
        self.router.push(app.uuid, requester.key, push, available=False)

    async def names(self, owner: User) -> list[str]:
        return await self.db.read(contact_names_txn, owner.id)

    async def page(
        self, owner: User, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, str | None]], str | None]:
        """A page of `owner`'s contacts, newest first: ([(username, remark)], the next page's
        cursor while more remain)."""
        before = decode_cursor(cursor, 2) if cursor else None
        rows = await self.db.read(contact_page_txn, owner.id, limit + 1, before)
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1][2], page[-1][3]) if len(rows) > limit else None
        return [(name, remark) for name, remark, _, _ in page], next_cursor

    async def are_contacts(self, owner: User, names: list[str]) -> list[bool]:
        """For each of `names` (any case), whether that user is `owner`'s contact."""
        keys = await self.db.read(contact_keys_txn, owner.id, list({n.lower() for n in names}))
        return [n.lower() in keys for n in names]

    async def roster(self, owner: User) -> tuple[list[str], list[str]]:
        """`owner`'s contacts and unanswered requests (`names`, `requests`) in one query."""
        return await self.db.read(roster_txn, owner.id)

    async def _users_deleted(self, app: App, victims: list[User]) -> None:
        """A `UserService.delete_hooks` hook: the friendships of the deleted users, and the
        requests made to them, end with them; tell each to the sessions concerned."""
        by_id = {v.id: v for v in victims}
        self.blocks.forget()  # their names may be registered again: no set may name them
        for is_request, owner, victim_id in await self.db.read(ties_txn, list(by_id)):
            if is_request:
                self._request_changed(app, owner, by_id[victim_id], False)
            else:
                self.router.push(app.uuid, owner.key, RosterPush(by_id[victim_id].username, "remove"), available=False)

    # --- friend requests --------------------------------------------------------------------------
    async def request(self, app: App, owner: User, target_name: str, status: str | None = None) -> tuple[User, bool]:
        """`owner` asks `target` to be friends (`status`: the text of the request): (the target,
        whether the request is new). The target is told (a `subscribe` notice, kept for their next
        login); a target who blocks the owner is not, and nothing is kept. Users who already are
        contacts are answered by the caller."""
        target = await self.users.get(app, target_name)
        if target.id == owner.id:
            raise errors.illegal_argument("a user can not add themselves as a contact")
        if await self.db.read(is_contact_txn, owner.id, target.id):
            return target, False
        if await self.blocks.blockers_of(owner, [target]):
            return target, False  # dropped (XEP-0191 §3.3)
        if await self.db.read(request_count_txn, owner.id) >= self.settings.contact_requests_max:
            raise _limit_reached(
                f"user [{owner.username}] already has {self.settings.contact_requests_max} friend requests waiting"
            )
        new = await self.db.write(add_request_txn, owner.id, target.id, now_ms())
        if new:
            self._request_changed(app, owner, target, True)
        self.callbacks.roster(app, owner.username, target.username, "add", reason=status or "")
        notice = self._answer(owner, ("subscribe", status))
        assert notice is not None
        await self._tell(app, target, notice)
        return target, new

    async def accept(self, app: App, owner: User, requester_name: str, status: str | None = None) -> User | None:
        """`owner` accepts `requester`'s pending request: they become contacts (told as `add`
        tells it, and the requester the `subscribed` answer). None, and nothing changes, when no
        request of theirs is pending."""
        requester = await self.users.get(app, requester_name)
        if not await self.db.read(has_request_txn, requester.id, owner.id):
            return None
        await self._add(app, owner, requester, self._answer(owner, ("subscribed", status)))
        self.callbacks.roster(app, owner.username, requester.username, "remote_accept")
        self.callbacks.roster(app, owner.username, owner.username, "accept")
        return requester

    async def decline(self, app: App, owner: User, requester: User, status: str | None = None) -> None:
        """`owner` declines `requester`'s pending request, if there is one (the requester is told
        with an `unsubscribed` notice)."""
        await self.withdraw(app, requester, owner)
        self.callbacks.roster(app, owner.username, requester.username, "remote_decline")
        self.callbacks.roster(app, owner.username, owner.username, "decline")
        notice = self._answer(owner, ("unsubscribed", status))
        assert notice is not None
        await self._tell(app, requester, notice)

    async def cancel(self, app: App, owner: User, target: User, status: str | None = None) -> None:
        """`owner` takes their request to `target` back: a request still kept for an offline
        target is dropped; one they are reading is followed by `unsubscribe`."""
        if await self.withdraw(app, owner, target) and not self.router.online(app.uuid, [target.key]):
            await self.notices.forget(target, NoticeKind.SUBSCRIPTION, owner.username)
        notice = self._answer(owner, ("unsubscribe", status))
        assert notice is not None
        await self._tell(app, target, notice)

    async def withdraw(self, app: App, requester: User, target: User) -> bool:
        """`requester`'s request to `target` ends unanswered (declined by the target, or taken
        back by the requester); False when none was pending."""
        gone = await self.db.write(remove_request_txn, requester.id, target.id)
        if gone:
            self._request_changed(app, requester, target, False)
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
        self.blocks.will_block(owner)  # before the write: a concurrent send queries
        await self.db.write(add_blocks_txn, owner.id, [t.id for t in targets], now_ms())
        await self._blocks_changed(app, owner, targets, True)
        return [t.username for t in targets]

    async def unblock(self, app: App, owner: User, name: str) -> User:
        target = await self.users.get(app, name)
        await self.db.write(remove_block_txn, owner.id, target.id)
        await self._blocks_changed(app, owner, [target], False)
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
        await self._blocks_changed(app, owner, targets, False)
        return [t.username for t in targets]

    async def _blocks_changed(self, app: App, owner: User, targets: list[User], blocked: bool) -> None:
        """Tell the owner's sessions; between contacts, XEP-0191 §3.3: the two see each other go
        (a block) or come back (an unblock, unless one still blocks the other)."""
        self.blocks.changed(owner)
        names = tuple(t.username for t in targets)
        for name in names:
            self.callbacks.roster(app, owner.username, name, "ban" if blocked else "allow", status={"error_code": "ok"})
        self.router.push(app.uuid, owner.key, BlockPush(names, blocked), available=False)
        router = self.router
        if not router.online(app.uuid, [owner.key]) or not router.online(app.uuid, [t.key for t in targets]):
            return
        contacts = {n.lower() for n in await self.names(owner)}
        for target in targets:
            if target.key in contacts:
                await self.presence.between(app, owner, target, not blocked)

    async def blocked_names(self, owner: User) -> list[str]:
        return await self.db.read(block_names_txn, owner.id)

    async def are_blocked(self, owner: User, names: list[str]) -> list[bool]:
        """For each of `names` (any case), whether `owner` blocks that user."""
        keys = await self.blocks.blocked_keys(owner)
        return [n.lower() in keys for n in names]

    # --- addresses that name no user of the app (XEP-0191 items) ------------------------------------
    async def blocked_jids(self, owner: User) -> list[str]:
        return await self.db.read(jid_blocks_txn, owner.id)

    async def block_jids(self, app: App, owner: User, jids: list[str]) -> None:
        """Block addresses that name no user here. Nothing from them can arrive (hxim speaks to no
        other server, and they are nobody here), so the list is kept for the client to read and
        change; at most `blocks_max` of them."""
        current = await self.db.read(jid_blocks_txn, owner.id)
        new = [j for j in dict.fromkeys(jids) if j not in current]
        if len(current) + len(new) > self.settings.blocks_max:
            raise errors.illegal_argument(f"a user can block at most {self.settings.blocks_max} addresses")
        await self.db.write(add_jid_blocks_txn, owner.id, new, now_ms())
        self.router.push(app.uuid, owner.key, BlockPush((), True, tuple(jids)), available=False)

    async def unblock_jids(self, app: App, owner: User, jids: list[str] | None) -> list[str]:
        """Unblock addresses (None: all); returns those that were blocked."""
        gone = await self.db.write(remove_jid_blocks_txn, owner.id, jids)
        if gone:
            self.router.push(app.uuid, owner.key, BlockPush((), False, tuple(gone)), available=False)
        return gone

