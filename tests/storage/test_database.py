"""Storage conformance: the same checks on the SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from conftest import BACKENDS, _drop_pg, _pg_database
from hxim.model import App, Message, now_ms
from hxim.services.passwords import derive
from hxim.storage.apps import insert_app_txn
from hxim.storage.database import Batcher, Busy, Database
from hxim.storage.messages import Stored, offline_count_txn, store_message_groups_txn
from hxim.storage.social import add_blocks_txn, add_contact_pairs_txn, contact_names_txn
from hxim.storage.tables import blocks, contacts, messages, offline
from hxim.storage.users import NewUser, delete_users_txn, insert_users_txn

CREDS = derive("pw", 4096)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    pg_name = None
    if request.param == "postgresql":
        pg_name, url = _pg_database()
        url = url.replace("postgresql://", "postgresql+psycopg://")
    else:
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()
    if pg_name:
        _drop_pg(pg_name)


def _app(db: Database) -> App:
    app = App(uuid.uuid1(), "o", f"a{uuid.uuid4().hex[:6]}", "s", 0, False, now_ms())
    db.run_sync(insert_app_txn, app)
    return app


def test_users_and_cascading_delete(db: Database) -> None:
    app = _app(db)
    alice, bob, carol = db.run_sync(
        insert_users_txn, app.id, [NewUser(n, None, now_ms(), CREDS) for n in ("Alice", "bob", "carol")]
    )
    assert [u.username for u in (alice, bob, carol)] == ["Alice", "bob", "carol"]
    db.run_sync(add_contact_pairs_txn, [(alice.id, bob.id, now_ms())])
    db.run_sync(add_contact_pairs_txn, [(bob.id, alice.id, now_ms())])  # idempotent, either way round
    db.run_sync(add_blocks_txn, carol.id, [alice.id], now_ms())
    msg = Message(1, app.uuid, "chat", "carol", "Alice", now_ms(), [{"type": "txt", "msg": "x"}])
    db.run_sync(store_message_groups_txn, [[Stored(msg, [alice.id])]])
    assert db.run_sync(contact_names_txn, bob.id) == ["Alice"]
    assert db.run_sync(offline_count_txn, alice.id) == 1

    db.run_sync(delete_users_txn, [alice.id])

    def counts(conn):  # type: ignore[no-untyped-def]
        return [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (contacts, blocks, offline)]

    assert db.run_sync(counts) == [0, 0, 0]
    assert db.run_sync(contact_names_txn, bob.id) == []


def test_duplicate_username_key_is_refused(db: Database) -> None:
    app = _app(db)
    db.run_sync(insert_users_txn, app.id, [NewUser("Dup", None, now_ms(), CREDS)])
    with pytest.raises(IntegrityError):
        db.run_sync(insert_users_txn, app.id, [NewUser("dUP", None, now_ms(), CREDS)])


def test_group_commit_shares_a_transaction_and_isolates_a_bad_item(db: Database) -> None:
    app = _app(db)
    [user] = db.run_sync(insert_users_txn, app.id, [NewUser("u", None, now_ms(), CREDS)])
    calls: list[int] = []

    def store(conn, groups):  # type: ignore[no-untyped-def]
        calls.append(len(groups))
        store_message_groups_txn(conn, groups)

    batcher: Batcher[list[Stored]] = Batcher(db, store)

    def message(ident: int) -> list[Stored]:
        body = [{"type": "txt", "msg": str(ident)}]
        return [Stored(Message(ident, app.uuid, "chat", "a", "u", now_ms(), body), [user.id])]

    async def run() -> list[BaseException | None]:
        good = [batcher.submit(message(i)) for i in range(10, 30)]
        dup = batcher.submit(message(10))  # same primary key as the first: must fail alone
        return await asyncio.gather(*good, dup, return_exceptions=True)

    outcomes = asyncio.run(run())
    assert outcomes[:20] == [None] * 20
    assert isinstance(outcomes[20], IntegrityError)
    assert calls[0] == 21  # everything queued in one loop pass went in one transaction first
    stored = db.run_sync(lambda conn: conn.execute(select(func.count()).select_from(messages)).scalar_one())
    assert stored == 20
    assert db.run_sync(offline_count_txn, user.id) == 20


def test_migrations_build_exactly_the_declared_schema(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hxim.storage.tables import metadata

    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def _sqlite(tmp_path: Path, **options: float) -> tuple[Database, App, int]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}", **options)  # type: ignore[arg-type]
    database.migrate()
    app = _app(database)
    [user] = database.run_sync(insert_users_txn, app.id, [NewUser("u", None, now_ms(), CREDS)])
    return database, app, user.id


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_secret_hash_migration_hashes_plain_secrets(backend: str, tmp_path: Path) -> None:
    """A database from before 0009 kept client secrets in clear: the upgrade replaces each with
    its hash, and the secret an app backend holds still matches."""
    from alembic import command
    from sqlalchemy import text

    from hxim.services.apps import secret_matches
    from hxim.storage.apps import get_app_txn

    pg_name = None
    if backend == "postgresql":
        pg_name, url = _pg_database()
        url = url.replace("postgresql://", "postgresql+psycopg://")
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    database = Database(url)
    try:
        command.upgrade(database.alembic_config(), "0008")
        with database.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO apps (uuid, org, name, client_secret, token_epoch, open_registration, created) "
                "VALUES (:u, 'o', 'old', 'YXA6plain', 0, false, 1)"), {"u": str(uuid.uuid1())})
        database.migrate()
        app = database.run_sync(get_app_txn, "o", "old")
        assert app is not None and app.secret_hash.startswith("sha256$")
        assert secret_matches(app, "YXA6plain") and not secret_matches(app, "YXA6other")
    finally:
        database.dispose()
        if pg_name:
            _drop_pg(pg_name)


def test_sqlite_group_commits_keep_their_interval_and_share_it(tmp_path: Path) -> None:
    db, app, user_id = _sqlite(tmp_path, sqlite_commit_interval_seconds=0.2)
    commits: list[tuple[float, int]] = []

    def store(conn, groups):  # type: ignore[no-untyped-def]
        commits.append((asyncio.get_running_loop().time(), len(groups)))
        store_message_groups_txn(conn, groups)

    batcher: Batcher[list[Stored]] = Batcher(db, store)

    def message(ident: int) -> list[Stored]:
        return [Stored(Message(ident, app.uuid, "chat", "a", "u", now_ms(), [{"type": "txt", "msg": "x"}]), [user_id])]

    async def run() -> None:
        await batcher.submit(message(1))  # the first commit goes at once
        later = []
        for i in range(2, 5):  # these arrive within the interval: they wait and share one commit
            later.append(asyncio.ensure_future(batcher.submit(message(i))))
            await asyncio.sleep(0.005)
        await asyncio.gather(*later)

    try:
        asyncio.run(run())
        assert [n for _, n in commits] == [1, 3]
        assert commits[1][0] - commits[0][0] >= 0.19
        assert db.run_sync(offline_count_txn, user_id) == 4
    finally:
        db.dispose()


def test_sqlite_log_starts_over_under_steady_writes(tmp_path: Path) -> None:
    """Group commits wait for the background checkpoint's second pass, which then catches up
    with the log: the next commit writes the log from its start again instead of growing it."""
    db, app, user_id = _sqlite(tmp_path, sqlite_checkpoint_seconds=0.05, sqlite_checkpoint_pause_seconds=5.0)
    batcher: Batcher[list[Stored]] = Batcher(db, store_message_groups_txn)
    body = [{"type": "txt", "msg": "x" * 2000}]

    async def run() -> int:
        loop = asyncio.get_running_loop()
        end, ident = loop.time() + 1.5, 0
        while loop.time() < end:  # one commit after another, as under steady load
            ident += 1
            await batcher.submit([Stored(Message(ident, app.uuid, "chat", "a", "u", now_ms(), body), [user_id])])
        return ident

    try:
        written = asyncio.run(run())
        assert written > 100
        # The log's header counts how often it started over (its checkpoint sequence number,
        # bytes 12-15). A log that is never caught up with keeps growing and stays at 0.
        header = (tmp_path / "db.sqlite3-wal").read_bytes()[:32]
        assert int.from_bytes(header[12:16], "big") >= 3
        assert db.run_sync(offline_count_txn, user_id) == written
    finally:
        db.dispose()


def test_transactions_of_other_threads_never_starve_the_workers(db: Database) -> None:
    """The event loop's thread runs transactions too (at start, for the start line): every worker
    must still get both of its connections when all of them are busy at once."""
    app = _app(db)  # (on this thread: a write)
    db.run_sync(offline_count_txn, 1, write=False)  # and a read

    async def run() -> None:
        calls = [db.read(offline_count_txn, i) for i in range(64)]
        calls += [db.write(offline_count_txn, i) for i in range(64)]
        await asyncio.wait_for(asyncio.gather(*calls), 30)

    asyncio.run(run())
    assert app.uuid


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only: a SQLite file has one writer at a time")
def test_nodes_migrating_at_once_take_turns(tmp_path: Path) -> None:
    """Two `hxim migrate` at once on a new PostgreSQL database, as two nodes of a cluster starting
    together: both wait on the migration lock before either reads the schema's revision; then one
    builds the schema and the other finds it built (before the lock, the second failed on a
    duplicate `CREATE TABLE`)."""
    import psycopg
    from alembic.script import ScriptDirectory

    from hxim.storage.database import MIGRATION_LOCK

    pg_name, url = _pg_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HXIM_")}
    env.update(HXIM_DATABASE_URL=url, HXIM_DATA_DIR=str(tmp_path / "data"), HXIM_CONFIG=str(tmp_path / "none.toml"))
    procs: list[subprocess.Popen[str]] = []
    try:
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
            for _ in range(2):
                command = [sys.executable, "-m", "hxim", "migrate"]
                procs.append(subprocess.Popen(command, env=env, text=True, stdout=PIPE, stderr=PIPE))
            deadline = time.monotonic() + 60
            waiting = 0
            while waiting < 2:
                assert time.monotonic() < deadline, "the two migrations never both waited on the lock"
                assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
                time.sleep(0.1)
                waiting = holder.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
                ).fetchone()[0]  # type: ignore[index]
            # nothing was built while they waited
            assert holder.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)
            holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "is up to date" in out
        head = ScriptDirectory.from_config(Database(url).alembic_config()).get_current_head()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        _drop_pg(pg_name)


def test_a_server_key_asked_for_at_once_is_the_first_one_written(db: Database) -> None:
    """Nodes starting together on a new database all get the one key written first (tokens signed
    by one node are then good on every node); before, the later insert stopped its node."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import insert, text

    from hxim.storage.apps import server_key_txn
    from hxim.storage.tables import server_keys

    assert db.run_sync(server_key_txn, "k1", b"first") == b"first"
    assert db.run_sync(server_key_txn, "k1", b"second") == b"first"
    if db.is_sqlite:  # one writer at a time: the interleaving below cannot happen
        return
    pool = ThreadPoolExecutor(1)
    with db.engine.connect() as other:
        try:
            other.execute(insert(server_keys).values(name="k2", value=b"theirs"))  # not committed yet
            ours = pool.submit(db.run_sync, server_key_txn, "k2", b"ours")
            deadline = time.monotonic() + 30
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            with db.engine.connect() as probe:
                while not probe.execute(waiting).scalar():
                    assert time.monotonic() < deadline, "the second insert never waited for the first"
                    time.sleep(0.05)
            other.commit()
            assert ours.result(timeout=10) == b"theirs"
        finally:
            other.rollback()  # (after a failure: lets the waiting insert end, so the pool can)
            pool.shutdown(wait=True)


