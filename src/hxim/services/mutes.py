"""Global mutes: a user's messages refused, per chat type, for a while or for ever.

Easemob's user_global_mute_set, _query_single and _query_all pages. A mute is set per chat type
(`chat`, `groupchat`, `chatroom`) in seconds: a positive number mutes that long, 0 unmutes, -1
mutes for ever; at most 2147483647. A muted user's message of that chat type is refused on
every path, REST and XMPP alike: `MessageService.send` asks `muted` first (403 `forbidden_op`
"user is globally muted"; docs/DECISIONS.md). The app itself (`admin`) is never muted.

The mutes in force are kept in memory, per app, per user: the send path asks with dict lookups
and no query (an app without mutes costs one lookup). They are read at start (`load_sync`) and
kept by `set` and when users are deleted; an expired one is dropped when next seen. Like
`BlockIndex`, this lives in the process: several nodes on one database must tell each other of
a change.
"""

from __future__ import annotations

from collections.abc import Callable

from hxim import errors
from hxim.config import Settings
from hxim.hub.router import nowhere
from hxim.model import App, User, now_ms
from hxim.storage import Database
from hxim.storage.mutes import FOREVER, active_mutes_txn, mutes_of_txn, mutes_page_txn, set_mutes_txn

__all__ = ["MUTE_CHAT_TYPES", "MUTE_SECONDS_MAX", "GlobalMuteService", "globally_muted"]

MUTE_CHAT_TYPES = ("chat", "groupchat", "chatroom")
MUTE_SECONDS_MAX = 2147483647  # Easemob's largest duration (a Java int)


def globally_muted() -> errors.HximError:
    """A muted user's message (Easemob documents no REST error; its SDKs call it 219
    USER_MUTED_BY_ADMIN). Over XMPP: `<forbidden/>` with this text (c2s.messaging, c2s.muc)."""
    return errors.HximError(
        403,
        "forbidden_op",
        "user is globally muted",
        "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
        "forbidden",
    )


def _no_user() -> errors.HximError:
    return errors.required_property_not_found("Entity user requires a property named username")


def remaining(expire: int | None, now: int) -> int:
    """Seconds a mute has left, as Easemob answers them: -1 for ever, 0 not muted (or over)."""
    if expire is None:
        return 0
    if expire == FOREVER:
        return -1
    return max(0, -((now - expire) // 1000))  # rounded up: a mute with 0.2 s left is still on


class GlobalMuteService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        # app id -> user key -> chat type -> expire (ms, or FOREVER): the mutes in force, or
        # expired since and not yet seen
        # (read as "might anyone be muted?" on the send path, before asking `muted`)
        self.active: dict[str, dict[str, dict[str, int]]] = {}
        self.tell_nodes: Callable[..., None] = nowhere  # (`Router.tell_nodes`, set by the node)

    def load_sync(self) -> None:
        """Read the mutes in force from storage (at start, before any message is sent)."""
        self.active.clear()
        for app_id, key, chat_type, expire in self.db.run_sync(active_mutes_txn, now_ms(), write=False):
            self.active.setdefault(app_id, {}).setdefault(key, {})[chat_type] = expire

    def muted(self, app: App, user_key: str, chat_type: str) -> bool:
        """Whether the user (case-folded name) may not send messages of `chat_type` now."""
        in_app = self.active.get(app.id)
        if not in_app:
            return False
        mutes = in_app.get(user_key)
        if mutes is None:
            return False
        expire = mutes.get(chat_type)
        if expire is None:
            return False
        if expire == FOREVER or expire > now_ms():
            return True
        del mutes[chat_type]  # over: forgotten (its row stays until the next change)
        if not mutes:
            del in_app[user_key]
        return False

    async def set(self, app: App, username: str, durations: dict[str, int]) -> None:
        """Mute (or unmute, 0) the user for each chat type named, for that many seconds (-1: for
        ever); the chat types not named keep their mutes."""
        for chat_type, seconds in durations.items():
            if chat_type not in MUTE_CHAT_TYPES:
                raise errors.illegal_argument(f"chat type [{chat_type}] is not one of {', '.join(MUTE_CHAT_TYPES)}")
            if not -1 <= seconds <= MUTE_SECONDS_MAX:
                raise errors.illegal_argument(
                    f"{chat_type} must be a number of seconds from 0 to {MUTE_SECONDS_MAX}, or -1 (for ever)"
                )
        now = now_ms()
        changes: dict[str, int | None] = {
            t: None if s == 0 else FOREVER if s == -1 else now + s * 1000 for t, s in durations.items()
        }
        key = username.lower()
        if not await self.db.write(set_mutes_txn, app.id, key, changes):
            raise _no_user()
        self.apply(app.id, key, changes)
        self.tell_nodes("mutes", app.id, key, changes)

    def apply(self, app_id: str, key: str, changes: dict[str, int | None]) -> None:
        """Mutes of user `key` set (until an expiry, ms) or lifted (None), here or on another node."""
        in_app = self.active.setdefault(app_id, {})
        mutes = in_app.setdefault(key, {})
        for chat_type, expire in changes.items():
            if expire is None:
                mutes.pop(chat_type, None)
            else:
                mutes[chat_type] = expire
        if not mutes:
            del in_app[key]

    def forget_keys(self, app_id: str, keys: list[str]) -> None:
        in_app = self.active.get(app_id)
        if in_app:
            for key in keys:
                in_app.pop(key, None)

    async def reload(self) -> None:
        """Read the mutes in force again (changes on other nodes may have been missed)."""
        fresh: dict[str, dict[str, dict[str, int]]] = {}
        for app_id, key, chat_type, expire in await self.db.read(active_mutes_txn, now_ms()):
            fresh.setdefault(app_id, {}).setdefault(key, {})[chat_type] = expire
        self.active = fresh

    async def get(self, app: App, username: str) -> tuple[str, dict[str, int]]:
        """(the username as registered, chat type -> seconds left) for every chat type."""
        now = now_ms()
        found = await self.db.read(mutes_of_txn, app.id, username.lower(), now)
        if found is None:
            raise _no_user()
        name, expires = found
        return name, {t: remaining(expires.get(t), now) for t in MUTE_CHAT_TYPES}

    async def page(self, app: App, number: int, size: int) -> list[tuple[str, str, int]]:
        """Page `number` (from 1) of `size` of the app's mutes in force: (username, chat type,
        seconds left), by username then chat type."""
        most = self.settings.mutes_page_max
        if not 1 <= number <= 1_000_000_000:
            raise errors.illegal_argument("pageNum must be a number from 1")
        if not 1 <= size <= most:
            raise errors.illegal_argument(f"pageSize must be a number from 1 to {most}")
        now = now_ms()
        rows = await self.db.read(mutes_page_txn, app.id, now, (number - 1) * size, size)
        return [(name, chat_type, remaining(expire, now)) for name, chat_type, expire in rows]

    async def forget_users(self, app: App, gone: list[User]) -> None:
        """Users being deleted (a `UserService` delete hook): their mutes go with their rows, and
        a user registered later under the same name starts unmuted."""
        keys = [user.key for user in gone]
        self.forget_keys(app.id, keys)
        self.tell_nodes("mutes-gone", app.id, keys)
