"""The asyncpg path: a pool of PostgreSQL connections on the node's event loop, for the hot statements.

On PostgreSQL every `Database.read`/`write` hands its function to a worker thread, which runs
it through psycopg and SQLAlchemy's execution machinery; for a request that asks one small
question, the thread hand-offs and that machinery cost more CPU than the rest of the request.
`Native` runs a few statements (the user reads, the offline count, the contact counts, the group
commits of messages and of contact pairs) straight on asyncpg connections owned by the serving loop instead: no
thread, and asyncpg's cache keeps each statement prepared on each connection
(`db_statement_cache_size`).

The SQL stays in one place: each statement is a `Query` of the storage module that owns it, the
same SQLAlchemy Core statement the sync path runs, compiled once more for asyncpg's `$1, $2 …`
placeholders. The functions that use it live beside their sync twins (`get_user_native` next to
`get_user_txn`), so that both return the same rows in the same order.

Errors come out as the sync path's: a connection lost or refused is SQLAlchemy's
`OperationalError`, a broken constraint its `IntegrityError`, any other error of the server a
`DatabaseError`, and a text holding U+0000 is refused as `illegal_argument`. A read that lost its
connection is tried again on another, as the sync path does (a connection that could not be made
is not tried again).

The pool is opened by the node at start when the database is PostgreSQL and `db_native` is on
(`Database.open_native`), and closed at stop; while it is closed every statement takes the sync
path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from hxim import errors

if TYPE_CHECKING:
    from hxim.counters import Histogram
    from hxim.storage.database import Query

__all__ = ["Native", "NATIVE_DIALECT", "connect_url"]

# SQL for asyncpg: positional $n placeholders, typed where asyncpg needs to know the type
NATIVE_DIALECT = PGDialect_asyncpg()
_NUL_REFUSED = "a value holds the character U+0000 (NUL), which is not accepted"
# what a lost, refused or closed connection raises (PostgreSQL's classes 08 and 57P: the server
# going away or shutting down; asyncpg's InterfaceError: a connection or pool already closed)
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)


def connect_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _translated(exc: BaseException, sql: str, args: Sequence[Any]) -> BaseException:
    """`exc`, raised by asyncpg, as the sync path would have raised it."""
    if isinstance(exc, asyncpg.exceptions.DataError) and "0x00" in str(exc):
        return errors.illegal_argument(_NUL_REFUSED)
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, list(args), exc)
    if isinstance(exc, _CONNECTION_ERRORS):
        return OperationalError(sql, list(args), exc, connection_invalidated=True)
    return DatabaseError(sql, list(args), exc)


async def _keep(conn: asyncpg.Connection) -> None:
    """A connection given back to the pool is kept as it is: asyncpg would reset it (RESET ALL,
    UNLISTEN *, advisory locks: a round trip each time), but the statements run here leave no
    session state behind (one statement each, in autocommit)."""


class Native:
    """An asyncpg pool and the few ways the hot statements are run on it.

    `fetch`, `fetchrow` and `fetchval` read (in autocommit, as the sync path's reads), `execute`
    runs one statement that writes (atomic on its own: one round trip). Each call's duration is
    counted in `durations`, with the sync path's transactions.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int,
        statement_cache_size: int,
        connect_timeout_seconds: float,
        durations: Histogram,
    ) -> None:
        self.url = connect_url(url)
        self.pool_size = pool_size
        self.statement_cache_size = statement_cache_size
        self.connect_timeout = connect_timeout_seconds
        self.durations = durations
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.url,
            min_size=self.pool_size,
            max_size=self.pool_size,
            statement_cache_size=self.statement_cache_size,
            timeout=self.connect_timeout,
            reset=_keep,
        )

    async def close(self) -> None:
        """Close the pool once the statements running on it have ended."""
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    async def _run(self, how: str, query: Query, params: dict[str, Any], read: bool) -> Any:
        sql, args = query.compiled(NATIVE_DIALECT, params)
        if not isinstance(args, list):  # (no placeholders at all)
            args = []
        started = perf_counter()
        # A read whose connection turns out lost is tried again on another, as on the sync path;
        # here the pool's other connections may be lost too (a restart ends them all, and the
        # pool learns it as each is used): at most once per connection, then on a new one.
        tries = self.pool_size + 1 if read else 1
        try:
            while True:
                pool = self.pool
                if pool is None:
                    raise OperationalError(sql, args, ConnectionError("the database pool is closed"))
                acquired = False
                try:
                    async with pool.acquire() as conn:
                        acquired = True
                        return await getattr(conn, how)(sql, *args)
                except Exception as exc:
                    tries -= 1
                    if acquired and tries and isinstance(exc, _CONNECTION_ERRORS):
                        continue
                    raise _translated(exc, sql, args) from exc
        finally:
            self.durations.observe(perf_counter() - started)

    async def fetch(self, query: Query, **params: Any) -> list[asyncpg.Record]:
        return await self._run("fetch", query, params, True)

    async def fetchrow(self, query: Query, **params: Any) -> asyncpg.Record | None:
        return await self._run("fetchrow", query, params, True)

    async def fetchval(self, query: Query, **params: Any) -> Any:
        return await self._run("fetchval", query, params, True)

    async def execute(self, query: Query, **params: Any) -> None:
        """Run one statement that writes; it commits on its own (autocommit)."""
        await self._run("execute", query, params, False)