def test_nodes_starting_together_create_one_first_app(db: Database) -> None:
    """Two nodes on a new database both find no app: only one creates the default app."""
    from concurrent.futures import ThreadPoolExecutor

    from hxim.storage.apps import insert_first_app_txn, list_apps_txn

    made = [App(uuid.uuid1(), "hxim", "default", "s", 0, False, now_ms()) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda app: db.run_sync(insert_first_app_txn, app), made))
    assert outcomes.count(True) == 1
    assert len(db.run_sync(list_apps_txn)) == 1

def _hold_write_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A second process that takes SQLite's write lock on `path` for `seconds` (once it printed `held`)."""
    other = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(float(sys.argv[2])); c.execute('COMMIT')",
         str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    assert other.stdout is not None and other.stdout.readline() == "held\n"
    return other


def test_sqlite_writes_between_group_commits_still_wait_for_another_process(tmp_path: Path) -> None:
    """A group commit that did not wait leaves the connection ready for the next one; a plain
    write or a read after it waits for another process's lock as before, and the next group
    commit again gives up at once."""
    db, app, user_id = _sqlite(tmp_path)

    def stored(ident: int) -> list[Stored]:
        return [Stored(Message(ident, app.uuid, "chat", "a", "u", now_ms(), [{"type": "txt"}]), [user_id])]

    try:
        db.run_sync(store_message_groups_txn, [stored(1)], wait=False)
        other = _hold_write_lock(tmp_path / "db.sqlite3", 0.3)
        try:
            with pytest.raises(Busy):
                db.run_sync(store_message_groups_txn, [stored(2)], wait=False)
            assert db.run_sync(offline_count_txn, user_id, write=False) == 1  # a read goes on
            started = time.monotonic()
            db.run_sync(store_message_groups_txn, [stored(3)])  # waits for the lock, not "database is locked"
            assert time.monotonic() - started >= 0.1
        finally:
            other.wait(5)
        other = _hold_write_lock(tmp_path / "db.sqlite3", 0.3)
        try:
            started = time.monotonic()
            with pytest.raises(Busy):
                db.run_sync(store_message_groups_txn, [stored(4)], wait=False)
            assert time.monotonic() - started < 0.1
        finally:
            other.wait(5)
        db.run_sync(store_message_groups_txn, [stored(5)], wait=False)
        assert db.run_sync(offline_count_txn, user_id) == 3
    finally:
        db.dispose()


