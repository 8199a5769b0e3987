"""The asyncpg path (storage/native.py) on PostgreSQL: the same answers as the sync path for each
statement routed through it, errors as the sync path's when a connection is lost, recovery after,
and a node with `db_native` off still serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from conftest import BACKENDS, Relay, _drop_pg, _pg_database
from hxim import errors
from hxim.app import Node
from hxim.c2s import C2S
from hxim.config import Settings
from hxim.http.app import build_http_app
from hxim.model import App, Message, now_ms
from hxim.msync.context import Msync
from hxim.services.passwords import derive
from hxim.storage.apps import insert_app_txn
from hxim.storage.database import Batcher, Database, Query
from hxim.storage.messages import (
    Stored,
    offline_count_txn,
    offline_delivered_native,
    offline_delivered_txn,
    store_message_groups_native,
    store_message_groups_txn,
    user_offline_count_native,
)
from hxim.storage.social import (
    add_contact_pairs_native,
    add_contact_pairs_txn,
    add_request_txn,
    contact_counts_native,
    contact_counts_txn,
)
from hxim.storage.tables import callback_outbox, callback_rules, contact_requests, contacts, messages, offline
from hxim.storage.users import (
    NewUser,
    get_user_by_uuid_native,
    get_user_by_uuid_txn,
    get_user_native,
    get_user_txn,
    get_users_by_keys_native,
    get_users_by_keys_txn,
    insert_users_txn,
)

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="HXIM_TEST_BACKENDS leaves PostgreSQL out")

CREDS = derive("pw", 4096)
T = TypeVar("T")


@pytest.fixture
def pg() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; its SQLAlchemy URL."""
    name, url = _pg_database()
    db = Database(url.replace("postgresql://", "postgresql+psycopg://"))
    db.migrate()
    db.dispose()
    yield url.replace("postgresql://", "postgresql+psycopg://")
    _drop_pg(name)


def with_native(url: str, body: Callable[[Database], Awaitable[T]], pool_size: int = 2) -> T:
    """Run `body(db)` on a loop with the asyncpg pool open."""
    db = Database(url)

    async def run() -> T:
        await db.open_native(pool_size, 100)
        try:
            return await body(db)
        finally:
            await db.close_native()

    try:
        return asyncio.run(run())
    finally:
        db.dispose()


def _app(db: Database) -> App:
    app = App(uuid.uuid1(), "o", f"a{uuid.uuid4().hex[:6]}", "s", 0, False, now_ms())
    db.run_sync(insert_app_txn, app)
    return app


def test_reads_answer_as_the_sync_path(pg: str) -> None:
    async def body(db: Database) -> None:
        assert db.native is not None
        app = _app(db)
        alice, bob, carol = await db.write(
            insert_users_txn, app.id, [NewUser(n, "Nick" if n == "bob" else None, now_ms(), CREDS)
                                       for n in ("Alice", "bob", "carol")]
        )
        await db.write(add_contact_pairs_txn, [(alice.id, bob.id, now_ms()), (alice.id, carol.id, now_ms())])
        stamp = now_ms()
        msgs = [Message(i, app.uuid, "chat", "bob", "Alice", stamp, [{"type": "txt", "msg": f"m{i}"}]) for i in (1, 2)]
        await db.write(store_message_groups_txn, [[Stored(m, [alice.id]) for m in msgs]])
        for key in ("alice", "bob", "nobody"):
            assert await get_user_native(db.native, app.id, key) == await db.read(get_user_txn, app.id, key)
        for keys in (["carol", "alice"], ["nobody", "bob", "bob"], ["nobody"]):
            assert await get_users_by_keys_native(db.native, app.id, keys) == await db.read(
                get_users_by_keys_txn, app.id, keys
            )
        for user in (alice, bob):
            ident = str(user.uuid)
            assert await get_user_by_uuid_native(db.native, app.id, ident) == await db.read(
                get_user_by_uuid_txn, app.id, ident
            )
            assert await get_user_by_uuid_native(db.native, app.id, ident) == user
        for user in (alice, bob):
            sync_count = await db.read(offline_count_txn, user.id)
            assert await user_offline_count_native(db.native, app.id, user.key) == (user, sync_count)
            assert await user_offline_count_native(db.native, app.id, None, str(user.uuid)) == (user, sync_count)
        assert await user_offline_count_native(db.native, app.id, "nobody") is None
        with pytest.raises(errors.HximError) as refused:  # PostgreSQL's text holds no NUL: bad input
            await get_user_native(db.native, app.id, "a\x00b")
        assert refused.value.error == "illegal_argument"
        assert await user_offline_count_native(db.native, str(uuid.uuid1()), "alice") is None  # another app's
        ids = [alice.id, bob.id, carol.id, 0]
        assert await contact_counts_native(db.native, ids) == await db.read(contact_counts_txn, ids) == {
            alice.id: 2, bob.id: 1, carol.id: 1
        }
        # through `read(..., native=)`: the asyncpg path while open, the sync path once closed
        assert await db.read(get_user_txn, app.id, "bob", native=get_user_native) == bob
        await db.close_native()
        assert await db.read(get_user_txn, app.id, "bob", native=get_user_native) == bob

    with_native(pg, body)


