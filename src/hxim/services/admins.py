"""Administrators of the admin console (/admin, docs/admin.md): their credentials and sessions.

An administrator is a name and a bcrypt hash of a password, set with `hxim admin add`,
`password` and `remove` and kept in table `admins`; they belong to the server, not to an app.

A console login is a cookie the server signs (HMAC-SHA-256 under the server key `admin-session`,
kept in storage like the token key): the name, the administrator's session epoch and when it
expires. Checking one reads the administrator's row, so removing an administrator, changing
their password or logging out (each moves the epoch) ends their sessions at once, on every node
sharing the database. A session's CSRF token is an HMAC of its cookie under the same key: the
console sends it in a header with every request that changes something.

Failed logins are counted by the node's `LoginThrottle`, as every other password check is.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import bcrypt

from hxim.config import Settings
from hxim.model import now_ms
from hxim.services.login_throttle import LoginThrottle
from hxim.storage import Database
from hxim.storage.admins import (
    Admin,
    count_admins_txn,
    delete_admin_txn,
    get_admin_txn,
    insert_admin_txn,
    list_admins_txn,
    update_admin_txn,
)

__all__ = ["ADMIN_NAME_RE", "AdminError", "AdminService", "AdminSession", "LoginRefused"]

ADMIN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
THROTTLE_APP = "(admin console)"  # the throttle counts per app and account; administrators have no app
# Checked when the name is unknown, so that a wrong name costs the time of a wrong password.
_NO_SUCH_HASH = bcrypt.hashpw(b"no such administrator", bcrypt.gensalt(4))


class AdminError(Exception):
    """A change to the administrators that cannot be made; the message says why in one line."""


class LoginRefused(Exception):
    """A console login refused: a wrong name or password, or too many failures (`wait` seconds)."""

    def __init__(self, message: str, wait: int = 0) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A logged-in administrator: who, and the token their changes must carry."""

    name: str
    csrf: str
    cookie: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdminService:
    def __init__(self, db: Database, settings: Settings, throttle: LoginThrottle) -> None:
        self.db = db
        self.settings = settings
        self.throttle = throttle
        self._key = b""  # set by open(): it lives in storage

    def open(self, key: bytes) -> None:
        self._key = key

    # --- credentials (the command line) ----------------------------------------------------------
    def check_name(self, name: str) -> str:
        if not ADMIN_NAME_RE.fullmatch(name):
            raise AdminError(
                f"administrator name [{name}] is not legal: use letters, digits, '_', '.', '@' and '-', at most 64"
            )
        return name

    def check_password(self, password: str) -> str:
        shortest = self.settings.admin_password_min_length
        if len(password) < shortest:
            raise AdminError(f"the password is too short: at least {shortest} characters")
        if len(password.encode()) > 72:  # bcrypt reads no further
            raise AdminError("the password is too long: at most 72 bytes")
        return password

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.settings.admin_bcrypt_rounds)).decode()

    def add_sync(self, name: str, password: str) -> Admin:
        self.check_name(name)
        self.check_password(password)
        if self.db.run_sync(get_admin_txn, name) is not None:
            raise AdminError(f"administrator {name} exists (hxim admin password {name} sets a new password)")
        admin = Admin(name, self._hash(password), 0, now_ms())
        self.db.run_sync(insert_admin_txn, admin)
        return admin

    def list_sync(self) -> list[Admin]:
        return self.db.run_sync(list_admins_txn, write=False)

    def remove_sync(self, name: str) -> None:
        if not self.db.run_sync(delete_admin_txn, name):
            raise AdminError(f"no administrator {name}{self._here()}")

    def set_password_sync(self, name: str, password: str) -> None:
        """A new password; the administrator's console sessions end."""
        self.check_password(password)
        if self.db.run_sync(get_admin_txn, name) is None:
            raise AdminError(f"no administrator {name}{self._here()}")
        self.db.run_sync(update_admin_txn, name, {"password_hash": self._hash(password)})

    def _here(self) -> str:
        names = [a.name for a in self.list_sync()]
        return f"; administrators: {', '.join(names)}" if names else "; there are no administrators"

    # --- console sessions ------------------------------------------------------------------------
    async def configured(self) -> bool:
        """Whether there is an administrator at all (the console says how to add one if not)."""
        return await self.db.read(count_admins_txn) > 0

    async def log_in(self, name: str, password: str, address: str) -> AdminSession:
        """Check a password; the session of a right one, else `LoginRefused`."""
        wait = self.throttle.wait(THROTTLE_APP, name, address)
        if wait:
            raise LoginRefused(f"too many failed logins: try again in {wait} seconds", wait)
        admin = await self.db.read(get_admin_txn, name) if ADMIN_NAME_RE.fullmatch(name) else None
        hashed = admin.password_hash.encode() if admin is not None else _NO_SUCH_HASH
        right = await asyncio.to_thread(bcrypt.checkpw, password.encode()[:72], hashed)
        if admin is None or not right:
            self.throttle.failed(THROTTLE_APP, name, address)
            raise LoginRefused("wrong name or password")
        self.throttle.succeeded(THROTTLE_APP, name, address)
        return self._session(admin, int(time.time()) + self.settings.admin_session_seconds)

    async def session(self, cookie: str) -> AdminSession | None:
        """The session a cookie holds, if it is signed here, unexpired and not ended since."""
        body, _, mac = cookie.partition(".")
        if not body or not hmac.compare_digest(mac, self._sign(body)):
            return None
        try:
            name, epoch, expires = _unb64(body).decode().split("\n")
            if int(expires) < time.time():
                return None
        except ValueError:
            return None
        admin = await self.db.read(get_admin_txn, name)
        if admin is None or str(admin.session_epoch) != epoch:
            return None
        return AdminSession(name, self._csrf(cookie), cookie)

    async def log_out(self, session: AdminSession) -> None:
        """End every console session of the administrator (the cookie alone cannot be recalled)."""
        await self.db.write(update_admin_txn, session.name, {})

    def _session(self, admin: Admin, expires: int) -> AdminSession:
        body = _b64(f"{admin.name}\n{admin.session_epoch}\n{expires}".encode())
        cookie = f"{body}.{self._sign(body)}"
        return AdminSession(admin.name, self._csrf(cookie), cookie)

    def _sign(self, body: str) -> str:
        return _b64(hmac.digest(self._key, b"session\n" + body.encode(), hashlib.sha256))

    def _csrf(self, cookie: str) -> str:
        return _b64(hmac.digest(self._key, b"csrf\n" + cookie.encode(), hashlib.sha256))
