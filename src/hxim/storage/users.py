"""Queries on users and their credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from hxim.model import Credentials, ScramKeys, User
from hxim.storage.database import Query
from hxim.storage.tables import users

if TYPE_CHECKING:
    from hxim.storage.native import Native

__all__ = [
    "NewUser",
    "insert_users_txn",
    "existing_keys_txn",
    "get_user_txn",
    "get_user_native",
    "get_user_by_uuid_native",
    "get_users_by_ids_txn",
    "get_user_by_uuid_txn",
    "get_users_by_keys_txn",
    "get_users_by_keys_native",
    "list_users_txn",
    "delete_users_txn",
    "update_user_txn",
    "set_credentials_txn",
    "credentials_txn",
]

_ENTITY_COLUMNS = (
    users.c.id,
    users.c.uuid,
    users.c.app_uuid,
    users.c.username,
    users.c.nickname,
    users.c.activated,
    users.c.created,
    users.c.modified,
    users.c.token_epoch,
    users.c.profile,
)


# Hot statements are built once; executing a prebuilt statement skips SQL construction.
_BY_KEY = Query(
    select(*_ENTITY_COLUMNS).where(users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key"))
)
_BY_UUID = Query(
    select(*_ENTITY_COLUMNS).where(users.c.app_uuid == bindparam("app"), users.c.uuid == bindparam("uuid"))
)
_BY_KEYS = Query(
    select(*_ENTITY_COLUMNS).where(
        users.c.app_uuid == bindparam("app"), users.c.username_key.in_(bindparam("keys", expanding=True))
    )
)
_CREDENTIALS = Query(
    select(
        *_ENTITY_COLUMNS,
        users.c.scram_salt,
        users.c.scram_iterations,
        users.c.sha1_stored_key,
        users.c.sha1_server_key,
        users.c.sha256_stored_key,
        users.c.sha256_server_key,
    ).where(users.c.app_uuid == bindparam("app"), users.c.username_key == bindparam("key"))
)
_KEYS_TAKEN = select(users.c.username_key).where(
    users.c.app_uuid == bindparam("app"), users.c.username_key.in_(bindparam("keys", expanding=True))
)
_INSERT = insert(users)


def _user(row: Any) -> User:
    """A User from a row whose first columns are `_ENTITY_COLUMNS` (a Row or a plain tuple)."""
    ident, user_uuid, app_uuid, username, nickname, activated, created, modified, epoch, profile = row[:10]
    return User(
        id=ident,
        uuid=uuid.UUID(user_uuid),
        app_uuid=uuid.UUID(app_uuid),
        username=username,
        nickname=nickname,
        activated=bool(activated),
        created=created,
        modified=modified,
        token_epoch=epoch,
        profile=orjson.loads(profile) if profile not in ("{}", "", None) else {},
    )


def _cred_values(creds: Credentials) -> dict[str, Any]:
    return {
        "scram_salt": creds.salt,
        "scram_iterations": creds.iterations,
        "sha1_stored_key": creds.sha1.stored_key,
        "sha1_server_key": creds.sha1.server_key,
        "sha256_stored_key": creds.sha256.stored_key,
        "sha256_server_key": creds.sha256.server_key,
    }


class NewUser:
    __slots__ = ("uuid", "username", "nickname", "created", "credentials")

    def __init__(self, username: str, nickname: str | None, created: int, credentials: Credentials) -> None:
        self.uuid = uuid.uuid1()
        self.username = username
        self.nickname = nickname
        self.created = created
        self.credentials = credentials


def existing_keys_txn(conn: Connection, app_uuid: str, keys: Iterable[str]) -> set[str]:
    rows = conn.execute(_KEYS_TAKEN, {"app": app_uuid, "keys": list(keys)})
    return {r.username_key for r in rows}


def insert_users_txn(conn: Connection, app_uuid: str, new: list[NewUser]) -> list[User]:
    rows = [
        {
            "uuid": str(n.uuid),
            "app_uuid": app_uuid,
            "username": n.username,
            "username_key": n.username.lower(),
            "nickname": n.nickname,
            "activated": True,
            "created": n.created,
            "modified": n.created,
            "token_epoch": 0,
            "profile": "{}",
            **_cred_values(n.credentials),
        }
        for n in new
    ]
    conn.execute(_INSERT, rows)
    keys = [n.username.lower() for n in new]
    return get_users_by_keys_txn(conn, app_uuid, keys)


def get_user_txn(conn: Connection, app_uuid: str, key: str) -> User | None:
    row = _BY_KEY.first(conn, app=app_uuid, key=key)
    return _user(row) if row else None


async def get_user_native(native: Native, app_uuid: str, key: str) -> User | None:
    """`get_user_txn` on the asyncpg pool."""
    row = await native.fetchrow(_BY_KEY, app=app_uuid, key=key)
    return _user(row) if row else None


def get_users_by_ids_txn(conn: Connection, ids: list[int]) -> dict[int, User]:
    """The users with these row ids, by id (missing ones left out)."""
    if not ids:
        return {}
    rows = conn.execute(select(*_ENTITY_COLUMNS).where(users.c.id.in_(ids)))
    return {u.id: u for u in map(_user, rows)}


def get_user_by_uuid_txn(conn: Connection, app_uuid: str, user_uuid: str) -> User | None:
    row = _BY_UUID.first(conn, app=app_uuid, uuid=user_uuid)
    return _user(row) if row else None


async def get_user_by_uuid_native(native: Native, app_uuid: str, user_uuid: str) -> User | None:
    """`get_user_by_uuid_txn` on the asyncpg pool."""
    row = await native.fetchrow(_BY_UUID, app=app_uuid, uuid=user_uuid)
    return _user(row) if row else None


def get_users_by_keys_txn(conn: Connection, app_uuid: str, keys: list[str]) -> list[User]:
    """The users with these case-folded names, in the order of `keys` (missing ones left out)."""
    found = {u.key: u for u in map(_user, _BY_KEYS.all(conn, app=app_uuid, keys=keys))}
    return [found[k] for k in keys if k in found]


async def get_users_by_keys_native(native: Native, app_uuid: str, keys: list[str]) -> list[User]:
    """`get_users_by_keys_txn` on the asyncpg pool."""
    found = {u.key: u for u in map(_user, await native.fetch(_BY_KEYS, app=app_uuid, keys=keys))}
    return [found[k] for k in keys if k in found]


def list_users_txn(conn: Connection, app_uuid: str, limit: int, after: tuple[int, int] | None) -> list[User]:
    """Users in creation order, starting after the (created, id) position `after`."""
    query = select(*_ENTITY_COLUMNS).where(users.c.app_uuid == app_uuid)
    if after is not None:
        created, ident = after
        query = query.where(
            or_(users.c.created > created, and_(users.c.created == created, users.c.id > ident))
        )
    query = query.order_by(users.c.created, users.c.id).limit(limit)
    return [_user(r) for r in conn.execute(query)]


def search_users_txn(conn: Connection, app_uuid: str, prefix: str, limit: int, after: str | None) -> list[User]:
    """Users whose username starts with `prefix` (case-folded), in username order, after the
    username key `after`."""
    query = select(*_ENTITY_COLUMNS).where(users.c.app_uuid == app_uuid)
    if prefix:
        query = query.where(users.c.username_key.startswith(prefix, autoescape=True))
    if after is not None:
        query = query.where(users.c.username_key > after)
    query = query.order_by(users.c.username_key).limit(limit)
    return [_user(r) for r in conn.execute(query)]


def delete_users_txn(conn: Connection, ids: list[int]) -> None:
    conn.execute(delete(users).where(users.c.id.in_(ids)))


def update_user_txn(conn: Connection, user_id: int, values: dict[str, Any]) -> None:
    values = dict(values)
    if "profile" in values:
        values["profile"] = orjson.dumps(values["profile"]).decode()
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def set_credentials_txn(conn: Connection, user_id: int, creds: Credentials, modified: int) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            token_epoch=users.c.token_epoch + 1,
            modified=modified,
            **_cred_values(creds),
        )
    )


def credentials_txn(conn: Connection, app_uuid: str, key: str) -> tuple[User, Credentials] | None:
    row = _CREDENTIALS.first(conn, app=app_uuid, key=key)
    if row is None:
        return None
    salt, iterations, sha1_stored, sha1_server, sha256_stored, sha256_server = row[10:]
    creds = Credentials(
        bytes(salt),
        iterations,
        ScramKeys(bytes(sha1_stored), bytes(sha1_server)),
        ScramKeys(bytes(sha256_stored), bytes(sha256_server)),
    )
    return _user(row), creds
