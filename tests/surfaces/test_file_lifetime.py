"""Chat-file lifetimes: `PUT /users/{u}/chatfiles/lifetime` (Easemob's message_attachment_storage)
and files that expire (`chatfile_lifetime_seconds`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, Server, assert_envelope, assert_error, unique

# `extra_server` (conftest) keeps a file two seconds after its upload or refresh, and purges often
EXTRA_ENV = {"HXIM_CHATFILE_LIFETIME_SECONDS": "2", "HXIM_CHATFILE_PURGE_INTERVAL_SECONDS": "1"}
LIFETIME = 2.0
KEYS = ["action", "application", "path", "uri", "data", "timestamp", "duration", "organization", "applicationName"]
BAD_LIFETIME = "lifetime must be either 'forever' or 'default' or 'refresh'"


@pytest.fixture
def short(extra_server: Server) -> Api:
    return Api(extra_server)


def _upload(api: Api, token: Any = "default") -> str:
    r = api.post("/chatfiles", token=token, files={"file": ("a.txt", b"attachment", "text/plain")})
    assert r.status_code == 200, r.text
    return str(r.json()["entities"][0]["uuid"])


def _fetch(api: Api, file_id: str) -> int:
    return api.get(f"/chatfiles/{file_id}").status_code


def _set(api: Api, username: str, lifetime: str, ids: list[str], token: Any = "default") -> dict[str, str]:
    r = api.put(f"/users/{username}/chatfiles/lifetime", token=token, json={"lifetime": lifetime, "chatfile_ids": ids})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_envelope(body, KEYS, "put")
    assert body["path"] == f"/users/{username}/chatfiles/lifetime"
    return body["data"]


def _user(api: Api) -> str:
    name = unique("fl")
    api.register(name)
    return name


def _stored(server: Server, file_id: str) -> bool:
    """Whether the file's row is still in the server's database."""
    url = server.env.get("HXIM_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute("SELECT 1 FROM chatfiles WHERE uuid = %s", (file_id,)).fetchone() is not None
    import sqlite3

    conn = sqlite3.connect(Path(server.env["HXIM_DATA_DIR"]) / "hxim.sqlite3")
    try:
        return conn.execute("SELECT 1 FROM chatfiles WHERE uuid = ?", (file_id,)).fetchone() is not None
    finally:
        conn.close()


def _after(start: float, seconds: float) -> None:
    time.sleep(max(0.0, start + seconds - time.monotonic()))


# --- lifetimes ----------------------------------------------------------------------------------------


def test_files_expire_and_are_removed(short: Api) -> None:
    start = time.monotonic()
    file_id = _upload(short)
    assert _fetch(short, file_id) == 200
    _after(start, LIFETIME + 0.3)
    assert _stored(short.server, file_id)  # still there: nothing asked for it yet
    assert_error(short.get(f"/chatfiles/{file_id}"), 404, "service_resource_not_found")
    assert not _stored(short.server, file_id)


def test_an_upload_purges_the_expired_files(short: Api) -> None:
    start = time.monotonic()
    old = _upload(short)
    _after(start, LIFETIME + 1.2)  # past its lifetime and the purge interval
    fresh = _upload(short)
    assert not _stored(short.server, old) and _stored(short.server, fresh)


def test_forever_and_back_to_default(short: Api) -> None:
    name = _user(short)
    start = time.monotonic()
    kept, other = _upload(short), _upload(short)
    assert _set(short, name, "forever", [kept]) == {kept: "success"}
    _after(start, LIFETIME + 0.3)
    assert _fetch(short, kept) == 200 and _fetch(short, other) == 404
    # `default` counts from the upload again: this one is over at once
    assert _set(short, name, "default", [kept.upper()]) == {kept.upper(): "success"}
    assert _fetch(short, kept) == 404
    assert _set(short, name, "forever", [kept]) == {kept: "failed"}  # gone: nothing to keep


def test_refresh_starts_the_lifetime_again(short: Api) -> None:
    name = _user(short)
    start = time.monotonic()
    file_id = _upload(short)
    _after(start, 1.3)
    refreshed_at = time.monotonic()
    assert _set(short, name, "refresh", [file_id]) == {file_id: "success"}
    _after(start, LIFETIME + 0.5)  # past the lifetime from the upload, not from the refresh
    assert _fetch(short, file_id) == 200
    _after(refreshed_at, LIFETIME + 0.3)
    assert _fetch(short, file_id) == 404


def test_users_change_their_own_files(short: Api) -> None:
    owner, other = _user(short), _user(short)
    token = short.user_token(owner)
    mine, theirs, apps = _upload(short, token), _upload(short, short.user_token(other)), _upload(short)
    missing = "00000000-0000-4000-8000-000000000000"
    data = _set(short, owner, "forever", [mine, theirs, apps, missing, "not-a-uuid"], token=token)
    assert data == {mine: "success", theirs: "failed", apps: "failed", missing: "failed", "not-a-uuid": "failed"}
    # the admin may change any file of the app, whoever the path names
    assert _set(short, owner, "forever", [theirs, apps]) == {theirs: "success", apps: "success"}
    time.sleep(LIFETIME + 0.3)
    assert all(_fetch(short, f) == 200 for f in (mine, theirs, apps))


# --- refusals -------------------------------------------------------------------------------------------


def test_bad_requests(short: Api) -> None:
    name = _user(short)
    file_id = _upload(short)
    path = f"/users/{name}/chatfiles/lifetime"
    for lifetime in ("keep", "", "FOREVER", 1, None):
        body = {"lifetime": lifetime, "chatfile_ids": [file_id]}
        assert_error(short.put(path, json=body), 400, "illegal_argument", BAD_LIFETIME)
    body = {"lifetime": "forever", "chatfile_ids": [file_id] * 101}
    assert_error(short.put(path, json=body), 400, "illegal_argument", "chatfile_ids size is too large")
    for body in ({"lifetime": "forever"}, {"lifetime": "forever", "chatfile_ids": []},
                 {"lifetime": "forever", "chatfile_ids": file_id}, {"lifetime": "forever", "chatfile_ids": [1]}, [],
                 "x"):
        assert_error(short.put(path, json=body), 400, "illegal_argument")
    assert _set(short, name, "forever", [file_id] * 100) == {file_id: "success"}
    assert_error(short.put(f"/users/{unique('ghost')}/chatfiles/lifetime",
                           json={"lifetime": "forever", "chatfile_ids": [file_id]}), 404, "service_resource_not_found")


def test_access(short: Api, api: Api) -> None:
    owner, other = _user(short), _user(short)
    file_id = _upload(short, short.user_token(owner))
    body = {"lifetime": "forever", "chatfile_ids": [file_id]}
    path = f"/users/{owner}/chatfiles/lifetime"
    for token in (short.user_token(other), None, "garbage", api.token):
        r: httpx.Response = short.put(path, token=token, json=body)
        assert r.status_code == 401, r.text
    time.sleep(LIFETIME + 0.3)
    assert _fetch(short, file_id) == 404  # nothing was kept


def test_without_a_lifetime_files_are_kept(api: Api) -> None:
    """The default server (`chatfile_lifetime_seconds` 0): every file is kept; the call answers
    and records the lifetime all the same."""
    name = _user(api)
    file_id = _upload(api)
    assert _set(api, name, "refresh", [file_id]) == {file_id: "success"}
    assert _set(api, name, "default", [file_id]) == {file_id: "success"}
    assert _fetch(api, file_id) == 200
