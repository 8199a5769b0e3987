"""The answers of real calls match the schemas `GET /openapi.json` declares for them.

Schemathesis (tests/fuzz/test_fuzz_openapi.py) reaches what random requests reach; the answers that
need things to exist first (a message to recall or react to, a thread on a group message, a keyword
list with words, an app user's group) are checked here, along a short story told with real calls.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis

from conftest import Server, unique

SECRET = "openapi-answers-secret-0123456789abcdef"
EXTRA_ENV = {"HXIM_APP_API_JWT_SECRET": SECRET, "HXIM_APP_CACHE_SECONDS": "0", "HXIM_APP_API_BCRYPT_ROUNDS": "4"}


class Checked:
    """A client whose every answer is checked against the server's own document."""

    def __init__(self, server: Server) -> None:
        self.http = server.client()
        document = self.http.get("/openapi.json").json()
        self.schema = schemathesis.openapi.from_dict(document)
        self.paths = list(document["paths"])
        creds = server.apps["main"]
        self.prefix = f"/{creds.org}/{creds.app}"
        self.headers = {"Authorization": f"Bearer {server.admin_token('main')}"}

    def _template(self, method: str, path: str) -> str:
        """The document's path that `path` is an instance of (the most literal segments wins)."""
        parts = path.split("/")
        best: tuple[int, str] | None = None
        for candidate in self.paths:
            pattern = candidate.split("/")
            if len(pattern) != len(parts) or method.lower() not in self.schema.raw_schema["paths"][candidate]:
                continue
            if all(p.startswith("{") or p == q for p, q in zip(pattern, parts, strict=True)):
                literal = sum(not p.startswith("{") for p in pattern)
                if best is None or literal > best[0]:
                    best = (literal, candidate)
        assert best is not None, f"{method} {path} is not in the document"
        return best[1]

    def call(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> httpx.Response:
        """`path` below /{org}/{app} (or absolute, for /hx and /api/v2)."""
        url = path if path.startswith(("/hx/", "/api/")) else self.prefix + path
        kw.setdefault("headers", self.headers)
        r = self.http.request(method, url, json=body, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        operation = self.schema[self._template(method, url.split("?")[0])][method]
        operation.validate_response(r)  # raises, saying where the answer and its schema part
        return r


@pytest.fixture(scope="module")
def api(extra_server: Server) -> Checked:
    return Checked(extra_server)


def test_users_contacts_and_messages(api: Checked) -> None:
    a, b = unique("a"), unique("b")
    api.call("POST", "/users", [{"username": a, "password": "p1"}, {"username": b, "password": "p1"}])
    api.call("POST", "/token", {"grant_type": "password", "username": a, "password": "p1"}, headers={})
    api.call("PUT", f"/users/{a}", {"nickname": "A"})
    api.call("POST", f"/users/{a}/deactivate")
    api.call("POST", f"/users/{a}/activate")
    api.call("GET", f"/users/{a}/resources")
    api.call("POST", f"/users/{a}/contacts/users/{b}")
    api.call("GET", f"/users/{a}/contacts/users?needReturnRemark=true")
    api.call("PUT", f"/user/{a}/contacts/users/{b}", {"remark": "r"})
    api.call("GET", f"/user/{a}/contacts?needReturnRemark=true")
    api.call("POST", f"/users/{a}/contacts/import", {"usernames": ["nobody"]})
    api.call("POST", "/contacts/check", {"username": a, "check_list": [b]})
    sent = api.call("POST", "/messages/users", {"from": a, "to": [b], "type": "txt", "body": {"msg": "hi"}})
    msg_id = sent.json()["data"][b]
    api.call("GET", f"/users/{b}/offline_msg_status/{msg_id}")
    api.call("PUT", f"/messages/rewrite/{msg_id}", {"new_msg": {"type": "txt", "msg": "edited"}})
    api.call("POST", f"/reaction/user/{a}", {"msgId": msg_id, "message": "ok"})
    api.call("GET", f"/reaction/user/{a}?msgIdList={msg_id}&msgType=chat")
    api.call("GET", f"/reaction/user/{a}/detail?msgId={msg_id}&message=ok")
    api.call("DELETE", f"/reaction/user/{a}?msgId={msg_id}&message=ok")
    api.call("GET", "/chatmessages?limit=3")
    api.call("POST", f"/users/{a}/messageroaming", {"queue": f"{b}@easemob.com", "start": -1, "end": -1})
    api.call("GET", f"/sdk/user/{a}/user_channels/list")
    ask = {"msg_id": msg_id, "to": b, "chat_type": "chat", "force": True, "from": a}
    api.call("POST", "/messages/batch_recall", {"msgs": [ask, {"to": 5}]})
    collected = api.call("POST", f"/users/{a}/collections", {"type": 1, "data": "d"}).json()["collection"]["id"]
    api.call("PUT", f"/users/{a}/collections/{collected}", {"ext": "x"})
    api.call("GET", f"/users/{a}/collections")
    job = api.call("POST", "/messages/users/broadcast", {"msg": {"type": "txt", "msg": "all"}}).json()["data"]["id"]
    time.sleep(0.2)
    api.call("GET", f"/messages/broadcast/{job}")
    stream = api.call("POST", "/stream_message/user", {"to": b, "body": {"msg": "a", "seq": 0}}).json()["data"]["msgId"]
    api.call("POST", "/stream_message/user", {"to": b, "body": {"msg": "b", "seq": 1, "msgId": stream, "finish": True}})
    api.call("POST", "/messages/users/import", {"from": a, "target": b, "type": "txt", "body": {"msg": "old"}})


def test_groups_threads_and_chat_rooms(api: Checked) -> None:
    a, b = unique("a"), unique("b")
    api.call("POST", "/users", [{"username": a, "password": "p1"}, {"username": b, "password": "p1"}])
    gid = api.call("POST", "/chatgroups", {"groupname": "g", "public": True, "owner": a}).json()["data"]["groupid"]
    api.call("POST", f"/chatgroups/{gid}/users/{b}")
    api.call("GET", f"/chatgroups/{gid},123456789")
    api.call("PUT", f"/chatgroups/{gid}", {"groupname": "g2", "maxusers": 50})
    api.call("POST", f"/chatgroups/{gid}/mute", {"usernames": [b], "mute_duration": 60000})
    api.call("GET", f"/chatgroups/{gid}/mute")
    api.call("DELETE", f"/chatgroups/{gid}/mute/{b}")
    api.call("POST", f"/chatgroups/{gid}/white/users", {"usernames": [b]})
    api.call("DELETE", f"/chatgroups/{gid}/white/users/{b},nobody")
    api.call("GET", f"/chatgroups/user/{a}")
    api.call("GET", "/publicchatgroups")
    api.call("POST", f"/chatgroups/{gid}/announcement", {"announcement": "hello"})
    api.call("PUT", f"/metadata/chatgroup/{gid}/users/batch", [{"username": b, "metadata": {"k": "v"}}])
    api.call("POST", f"/metadata/chatgroup/{gid}/get", {"targets": [b], "properties": ["k"]})
    sent = api.call("POST", "/messages/chatgroups", {"from": a, "to": [gid], "type": "txt", "body": {"msg": "hi"}})
    thread = api.call(
        "POST", "/thread", {"group_id": gid, "name": "t", "msg_id": sent.json()["data"][gid], "owner": a}
    ).json()["data"]["thread_id"]
    api.call("PUT", f"/thread/{thread}", {"name": "t2"})
    api.call("POST", f"/thread/{thread}/users", {"usernames": [b]})
    api.call("GET", f"/thread/{thread}/users")
    api.call("GET", f"/threads/user/{a}")
    api.call("DELETE", f"/thread/{thread}/users", {"usernames": [b]})
    api.call("DELETE", f"/thread/{thread}")
    room = api.call("POST", "/chatrooms", {"name": "r", "owner": a, "members": [b]}).json()["data"]["id"]
    api.call("GET", "/chatrooms")
    api.call("PUT", f"/chatrooms/{room}/users/{b}/tag", {"tags": ["vip"]})
    api.call("GET", f"/chatrooms/{room}/users/{b}/tag")
    api.call("PUT", f"/metadata/chatroom/{room}/user/{a}", {"metaData": {"k": "v"}})
    api.call("POST", f"/metadata/chatroom/{room}", {"keys": ["k"]})
    api.call("DELETE", f"/metadata/chatroom/{room}/user/{a}/forced", {"keys": ["k"]})
    api.call("DELETE", f"/chatrooms/{room}")
    api.call("DELETE", f"/chatgroups/{gid}")


def test_moderation_push_and_the_gateway(api: Checked, extra_server: Server) -> None:
    a = unique("a")
    api.call("POST", "/users", {"username": a, "password": "p1"})
    settings = {"name": unique("l"), "scope": "ALL", "disposition": "REJECT", "textContexts": ["bad"]}
    listed = api.call("POST", "/moderation/text/list", settings).json()["entity"]["id"]
    words = api.call("POST", f"/moderation/text/list/{listed}/word/batch", {"wordContents": ["worse"]}).json()
    api.call("POST", f"/moderation/text/list/{listed}/word", {})
    api.call("PUT", f"/moderation/text/list/{listed}/word", {"id": words["entity"]["textList"][0]["id"], "word": "w"})
    api.call("POST", "/moderation/txt/check", {"content": "a bad word"})
    api.call("DELETE", f"/moderation/text/list/{listed}")
    api.call("PUT", f"/users/{a}/push/binding", {"device_id": "d", "device_token": "t", "notifier_name": "n"})
    api.call("PUT", f"/users/{a}/notification/chatgroup/1", {"type": "AT", "ignoreDuration": 1000})
    name = "t" + unique("")
    api.call("POST", "/notification/template", {"name": name, "title_pattern": "t", "content_pattern": "c"})
    api.call("PUT", f"/users/{a}/notification/template", {"templateName": name})
    api.call("DELETE", f"/notification/template/{name}")
    api.call("GET", "/push/data/offline-push/begin/2026-01-01/end/2026-01-02")
    token = extra_server.admin_token("main")
    api.call("POST", "/hx/getUser", {"token": token, "username": a}, headers={})
    api.call("POST", "/hx/getUser", {"token": token, "username": unique("nobody")}, headers={})
    api.call("POST", "/hx/getFriends", {"token": token, "owner_username": a, "type": "blocks"}, headers={})


def test_the_app_api(api: Checked) -> None:
    api.call("PUT", "/app_users/31", {"name": "Ann", "password": "pw", "is_admin": True})
    api.call("PUT", "/app_users/32", {"name": "Bob", "password": "pw"})
    token = api.call("POST", "/api/v2/auth/login", {"login": "31", "password": "pw"}, headers={}).json()
    jwt = {"Authorization": f"Bearer {token['access_token']}"}
    api.call("POST", "/api/v2/easemob/register", {"user_ids": "31,32"}, 201, headers=jwt)
    api.call("GET", "/api/v2/easemob/password", None, 201, headers=jwt)
    group = api.call("POST", "/api/v2/easemob/group", {"groupname": "g", "desc": "d"}, 201, headers=jwt).json()
    gid = group["im_group_id"]
    api.call("PATCH", "/api/v2/easemob/group", {"im_group_id": gid, "public": "1"}, 201, headers=jwt)
    api.call("POST", "/api/v2/easemob/group/member", {"im_group_id": gid, "members": "32"}, 201, headers=jwt)
    api.call("GET", f"/api/v2/easemob/group?im_group_id={gid}", headers=jwt)
    api.call("GET", f"/api/v2/easemob/groups?im_group_id={gid},999", headers=jwt)
    api.call("GET", f"/api/v2/easemob/group/face?im_group_id={gid}", headers=jwt)
    api.call("DELETE", "/api/v2/easemob/group/member", {"im_group_id": gid, "members": [32]}, 204, headers=jwt)
    api.call("POST", "/api/v2/easemob/group", {"groupname": ""}, 422, headers=jwt)
    api.call("DELETE", f"/api/v2/easemob/group?im_group_id={gid}", None, 204, headers=jwt)
