"""`hxim migrate-from-easemob`: an app copied from one running hxim (standing in for Easemob's cloud:
the same REST calls) into the database of another, as an operator runs it.

The source is filled over its REST API (users, one deactivated, attributes, contacts, blocks, a
group with admins, mutes, a block list and an announcement, a chat room, messages 1:1, to the
group and to the room) and answers 429 to more than one contact list, or two group calls, a second. The command runs
as a subprocess into the target's database: stopped once after its first phase, then run again
(it goes on), then once more (nothing new). What the target's REST API answers afterwards is
compared with what the source's answers. The target runs on each backend.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import BACKENDS, HXIM, Api, Server, run_on_terminal, serve, start_server, stop_server

NAMES = ["alice", "bob", "carol", "dave", "erin"]
FAST_RETRIES = {
    "HXIM_MIGRATION_BACKOFF_SECONDS": "0.05", "HXIM_MIGRATION_BACKOFF_MAX_SECONDS": "1", "HXIM_MIGRATION_RETRIES": "40",
    "HXIM_MIGRATION_HISTORY_REQUESTS_PER_MINUTE": "0",  # the source stands in for Easemob's 10 a minute: no wait
}


@dataclass
class Setup:
    source: Server
    target: Server
    base: Path
    group: str  # the group's id
    room: str  # the chat room's id

    def migrate(self, *extra: str) -> list[str]:
        """The command line of the migration (with `extra` options)."""
        creds = self.source.apps["main"]
        return [
            *HXIM, "migrate-from-easemob", "--base-url", self.source.base_url, "--org", creds.org,
            "--app", creds.app, "--client-id", creds.client_id, "--client-secret", creds.client_secret,
            "--state", str(self.base / "state.json"), *extra,
        ]

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.migrate(*extra), env={**self.target.env, **FAST_RETRIES}, cwd=self.base, capture_output=True,
            text=True, timeout=300,
        )


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


class PatientApi(Api):
    """An app backend that waits out the source's 429s."""

    def call(self, method: str, path: str, *, token: Any = "default", **kw: Any) -> Any:
        for _ in range(50):
            r = super().call(method, path, token=token, **kw)
            if r.status_code != 429:
                return r
            time.sleep(0.2)
        return r


def fill(api: Api) -> tuple[str, str]:
    """The source app: users, contacts, blocks, a group, a chat room and messages; (group id, room id)."""
    api.register(*NAMES)
    ok(api.put("/users/alice", json={"nickname": "Alice A.", "notification_display_style": 1}))
    ok(api.post("/users/dave/deactivate"))
    ok(api.put("/metadata/user/alice", data={"avatarurl": "https://example.com/a.png", "sign": "hello"}))
    ok(api.post("/users/alice/contacts/users/bob"))
    ok(api.post("/users/alice/contacts/users/carol"))
    ok(api.post("/users/bob/blocks/users", json={"usernames": ["erin"]}))
    group = ok(api.post("/chatgroups", json={
        "groupname": "team", "desc": "the team", "public": False, "maxusers": 50, "membersonly": True,
        "owner": "alice", "members": ["bob", "carol", "dave", "erin"], "custom": "tag:1",
    }))["data"]["groupid"]
    ok(api.post(f"/chatgroups/{group}/admin", json={"newadmin": "bob"}))
    ok(api.post(f"/chatgroups/{group}/mute", json={"usernames": ["carol"], "mute_duration": 3_600_000}))
    ok(api.post(f"/chatgroups/{group}/blocks/users/erin"))
    ok(api.post(f"/chatgroups/{group}/announcement", json={"announcement": "welcome to the team"}))
    room = ok(api.post("/chatrooms", json={
        "name": "lobby", "description": "come in", "maxusers": 100, "owner": "bob", "members": ["alice", "carol"],
    }))["data"]["id"]
    ok(api.post(f"/chatrooms/{room}/admin", json={"newadmin": "alice"}))
    ok(api.post(f"/chatrooms/{room}/mute", json={"usernames": ["carol"], "mute_duration": -1}))
    for path, sender, to, text in (
        ("users", "alice", "bob", "hi bob"),
        ("users", "bob", "alice", "hi alice"),
        ("chatgroups", "alice", group, "hello team"),
        ("chatgroups", "bob", group, "hi all"),
        ("chatrooms", "bob", room, "welcome to the lobby"),
    ):
        ok(api.post(f"/messages/{path}", json={"from": sender, "to": [to], "type": "txt", "body": {"msg": text},
                                                "ext": {"k": text}}))
    ok(api.post("/messages/users", json={"from": "carol", "to": ["alice"], "type": "loc",
                                          "body": {"lat": "39.9", "lng": "116.3", "addr": "Beijing"}}))
    return group, room


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp(f"hxim-migration-{request.param}")
    for name in ("source", "target"):
        (base / name).mkdir()
    # the source answers 429 to more than one contact list, or two group calls, a second
    limits = {"HXIM_RATE_LIMITS__contacts": "1", "HXIM_RATE_LIMITS__chatgroups": "2"}
    source, _ = start_server(base / "source", "sqlite", limits)
    target: tuple[Server, str | None] | None = None
    try:
        target = start_server(base / "target", request.param)
        group, room = fill(PatientApi(source))
        time.sleep(1.1)  # the messages' ids are ones the source gave: older than a second, they import
        yield Setup(source, target[0], base, group, room)
    finally:
        stop_server(source, None)
        if target is not None:
            stop_server(*target)


