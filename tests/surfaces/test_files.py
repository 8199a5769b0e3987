"""Chat files (easemob-rest.md §8): multipart upload, share secrets, download, size cap."""

from __future__ import annotations

import uuid

import pytest

from conftest import Api, Server, assert_envelope, assert_error, unique, wrong_secret

# the server of `extra_server` (conftest) runs with a 1000-byte file cap
EXTRA_ENV = {"HXIM_CHATFILE_MAX_BYTES": "1000"}
UPLOAD_KEYS = ["action", "application", "path", "uri", "entities", "timestamp", "duration", "organization",
               "applicationName"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def upload(api: Api, content: bytes = PNG, *, restrict: bool = False, token: str | None = "default",
           filename: str = "pic 1.png", content_type: str = "image/png") -> dict:
    headers = {"restrict-access": "true"} if restrict else {}
    r = api.post("/chatfiles", token=token, headers=headers, files={"file": (filename, content, content_type)})
    assert r.status_code == 200, r.text
    return r.json()


def test_upload_envelope(api: Api) -> None:
    body = upload(api)
    assert_envelope(body, UPLOAD_KEYS, "post")
    assert body["path"] == "/chatfiles"
    assert body["uri"].endswith(f"/{api.creds.org}/{api.creds.app}/chatfiles")
    [entity] = body["entities"]
    assert list(entity) == ["uuid", "type"]
    assert entity["type"] == "chatfile"
    assert uuid.UUID(entity["uuid"])


def test_upload_restricted_has_share_secret(api: Api) -> None:
    # only the header's presence matters, not its value
    r = api.post("/chatfiles", headers={"restrict-access": "false"}, files={"file": ("a.bin", b"abc")})
    assert r.status_code == 200, r.text
    [entity] = r.json()["entities"]
    assert list(entity) == ["uuid", "type", "share-secret"]
    assert isinstance(entity["share-secret"], str) and len(entity["share-secret"]) >= 16


def test_download_unrestricted(api: Api) -> None:
    file_uuid = upload(api)["entities"][0]["uuid"]
    r = api.get(f"/chatfiles/{file_uuid}", headers={"Accept": "application/octet-stream"})
    assert r.status_code == 200
    assert r.content == PNG
    assert r.headers["content-type"].startswith("image/png")
    # any token of the app will do, and so does none: the random id is the capability (the
    # credential rules for time-based ids and with link downloads off: test_chatfile_links.py)
    name = unique()
    api.register(name)
    r = api.get(f"/chatfiles/{file_uuid}", token=api.user_token(name))
    assert r.status_code == 200 and r.content == PNG
    r = api.get(f"/chatfiles/{file_uuid}", token=None)
    assert r.status_code == 200 and r.content == PNG
    assert_error(api.get(f"/chatfiles/{file_uuid}", token="garbage"), 401, "auth_bad_access_token")


def test_download_restricted(api: Api) -> None:
    entity = upload(api, b"secret bytes", restrict=True, filename="s.txt", content_type="text/plain")["entities"][0]
    file_uuid, secret = entity["uuid"], entity["share-secret"]
    name = unique()
    api.register(name)
    user = api.user_token(name)
    # with the secret: any caller, with or without a token
    for token in (user, None):
        r = api.get(f"/chatfiles/{file_uuid}", token=token, headers={"share-secret": secret})
        assert r.status_code == 200, r.text
        assert r.content == b"secret bytes"
    # without it, the link alone (a random id); with a wrong one: refused, except to the app admin
    for token in (user, None):
        r = api.get(f"/chatfiles/{file_uuid}", token=token)
        assert r.status_code == 200 and r.content == b"secret bytes"
    assert_error(api.get(f"/chatfiles/{file_uuid}", token=user, headers={"share-secret": wrong_secret(secret)}), 401,
                 "unauthorized")
    assert_error(api.get(f"/chatfiles/{file_uuid}", token=None, headers={"share-secret": "wrong"}), 401,
                 "unauthorized")
    r = api.get(f"/chatfiles/{file_uuid}")
    assert r.status_code == 200 and r.content == b"secret bytes"


def test_download_unknown_and_other_app(api: Api) -> None:
    assert_error(api.get(f"/chatfiles/{uuid.uuid1()}"), 404, "service_resource_not_found")
    file_uuid = upload(api)["entities"][0]["uuid"]
    other = Api(api.server, "other")
    assert_error(other.get(f"/chatfiles/{file_uuid}"), 404, "service_resource_not_found")


def test_user_token_uploads(api: Api) -> None:
    name = unique()
    api.register(name)
    token = api.user_token(name)
    file_uuid = upload(api, b"from a user", token=token)["entities"][0]["uuid"]
    assert api.get(f"/chatfiles/{file_uuid}").content == b"from a user"


def test_upload_needs_a_token_and_a_file_field(api: Api) -> None:
    r = api.post("/chatfiles", token=None, files={"file": ("a.bin", b"abc")})
    assert_error(r, 401, "unauthorized", "Unable to authenticate (OAuth)")
    assert_error(api.post("/chatfiles", files={"other": ("a.bin", b"abc")}), 400, "illegal_argument")
    assert_error(api.post("/chatfiles", json={"file": "abc"}), 400, "illegal_argument")


@pytest.fixture(scope="module")
def capped(extra_server: Server) -> Api:
    return Api(extra_server)


def test_size_cap(capped: Api) -> None:
    assert upload(capped, b"x" * 1000)["entities"][0]["type"] == "chatfile"
    r = capped.post("/chatfiles", files={"file": ("big.bin", b"x" * 1001)})
    assert_error(r, 413, "Request Entity Too Large")
    r = capped.post("/chatfiles", files={"file": ("huge.bin", b"x" * 200_000)})
    assert_error(r, 413, "Request Entity Too Large")


@pytest.mark.parametrize(
    ("name", "content_type", "disposition"),
    [
        ("a.png", "image/png", "inline"),
        ("a.amr", "audio/amr", "inline"),
        ("page.html", "text/html", "attachment"),
        ("a.svg", "image/svg+xml", "attachment"),
        ("a.js", "application/javascript", "attachment"),
        ("a.bin", "application/octet-stream", "attachment"),
    ],
)
def test_downloads_never_run_in_the_servers_origin(api: Api, name: str, content_type: str, disposition: str) -> None:
    """A file's type is what its uploader declared: pictures, sound and video are shown inline,
    anything else (an HTML page with a script, SVG) is an attachment; none is sniffed, and each
    comes sandboxed, so an upload never runs as a page of the server's origin."""
    body = b"<html><script>alert(document.domain)</script></html>" if "html" in content_type else PNG
    r = api.post("/chatfiles", files={"file": (name, body, content_type)})
    assert r.status_code == 200, r.text
    file_uuid = r.json()["entities"][0]["uuid"]
    r = api.get(f"/chatfiles/{file_uuid}", token=None)
    assert r.status_code == 200 and r.content == body
    assert r.headers["content-type"].startswith(content_type)
    assert r.headers["content-disposition"] == f"{disposition}; filename*=UTF-8''{name}"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"
