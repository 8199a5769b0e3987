"""IM users: registration, lookup, listing, deletion, passwords, profile, activation, status.

easemob-rest.md §3. Usernames are unique without regard to case and keep the case they were
registered with; passwords become SCRAM keys (services.passwords) before they are stored.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from hxim import errors
from hxim.config import Settings
from hxim.hub import Router
from hxim.model import USERNAME_RE, App, User, now_ms
from hxim.services.passwords import Hasher
from hxim.services.tokens import USER, Grant, TokenService
from hxim.storage import Database
from hxim.storage.users import (
    NewUser,
    credentials_txn,
    delete_users_txn,
    existing_keys_txn,
    get_user_by_uuid_native,
    get_user_by_uuid_txn,
    get_user_native,
    get_user_txn,
    get_users_by_keys_native,
    get_users_by_keys_txn,
    insert_users_txn,
    list_users_txn,
    search_users_txn,
    set_credentials_txn,
    update_user_txn,
)

__all__ = ["UserService", "PROFILE_FIELDS", "encode_cursor", "decode_cursor"]

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Profile fields a user entity carries when set (easemob-rest.md §3.3, §3.7), with their types.
PROFILE_FIELDS: dict[str, tuple[type, ...]] = {
    "notification_display_style": (int,),
    "notification_no_disturbing": (bool,),
    "notification_no_disturbing_start": (str, int),
    "notification_no_disturbing_end": (str, int),
    "device_token": (str,),
    "notifier_name": (str,),
}
IGNORE_PREFIX = "notification_ignore_"

# Called with the user ids being deleted, inside nothing: lets other services (groups) clean up.
DeleteHook = Callable[[App, list[User]], Awaitable[None]]

_CURSOR = struct.Struct(">qq")


def encode_cursor(*position: int) -> str:
    raw = struct.pack(f">{len(position)}q", *position)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, size: int) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) != 8 * size:
            raise ValueError
        return struct.unpack(f">{size}q", raw)
    except (ValueError, struct.error) as exc:
        raise errors.illegal_argument(f"cursor [{cursor}] is not valid") from exc


class UserService:
    def __init__(self, db: Database, settings: Settings, hasher: Hasher, router: Router) -> None:
        self.db = db
        self.settings = settings
        self.hasher = hasher
        self.router = router
        self.delete_hooks: list[DeleteHook] = []

    # --- validation -----------------------------------------------------------------------------
    def username_problem(self, username: str) -> str | None:
        """What is wrong with a new username, in plain words (None: nothing)."""
        shown = json.dumps(username, ensure_ascii=False)
        if not USERNAME_RE.fullmatch(username) or len(username.encode()) > self.settings.username_max_length:
            return f"a username has 1–{self.settings.username_max_length} of a-z A-Z 0-9 _ - . (got {shown})"
        if UUID_RE.fullmatch(username):
            return f"a username may not be written as a UUID (got {shown})"
        return None

    def password_problem(self, password: str) -> str | None:
        """What is wrong with a new password, in plain words (None: nothing)."""
        if not password:
            return "no password"
        if len(password) > self.settings.password_max_length:
            return f"a password has at most {self.settings.password_max_length} characters"
        return None

    def _check_username(self, username: Any) -> str:
        if username is None or username == "":
            raise errors.illegal_argument("Entity user requires a property named username")
        if not isinstance(username, str) or self.username_problem(username):
            raise errors.illegal_argument(f"username [{username}] is not legal")
        return username

    def _check_password(self, password: Any, missing: str = "password or pin must provided") -> str:
        if password is None or password == "":
            raise errors.illegal_argument(missing)
        if not isinstance(password, str) or self.password_problem(password):
            raise errors.illegal_argument(
                f"password is not legal: a string of at most {self.settings.password_max_length} characters"
            )
        return password

    def _check_nickname(self, nickname: Any) -> str | None:
        if nickname is None:
            return None
        if not isinstance(nickname, str) or len(nickname) > self.settings.nickname_max_length:
            raise errors.illegal_argument(
                f"nickname is not legal: a string of at most {self.settings.nickname_max_length} characters"
            )
        return nickname

    # --- registration ---------------------------------------------------------------------------
    async def register(self, app: App, entries: list[Any]) -> list[User]:
        """Register every entry or none (a duplicate fails the whole batch)."""
        if not entries:
            raise errors.illegal_argument("Entity user requires a property named username")
        if len(entries) > self.settings.register_batch_max:
            raise errors.illegal_argument(
                f"at most {self.settings.register_batch_max} users can be registered in one request"
            )
        checked: list[tuple[str, str, str | None]] = []
        seen: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict):
                raise errors.illegal_argument("each user must be a JSON object")
            name = self._check_username(entry.get("username"))
            password = self._check_password(entry.get("password"))
            nickname = self._check_nickname(entry.get("nickname"))
            if name.lower() in seen:
                raise errors.duplicate_user(app.id, name)
            seen.add(name.lower())
            checked.append((name, password, nickname))
        taken = await self.db.read(existing_keys_txn, app.id, list(seen))
        if taken:
            name = next(n for n, _, _ in checked if n.lower() in taken)
            raise errors.duplicate_user(app.id, name)
        creds = await self.hasher.derive_many([p for _, p, _ in checked])
        now = now_ms()
        new = [NewUser(n, nick, now, c) for (n, _, nick), c in zip(checked, creds, strict=True)]
        try:
            return await self.db.write(insert_users_txn, app.id, new)
        except IntegrityError as exc:  # registered concurrently since the check above
            taken = await self.db.read(existing_keys_txn, app.id, list(seen))
            name = next((n for n, _, _ in checked if n.lower() in taken), checked[0][0])
            raise errors.duplicate_user(app.id, name) from exc

    # --- lookups --------------------------------------------------------------------------------
    async def find(self, app: App, ident: str) -> User | None:
        """A user by username (any case) or by UUID."""
        if UUID_RE.fullmatch(ident):
            return await self.db.read(get_user_by_uuid_txn, app.id, ident.lower(), native=get_user_by_uuid_native)
        return await self.db.read(get_user_txn, app.id, ident.lower(), native=get_user_native)

    async def get(self, app: App, ident: str) -> User:
        user = await self.find(app, ident)
        if user is None:
            raise errors.user_not_found()
        return user

    async def get_many(self, app: App, names: list[str]) -> list[User]:
        keys = [n.lower() for n in names]
        return await self.db.read(get_users_by_keys_txn, app.id, keys, native=get_users_by_keys_native)

    async def page(self, app: App, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
        after = decode_cursor(cursor, 2) if cursor else None
        found = await self.db.read(list_users_txn, app.id, limit + 1, after)
        more = len(found) > limit
        found = found[:limit]
        next_cursor = encode_cursor(found[-1].created, found[-1].id) if more and found else None
        return found, next_cursor

    async def search(self, app: App, prefix: str, limit: int, after: str | None) -> tuple[list[User], str | None]:
        """Users whose username starts with `prefix` (any case), in username order, after the
        username `after`; and the username to pass as `after` for the next page, if there is one."""
        after = after.lower() if after else None
        found = await self.db.read(search_users_txn, app.id, prefix.lower(), limit + 1, after)
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1].key if more and found else None)

    async def user_for_grant(self, app: App, grant: Grant) -> User:
        """The user a user token speaks for; refused once the user is gone, deactivated or
        has a new password."""
        user = await self.db.read(get_user_by_uuid_txn, app.id, str(grant.subject), native=get_user_by_uuid_native)
        if (
            grant.kind != USER
            or user is None
            or not user.activated
            or (user.token_epoch & 0xFFFFFFFF) != grant.epoch
        ):
            raise errors.bad_access_token("Unable to authenticate")
        return user

    # --- authentication -------------------------------------------------------------------------
    async def log_in(self, app: App, name: str, secret: str, tokens: TokenService) -> User:
        """A client's login (XMPP SASL PLAIN, msync PROVISION): `$t$` and a token `tokens` issued
        to this very user of this app, or the user's password."""
        if secret.startswith("$t$"):
            grant = tokens.check(secret[3:])
            if grant.app_uuid != app.uuid:
                raise errors.bad_access_token("Unable to authenticate")
            user = await self.user_for_grant(app, grant)
            if user.key != name.lower():
                raise errors.bad_access_token("Unable to authenticate")
            return user
        return await self.authenticate(app, name, secret)

    async def authenticate(self, app: App, username: Any, password: Any) -> User:
        """Check a password; the password grant of /token and XMPP SASL PLAIN use this."""
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise errors.invalid_grant("invalid username or password")
        found = await self.db.read(credentials_txn, app.id, username.lower())
        if found is None:
            raise errors.invalid_grant("invalid username or password")
        user, creds = found
        if not await self.hasher.verify(password, creds):
            raise errors.invalid_grant("invalid username or password")
        if not user.activated:
            raise errors.unauthorized(f"user [{user.username}] is deactivated")
        return user

    async def credentials(self, app: App, username: str) -> Any:
        """(User, Credentials) for SCRAM, or None."""
        return await self.db.read(credentials_txn, app.id, username.lower())

    # --- changes --------------------------------------------------------------------------------
    async def _delete(self, app: App, victims: list[User]) -> None:
        for hook in self.delete_hooks:
            await hook(app, victims)
        await self.db.write(delete_users_txn, [u.id for u in victims])
        for user in victims:
            self.router.kick(app.uuid, user.key, "not-authorized")

    async def delete(self, app: App, ident: str) -> User:
        user = await self.get(app, ident)
        await self._delete(app, [user])
        user.activated = False
        return user

    async def delete_oldest(self, app: App, limit: int) -> tuple[list[User], str | None]:
        victims, next_cursor = await self.page(app, limit, None)
        if victims:
            await self._delete(app, victims)
        for user in victims:
            user.activated = False
        return victims, next_cursor

    async def reset_password(self, app: App, ident: str, newpassword: Any) -> None:
        password = self._check_password(newpassword, "newpassword is required")
        user = await self.find(app, ident)
        if user is None:
            raise errors.entity_not_found("User null not found")
        creds = await self.hasher.derive(password)
        await self.db.write(set_credentials_txn, user.id, creds, now_ms())
        self._password_changed(app, user)

    def _password_changed(self, app: App, user: User) -> None:
        """A new password ends the user's sessions (their tokens are void already), as Easemob's
        and Prosody's do: each client logs in again with the new one."""
        self.router.kick(app.uuid, user.key, "not-authorized", "The password was changed.", cause="password")

    async def change_own_password(self, app: App, user: User, old: Any, new: Any) -> None:
        """A user changing their own password must prove the old one."""
        if old is None or old == "":
            raise errors.illegal_argument("oldPassword is required")
        password = self._check_password(new, "newpassword is required")
        found = await self.db.read(credentials_txn, app.id, user.key)
        if found is None or not await self.hasher.verify(str(old), found[1]):
            raise errors.illegal_argument("oldPassword is not correct")
        creds = await self.hasher.derive(password)
        await self.db.write(set_credentials_txn, user.id, creds, now_ms())
        self._password_changed(app, user)

    async def update(self, app: App, ident: str, fields: Any) -> User:
        if not isinstance(fields, dict) or not fields:
            raise errors.illegal_argument("the request body must be a JSON object with the fields to change")
        user = await self.find(app, ident)
        if user is None:
            raise errors.required_property_not_found("Entity user requires a property named username")
        values: dict[str, Any] = {}
        profile = dict(user.profile)
        for name, value in fields.items():
            if name == "nickname":
                values["nickname"] = self._check_nickname(value)
            elif name in PROFILE_FIELDS or name.startswith(IGNORE_PREFIX):
                types = PROFILE_FIELDS.get(name, (bool,))
                if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                    raise errors.illegal_argument(f"property [{name}] has a value of the wrong type")
                profile[name] = value
            else:
                raise errors.illegal_argument(f"property [{name}] can not be modified")
        values["profile"] = profile
        values["modified"] = now_ms()
        await self.db.write(update_user_txn, user.id, values)
        return await self.get(app, str(user.uuid))

    async def set_activated(self, app: App, ident: str, activated: bool) -> User:
        user = await self.get(app, ident)
        values: dict[str, Any] = {"activated": activated, "modified": now_ms()}
        if not activated:
            values["token_epoch"] = user.token_epoch + 1
        await self.db.write(update_user_txn, user.id, values)
        if not activated:
            self.router.kick(app.uuid, user.key, "not-authorized")
        return await self.get(app, str(user.uuid))

    async def disconnect(self, app: App, ident: str, resource: str | None = None) -> bool:
        """End the user's sessions, or the one bound to `resource`; whether there was any."""
        user = await self.get(app, ident)
        return self.router.kick(app.uuid, user.key, "policy-violation", resource=resource) > 0

    async def devices(self, app: App, ident: str) -> tuple[User, list[tuple[str, str]]]:
        """The user's live sessions, available or not: (resource, kind of client) of each."""
        user = await self.get(app, ident)
        return user, [(s.resource, s.device) for s in self.router.resources(app.uuid, user.key, available=False)]

    async def status(self, app: App, ident: str) -> tuple[User, bool]:
        user = await self.get(app, ident)
        return user, bool(self.router.online(app.uuid, [user.key]))

    def batch_status(self, app: App, names: Any) -> list[tuple[str, bool]]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise errors.illegal_argument("usernames must be an array of strings")
        if len(names) > self.settings.status_batch_max:
            raise errors.illegal_argument(f"at most {self.settings.status_batch_max} usernames per request")
        online = self.router.online(app.uuid, [n.lower() for n in names])
        return [(n, n.lower() in online) for n in names]