def _rows(db: Database, table: Any, *order: Any) -> list[tuple[Any, ...]]:
    return db.run_sync(lambda conn: [tuple(r) for r in conn.execute(select(table).order_by(*order))])


def test_group_commits_write_as_the_sync_path(pg: str) -> None:
    """The same batches stored both ways (the messages' ids apart) give the same rows, offline
    entries and outbox rows, in the same order; contact pairs likewise."""

    def batches(app: App, ids: list[int], first: int, rule: int) -> list[list[Stored]]:
        def message(n: int, to: str, chat_type: str = "chat") -> Message:
            return Message(first + n, app.uuid, chat_type, "bob", to, 1_700_000_000_000 + n,
                           [{"type": "txt", "msg": f"m{n} ü"}], {"k": n} if n % 2 else None)

        def outbox(n: int) -> dict[str, Any]:
            return {"rule_id": rule, "call_id": f"c{first + n}", "stamp": n, "body": f'{{"n":{n}}}',
                    "created": 5, "due": 6, "state": "pending"}

        return [
            [Stored(message(1, "Alice"), [ids[0]]), Stored(message(2, "g1", "groupchat"), ids, (outbox(2),))],
            [Stored(message(3, "carol"), [])],
            [Stored(message(4, "Alice"), [ids[0]], (outbox(4), outbox(5)))],
        ]

    async def body(db: Database) -> None:
        assert db.native is not None
        app = _app(db)
        users = await db.write(insert_users_txn, app.id, [NewUser(n, None, now_ms(), CREDS) for n in "abcdef"])
        ids = [u.id for u in users]
        rule = db.run_sync(lambda conn: conn.execute(insert(callback_rules).values(
            app_uuid=str(app.uuid), name="r", kind="post", url="http://x", secret=b"s", events="", chat_types="",
            msg_types="", on_failure="pass", timeout_ms=1, created=1,
        ).returning(callback_rules.c.id)).scalar_one())
        await db.write(store_message_groups_txn, batches(app, ids[:3], 1000, rule))
        await store_message_groups_native(db.native, batches(app, ids[3:], 2000, rule))
        # contact pairs: one already there (keeps its date), requests between them answered
        await db.write(add_request_txn, ids[0], ids[1], 1)
        await db.write(add_request_txn, ids[4], ids[3], 1)
        await db.write(add_contact_pairs_txn, [(ids[0], ids[2], 7)])
        await db.write(add_contact_pairs_txn, [(ids[0], ids[1], 8), (ids[2], ids[0], 9), (ids[1], ids[0], 10)])
        await add_contact_pairs_native(db.native, [(ids[3], ids[5], 7)])
        await add_contact_pairs_native(db.native, [(ids[3], ids[4], 8), (ids[5], ids[3], 9), (ids[4], ids[3], 10)])

    with_native(pg, body)
    db = Database(pg)
    try:
        stored = _rows(db, messages, messages.c.id)
        assert len(stored) == 8
        sync_rows = [r[2:] for r in stored[:4]]
        assert [r[2:] for r in stored[4:]] == sync_rows
        assert [r[0] - 1000 for r in stored[:4]] == [r[0] - 2000 for r in stored[4:]] == [1, 2, 3, 4]
        queued = _rows(db, offline, offline.c.message_id, offline.c.user_id)
        users = sorted({u for u, _ in queued})
        assert [(users.index(u), m - 1000) for u, m in queued if m < 2000] == [
            (users.index(u) - 3, m - 2000) for u, m in queued if m >= 2000
        ]
        outbox = _rows(db, callback_outbox, callback_outbox.c.id)
        assert [r[2] for r in outbox] == ["c1002", "c1004", "c1005", "c2002", "c2004", "c2005"]
        assert [r[3:] for r in outbox[:3]] == [r[3:] for r in outbox[3:]]
        pairs = _rows(db, contacts, contacts.c.owner_id, contacts.c.contact_id)
        first = min(r[0] for r in pairs)
        assert [(o - first, c - first, *rest) for o, c, *rest in pairs if o < first + 3] == [
            (o - first - 3, c - first - 3, *rest) for o, c, *rest in pairs if o >= first + 3
        ]
        assert _rows(db, contact_requests, contact_requests.c.owner_id) == []
    finally:
        db.dispose()