def test_sqlite_group_commits_do_not_wait_on_the_loop_for_another_process(tmp_path: Path) -> None:
    """Another process holding SQLite's write lock (the callback delivery process, a CLI command)
    does not stop the event loop: the group commit finds the lock taken, the loop goes on, and
    the commit is written once the lock is free. A write that is not a group commit still waits."""
    db, app, user_id = _sqlite(tmp_path)
    batcher: Batcher[list[Stored]] = Batcher(db, store_message_groups_txn)
    other = _hold_write_lock(tmp_path / "db.sqlite3", 0.3)

    async def run() -> tuple[int, float, float]:
        loop = asyncio.get_running_loop()
        ticks = 0
        longest = 0.0

        async def tick() -> None:
            nonlocal ticks, longest
            last = loop.time()
            while True:
                await asyncio.sleep(0.001)
                now = loop.time()
                ticks, longest = ticks + 1, max(longest, now - last)
                last = now

        ticker = asyncio.ensure_future(tick())
        await asyncio.sleep(0.01)
        started = loop.time()
        await batcher.submit([Stored(Message(1, app.uuid, "chat", "a", "u", now_ms(), [{"type": "txt"}]), [user_id])])
        took = loop.time() - started
        await asyncio.sleep(0.01)  # (a loop that was stopped shows here as one long gap)
        ticker.cancel()
        return ticks, longest, took

    try:
        ticks, longest, took = asyncio.run(run())
        assert took >= 0.2  # it waited for the lock...
        assert longest < 0.1 and ticks > 50  # ...without stopping the loop
        assert db.run_sync(offline_count_txn, user_id) == 1
    finally:
        other.wait(5)
        db.dispose()
