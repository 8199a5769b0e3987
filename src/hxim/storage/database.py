"""The database handle: one engine, migrations, and the way transactions are run.

`read(fn, *args)` and `write(fn, *args)` run `fn(conn, *args)` in one transaction and return
its result. On SQLite (the embedded default) they run on the calling thread: a local
SQLite statement takes microseconds, and one connection kept open for the process needs
no thread hop and no pool checkout. On PostgreSQL they run on a bounded thread pool so that network round
trips never block the event loop.

SQLite's write-ahead log is checkpointed by a background thread on its own connection every
`sqlite_checkpoint_seconds` (a passive checkpoint never blocks the writer; a second process on
the same file, the callback delivery process, opens its handle with `sqlite_checkpointer=False`
and leaves checkpoints to the node's): left to SQLite, a
checkpoint runs inside whichever commit crosses 1,000 pages and fsyncs there, stalling the
event loop for tens of milliseconds. Each round checkpoints twice: the bulk of the log while
writes go on, then what they added meanwhile while group commits (`Batcher`) wait, for at most
`sqlite_checkpoint_pause_seconds` (about 10 ms in practice). The second one catches up with the
log, so the next commit starts the log over from its beginning. Without that pause a checkpoint
never caught up under steady writes: the log grew by tens of MB a second, and commits that
appended to it stalled behind the checkpoint's fsync (30-60 ms on ext4, the p99 of the load
test in docs/benchmarks.md). On SQLite, group commits are also at least `sqlite_commit_interval_seconds`
apart, so that under load more messages share one commit and fewer pages are written.

Opening a handle creates nothing: the SQLite file and its directory are made by `migrate()`.
On PostgreSQL, nodes that migrate at once take turns (an advisory lock, `MIGRATION_LOCK`): the
first brings the schema up to date, the others find it so.
A database that cannot be used at all (PostgreSQL unreachable or refusing the login, a SQLite
file that cannot be opened) raises `DatabaseUnavailable`, worded for the operator.

On PostgreSQL the node also opens an asyncpg pool on its event loop (`open_native`, storage/native.py)
for the few statements every request runs: `read(fn, *args, native=fn_native)` runs
`fn_native(native, *args)` there while the pool is open, else `fn` as above; a `Batcher` given a
`native` function flushes through it the same way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, DBAPIError
from sqlalchemy.pool import StaticPool

from hxim import errors
from hxim.counters import DB_BUCKETS, Histogram

if TYPE_CHECKING:
    from hxim.storage.native import Native

__all__ = ["Database", "DatabaseUnavailable", "Batcher", "Busy"]

T = TypeVar("T")
Item = TypeVar("Item")
log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
# the PostgreSQL advisory lock migrations run under (migrations/env.py): "hxim" in its high 32 bits,
# 1 (the schema) in its low ones
MIGRATION_LOCK = 0x6878696D_00000001
_NUL_REFUSED = "a value holds the character U+0000 (NUL), which is not accepted"
_BUSY_TIMEOUT_MS = 10_000  # SQLite: how long a statement waits for another connection's lock
_BUSY_RETRY_SECONDS = 0.0002  # a group commit that found the write lock taken tries again after (doubled, to 5 ms)
_BUSY_PATIENCE_SECONDS = 1.0  # ... until it has found it taken this long: then it waits for it


def _refuse_nul(exc: BaseException | None) -> None:
    """PostgreSQL's text cannot hold U+0000: a value that does (from a path or a query string;
    JSON bodies are checked on the way in) is bad input, not a server failure."""
    if isinstance(exc, psycopg.DataError) and "NUL" in str(exc):
        raise errors.illegal_argument(_NUL_REFUSED) from None


_WORKER = "hxim-db"  # the names of the worker threads (each keeps two PostgreSQL connections)
_SPARE_CONNECTIONS = 4


class Busy(Exception):
    """SQLite: another connection (another process) holds the write lock; raised instead of
    waiting by `run_sync(..., wait=False)`."""


def _begin_now(raw: Any) -> None:
    """BEGIN IMMEDIATE on a connection whose busy timeout is 0: `Busy` while another
    connection has the write lock."""
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise Busy() from None
        raise


class DatabaseUnavailable(Exception):
    """The database cannot be used at all; the message says why in the operator's words
    (`cannot reach PostgreSQL at 127.0.0.1:5433: connection refused`)."""


def _unavailable(url: str, exc: DatabaseError) -> DatabaseUnavailable:
    """An error from connecting, as one line: unreachable, or reached and refusing us."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return DatabaseUnavailable(f"cannot open the SQLite database {parsed.database}: {exc.orig}")
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    text = str(exc.orig).strip()
    # libpq: 'connection failed: connection to server at "H", port P failed: WHY' (then a hint line)
    reason = text.split("\n")[0].rpartition(" failed: ")[2].strip()
    if reason.startswith("FATAL:"):  # the server answered: a role, a password, a database or pg_hba.conf
        return DatabaseUnavailable(f"PostgreSQL at {where} refused the connection: {reason[6:].strip()}")
    if text.startswith("failed to resolve host"):
        reason = "no such host"
    return DatabaseUnavailable(f"cannot reach PostgreSQL at {where}: {reason[:1].lower()}{reason[1:]}")


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        connect_timeout_seconds: float = 10,
        sqlite_synchronous: str = "NORMAL",
        sqlite_checkpoint_seconds: float = 0,
        sqlite_checkpoint_pause_seconds: float = 0.05,
        sqlite_commit_interval_seconds: float = 0.0,
        sqlite_checkpointer: bool = True,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._lock = threading.RLock()
        # the background checkpoint in progress: when it began (0.0: none), and who waits for it
        self._checkpoint_began = 0.0
        self._checkpoint_pause = sqlite_checkpoint_pause_seconds
        self.commit_interval = sqlite_commit_interval_seconds if self.is_sqlite else 0.0
        self._after_checkpoint: list[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._conn: Connection | None = None
        self._no_wait = False  # SQLite: the node's connection has its busy timeout at 0 (see run_sync)
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            self.path = path if path != ":memory:" else ""
            background = bool(self.path and sqlite_checkpoint_seconds > 0)
            self.engine: Engine = create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                # The driver stays in autocommit; write transactions issue BEGIN IMMEDIATE
                # themselves (see run_sync), so a read-then-write is atomic across processes.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                self._no_wait = False
                if background:
                    cur.execute("PRAGMA wal_autocheckpoint=0")
                cur.close()

            if background and sqlite_checkpointer:  # (without: another process's handle checkpoints)
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop,
                    args=(path, sqlite_checkpoint_seconds),
                    name="hxim-sqlite-checkpoint",
                    daemon=True,
                )
                self._checkpointer.start()
        else:
            # Each worker thread keeps two connections for good (see `_pg_run`): one in
            # autocommit for reads, one for write transactions.
            self.path = ""
            self.engine = create_engine(
                url,
                pool_size=2 * pool_size,
                # beyond the workers' own: connections for one transaction of another thread
                # (the start, the commands, an export), given back when it ends
                max_overflow=_SPARE_CONNECTIONS,
                pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, round(connect_timeout_seconds))},
            )
            self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix=_WORKER)
        self._local = threading.local()
        self._held: list[Connection] = []
        self.durations = Histogram(DB_BUCKETS)  # of every transaction (`run_sync`), for /metrics
        self.native: Native | None = None  # the asyncpg pool on the event loop, while open (PostgreSQL)
        self._connect_timeout = connect_timeout_seconds

    async def open_native(self, pool_size: int, statement_cache_size: int) -> None:
        """PostgreSQL: open the asyncpg pool on the running loop, for the hot statements
        (storage/native.py). Nothing on SQLite. A database that cannot be reached raises
        `DatabaseUnavailable`."""
        if self.is_sqlite or self.native is not None:
            return
        from hxim.storage.native import Native

        native = Native(
            self.url,
            pool_size=pool_size,
            statement_cache_size=statement_cache_size,
            connect_timeout_seconds=self._connect_timeout,
            durations=self.durations,
        )
        try:
            await native.open()
        except Exception as exc:  # refused, unreachable, timed out
            where = self.location
            raise DatabaseUnavailable(f"cannot open the asyncpg pool on PostgreSQL at {where}: {exc}") from exc
        self.native = native

    async def close_native(self) -> None:
        """Close the asyncpg pool (the statements running on it end first); from now on every
        statement takes the sync path."""
        native, self.native = self.native, None
        if native is not None:
            await native.close()

    def _checkpoint_loop(self, path: str, every: float) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(every):
            try:
                if conn is None:  # never creates the file: migrate() does
                    uri = f"file:{urllib.parse.quote(path)}?mode=rw"
                    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                    conn.execute("PRAGMA busy_timeout=10000")
                # the bulk of the log while writes go on, then what they added meanwhile with
                # group commits waiting (a few ms): that one catches up, and the log starts over
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                with self._lock:  # begin between two transactions, never inside one
                    self._checkpoint_began = time.monotonic()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    self._checkpoint_ended()
            except sqlite3.Error as exc:  # e.g. the file is being replaced: try again later
                log.debug("WAL checkpoint failed: %s", exc)
        if conn is not None:
            conn.close()

    def _checkpoint_ended(self) -> None:
        with self._lock:
            self._checkpoint_began = 0.0
            waiting, self._after_checkpoint = self._after_checkpoint, []
        for loop, callback in waiting:
            try:
                loop.call_soon_threadsafe(callback)
            except RuntimeError:  # that loop is closed
                pass

    def checkpoint_pause(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> float:
        """Seconds a group commit should still wait for the background checkpoint (0: none runs,
        or it has run longer than the pause allows). When it should wait, `callback` is called
        on `loop` once the checkpoint ends."""
        began = self._checkpoint_began
        if not began:
            return 0.0
        left = began + self._checkpoint_pause - time.monotonic()
        if left <= 0:
            return 0.0
        with self._lock:
            if not self._checkpoint_began:
                return 0.0
            self._after_checkpoint.append((loop, callback))
        return left

    # --- running transactions -------------------------------------------------------------
    def run_sync(self, fn: Callable[..., T], *args: Any, write: bool = True, wait: bool = True) -> T:
        """Run `fn(conn, *args)` in one transaction on this thread.

        On SQLite one connection serves the whole process under a lock; a read runs its
        statements without BEGIN (each sees a consistent snapshot), a write inside
        BEGIN IMMEDIATE ... COMMIT. BEGIN IMMEDIATE waits while another process writes (up to
        `_BUSY_TIMEOUT_MS`, in SQLite's sleeps of 1 ms and more); with `wait` false it raises
        `Busy` at once instead, for a caller on the event loop that can try again later
        (`Batcher`). Its duration (waiting for the connection included) is counted in `durations`.
        """
        started = perf_counter()
        busy = False
        try:
            if not self.is_sqlite:
                return self._pg_run(fn, args, write)
            with self._lock:
                if self._conn is None:
                    self._conn = self.engine.connect()
                conn = self._conn
                # BEGIN and COMMIT go straight to the driver: through SQLAlchemy's execution machinery
                # they cost more than the statements of a small transaction (`Query` runs those raw
                # too). A statement run through SQLAlchemy opens its own (driver-level empty)
                # transaction, which its commit ends; the driver's commit is then a no-op.
                raw = conn.connection.dbapi_connection
                assert raw is not None
                if write and not wait:
                    # The busy timeout goes to 0 for this BEGIN and stays there while group commits
                    # follow one another; anything else puts it back first (two statements per
                    # switch, which per commit cost the message path some 7 % of its instructions).
                    if not self._no_wait:
                        raw.execute("PRAGMA busy_timeout=0")
                        self._no_wait = True
                    try:
                        _begin_now(raw)
                    except Busy:  # nothing begun: nothing to roll back, no transaction to count
                        busy = True
                        raise
                elif self._no_wait:
                    self._let_wait(raw)
                try:
                    if write and wait:
                        raw.execute("BEGIN IMMEDIATE")
                    result = fn(conn, *args)
                    if conn.in_transaction():
                        conn.commit()
                    raw.commit()
                    return result
                except BaseException:
                    conn.rollback()
                    raw.rollback()
                    raise
        finally:
            if not busy:
                self.durations.observe(perf_counter() - started)

    def _let_wait(self, raw: Any) -> None:
        """SQLite, under `_lock`: statements on the node's connection wait for another
        connection's lock again (up to `_BUSY_TIMEOUT_MS`)."""
        raw.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        self._no_wait = False

    def _pg_run(self, fn: Callable[..., T], args: tuple[Any, ...], write: bool) -> T:
        """PostgreSQL, on a worker thread: reuse this thread's connection (no pool checkout, no
        ping per call). Reads run in autocommit — under READ COMMITTED a transaction gives its
        statements no common snapshot anyway, and autocommit spares BEGIN and COMMIT round
        trips. A connection that broke is replaced; a read is then tried once more."""
        if not threading.current_thread().name.startswith(_WORKER):
            return self._pg_run_once(fn, args, write)
        name = "writer" if write else "reader"
        for attempt in (1, 2):
            conn: Connection | None = getattr(self._local, name, None)
            if conn is None or conn.closed or conn.invalidated:
                broken = conn
                conn = self.engine.connect()
                if not write:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                setattr(self._local, name, conn)
                with self._lock:
                    if broken is not None:
                        self._held.remove(broken)
                        broken.close()
                    self._held.append(conn)
            try:
                if not write:
                    try:
                        return fn(conn, *args)
                    except BaseException:
                        conn.rollback()  # no round trip in autocommit; resets SQLAlchemy's state
                        raise
                with conn.begin():
                    return fn(conn, *args)
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1 and not write:
                    continue
                _refuse_nul(exc.orig)
                raise
            except psycopg.DataError as exc:  # from `Query`, which runs statements on the raw cursor
                _refuse_nul(exc)
                raise
        raise AssertionError("unreachable")

    def _pg_run_once(self, fn: Callable[..., T], args: tuple[Any, ...], write: bool) -> T:
        """PostgreSQL, on a thread other than the workers (the event loop's at start, a command's):
        a connection for this transaction only. Kept by such a thread, connections would be
        missing from the pool the workers draw their own from, and the workers would wait on it
        for good."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    if not write:
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                        return fn(conn, *args)
                    with conn.begin():
                        return fn(conn, *args)
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1 and not write:
                    continue
                _refuse_nul(exc.orig)
                raise
            except psycopg.DataError as exc:
                _refuse_nul(exc)
                raise
        raise AssertionError("unreachable")

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection whose reads all see the database as it was when the first one ran, for as
        long as the block lasts (an export); writers go on meanwhile. On SQLite a read
        transaction of the write-ahead log, on PostgreSQL a REPEATABLE READ, READ ONLY one."""
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                with conn.begin():
                    yield conn
            return
        with self._lock, self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if self._no_wait:
                self._let_wait(raw)
            raw.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()
                raw.rollback()

    def backup_sqlite(self, target: Path) -> tuple[Path, str]:
        """Copy the SQLite database to `target` with SQLite's online backup (one consistent copy
        while the server goes on writing), then check the copy; returns the database's path and
        `PRAGMA integrity_check`'s answer ("ok")."""
        assert self.is_sqlite
        source_path = Path(self.url.split("///", 1)[1])
        if not source_path.is_file():
            raise FileNotFoundError(f"there is no database at {source_path}")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(source_path)
        try:
            source.execute("PRAGMA busy_timeout=10000")
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # every page in one step: one read transaction, one snapshot
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                answer = "; ".join(str(row[0]) for row in copy.execute("PRAGMA integrity_check"))
            finally:
                copy.close()
        finally:
            source.close()
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        partial.replace(target)
        return source_path, answer

    async def read(
        self, fn: Callable[..., T], *args: Any, native: Callable[..., Awaitable[T]] | None = None
    ) -> T:
        """Run a function that only reads; `native`, its twin on the asyncpg pool, runs instead
        while that is open."""
        if native is not None and self.native is not None:
            return await native(self.native, *args)
        if self._executor is None:
            return self.run_sync(fn, *args, write=False)
        # as a read (autocommit, tried again once on a broken connection), not as a write transaction
        read = functools.partial(self.run_sync, fn, *args, write=False)
        return await asyncio.get_running_loop().run_in_executor(self._executor, read)

    async def write(
        self, fn: Callable[..., T], *args: Any, native: Callable[..., Awaitable[T]] | None = None
    ) -> T:
        """Run a function that writes, in one transaction; `native`, its twin on the asyncpg pool
        (one statement: a transaction of its own), runs instead while that is open."""
        if native is not None and self.native is not None:
            return await native(self.native, *args)
        if self._executor is None:
            return self.run_sync(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run_sync, fn, *args)

    async def ping(self, timeout: float) -> None:
        """Ask the database a trivial question; raises what the driver raises when it cannot
        answer. On SQLite a fresh read-only connection reads the file's schema, on a worker thread
        and waiting at most `timeout` seconds for a lock: the node's own connection would go on
        answering from a file deleted or replaced under it. On PostgreSQL, `SELECT 1` on the pool."""
        if self.path:
            await asyncio.to_thread(_sqlite_ping, self.path, timeout)
        else:
            await self.read(_select_one)

    # --- schema ---------------------------------------------------------------------------
    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        return cfg

    @property
    def location(self) -> str:
        """Where the database is, for messages: the SQLite file, or the URL without its password."""
        url = make_url(self.url)
        return self.path or url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Create the database if need be (a SQLite file and its directory) and bring the schema
        to the newest migration."""
        if self.path:
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                raise DatabaseUnavailable(f"cannot create the data directory {folder}: {reason}") from exc
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            try:
                with self.engine.connect() as conn:
                    if self._no_wait:
                        self._let_wait(conn.connection.dbapi_connection)
            except DatabaseError as exc:  # on SQLite also a file that is not a database
                raise _unavailable(self.url, exc) from exc
            command.upgrade(self.alembic_config(), "head")

    def schema_present(self) -> bool:
        """Whether hxim's schema is there (migrated once), found without creating anything."""
        if self.is_sqlite:
            if not self.path or not Path(self.path).is_file():
                return False
            try:
                probe = sqlite3.connect(f"file:{urllib.parse.quote(self.path)}?mode=ro", uri=True)
                try:
                    found = probe.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
                finally:
                    probe.close()
            except sqlite3.Error as exc:
                raise DatabaseUnavailable(f"cannot open the SQLite database {self.path}: {exc}") from exc
            return found is not None
        try:
            with self.engine.connect() as conn:
                return inspect(conn).has_table("alembic_version")
        except DatabaseError as exc:
            raise _unavailable(self.url, exc) from exc

    def dispose(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        with self._lock:
            for held in self._held:
                held.close()
            self._held.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.engine.dispose()


def _sqlite_ping(path: str, timeout: float) -> None:
    conn = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


def _select_one(conn: Connection) -> None:
    conn.exec_driver_sql("SELECT 1").scalar()


class Batcher(Generic[Item]):
    """Group commit: writes submitted while the event loop is busy share one transaction.

    `submit(item)` queues the item and waits; the flush runs `fn(conn, items)` once for every
    item queued since the last flush. On SQLite the flush runs as soon as the loop has handled
    the requests that arrived together; on PostgreSQL one flush is in flight at a time and
    items queued meanwhile go in the next. If a batch fails, its items are retried one by one,
    so one bad item fails only its own request.

    On SQLite a flush never waits on the event loop for another process's write (the callback
    delivery process's, a CLI command's): it finds the write lock taken (`Busy`), lets the loop go
    on, and tries again `_BUSY_RETRY_SECONDS` later (doubled at each miss, up to 5 ms), with
    whatever has arrived meanwhile.
    SQLite's own wait would have blocked the loop in sleeps of a millisecond and more. Past
    `_BUSY_PATIENCE_SECONDS` of that it waits as any other write does.

    With `native` (`native(pool, items)`, the same writes on the asyncpg pool) and that pool open,
    a flush runs on the event loop instead of a worker thread, one at a time as on PostgreSQL.
    """

    def __init__(
        self,
        db: Database,
        fn: Callable[[Connection, list[Item]], None],
        max_items: int = 512,
        native: Callable[[Native, list[Item]], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.fn = fn
        self.native = native
        self._tasks: set[asyncio.Task[None]] = set()  # native flushes in flight (kept from the collector)
        self.max_items = max_items
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._scheduled = False
        self._flushing = False
        self._held = False  # waiting for a checkpoint, for the commit interval or for another writer (SQLite)
        self._next_flush = 0.0  # loop time before which no group commit starts (SQLite)
        self._busy_since = 0.0  # loop time the write lock was first found taken by another process (SQLite)
        self._busy_tries = 0  # ... and how often since
        self._loop: asyncio.AbstractEventLoop | None = None  # of the batch being gathered
        self._last: asyncio.Future[None] | None = None  # of the item submitted last

    async def submit(self, item: Item) -> None:
        # the first item of a batch asks for the loop (a getpid() system call); the rest reuse it
        loop = self._loop if self._pending and self._loop is not None else asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((item, future))
        self._last = future
        if not self._scheduled and not self._flushing and not self._held:
            self._scheduled = True
            loop.call_soon(self._start)
        await future

    async def settled(self) -> None:
        """Wait until every item submitted so far is written (or failed): batches are written in
        the order they were submitted, so the last one's outcome says the rest are done too."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.wait((last,))

    def _start(self) -> None:
        self._scheduled = False
        native = self.db.native if self.native is not None else None
        if native is not None:
            if not self._flushing and self._pending:
                batch, self._pending = self._pending[: self.max_items], self._pending[self.max_items :]
                self._flushing = True
                flush = asyncio.get_running_loop().create_task(self._flush_native(native, batch))
                self._tasks.add(flush)
                flush.add_done_callback(self._tasks.discard)
        elif self.db._executor is None:
            if not self._pending:
                return
            loop = self._loop or asyncio.get_running_loop()
            interval = self.db.commit_interval
            if interval:
                now = loop.time()
                if now < self._next_flush:  # the last commit was just now: let more items gather
                    self._held = True
                    loop.call_at(self._next_flush, self._resume)
                    return
                self._next_flush = now + interval
            # The checkpoint thread marks its start under this lock: checked and committed under it
            # too, no commit slips in between the mark and the checkpoint that should catch up.
            with self.db._lock:
                pause = self.db.checkpoint_pause(loop, self._resume)
                if pause:
                    self._held = True
                    loop.call_later(pause, self._resume)
                    return
                while self._pending:
                    batch, self._pending = self._pending[: self.max_items], self._pending[self.max_items :]
                    patient = bool(self._busy_since) and loop.time() - self._busy_since > _BUSY_PATIENCE_SECONDS
                    outcomes = self._run(batch, wait=patient)
                    if outcomes is None:  # another process writes: the loop goes on meanwhile
                        self._pending[:0] = batch
                        self._busy_since = self._busy_since or loop.time()
                        self._next_flush = 0.0  # (no interval to keep: nothing was written)
                        self._held = True
                        loop.call_later(min(_BUSY_RETRY_SECONDS * 2**self._busy_tries, 0.005), self._resume)
                        self._busy_tries += 1
                        return
                    self._busy_since, self._busy_tries = 0.0, 0
                    self._settle(batch, outcomes)
        elif not self._flushing and self._pending:
            batch, self._pending = self._pending[: self.max_items], self._pending[self.max_items :]
            self._flushing = True
            loop = asyncio.get_running_loop()
            task = loop.run_in_executor(self.db._executor, self._run, batch)
            task.add_done_callback(lambda done: self._after(batch, done))

    async def _flush_native(self, native: Native, batch: list[tuple[Item, asyncio.Future[None]]]) -> None:
        """One flush on the asyncpg pool; if the batch fails, its items one by one (as `_run`)."""
        assert self.native is not None
        items = [item for item, _ in batch]
        outcomes: list[BaseException | None]
        try:
            await self.native(native, items)
            outcomes = [None] * len(items)
        except Exception as exc:
            if len(items) == 1:
                outcomes = [exc]
            else:
                outcomes = []
                for item in items:
                    try:
                        await self.native(native, [item])
                        outcomes.append(None)
                    except Exception as one:
                        outcomes.append(one)
        finally:
            self._flushing = False
        self._settle(batch, outcomes)
        if self._pending:
            self._start()

    def _resume(self) -> None:
        """The checkpoint ended, or the pause is over (whichever comes first), or time to try the
        write lock again."""
        if self._held:
            self._held = False
            self._start()

    def _after(
        self,
        batch: list[tuple[Item, asyncio.Future[None]]],
        done: asyncio.Future[list[BaseException | None] | None],
    ) -> None:
        self._flushing = False
        exc = done.exception()
        outcomes: list[BaseException | None] | None = [exc] * len(batch) if exc is not None else done.result()
        assert outcomes is not None  # (a write on PostgreSQL waits: it is never Busy)
        self._settle(batch, outcomes)
        if self._pending:
            self._start()

    def _run(
        self, batch: list[tuple[Item, asyncio.Future[None]]], wait: bool = True
    ) -> list[BaseException | None] | None:
        """Each item's outcome; None when another process held SQLite's write lock (`wait` false)."""
        items = [item for item, _ in batch]
        try:
            self.db.run_sync(self.fn, items, wait=wait)
            return [None] * len(items)
        except Busy:
            return None
        except Exception as exc:
            if len(items) == 1:
                return [exc]
        outcomes: list[BaseException | None] = []
        for item in items:
            try:
                self.db.run_sync(self.fn, [item])
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    @staticmethod
    def _settle(batch: list[tuple[Item, asyncio.Future[None]]], outcomes: list[BaseException | None]) -> None:
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if outcome is None:
                future.set_result(None)
            else:
                future.set_exception(outcome)


class Query:
    """A hot Core statement compiled once per dialect and run straight on the DBAPI cursor.

    SQLAlchemy spends tens of microseconds per execution on parameter and result handling;
    for the few statements every request runs, `Query` keeps SQLAlchemy's SQL generation but
    executes the compiled string itself. Rows come back as plain tuples in the statement's
    column order. Expanding (`IN`) parameters are supported: the SQL is compiled once per
    dialect and per list length. Values written into the statement (a `LIMIT`, a literal in a
    comparison) are bound from the statement itself.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._expanding = [
            b.key for b in statement._get_embedded_bindparams() if getattr(b, "expanding", False)
        ]
        self._fixed: dict[str, Any] = {}  # values written into the statement, by compiled name
        self._compiled: dict[tuple[Any, ...], tuple[str, list[str] | None]] = {}

    def _prepare(self, conn: Connection, params: dict[str, Any]) -> tuple[str, Any]:
        return self.compiled(conn.dialect, params)

    def compiled(self, dialect: Any, params: dict[str, Any]) -> tuple[str, Any]:
        """The SQL for `dialect` and its arguments from `params`: a list in the order of the
        positional placeholders, or `params` itself for a dialect that binds by name. The asyncpg
        path (storage/native.py) runs the same statement compiled for asyncpg's $1, $2 …"""
        lengths = tuple(len(params[name]) for name in self._expanding)
        key = (dialect.name, dialect.driver, lengths)
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            self._fixed = {
                k: v for k, v in compiled.params.items() if v is not None and k not in self._expanding
            }
            if self._expanding:
                state = compiled.construct_expanded_state(params)
                order = state.positiontup
                found = (state.statement, list(order) if compiled.positional and order else None)
            else:
                order = compiled.positiontup
                found = (str(compiled), list(order) if compiled.positional and order else None)
            self._compiled[key] = found
        sql, order = found
        if self._fixed:
            params = {**self._fixed, **params}
        if self._expanding:
            params = dict(params)
            for name in self._expanding:
                for i, value in enumerate(params.pop(name), 1):
                    params[f"{name}_{i}"] = value
        return sql, [params[name] for name in order] if order is not None else params

    def all(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        sql, args = self._prepare(conn, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, conn: Connection, **params: Any) -> tuple[Any, ...] | None:
        sql, args = self._prepare(conn, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return tuple(row) if row is not None else None

    def scalar(self, conn: Connection, **params: Any) -> Any:
        row = self.first(conn, **params)
        return row[0] if row is not None else None

    def execute(self, conn: Connection, **params: Any) -> int:
        """Run a statement that returns no rows (an UPDATE, a DELETE); how many rows it changed."""
        sql, args = self._prepare(conn, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Execute the statement once per parameter set (`executemany`); no expanding parameters."""
        if not rows:
            return
        sql, _ = self._prepare(conn, rows[0])
        order = self._compiled[(conn.dialect.name, conn.dialect.driver, ())][1]
        args = [[row[name] for name in order] for row in rows] if order is not None else rows
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            cursor.executemany(sql, args)
        except dbapi_error as exc:  # as SQLAlchemy would raise it (e.g. IntegrityError)
            raise DBAPIError.instance(sql, args, exc, dbapi_error) from exc
        finally:
            cursor.close()


_INSERT_IGNORE: dict[tuple[str, str], Any] = {}


def insert_ignore(conn: Connection, table: Table) -> Any:
    """An INSERT that skips rows already present (`ON CONFLICT DO NOTHING`, both dialects): for
    idempotent writes that a concurrent request may have done first."""
    key = (conn.dialect.name, table.name)
    stmt = _INSERT_IGNORE.get(key)
    if stmt is None:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = _INSERT_IGNORE[key] = dialect_insert(table).on_conflict_do_nothing()
    return stmt
