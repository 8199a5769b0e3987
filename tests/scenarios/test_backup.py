"""`hxim backup FILE` (docs/backup.md): a consistent copy of the SQLite database taken while the
server serves and writes, which restores to a server that holds what was sent before it; on
PostgreSQL, one line saying to use pg_dump."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from conftest import Api, Server, free_port, new_app, serve, unique


def test_backup_while_the_server_serves_and_writes(server: Server, tmp_path: Path) -> None:
    copy = tmp_path / "backup.sqlite3"
    if server.backend == "postgresql":
        r = server.cli("backup", str(copy))
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.startswith("hxim: hxim backup copies a SQLite database; this one is PostgreSQL: back it up "
                                   f"with pg_dump --format=custom --file={copy} hxim_test_")
        assert len(r.stderr.splitlines()) == 1
        assert not copy.exists()
        return

    api = new_app(server)
    a, b = unique("ba"), unique("bb")
    api.register(a, b)
    sent: list[str] = []  # ids of the messages the server accepted, in order
    stop = threading.Event()

    def writer() -> None:
        with server.client() as http:
            i = 0
            while not stop.is_set():
                r = http.post(f"{api.prefix}/messages/users", headers=api.headers(api.token),
                              json={"from": a, "to": [b], "type": "txt", "body": {"msg": f"m{i}"}})
                assert r.status_code == 200, r.text
                sent.append(r.json()["data"][b])
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(sent) < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        before = list(sent)
        r = server.cli("backup", str(copy))
        during = len(sent)
    finally:
        stop.set()
        thread.join(30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"backup of {Path(server.env['HXIM_DATA_DIR']).resolve() / 'hxim.sqlite3'} "
                               f"written to {copy} (")
    assert r.stdout.rstrip().endswith("bytes, integrity ok)")
    assert len(before) >= 50 and during > len(before)  # the server went on writing meanwhile
    assert [p.name for p in tmp_path.iterdir()] == [copy.name]  # no partial copy, no -wal beside it

    db = sqlite3.connect(copy)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        held = {str(row[0]) for row in db.execute("SELECT id FROM messages WHERE recipient = ?", (b,))}
    finally:
        db.close()
    assert set(before) <= held
    assert held <= set(sent)

    # the copy does not overwrite a file
    r = server.cli("backup", str(copy))
    assert r.returncode == 1 and r.stderr.strip() == f"hxim: {copy} exists; name a new file"

    # restored (docs/backup.md): a server on the copy has the users and the messages
    restored = tmp_path.parent / f"{tmp_path.name}-restored"
    (restored / "data").mkdir(parents=True)
    shutil.copy(copy, restored / "data" / "hxim.sqlite3")
    env = {**server.env, "HXIM_DATA_DIR": str(restored / "data"), "HXIM_HTTP_PORT": str(free_port())}
    base = f"http://127.0.0.1:{env['HXIM_HTTP_PORT']}"
    proc = serve(env, base, restored / "server.log")
    try:
        there = Api(Server(server.backend, base, env, {"main": api.creds}, proc), "main")
        there.user_token(a)  # the same password
        r = there.get(f"/users/{b}/offline_msg_count")
        assert r.status_code == 200 and r.json()["data"] == {b: len(held)}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
