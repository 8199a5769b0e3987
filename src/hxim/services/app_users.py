"""App users: the app's own accounts that the `/api/v2/easemob` app API serves.

An app user has a numeric id (its IM username is that id as a string), an optional password
kept as a bcrypt hash, a profile (`name`, `bio`, `sex`, `location`, `avatar`, `bg`,
`verified`, `extra`, `certification`) and an admin flag. The app's backend manages them
(`/{org}/{app}/app_users/{id}`, `hxim app-user set`); they log in with
`POST /api/v2/auth/login` and call the app API with an HS256 JWT whose `sub` is their id.
Their IM password is the original's `im_pwd_hash`: md5 of the stored bcrypt string, or
md5("123456") without a password (seed-wrappers.md §2.4).

The service also keeps each group's face (a chat-file UUID or an http(s) URL). Hashing runs
on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
import warnings
from typing import Any

import bcrypt
import jwt
import jwt.warnings

from hxim import errors
from hxim.config import Settings
from hxim.model import App, now_ms
from hxim.storage import Database
from hxim.storage.app_users import (
    JSON_FIELDS,
    AppUser,
    app_user_ids_txn,
    app_users_by_ids_txn,
    delete_app_user_txn,
    delete_group_face_txn,
    get_app_user_txn,
    group_faces_txn,
    profiles_and_faces_txn,
    set_group_face_txn,
    upsert_app_user_txn,
)
from hxim.storage.apps import server_key_txn

__all__ = ["AppUser", "AppUserService", "im_password", "NO_PASSWORD_HASH", "parse_app_user_id", "MAX_ID"]

log = logging.getLogger("hxim.app_users")
# A short HS256 secret is the operator's choice (HXIM_APP_API_JWT_SECRET); say so once at start,
# not on every token.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)

MAX_ID = (1 << 63) - 1
NO_PASSWORD_HASH = hashlib.md5(b"123456").hexdigest()  # e10adc3949ba59abbe56e057f20f883e
BCRYPT_RE = re.compile(r"\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}")
TEXT_FIELDS = {"name": 255, "location": 255, "bio": 65_535}
FIELDS = (*TEXT_FIELDS, "sex", *JSON_FIELDS, "password", "password_hash", "is_admin")
JWT_CACHE_SIZE = 65_536
CACHE_SIZE = 100_000  # app users and group faces kept per node


def parse_app_user_id(value: Any) -> int | None:
    """An app user id from an int or a digit string; None for anything else."""
    if type(value) is str:
        if value.isdecimal() and len(value) <= 19 and value.isascii():
            number = int(value)
            return number if 0 < number <= MAX_ID else None
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.isdecimal() and len(value) <= 19:
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def im_password(user: AppUser) -> str:
    """The IM password of an app user (`im_pwd_hash`): md5 hex of the stored bcrypt hash."""
    if user.password_hash:
        return hashlib.md5(user.password_hash.encode()).hexdigest()
    return NO_PASSWORD_HASH


class AppUserService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        # Read-mostly data, cached per node for `app_cache_seconds` (as apps are): app users by
        # (app, id) and group faces by (app, group id); None = known to be absent.
        self._cache: dict[tuple[str, int], tuple[float, AppUser | None]] = {}
        self._faces: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._jwt_key: bytes | None = settings.app_api_jwt_secret.encode() or None
        self._jwt_seen: dict[str, tuple[int, float]] = {}
        if settings.app_api_jwt_secret and len(self._jwt_key or b"") < 32:
            log.warning("app_api_jwt_secret is shorter than 32 bytes; HS256 wants at least 32")

    # --- validation ------------------------------------------------------------------------------
    def _check(self, fields: Any) -> dict[str, Any]:
        """Column values from a PUT body; only the fields given (omitted ones keep their values)."""
        if not isinstance(fields, dict):
            raise errors.illegal_argument("the app user must be a JSON object")
        unknown = [k for k in fields if k not in FIELDS]
        if unknown:
            raise errors.illegal_argument(f"unknown app user fields {sorted(unknown)}; known: {list(FIELDS)}")
        values: dict[str, Any] = {}
        for name, limit in TEXT_FIELDS.items():
            if name in fields:
                value = fields[name]
                if value is not None and (not isinstance(value, str) or len(value) > limit):
                    raise errors.illegal_argument(f"{name} must be a string of at most {limit} characters, or null")
                values[name] = value
        if "sex" in fields:
            sex = fields["sex"]
            if isinstance(sex, bool) or sex not in (0, 1, 2):
                raise errors.illegal_argument("sex must be 0 (unknown), 1 (male) or 2 (female)")
            values["sex"] = sex
        for name in JSON_FIELDS:
            if name in fields:
                values[name] = fields[name]
        if "is_admin" in fields:
            if not isinstance(fields["is_admin"], bool):
                raise errors.illegal_argument("is_admin must be true or false")
            values["is_admin"] = fields["is_admin"]
        if "password" in fields and "password_hash" in fields:
            raise errors.illegal_argument("give password or password_hash, not both")
        if "password_hash" in fields:
            hashed = fields["password_hash"]
            if hashed is not None and (not isinstance(hashed, str) or not BCRYPT_RE.fullmatch(hashed)):
                raise errors.illegal_argument("password_hash must be a bcrypt hash ($2y$10$…, 60 characters) or null")
            values["password_hash"] = hashed
        if "password" in fields:
            password = fields["password"]
            if password is not None and (not isinstance(password, str) or not password or len(password.encode()) > 72):
                raise errors.illegal_argument("password must be a non-empty string of at most 72 bytes, or null")
            values["password"] = password
        return values

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.settings.app_api_bcrypt_rounds)).decode()

    def _forget(self, app: App, uid: int) -> None:
        self._cache.pop((app.id, uid), None)

    # --- app users ---------------------------------------------------------------------------------
    async def set(self, app: App, uid: int, fields: Any) -> tuple[AppUser, bool]:
        """Create or change an app user (only the fields given). Returns (user, created)."""
        values = self._check(fields)
        if "password" in values:
            password = values.pop("password")
            values["password_hash"] = await asyncio.to_thread(self._hash, password) if password else None
        self._forget(app, uid)
        result = await self.db.write(upsert_app_user_txn, app.id, uid, values, now_ms())
        self._forget(app, uid)
        return result

    def set_sync(self, app: App, uid: int, fields: Any) -> tuple[AppUser, bool]:
        """`set` for the CLI."""
        values = self._check(fields)
        if "password" in values:
            password = values.pop("password")
            values["password_hash"] = self._hash(password) if password else None
        return self.db.run_sync(upsert_app_user_txn, app.id, uid, values, now_ms())

    async def get(self, app: App, uid: int) -> AppUser | None:
        return await self.db.read(get_app_user_txn, app.id, uid)

    async def cached(self, app: App, uid: int) -> AppUser | None:
        """The app user from a cache refreshed every `app_cache_seconds` (for authentication)."""
        key = (app.id, uid)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.settings.app_cache_seconds:
            return hit[1]
        user = await self.db.read(get_app_user_txn, app.id, uid)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (now, user)
        return user

    async def delete(self, app: App, uid: int) -> AppUser | None:
        self._forget(app, uid)
        gone = await self.db.write(delete_app_user_txn, app.id, uid)
        self._forget(app, uid)
        return gone

    async def many(self, app: App, ids: list[int]) -> dict[int, AppUser]:
        return {u.id: u for u in await self.db.read(app_users_by_ids_txn, app.id, ids)}

    async def ids(self, app: App) -> list[int]:
        return await self.db.read(app_user_ids_txn, app.id)

    async def verify_password(self, user: AppUser, password: str) -> bool:
        if not user.password_hash or not password or len(password.encode()) > 72:
            return False
        hashed = user.password_hash.encode()
        return await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed)

    # --- JWTs ----------------------------------------------------------------------------------------
    async def _key(self) -> bytes:
        if self._jwt_key is None:
            self._jwt_key = await self.db.write(server_key_txn, "app-api-jwt", secrets.token_bytes(32))
        return self._jwt_key

    async def issue_jwt(self, user: AppUser) -> tuple[str, int]:
        """An HS256 token for the app user: (token, lifetime in seconds)."""
        ttl = self.settings.app_api_jwt_ttl_seconds
        now = int(time.time())
        claims = {"sub": str(user.id), "iat": now, "exp": now + ttl, "jti": secrets.token_hex(8)}
        return jwt.encode(claims, await self._key(), algorithm="HS256"), ttl

    async def check_jwt(self, token: str) -> int | None:
        """The app user id a valid token speaks for; None when it is not valid (or has expired)."""
        now = time.time()
        seen = self._jwt_seen.get(token)
        if seen is not None:
            return seen[0] if now < seen[1] else None
        try:
            claims = jwt.decode(
                token,
                await self._key(),
                algorithms=["HS256"],
                options={"require": ["exp", "sub"], "verify_sub": False},
            )
        except jwt.PyJWTError:
            return None
        uid = parse_app_user_id(claims.get("sub"))
        if uid is None:
            return None
        if len(self._jwt_seen) >= JWT_CACHE_SIZE:
            self._jwt_seen.clear()
        self._jwt_seen[token] = (uid, float(claims["exp"]))
        return uid

    # --- group faces ---------------------------------------------------------------------------------
    async def faces(self, app: App, group_ids: list[str]) -> dict[str, str]:
        return await self.db.read(group_faces_txn, app.id, group_ids)

    async def set_face(self, app: App, group_id: str, face: str | None) -> None:
        self._faces.pop((app.id, group_id), None)
        if face:
            await self.db.write(set_group_face_txn, app.id, group_id, face, now_ms())
        else:
            await self.db.write(delete_group_face_txn, app.id, group_id)
        self._faces.pop((app.id, group_id), None)

    async def profiles_and_faces(
        self, app: App, ids: list[int], group_ids: list[str]
    ) -> tuple[dict[int, AppUser], dict[str, str]]:
        """App users and group faces for a group view, from the caches; the missing ones in one read."""
        now = time.monotonic()
        ttl = self.settings.app_cache_seconds
        users: dict[int, AppUser] = {}
        faces: dict[str, str] = {}
        want_users: list[int] = []
        want_faces: list[str] = []
        for uid in ids:
            hit = self._cache.get((app.id, uid))
            if hit is not None and now - hit[0] < ttl:
                if hit[1] is not None:
                    users[uid] = hit[1]
            else:
                want_users.append(uid)
        for gid in group_ids:
            face_hit = self._faces.get((app.id, gid))
            if face_hit is not None and now - face_hit[0] < ttl:
                if face_hit[1] is not None:
                    faces[gid] = face_hit[1]
            else:
                want_faces.append(gid)
        if want_users or want_faces:
            found, found_faces = await self.db.read(profiles_and_faces_txn, app.id, want_users, want_faces)
            if len(self._cache) + len(want_users) > CACHE_SIZE:
                self._cache.clear()
            if len(self._faces) + len(want_faces) > CACHE_SIZE:
                self._faces.clear()
            by_id = {u.id: u for u in found}
            for uid in want_users:
                self._cache[(app.id, uid)] = (now, by_id.get(uid))
            for gid in want_faces:
                self._faces[(app.id, gid)] = (now, found_faces.get(gid))
            users.update(by_id)
            faces.update(found_faces)
        return users, faces
