"""The database handle: one engine, migrations, and the way transactions are run.

`read(fn, *args)` and `write(fn, *args)` run `fn(conn, *args)` in one transaction and return
its result. On SQLite (the embedded default) they run on the calling thread: a local
SQLite statement takes microseconds, and one connection used by one thread needs no locks
and no thread hop. On PostgreSQL they run on a bounded thread pool so that network round
trips never block the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

__all__ = ["Database"]

T = TypeVar("T")
log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


class Database:
    def __init__(self, url: str, *, pool_size: int = 8, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.close()

            self._executor: ThreadPoolExecutor | None = None
            self._lock = threading.RLock()
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)
            self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix="hxim-db")
            self._lock = threading.RLock()

    # --- running transactions -------------------------------------------------------------
    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in one transaction on this thread."""
        if self.is_sqlite:
            with self._lock, self.engine.begin() as conn:
                return fn(conn, *args)
        with self.engine.begin() as conn:
            return fn(conn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            return self.run_sync(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run_sync, fn, *args)

    write = read

    # --- schema ---------------------------------------------------------------------------
    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        return cfg

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        command.upgrade(self.alembic_config(), "head")

    def dispose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.engine.dispose()


