"""Apps (tenants): creation, lookup with a short-lived cache, secret rotation.

easemob-rest.md §1.1–§1.2: an app is an `org#app` pair with a UUID, a `client_id` derived
from it and a `client_secret`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable

from hxim import errors
from hxim.model import App, b64url, now_ms
from hxim.storage import Database
from hxim.storage.apps import get_app_txn, insert_app_txn, insert_first_app_txn, list_apps_txn, update_app_txn

__all__ = ["AppService", "NAME_RE", "check_names", "hash_secret", "secret_matches"]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,63}")


def new_client_secret() -> str:
    return "YXA6" + b64url(secrets.token_bytes(20))


def hash_secret(secret: str) -> str:
    """What storage keeps of a client secret. The secret is 160 random bits: a fast hash suffices,
    nobody can search that space; a slow one would only slow every client_credentials grant."""
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(app: App, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), app.secret_hash)


def check_names(org: str, name: str) -> None:
    """Refuse an org or app name that an app key cannot hold."""
    for part, value in (("org", org), ("app", name)):
        if not NAME_RE.fullmatch(value):
            raise errors.illegal_argument(
                f"{part} name [{value}] is not legal: use letters, digits, '_', '-' and '.', at most 64"
            )


def _app_exists(name: str) -> errors.HximError:
    return errors.HximError(
        400,
        "application_already_exists",
        f"Application {name} already exists",
        "org.apache.usergrid.management.exceptions.ApplicationAlreadyExistsException",
        "conflict",
    )


def _new_app(org: str, name: str, open_registration: bool) -> tuple[App, str]:
    secret = new_client_secret()
    app = App(
        uuid=uuid.uuid1(),
        org=org,
        name=name,
        secret_hash=hash_secret(secret),
        token_epoch=0,
        open_registration=open_registration,
        created=now_ms(),
    )
    return app, secret


class AppService:
    def __init__(self, db: Database, cache_seconds: float) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, App]] = {}
        # told (org, name) when this node changed an app: a cluster's other nodes forget their copy
        self.change_hooks: list[Callable[[str, str], None]] = []

    def forget(self, org: str, name: str) -> None:
        """Drop the cached copy of an app (another node changed it)."""
        self._cache.pop((org, name), None)

    def _changed(self, app: App) -> None:
        self._cache.pop((app.org, app.name), None)
        for hook in self.change_hooks:
            hook(app.org, app.name)

    # --- lookups ----------------------------------------------------------------------------
    def cached(self, org: str, name: str) -> App | None:
        """The app if the cache holds it fresh, else None (then `find` it): no await on the hot
        path of every stanza."""
        hit = self._cache.get((org, name))
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    async def find(self, org: str, name: str) -> App | None:
        """The app, from a cache refreshed every `app_cache_seconds`."""
        app = self.cached(org, name)
        if app is not None:
            return app
        app = await self.db.read(get_app_txn, org, name)
        if app is not None:
            self._cache[(org, name)] = (time.monotonic(), app)
        else:
            self._cache.pop((org, name), None)
        return app

    async def get(self, org: str, name: str, uri_path: str) -> App:
        app = await self.find(org, name)
        if app is None:
            raise errors.app_not_found(org, name, uri_path)
        return app

    def get_sync(self, org: str, name: str) -> App | None:
        return self.db.run_sync(get_app_txn, org, name)

    def list_sync(self) -> list[App]:
        return self.db.run_sync(list_apps_txn)

    async def list(self) -> list[App]:
        return await self.db.read(list_apps_txn)

    # --- changes (the CLI and the start run them synchronously, the admin console awaits them) ----
    def create_sync(self, org: str, name: str, open_registration: bool = False) -> tuple[App, str]:
        """A new app and its client secret, which is kept only as a hash: shown now or never."""
        check_names(org, name)
        if self.db.run_sync(get_app_txn, org, name) is not None:
            raise _app_exists(name)
        app, secret = _new_app(org, name, open_registration)
        self.db.run_sync(insert_app_txn, app)
        return app, secret

    def create_first_sync(self, org: str, name: str) -> tuple[App, str] | None:
        """The first app of a new database and its secret; None when there is an app already
        (another node starting at the same moment made it)."""
        check_names(org, name)
        app, secret = _new_app(org, name, False)
        return (app, secret) if self.db.run_sync(insert_first_app_txn, app) else None

    async def create(self, org: str, name: str, open_registration: bool = False) -> tuple[App, str]:
        check_names(org, name)
        if await self.db.read(get_app_txn, org, name) is not None:
            raise _app_exists(name)
        app, secret = _new_app(org, name, open_registration)
        await self.db.write(insert_app_txn, app)
        return app, secret

    def rotate_secret_sync(self, app: App) -> tuple[App, str]:
        """A new client secret (shown now or never); every admin token issued before stops working."""
        secret, values = self._rotation(app)
        self.db.run_sync(update_app_txn, app.id, values)
        self._changed(app)
        found = self.db.run_sync(get_app_txn, app.org, app.name)
        assert found is not None
        return found, secret

    async def rotate_secret(self, app: App) -> tuple[App, str]:
        secret, values = self._rotation(app)
        await self.db.write(update_app_txn, app.id, values)
        self._changed(app)
        found = await self.db.read(get_app_txn, app.org, app.name)
        assert found is not None
        return found, secret

    def _rotation(self, app: App) -> tuple[str, dict[str, object]]:
        """A new secret and the values that store it and void the app's admin tokens."""
        secret = new_client_secret()
        return secret, {"secret_hash": hash_secret(secret), "token_epoch": app.token_epoch + 1}

    def set_open_registration_sync(self, app: App, value: bool) -> None:
        self.db.run_sync(update_app_txn, app.id, {"open_registration": value})
        self._changed(app)

    def default_sync(self, configured: str) -> App | None:
        """The default app: the one named `ORG#APP` by the setting, else the first created."""
        if configured:
            org, _, name = configured.partition("#")
            return self.db.run_sync(get_app_txn, org, name)
        apps = self.list_sync()
        return apps[0] if apps else None
