"""Header-less chat-file downloads (webim-xmpp.md §2.5, §2.8): apps put `message.url` straight into
`<img src>`, a GET without token or share-secret. New files get random (UUID v4) ids, so the URL
is a capability and is served as it is; credentials that are presented are still checked; files
stored under time-based (v1) ids, and every file when `chatfile_link_downloads` is off, keep
needing them (docs/DECISIONS.md, "Chat files and history")."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, Server, assert_error, unique, wrong_secret

# the server of `extra_server` (conftest) runs with link downloads off
EXTRA_ENV = {"HXIM_CHATFILE_LINK_DOWNLOADS": "false"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def upload(api: Api, content: bytes = PNG, *, restrict: bool = True, token: str | None = "default") -> dict[str, Any]:
    headers = {"restrict-access": "true"} if restrict else {}
    r = api.post("/chatfiles", token=token, headers=headers, files={"file": ("p.png", content, "image/png")})
    assert r.status_code == 200, r.text
    [entity] = r.json()["entities"]
    return entity


def bare_get(api: Api, file_uuid: str, **kw: Any) -> httpx.Response:
    """A GET as `<img src>` sends it: no Authorization, no share-secret, nothing of the SDK's."""
    return httpx.get(f"{api.server.base_url}{api.prefix}/chatfiles/{file_uuid}", timeout=30, **kw)


def store_legacy_file(server: Server, api: Api, content: bytes, share_secret: str | None) -> str:
    """A file as an earlier hxim stored it, under a time-based (version 1) id: written straight
    into the database, since uploads no longer make such ids."""
    file_uuid = str(uuid.uuid1())
    row = (file_uuid, api.creds.application, None, "old.png", "image/png", len(content), share_secret,
           int(time.time() * 1000), content)
    sql = ("INSERT INTO chatfiles (uuid, app_uuid, uploader, filename, content_type, size, share_secret, created,"
           " content) VALUES ({})")
    url = server.env.get("HXIM_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(sql.format(", ".join(["%s"] * 9)), row)
    else:
        conn = sqlite3.connect(Path(server.env["HXIM_DATA_DIR"]) / "hxim.sqlite3", timeout=30)
        try:
            with conn:
                conn.execute(sql.format(", ".join(["?"] * 9)), row)
        finally:
            conn.close()
    return file_uuid


def test_new_ids_are_random(api: Api) -> None:
    ids = [uuid.UUID(upload(api, restrict=restrict)["uuid"]) for restrict in (True, False, True)]
    assert {i.version for i in ids} == {4}
    assert len(set(ids)) == 3


def test_link_alone_downloads_a_random_id(api: Api) -> None:
    for restrict in (True, False):
        file_uuid = upload(api, restrict=restrict)["uuid"]
        r = bare_get(api, file_uuid)
        assert r.status_code == 200, r.text
        assert r.content == PNG and r.headers["content-type"].startswith("image/png")
        # the id in upper case names the same file
        assert bare_get(api, file_uuid.upper()).content == PNG


def test_presented_credentials_are_still_checked(api: Api) -> None:
    entity = upload(api)
    file_uuid, secret = entity["uuid"], entity["share-secret"]
    # a wrong share-secret, in the header or the query, is refused
    assert_error(bare_get(api, file_uuid, headers={"share-secret": wrong_secret(secret)}), 401, "unauthorized",
                 "share-secret does not match")
    assert_error(bare_get(api, file_uuid, params={"share-secret": "guess"}), 401, "unauthorized")
    assert_error(bare_get(api, file_uuid, headers={"share-secret": "非ascii".encode()}), 401, "unauthorized")
    # a bad token, or one of another app, is refused
    assert_error(bare_get(api, file_uuid, headers={"Authorization": "Bearer garbage"}), 401, "auth_bad_access_token")
    other = Api(api.server, "other")
    assert_error(bare_get(api, file_uuid, headers={"Authorization": f"Bearer {other.token}"}), 401, "unauthorized")
    # the right secret, and a user's token, work as before
    assert bare_get(api, file_uuid, headers={"share-secret": secret}).content == PNG
    name = unique()
    api.register(name)
    assert bare_get(api, file_uuid, headers={"Authorization": f"Bearer {api.user_token(name)}"}).content == PNG
    # an id that names nothing is still 404, with or without credentials
    assert_error(bare_get(api, str(uuid.uuid4())), 404, "service_resource_not_found")


def test_time_based_ids_keep_needing_credentials(server: Server, api: Api) -> None:
    restricted = store_legacy_file(server, api, b"old secret", "legacy-secret-1234")
    plain = store_legacy_file(server, api, b"old plain", None)
    name = unique()
    api.register(name)
    user = {"Authorization": f"Bearer {api.user_token(name)}"}
    # the restricted one: only its secret (or the app admin)
    assert_error(bare_get(api, restricted), 401, "unauthorized", "share-secret does not match")
    assert_error(bare_get(api, restricted, headers=user), 401, "unauthorized")
    assert_error(bare_get(api, restricted, headers={"share-secret": "legacy-secret-123x"}), 401, "unauthorized")
    assert bare_get(api, restricted, headers={"share-secret": "legacy-secret-1234"}).content == b"old secret"
    assert api.get(f"/chatfiles/{restricted}").content == b"old secret"
    # the other one: any token of the app, not none
    body = assert_error(bare_get(api, plain), 401, "unauthorized", "Unable to authenticate (OAuth)")
    assert body["exception"] == "EasemobSecurityException"
    assert bare_get(api, plain, headers=user).content == b"old plain"


@pytest.fixture(scope="module")
def strict(extra_server: Server) -> Api:
    return Api(extra_server)


def test_operator_can_require_credentials(strict: Api) -> None:
    entity = upload(strict)
    file_uuid, secret = entity["uuid"], entity["share-secret"]
    assert uuid.UUID(file_uuid).version == 4
    assert_error(bare_get(strict, file_uuid), 401, "unauthorized", "share-secret does not match")
    assert bare_get(strict, file_uuid, headers={"share-secret": secret}).content == PNG
    plain = upload(strict, b"plain", restrict=False)["uuid"]
    assert_error(bare_get(strict, plain), 401, "unauthorized", "Unable to authenticate (OAuth)")
    name = unique()
    strict.register(name)
    assert bare_get(strict, plain, headers={"Authorization": f"Bearer {strict.user_token(name)}"}).content == b"plain"
