"""Schemathesis against a running server, from the server's own `GET /openapi.json`.

For a selection of operations of each face (the Easemob REST API, the `/hx` gateway, the `/api/v2`
app API) it sends requests generated from the document, valid ones (positive) and invalid ones
(negative), with real credentials: the app admin token, and an app user's JWT. Each answer must not
be a server error and must match the schema the document declares for its status. A bounded number
of examples per operation keeps the run to about a minute per backend.

Path parameters that name things are pinned to real ones (a user, a group, a chat room, made before
each operation's run), so that valid requests reach the handlers' work rather than their 404s.

To fuzz deeper by hand: `HXIM_FUZZ_PROFILE=deep` (random inputs, `HXIM_FUZZ_SCALE` times as many,
see fuzzing.py) and `HXIM_FUZZ_ALL=1` (every operation of the document but file uploads, downloads
and BOSH).
"""

from __future__ import annotations

import os
import time
from typing import Any

import jwt
import pytest
import schemathesis
from fuzzing import SCALE
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from conftest import Api, Server

SECRET = "openapi-fuzz-secret-0123456789abcdef"
EXTRA_ENV = {
    "HXIM_APP_API_JWT_SECRET": SECRET,
    "HXIM_APP_CACHE_SECONDS": "0",
    "HXIM_APP_API_BCRYPT_ROUNDS": "4",
}
EXAMPLES = 25 * SCALE  # per operation and mode
APP_USER = 4242  # the app user whose JWT the /api/v2 calls carry

# (method, path): a selection across the faces and the kinds of body they read
SELECTION = [
    ("POST", "/{org}/{app}/token"),
    ("POST", "/{org}/{app}/users"),
    ("GET", "/{org}/{app}/users"),
    ("GET", "/{org}/{app}/users/{username}"),
    ("PUT", "/{org}/{app}/users/{username}"),
    ("PUT", "/{org}/{app}/users/{username}/password"),
    ("POST", "/{org}/{app}/users/batch/status"),
    ("GET", "/{org}/{app}/users/{username}/offline_msg_count"),
    ("POST", "/{org}/{app}/users/{owner}/contacts/users/{friend}"),
    ("POST", "/{org}/{app}/users/{owner}/blocks/users"),
    ("POST", "/{org}/{app}/contacts/check"),
    ("POST", "/{org}/{app}/messages"),
    ("POST", "/{org}/{app}/messages/users"),
    ("POST", "/{org}/{app}/messages/chatgroups"),
    ("POST", "/{org}/{app}/messages/msg_recall"),
    ("GET", "/{org}/{app}/chatmessages"),
    ("POST", "/{org}/{app}/users/{username}/messageroaming"),
    ("POST", "/{org}/{app}/chatgroups"),
    ("GET", "/{org}/{app}/chatgroups/{ids}"),
    ("PUT", "/{org}/{app}/chatgroups/{ids}"),
    ("POST", "/{org}/{app}/chatgroups/{id}/users"),
    ("POST", "/{org}/{app}/chatgroups/{id}/mute"),
    ("POST", "/{org}/{app}/chatrooms"),
    ("PUT", "/{org}/{app}/chatrooms/{ids}"),
    ("POST", "/{org}/{app}/chatgroups/{id}/announcement"),
    ("PUT", "/{org}/{app}/metadata/user/{username}"),
    ("POST", "/{org}/{app}/metadata/user/get"),
    ("POST", "/{org}/{app}/users/{username}/presence/{resource}/{status}"),
    ("POST", "/{org}/{app}/reaction/user/{username}"),
    ("POST", "/{org}/{app}/thread"),
    ("POST", "/{org}/{app}/mutes"),
    ("POST", "/{org}/{app}/users/{username}/collections"),
    ("PUT", "/{org}/{app}/users/{username}/notification/{chattype}/{key}"),
    ("POST", "/{org}/{app}/moderation/text/list"),
    ("PUT", "/{org}/{app}/app_users/{id}"),
    ("POST", "/hx/registerUser"),
    ("POST", "/hx/getUser"),
    ("POST", "/hx/sendMessages"),
    ("POST", "/api/v2/auth/login"),
    ("GET", "/api/v2/easemob/password"),
    ("POST", "/api/v2/easemob/group"),
]


