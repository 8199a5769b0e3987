"""`hxim export` and `hxim import` (docs/backup.md): an app with users, contacts, blocks, a group, a
chat room, messages, offline messages, a file, a callback rule and an app user is exported from a
serving node and imported into a fresh database of the other backend (SQLite → PostgreSQL,
PostgreSQL → SQLite) under a new key; a server on that database serves it: the same client
credentials, users logging in over XMPP with their passwords and getting their offline messages,
and the same contacts, blocks, groups, members and file over REST."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from xmpp_helpers import DOMAIN, Client, XServer, run, xmpp_env, xmpp_port

from conftest import HXIM, Api, AppCreds, Server, _drop_pg, new_app, serve, server_env, unique

PASSWORDS = {"alice": "alice-pw1", "bob": "bob-pw22", "carol": "carol-pw3", "dave": "dave-pw44"}


def populate(api: Api, server: Server) -> dict[str, Any]:
    """Everything an app holds, made over REST and the CLI; what the test checks afterwards."""
    names = {k: unique(k[:2]) for k in PASSWORDS}
    alice, bob, carol, dave = names.values()
    for key, name in names.items():
        api.register(name, password=PASSWORDS[key])
    assert api.put(f"/users/{alice}", json={"nickname": "Alice A."}).status_code == 200
    assert api.put(f"/metadata/user/{alice}", json={"city": "Lyon"}).status_code == 200
    assert api.post(f"/users/{dave}/deactivate").status_code == 200
    for friend in (bob, carol):
        assert api.post(f"/users/{alice}/contacts/users/{friend}").status_code == 200
    assert api.put(f"/user/{alice}/contacts/users/{bob}", json={"remark": "from school"}).status_code == 200
    assert api.post(f"/users/{carol}/blocks/users", json={"usernames": [dave]}).status_code == 200

    r = api.post("/chatgroups", json={"groupname": "g1", "desc": "the group", "public": True, "maxusers": 50,
                                      "owner": alice, "members": [bob, carol]})
    assert r.status_code == 200, r.text
    gid = r.json()["data"]["groupid"]
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": bob}).status_code == 200
    r = api.post(f"/chatgroups/{gid}/mute", json={"usernames": [carol], "mute_duration": -1})
    assert r.status_code == 200, r.text
    assert api.post(f"/chatgroups/{gid}/announcement", json={"announcement": "read me"}).status_code == 200
    r = api.post("/chatrooms", json={"name": "r1", "description": "the room", "owner": alice, "members": [carol]})
    assert r.status_code == 200, r.text
    rid = r.json()["data"]["id"]

    # bob has never logged in: what is sent to him waits offline
    sent = {}
    for target_type, target, text in (("users", bob, "hello bob"), ("chatgroups", gid, "hello group"),
                                      ("users", alice, "hi alice")):
        sender = carol if target == alice else alice
        r = api.post(f"/messages/{target_type}", json={"from": sender, "to": [target], "type": "txt",
                                                       "body": {"msg": text}})
        assert r.status_code == 200, r.text
        sent[text] = r.json()["data"][str(target)]

    content = os.urandom(3000)
    r = api.post("/chatfiles", headers={"restrict-access": "true"}, files={"file": ("a.bin", content)})
    assert r.status_code == 200, r.text
    [entity] = r.json()["entities"]

    r = server.cli("callback", "add", f"{api.creds.org}#{api.creds.app}", "--name", "hook", "--url",
                   "http://127.0.0.1:9/cb", "--secret", "hook-secret")
    assert r.returncode == 0, r.stderr
    r = server.cli("app-user", "set", "1001", "--name", "Ann", "--password", "ann-pw11",
                   "--app", f"{api.creds.org}#{api.creds.app}")
    assert r.returncode == 0, r.stderr
    return {"names": names, "gid": gid, "rid": rid, "sent": sent, "file": (entity["uuid"], entity["share-secret"],
                                                                             content)}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HXIM, *args], env=env, capture_output=True, text=True, timeout=120)


def records(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_an_app_moves_to_a_fresh_database_of_the_other_backend(
    server: Server, tmp_path: Path
) -> None:
    api = new_app(server)
    made = populate(api, server)
    names = made["names"]
    alice, bob, carol, dave = names.values()
    key = f"{api.creds.org}#{api.creds.app}"

    # --- export, from the serving node ------------------------------------------------------------
    exported = tmp_path / "app.jsonl.gz"
    # pages and batches of 2 rows: every table read in several pages, every type written in several batches
    r = cli({**server.env, "HXIM_EXPORT_BATCH_ROWS": "2"}, "export", key, str(exported))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"exported app {key} to {exported}: ")
    lines = records(exported)
    header, end = lines[0], lines[-1]
    assert header["type"] == "header" and header["format"] == "hxim-app-export" and header["version"] == 1
    assert header["app"] == key and header["hxim"] and header["schema"]
    assert lines[1]["type"] == "app" and lines[1]["uuid"] == api.creds.application
    assert end["type"] == "end" and end["records"] == len(lines) - 2
    counts = end["counts"]
    assert counts["user"] == 4 and counts["contact"] == 4 and counts["block"] == 1
    assert counts["room"] == 2 and counts["room_member"] == 5 and counts["room_mute"] == 1
    assert counts["message"] == 3 and counts["offline"] >= 2 and counts["file"] == 1
    assert counts["callback_rule"] == 1 and counts["app_user"] == 1
    raw = gzip.decompress(exported.read_bytes())
    for password in PASSWORDS.values():  # hashes and keys only
        assert password.encode() not in raw

    # --- import, into a fresh database of the other backend, under another key ---------------------
    backend = "postgresql" if server.backend == "sqlite" else "sqlite"
    (tmp_path / "target").mkdir()
    env, pg_name = server_env(tmp_path / "target", backend, {**xmpp_env(), "HXIM_EXPORT_BATCH_ROWS": "2"})
    moved = f"moved#{api.creds.app}"
    proc = None
    try:
        # a file cut short is refused, and leaves nothing behind
        cut = tmp_path / "cut.jsonl.gz"
        cut.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines[:-3])))
        r = cli(env, "import", str(cut), "--app", moved)
        assert r.returncode == 1
        assert r.stderr.strip() == "hxim: the file stops before its end record: it is incomplete " \
                                   "(was the export cut short?)"
        assert json.loads(cli(env, "app", "list", "--json").stdout) == []

        r = cli(env, "import", str(exported), "--app", moved)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"imported app {moved} from {exported}: {len(lines) - 2} records (user 4, ")
        # the key is taken now: refused, unless replaced
        r = cli(env, "import", str(exported), "--app", moved)
        assert r.returncode == 1 and f"app {moved} exists" in r.stderr
        r = cli(env, "import", str(exported), "--app", f"again#{api.creds.app}")
        assert r.returncode == 1 and f"holds the app of this file already, as {moved}" in r.stderr
        r = cli(env, "import", str(exported), "--app", moved, "--replace")
        assert r.returncode == 0, r.stderr
        [app] = json.loads(cli(env, "app", "list", "--json").stdout)
        assert (app["appkey"], app["application"], app["client_id"]) == (moved, api.creds.application,
                                                                          api.creds.client_id)
        r = cli(env, "callback", "list", moved, "--json")
        assert [rule["name"] for rule in json.loads(r.stdout)] == ["hook"], r.stderr

        # --- a server on the new database --------------------------------------------------------------
        base = f"http://127.0.0.1:{env['HXIM_HTTP_PORT']}"
        log = tmp_path / "target" / "server.log"
        proc = serve(env, base, log)
        creds = AppCreds("moved", api.creds.app, api.creds.client_id, api.creds.client_secret, api.creds.application)
        target = Server(backend, base, env, {"moved": creds}, proc)
        there = Api(target, "moved")  # the old client secret still works

        def listed(path: str) -> Any:
            r = there.get(path)
            assert r.status_code == 200, r.text
            return r.json()["data"]

        assert sorted(listed(f"/users/{alice}/contacts/users")) == sorted([bob, carol])
        remarks = there.get(f"/user/{alice}/contacts", params={"needReturnRemark": "true"}).json()
        assert {c["username"]: c["remark"] for c in remarks["data"]["contacts"]} == {bob: "from school", carol: None}
        assert listed(f"/users/{carol}/blocks/users") == [dave]
        [user] = there.get(f"/users/{alice}").json()["entities"]
        assert user["nickname"] == "Alice A."
        assert there.get(f"/users/{dave}").json()["entities"][0]["activated"] is False
        assert listed(f"/metadata/user/{alice}") == {"city": "Lyon"}

        [group] = listed(f"/chatgroups/{made['gid']}")
        assert group["owner"] == alice and group["description"] == "the group"
        assert group["affiliations"] == [{"owner": alice}, {"member": bob}, {"member": carol}]
        assert listed(f"/chatgroups/{made['gid']}/admin") == [bob]
        assert [m["user"] for m in listed(f"/chatgroups/{made['gid']}/mute")] == [carol]
        assert listed(f"/chatgroups/{made['gid']}/announcement") == {"announcement": "read me"}
        assert made["gid"] in [g["groupid"] for g in listed(f"/users/{bob}/joined_chatgroups")]
        [room] = listed(f"/chatrooms/{made['rid']}")
        assert room["owner"] == alice and {m.get("member") for m in room["affiliations"]} >= {carol}

        file_uuid, secret, content = made["file"]
        r = there.get(f"/chatfiles/{file_uuid}", headers={"share-secret": secret})
        assert r.status_code == 200 and r.content == content
        assert listed(f"/users/{bob}/offline_msg_count") == {bob: 2}

        # --- users log in over XMPP with their passwords and get what waited for them ------------------
        xs = XServer(target, xmpp_port(target), there)

        async def scenario() -> None:
            wrong = Client(xs, bob, "not-the-password")
            assert await wrong.login() == "failed"
            client = Client(xs, bob, PASSWORDS["bob"])
            await client.online()
            got = {}
            for _ in range(2):
                msg = await client.next_message()
                got[str(msg["body"])] = (msg["id"], msg["type"], str(msg["from"]))
            assert got["hello bob"] == (made["sent"]["hello bob"], "chat", f"moved#{api.creds.app}_{alice}@{DOMAIN}")
            assert got["hello group"][:2] == (made["sent"]["hello group"], "groupchat")
            await client.close()
            # alice, too: a chat with her friend carol goes on
            alice_client = Client(xs, alice, PASSWORDS["alice"])
            await alice_client.online()
            msg = await alice_client.next_message()
            assert msg["body"] == "hi alice" and msg["id"] == made["sent"]["hi alice"]
            await alice_client.close()

        run(scenario)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
        if pg_name:
            _drop_pg(pg_name)


def test_import_refuses_what_is_not_an_export(server: Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    cases: list[tuple[bytes, str]] = [
        (b"not gzip at all", "is not a whole gzip file"),
        (gzip.compress(b'{"type": "header", "format": "other"}\n'), "this is not an hxim app export"),
        (gzip.compress(b'{"type": "header", "format": "hxim-app-export", "version": 9}\n'),
         "the file is in format version 9, made by a newer hxim"),
        (gzip.compress(b'{"type": "header", "format": "hxim-app-export", "version": 1}\n{"type": "user"}\n'),
         "line 2 should be the app record"),
        (gzip.compress(b'{"type": "header", "format": "hxim-app-export", "version": 1}\nnope\n'), "line 2 is not JSON"),
    ]
    app_uuid = str(uuid.uuid1())
    app = {"type": "app", "uuid": app_uuid, "org": "x", "name": unique("a"), "secret_hash": "sha256$00",
           "token_epoch": 0, "open_registration": False, "created": 1}
    head = b'{"type": "header", "format": "hxim-app-export", "version": 1}\n' + json.dumps(app).encode() + b"\n"
    cases += [
        (gzip.compress(head + b'{"type": "contact", "owner": "ghost", "contact": "ghost2", "created": 1}\n'
                       b'{"type": "end"}\n'),
         "lines 3-3: contact records name users that no user record holds: ghost, ghost2"),
        (gzip.compress(head + b'{"type": "widget", "x": 1}\n'), "line 3: unknown record type 'widget'"),
        (gzip.compress(head + b'{"type": "push_count", "hour": 1, "attempted": 0, "succeeded": 0, "failed": 0,'
                       b' "colour": "red"}\n{"type": "end"}\n'), "a push_count record has no field colour"),
    ]
    for content, error in cases:
        bad.write_bytes(content)
        r = server.cli("import", str(bad))
        assert r.returncode == 1, (error, r.stdout)
        assert error in r.stderr, (error, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    user = {"type": "user", "uuid": str(uuid.uuid1()), "username": "U1", "username_key": "u1", "created": 1,
            "modified": 1, "scram_salt": "AA==", "scram_iterations": 4096, "sha1_stored_key": "AA==",
            "sha1_server_key": "AA==", "sha256_stored_key": "AA==", "sha256_server_key": "AA=="}
    end = {"type": "end", "records": 3, "counts": {"app": 1, "user": 2}}
    bad.write_bytes(gzip.compress(head + json.dumps(user).encode() + b"\n" + json.dumps(end).encode() + b"\n"))
    r = server.cli("import", str(bad))
    assert r.returncode == 1
    assert r.stderr.strip() == "hxim: the end record does not count what the file holds (user 2 said, 1 read)"
    r = server.cli("import", str(bad), "--app", "a b#c")
    assert r.returncode == 1
    assert r.stderr.strip() == "hxim: org name [a b] is not legal: use letters, digits, '_', '-' and '.', at most 64"
    # nothing of the refused app stays (nor its placeholder)
    listed = json.loads(server.cli("app", "list", "--json").stdout)
    assert app_uuid not in [a["application"] for a in listed]
    r = server.cli("import", str(tmp_path / "missing.jsonl.gz"))
    assert r.returncode == 1 and "there is no file" in r.stderr


def test_export_of_an_unknown_app(server: Server, tmp_path: Path) -> None:
    r = server.cli("export", "nobody#nothing", str(tmp_path / "x.jsonl.gz"))
    assert r.returncode == 1 and r.stderr.startswith("hxim: no app nobody#nothing; apps here: ")
    assert not (tmp_path / "x.jsonl.gz").exists()
