"""Access tokens: issuing and checking app-admin and IM-user tokens (easemob-rest.md §2).

A token is self-contained and signed: base64url("ac-" + version, kind, app UUID, subject
UUID, epoch, expiry + a truncated HMAC-SHA256), so it starts `YWMt` like Easemob's and needs
no storage to check. Revocation goes through epochs: an app token carries the app's
`token_epoch` (bumped when the client secret is rotated), a user token the user's
`token_epoch` (bumped when the password is reset or the user is deactivated); a token whose
epoch no longer matches is refused, and a deleted user's tokens find no user.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
import uuid
from dataclasses import dataclass

from hxim import errors
from hxim.model import App, User, b64url, unb64url

__all__ = ["TokenService", "Grant", "APP", "USER"]

APP = 1
USER = 2
_PREFIX = b"ac-"
_BODY = struct.Struct(">BB16s16sIQ")  # version, kind, app, subject, epoch, expires (ms)
_MAC_BYTES = 16
_LENGTH = len(_PREFIX) + _BODY.size + _MAC_BYTES
CACHE_SIZE = 65_536


@dataclass(frozen=True, slots=True)
class Grant:
    """What a checked token allows: the app, and the user for a user token."""

    kind: int
    app_uuid: uuid.UUID
    subject: uuid.UUID
    epoch: int
    expires_ms: int

    @property
    def is_admin(self) -> bool:
        return self.kind == APP


class TokenService:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._seen: dict[str, Grant] = {}

    def _mac(self, body: bytes) -> bytes:
        return hmac.digest(self._key, body, hashlib.sha256)[:_MAC_BYTES]

    def _issue(self, kind: int, app_uuid: uuid.UUID, subject: uuid.UUID, epoch: int, ttl: int) -> str:
        expires = int((time.time() + ttl) * 1000)
        body = _PREFIX + _BODY.pack(1, kind, app_uuid.bytes, subject.bytes, epoch & 0xFFFFFFFF, expires)
        return b64url(body + self._mac(body))

    def sign(self, text: str) -> str:
        """A signature of `text` by this server's key (for links it hands out and checks later)."""
        return hmac.digest(self._key, text.encode(), hashlib.sha256).hex()[:32]

    def issue_app(self, app: App, ttl: int | None = None) -> str:
        return self._issue(APP, app.uuid, app.uuid, app.token_epoch, ttl or self.ttl_seconds)

    def issue_user(self, app: App, user: User, ttl: int | None = None) -> str:
        return self._issue(USER, app.uuid, user.uuid, user.token_epoch, ttl or self.ttl_seconds)

    def check(self, token: str) -> Grant:
        """Decode and authenticate `token` (not yet tied to an app or user).

        Tokens that passed are remembered (up to `CACHE_SIZE`), so a client that reuses its
        token skips the decoding and the HMAC; expiry is still checked on every use.
        """
        grant = self._seen.get(token)
        if grant is not None:
            if grant.expires_ms <= time.time() * 1000:
                raise errors.expired_token()
            return grant
        grant = self._check(token)
        if len(self._seen) >= CACHE_SIZE:
            self._seen.clear()
        self._seen[token] = grant
        return grant

    def _check(self, token: str) -> Grant:
        try:
            raw = unb64url(token)
        except ValueError:
            raw = b""
        if len(raw) != _LENGTH or not raw.startswith(_PREFIX):
            raise errors.bad_access_token("Unable to authenticate due to corrupt access token")
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise errors.bad_access_token("Unable to authenticate")
        version, kind, app_b, subject_b, epoch, expires = _BODY.unpack(body[len(_PREFIX) :])
        if version != 1 or kind not in (APP, USER):
            raise errors.bad_access_token("Unable to authenticate due to corrupt access token")
        if expires <= time.time() * 1000:
            raise errors.expired_token()
        return Grant(kind, uuid.UUID(bytes=app_b), uuid.UUID(bytes=subject_b), epoch, expires)