def history(api: Api) -> list[dict[str, Any]]:
    """The app's messages as its history answers them, oldest first, without the per-app uuid."""
    body = ok(api.get("/chatmessages", params={"ql": "select * where timestamp>0 order by timestamp asc",
                                                 "limit": "100"}))
    return [{k: v for k, v in e.items() if k != "uuid"} for e in body["entities"]]


def same(source: Api, target: Api, path: str) -> Any:
    """`GET path` answers the same `data` on both."""
    expected = ok(source.get(path))["data"]
    assert ok(target.get(path))["data"] == expected, path
    return expected


def phase_lines(stderr: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(users|contacts|groups|chatrooms|messages): (.*)$",
                                                          stderr, re.M)}


def test_migration_stops_resumes_copies_everything_and_is_idempotent(setup: Setup) -> None:
    # 1. a run stopped once its first phase is done (pages of one, so that the rest takes a while)
    proc = subprocess.Popen(
        setup.migrate("--page-size", "1", "--requests-per-second", "0"), env={**setup.target.env, **FAST_RETRIES},
        cwd=setup.base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("users: "):
            break
    proc.kill()
    proc.wait(timeout=30)
    assert seen[0].startswith("hxim: copying test#main at http://127.0.0.1:") and "going on" not in seen[0], seen
    assert " into test#main, messages since " in seen[0], seen
    assert seen[-1].startswith("users: 5 read, 5 new, 0 updated, 0 skipped ("), seen
    state = orjson.loads((setup.base / "state.json").read_bytes())
    assert state["phases"]["users"]["done"] is True
    assert state["phases"]["messages"]["done"] is False

    # 2. the same command goes on from there (the source answers 429 to some contact lists: retried)
    r = setup.run("--page-size", "2", "--requests-per-second", "0")
    assert r.returncode == 0, r.stderr
    assert "going on from where the last run stopped" in r.stderr.splitlines()[0]
    lines = phase_lines(r.stderr)
    assert lines["users"].startswith("5 read, 5 new, 0 updated, 0 skipped (") and lines["users"].endswith(
        "done before")
    assert lines["contacts"].startswith("5 users read, 4 contacts new, 1 block new, 0 skipped ("), lines
    assert lines["groups"].startswith("1 read, 1 new, 3 members new, 1 admin new, 1 mute new, 1 block new, "
                                      "0 skipped ("), lines
    assert lines["chatrooms"].startswith("1 read, 1 new, 2 members new, 1 admin new, 1 mute new, 0 blocks new, "
                                         "0 skipped ("), lines
    assert re.match(r"\d+ hours asked, \d+ files?, 6 messages read, 6 new, 0 already there, 0 skipped \(",
                    lines["messages"]), lines
    assert "warning" not in r.stderr, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("migrated test#main at http://127.0.0.1:")
    assert out[0].endswith(" into test#main: new 5 users, 4 contacts, 1 block, 1 group, 1 chat room, 6 messages; "
                           "10 room members, admins, mutes and blocks"), out
    assert re.fullmatch(r"source: [\d,]+ requests, [\d,]+ answers 429 retried", out[1]), out  # waited out
    assert out[2].startswith("passwords: Easemob never reveals them")

    # 3. the target holds what the source holds
    source, target = PatientApi(setup.source), Api(setup.target)
    users = {e["username"]: e for e in ok(target.get("/users", params={"limit": "100"}))["entities"]}
    assert sorted(users) == NAMES
    assert users["alice"]["nickname"] == "Alice A." and users["alice"]["notification_display_style"] == 1
    assert [n for n, e in users.items() if not e["activated"]] == ["dave"]
    same(source, target, "/metadata/user/alice")
    for name in NAMES:
        for lists in ("contacts", "blocks"):
            path = f"/users/{name}/{lists}/users"
            assert sorted(ok(target.get(path))["data"]) == sorted(ok(source.get(path))["data"]), path
    assert ok(target.get("/users/bob/blocks/users"))["data"] == ["erin"]
    assert ok(target.get("/users/alice/contacts/users"))["data"] != []
    for family, rid in (("chatgroups", setup.group), ("chatrooms", setup.room)):
        details = same(source, target, f"/{family}/{rid}")
        assert details[0]["id"] == rid
        for part in ("users", "admin", "mute", "blocks/users", "announcement"):
            same(source, target, f"/{family}/{rid}/{part}")
    group = ok(target.get(f"/chatgroups/{setup.group}"))["data"][0]
    assert (group["owner"], group["public"], group["membersonly"], group["maxusers"], group["custom"]) == (
        "alice", False, True, 50, "tag:1")
    assert ok(target.get(f"/chatgroups/{setup.group}/admin"))["data"] == ["bob"]
    assert ok(target.get(f"/chatrooms/{setup.room}/admin"))["data"] == ["alice"]
    assert ok(target.get(f"/chatgroups/{setup.group}/announcement"))["data"] == {"announcement": "welcome to the team"}
    messages = history(source)
    assert len(messages) == 6 and history(target) == messages  # the same ids, times, senders, bodies and exts
    # no password came along: alice logs in once her app backend has set one
    creds = setup.target.apps["main"]
    r2 = target.post("/token", token=None, json={"grant_type": "password", "username": "alice",
                                                  "password": "secret1"})
    assert r2.status_code == 400 and r2.json()["error"] == "invalid_grant", (creds, r2.text)
    ok(target.put("/users/alice/password", json={"newpassword": "new-secret"}))
    assert target.user_token("alice", "new-secret")

    # 4. a server that ran during the migration is restarted (docs/migrating.md), and still answers the same
    setup.target.process.terminate()
    setup.target.process.wait(timeout=15)
    setup.target.process = serve(setup.target.env, setup.target.base_url, setup.base / "target" / "server.log")
    assert history(Api(setup.target)) == messages

    # 5. a second full run finds nothing new; on a terminal, each phase's line is rewritten as it goes
    code, terminal, out_text = run_on_terminal(
        setup.migrate("--history-timezone", "UTC"), {**setup.target.env, **FAST_RETRIES}, setup.base
    )
    assert code == 0, terminal
    assert terminal.count("\rmessages: ") > 1  # one per hour asked
    shown = "\n".join(part for line in terminal.replace("\x1b[K", "").split("\n")
                      for part in [next((p for p in reversed(line.split("\r")) if p), "")] if part)
    assert "going on" not in shown
    r = subprocess.CompletedProcess([], 0, out_text, shown)
    lines = phase_lines(r.stderr)
    assert lines["users"].startswith("5 read, 0 new, 0 updated, 0 skipped ("), lines
    assert lines["contacts"].startswith("5 users read, 0 contacts new, 0 blocks new, 0 skipped ("), lines
    assert lines["groups"].startswith("1 read, 0 new, 0 members new, 0 admins new, 0 mutes new, 0 blocks new"), lines
    assert lines["chatrooms"].startswith("1 read, 0 new, 0 members new"), lines
    assert re.match(r"\d+ hours asked, \d+ files?, 6 messages read, 0 new, 6 already there, 0 skipped \(",
                    lines["messages"]), lines
    assert r.stdout.splitlines()[0].endswith(" into test#main: nothing new"), r.stdout
    assert history(target) == messages

    # 6. into a new app of the same database: created, with its users; rooms and messages keep their
    # ids, which test#main holds already, so they are left out and said so (and messages to the
    # rooms left out with them)
    r = setup.run("--into", "test#copy", "--state", str(setup.base / "copy.json"), "--history-timezone", "UTC")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[:2] == ["created the app the migration goes into; keep its credentials, they are printed only once:",
                       "app test#copy"], out
    assert out[-3].endswith(" into test#copy: new 5 users, 4 contacts, 1 block, 0 groups, 0 chat rooms, "
                            "0 messages"), out
    warnings = [line for line in r.stderr.splitlines() if line.startswith("hxim: warning: ")]
    assert warnings == [
        f"hxim: warning: group {setup.group} skipped: its id {setup.group} is taken by another app",
        f"hxim: warning: chat room {setup.room} skipped: its id {setup.room} is taken by another app",
        "hxim: warning: 3 messages skipped: its id is taken by a message of another app",  # the 1:1 ones
        f"hxim: warning: 2 messages skipped: do not find this group:{setup.group}",
        f"hxim: warning: 1 message skipped: do not find this group:{setup.room}",
    ], r.stderr


def test_bad_options_and_credentials_are_one_line(setup: Setup) -> None:
    r = setup.run("--messages-since", "yesterday")
    assert (r.returncode, r.stderr) == (1, "hxim: --messages-since [yesterday] must be an ISO date or time, e.g. "
                                           "2024-05-01 or 2024-05-01T08:00:00+08:00\n")
    r = setup.run("--into", "nokey")
    assert (r.returncode, r.stderr) == (1, "hxim: --into wants ORG#APP (e.g. hxim#default)\n")
    command = setup.migrate("--state", str(setup.base / "other-state.json"), "--into", "test#fresh")
    command[command.index("--client-secret") + 1] = "wrong"
    r = subprocess.run(command, env=setup.target.env, cwd=setup.base, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stderr) == (
        1, "hxim: the source refused the client id and secret: 400 (client_secret does not match)\n")
    apps = setup.target.cli("app", "list", "--json")
    assert "test#fresh" not in apps.stdout and not (setup.base / "other-state.json").exists()  # nothing written