def test_delivered_offline_entries_go_as_on_the_sync_path(pg: str) -> None:
    """Entries of messages another node delivered: removed on the pool as by the sync path, the
    other entries (and an entry named twice, or one already gone) left as they were."""

    async def body(db: Database) -> list[tuple[int, int]]:
        assert db.native is not None
        app = _app(db)
        users = await db.write(insert_users_txn, app.id, [NewUser(n, None, now_ms(), CREDS) for n in "ab"])
        a, b = (u.id for u in users)

        def stored(ident: int) -> list[Stored]:
            return [Stored(Message(ident, app.uuid, "chat", "x", "a", now_ms(), [{"type": "txt"}]), [a, b])]

        await db.write(store_message_groups_txn, [stored(n) for n in (1, 2, 3, 4)])
        await db.write(offline_delivered_txn, [(a, 1), (b, 2)], native=offline_delivered_native)
        await db.write(offline_delivered_txn, [(a, 3), (a, 3), (b, 1), (b, 9)], native=offline_delivered_native)
        return sorted((1 if u == a else 2, m) for u, m in _rows(db, offline, offline.c.message_id))

    assert with_native(pg, body) == [(1, 2), (1, 4), (2, 3), (2, 4)]


def test_a_bad_item_of_a_native_group_commit_fails_alone(pg: str) -> None:
    async def body(db: Database) -> list[Any]:
        app = _app(db)
        batcher: Batcher[list[Stored]] = Batcher(db, store_message_groups_txn, native=store_message_groups_native)

        def item(ident: int) -> list[Stored]:
            return [Stored(Message(ident, app.uuid, "chat", "a", "b", now_ms(), [{"type": "txt", "msg": "x"}]), [])]

        await batcher.submit(item(7))
        outcomes = await asyncio.gather(*(batcher.submit(item(i)) for i in (8, 7, 9)), return_exceptions=True)
        bad = [Message(10, app.uuid, "chat", "a", "b\x00", now_ms(), [])]
        with pytest.raises(errors.HximError) as refused:
            await batcher.submit([Stored(m, []) for m in bad])
        assert refused.value.error == "illegal_argument"
        return outcomes

    outcomes = with_native(pg, body)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    db = Database(pg)
    try:
        assert [r[0] for r in _rows(db, messages, messages.c.id)] == [7, 8, 9]
    finally:
        db.dispose()