class World:
    """The real things the pinned path parameters name, made again when a run deleted them."""

    def __init__(self, server: Server) -> None:
        self.api = Api(server, "main")
        self.http = server.client()
        self.group = self.room = ""

    def ensure(self) -> None:
        for name in ("fuzz_a", "fuzz_b"):
            self.api.post("/users", json={"username": name, "password": "secret1"})
            self.api.post(f"/users/{name}/activate")
        self.api.put(f"/app_users/{APP_USER}", json={"name": "fuzz", "password": "pw-fuzz"})
        if not self.group or self.api.get(f"/chatgroups/{self.group}").status_code != 200:
            r = self.api.post("/chatgroups", json={"groupname": "fuzz", "public": True, "owner": "fuzz_a",
                                                   "members": ["fuzz_b"]})
            assert r.status_code == 200, r.text
            self.group = r.json()["data"]["groupid"]
        if not self.room or self.api.get(f"/chatrooms/{self.room}").status_code != 200:
            r = self.api.post("/chatrooms", json={"name": "fuzz", "owner": "fuzz_a", "members": ["fuzz_b"]})
            assert r.status_code == 200, r.text
            self.room = r.json()["data"]["id"]

    def path_parameters(self, path: str) -> dict[str, Any]:
        creds = self.api.creds
        pinned: dict[str, Any] = {"org": creds.org, "app": creds.app, "username": "fuzz_a", "owner": "fuzz_a",
                                  "friend": "fuzz_b", "resource": "web", "chattype": "user", "key": "fuzz_b"}
        rid = self.room if "/chatrooms" in path else self.group
        pinned.update(id=APP_USER if "/app_users/" in path else rid, ids=rid)
        return {name: value for name, value in pinned.items() if "{" + name + "}" in path}


@pytest.fixture(scope="module")
def world(extra_server: Server) -> World:
    w = World(extra_server)
    w.ensure()
    return w


def _credentials(case: Case, server: Server) -> dict[str, str]:
    """The headers a real caller sends, and (on the gateway) the token in the body."""
    path = case.operation.path
    if path.startswith("/api/v2/"):
        token = jwt.encode({"sub": str(APP_USER), "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}
    if path.startswith("/hx/"):
        if isinstance(case.body, dict) and case.body.get("token") is not None:
            case.body["token"] = server.admin_token("main")
        return {}
    return {"Authorization": f"Bearer {server.admin_token('main')}"}


def _run(schema: Any, method: str, path: str, mode: GenerationMode, server: Server, world: World) -> None:
    operation = schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=world.path_parameters(path))

    @settings(  # on the fuzzing profile (derandomized in CI: the same cases every run)
        max_examples=EXAMPLES,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Case) -> None:
        headers = _credentials(case, server)
        response = case.call(base_url=server.base_url, headers=headers)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(extra_server: Server, world: World) -> None:
    document = extra_server.client().get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    started = time.monotonic()
    selection = SELECTION
    if os.environ.get("HXIM_FUZZ_ALL"):
        skip = ("/http-bind", "/docs", "/openapi.json", "/chatfiles", "/share_files", "/file")
        selection = [
            (method.upper(), path)
            for path, ops in document["paths"].items()
            for method in ops
            if not any(part in path for part in skip)
        ]
    for method, path in selection:
        world.ensure()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(schema, method, path, mode, extra_server, world)
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failure is reported
                failures.append(f"{method} {path} ({mode.value}): {type(exc).__name__}: {str(exc)[:1500]}")
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} failing, in {elapsed:.0f} s:\n\n" + "\n\n".join(failures)