def _terminate(url: str, running: str = "") -> int:
    """End the other connections to the database (those running a statement that holds `running`)
    from the server's side, with pg_terminate_backend; how many."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND strpos(query, %s) > 0",
            (running,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_killed_connections_give_the_sync_paths_error_then_recover(pg: str) -> None:
    async def body(db: Database) -> None:
        assert db.native is not None
        app = _app(db)
        (alice,) = await db.write(insert_users_txn, app.id, [NewUser("alice", None, now_ms(), CREDS)])
        assert await get_user_native(db.native, app.id, "alice") == alice
        # every connection killed: a read is tried once more, on a new connection
        assert await asyncio.to_thread(_terminate, db.url) >= 1
        assert await get_user_native(db.native, app.id, "alice") == alice
        # a statement whose connection is killed while it runs fails as the sync path's would
        # (OperationalError, the connection invalidated); statements after it run on new ones
        sleeper = asyncio.create_task(db.native.execute(Query(select(func.pg_sleep(30)))))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await asyncio.to_thread(_terminate, db.url, "pg_sleep(") == 1:
                break
        with pytest.raises(OperationalError) as lost:
            await sleeper
        assert lost.value.connection_invalidated
        stored = [[Stored(Message(1, app.uuid, "chat", "a", "alice", now_ms(), []), [alice.id])]]
        await store_message_groups_native(db.native, stored)
        assert await user_offline_count_native(db.native, app.id, "alice") == (alice, 1)

    with_native(pg, body)


def test_a_database_gone_away_gives_a_clear_error_then_recovers(pg: str) -> None:
    """PostgreSQL going away (its port closed, its connections dropped) as a restart does: the
    asyncpg path raises the sync path's OperationalError, and serves again once it is back."""
    host_port = pg.split("@", 1)[1].split("/", 1)[0]
    relay = Relay(("127.0.0.1", int(host_port.rsplit(":", 1)[1])))
    via_relay = pg.replace(host_port, f"127.0.0.1:{relay.port}")

    async def body(db: Database) -> None:
        assert db.native is not None
        app = _app(db)
        (alice,) = await db.write(insert_users_txn, app.id, [NewUser("alice", None, now_ms(), CREDS)])
        assert await get_user_native(db.native, app.id, "alice") == alice
        relay.close()
        with pytest.raises(OperationalError):
            await get_user_native(db.native, app.id, "alice")
        with pytest.raises(OperationalError):
            await store_message_groups_native(db.native, [[Stored(Message(1, app.uuid, "chat", "a", "alice",
                                                                          now_ms(), []), [alice.id])]])
        relay.open()
        assert await get_user_native(db.native, app.id, "alice") == alice

    try:
        db_url = via_relay
        with_native(db_url, body)
    finally:
        relay.close()


async def _asgi_node(url: str, native: bool, tmp: Path) -> None:
    """A node's REST answers through the ASGI app, with `db_native` on or off."""
    settings = Settings(data_dir=str(tmp), database_url=url, db_native=native, _env_file=None)  # type: ignore[call-arg]
    node = Node(settings)
    node.open()
    try:
        app, _ = node.apps.create_sync("t", f"a{uuid.uuid4().hex[:6]}")
        http = build_http_app(node, C2S(node), Msync(node))
        await node.open_native()
        assert (node.db.native is not None) is native
        token = node.tokens.issue_app(app)
        p = f"/t/{app.name}"
        transport = httpx.ASGITransport(app=http)
        async with httpx.AsyncClient(transport=transport, base_url="http://hxim",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            r = await client.post(p + "/users", json=[{"username": n, "password": "pw"} for n in ("ann", "ben")])
            assert r.status_code == 200, r.text
            ann = r.json()["entities"][0]
            r = await client.get(p + "/users/ANN")
            assert r.status_code == 200 and r.json()["entities"][0] == ann, r.text
            assert (await client.get(p + f"/users/{ann['uuid']}")).json()["entities"][0] == ann
            r = await client.get(p + "/users/nobody")
            assert r.status_code == 404 and r.json()["error"] == "service_resource_not_found", r.text
            assert (await client.get(p + "/users/nobody/offline_msg_count")).status_code == 404
            r = await client.get(p + "/users/a%00b")  # (a NUL in the path)
            assert r.status_code == 400 and r.json()["error"] == "illegal_argument", r.text
            sends = [
                client.post(p + "/messages", json={"target_type": "users", "target": ["ann"], "from": "ben",
                                                    "msg": {"type": "txt", "msg": f"hi {i}"}})
                for i in range(5)
            ]
            for r in await asyncio.gather(*sends):
                assert r.status_code == 200, r.text
            for ident in ("ann", ann["uuid"]):
                r = await client.get(p + f"/users/{ident}/offline_msg_count")
                assert r.status_code == 200 and r.json()["data"] == {"ann": 5}, r.text
            r = await client.post(p + "/users/ann/contacts/users/ben")
            assert r.status_code == 200, r.text
            assert (await client.get(p + "/users/ben/contacts/users")).json()["data"] == ["ann"]
        await node.close_native()
        assert node.db.native is None
    finally:
        node.close()


@pytest.mark.parametrize("native", [True, False], ids=["native-on", "native-off"])
def test_a_node_serves_with_the_asyncpg_path_on_and_off(pg: str, native: bool, tmp_path: Path) -> None:
    asyncio.run(_asgi_node(pg, native, tmp_path))


def test_db_native_maps_to_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HXIM_DB_NATIVE", "false")
    monkeypatch.setenv("HXIM_DB_NATIVE_POOL_SIZE", "3")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db_native is False and settings.db_native_pool_size == 3
    assert Settings(_env_file=None, db_native=True).db_statement_cache_size == 100  # type: ignore[call-arg]
