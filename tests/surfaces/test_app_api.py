"""The app API: /api/v2/easemob and /api/v2/auth/login (seed document 003; seed-wrappers.md §2).

Each endpoint of the document with the statuses and bodies it shows, the original's error
forms (422 with Chinese per-field messages, 500 with Easemob's error_description, 401
`Unauthenticated.`), the group notices, and the security fixes (user_id and
register-old-users for admins only, owner checks, member rules).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from conftest import Api, Server, start_server, stop_server, unique

SECRET = "app-api-test-secret-0123456789abcdef"
EXTRA_ENV = {"HXIM_APP_API_JWT_SECRET": SECRET, "HXIM_APP_CACHE_SECONDS": "0", "HXIM_APP_API_BCRYPT_ROUNDS": "4"}
E = "/api/v2/easemob"
VALIDATION = "提交的信息验证错误"
_next_id = iter(range(1000, 10**9))


class AppApi:
    """A client of the app API of the extra server's default app (test#main)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = server.client()
        self.rest = Api(server, "main")

    def put_user(self, uid: int, **fields: Any) -> httpx.Response:
        r = self.rest.put(f"/app_users/{uid}", json=fields)
        assert r.status_code == 200, r.text
        return r

    def new_user(self, name: str | None = None, password: str | None = "pw-secret", **fields: Any) -> tuple[int, str]:
        """A new app user; returns (id, JWT)."""
        uid = next(_next_id)
        body: dict[str, Any] = {"name": name or f"user{uid}", **fields}
        if password is not None:
            body["password"] = password
        self.put_user(uid, **body)
        if password is None:
            return uid, self.jwt(uid)
        return uid, self.login(uid, password)

    def login(self, uid: int | str, password: str) -> str:
        r = self.http.post("/api/v2/auth/login", json={"login": str(uid), "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    @staticmethod
    def jwt(uid: int, ttl: int = 600, key: str = SECRET, **claims: Any) -> str:
        return jwt.encode({"sub": str(uid), "exp": int(time.time()) + ttl, **claims}, key, algorithm="HS256")

    def call(self, method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, E + path, headers=headers, **kw)

    def im_user(self, uid: int) -> httpx.Response:
        return self.rest.get(f"/users/{uid}")

    def group(self, gid: str) -> dict[str, Any]:
        r = self.rest.get(f"/chatgroups/{gid}")
        assert r.status_code == 200, r.text
        return r.json()["data"][0]

    def notices(self, gid: str) -> list[dict[str, Any]]:
        r = self.rest.get("/chatmessages", params={"limit": 1000, "ql": "select * order by timestamp desc"})
        assert r.status_code == 200, r.text
        return [m for m in r.json()["entities"] if m["to"] == gid]

    def registered(self, *uids: int) -> list[int]:
        """Register the app users' IM accounts (GET /password) and return their ids."""
        for uid in uids:
            r = self.call("GET", "/password", self.jwt(uid))
            assert r.status_code == 201, r.text
        return list(uids)


@pytest.fixture(scope="module")
def app_api(extra_server: Server) -> AppApi:
    return AppApi(extra_server)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def im_pwd_hash(app_api: AppApi, uid: int) -> str:
    r = app_api.call("GET", "/password", app_api.jwt(uid))
    assert r.status_code == 201, r.text
    return r.json()["im_pwd_hash"]


def invalid(r: httpx.Response, errors: dict[str, list[str]]) -> None:
    assert r.status_code == 422, r.text
    assert r.json() == {"message": VALIDATION, "errors": errors}


def messages(r: httpx.Response, status: int, *texts: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["message"] == list(texts), body
    return body


# --- authentication ----------------------------------------------------------------------------


def test_login_issues_a_bearer_jwt(app_api: AppApi) -> None:
    uid, _ = app_api.new_user(password="pw-1")
    r = app_api.http.post("/api/v2/auth/login", json={"login": str(uid), "password": "pw-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["access_token", "token_type", "expires_in"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(uid) and claims["exp"] - claims["iat"] == 3600
    # the token works in the header and as ?token=
    assert app_api.call("GET", "/password", body["access_token"]).status_code == 201
    r = app_api.http.get(E + "/password", params={"token": body["access_token"]})
    assert r.status_code == 201, r.text


def test_login_failures(app_api: AppApi) -> None:
    uid, _ = app_api.new_user(password="pw-2")
    nopw, _ = app_api.new_user(password=None)
    post = app_api.http.post
    r = post("/api/v2/auth/login", json={"login": str(uid), "password": "wrong"})
    assert r.status_code == 422 and r.json() == {"message": "账号或密码不正确"}
    r = post("/api/v2/auth/login", json={"login": str(nopw), "password": "anything"})
    assert r.status_code == 422 and r.json() == {"message": "账号或密码不正确"}
    r = post("/api/v2/auth/login", json={"login": "99999999", "password": "x"})
    assert r.status_code == 422 and r.json() == {"message": "账号还没有注册"}
    invalid(post("/api/v2/auth/login", json={}), {"login": ["login 不能为空"], "password": ["password 不能为空"]})


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_unauthenticated(app_api: AppApi) -> None:
    uid, _ = app_api.new_user()
    bad = [
        None,
        "not-a-jwt",
        app_api.jwt(uid, ttl=-10),  # expired
        app_api.jwt(uid, key="another-secret-another-secret-xx"),  # foreign signature
        jwt.encode({"sub": str(uid)}, SECRET, algorithm="HS256"),  # no exp
        app_api.jwt(987654321),  # no such app user
        jwt.encode({"sub": str(uid), "exp": int(time.time()) + 60}, SECRET, algorithm="HS512"),
    ]
    for token in bad:
        for method, path in (
            ("GET", "/password"),
            ("POST", "/group"),
            ("GET", "/group/face"),
            ("POST", "/register-old-users"),
        ):
            r = app_api.call(method, path, token)
            assert r.status_code == 401 and r.json() == {"message": "Unauthenticated."}, (token, path, r.text)
    # a deleted app user's tokens stop working
    token = app_api.jwt(uid)
    assert app_api.call("GET", "/password", token).status_code == 201
    assert app_api.rest.delete(f"/app_users/{uid}").status_code == 200
    assert app_api.call("GET", "/password", token).status_code == 401


# --- managing app users (Easemob surface) ----------------------------------------------------------


def test_app_user_admin_endpoints(app_api: AppApi) -> None:
    rest = app_api.rest
    uid = next(_next_id)
    r = rest.put(
        f"/app_users/{uid}", json={"name": "root", "bio": "hi", "sex": 1, "avatar": {"url": "a.png"}, "is_admin": True}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "put" and body["path"] == "/app_users"
    [entity] = body["entities"]
    assert entity["id"] == uid and entity["type"] == "app_user" and entity["is_admin"] is True
    assert entity["avatar"] == {"url": "a.png"} and entity["has_password"] is False
    # partial: omitted fields keep their values
    r = rest.put(f"/app_users/{uid}", json={"location": "杭州", "password": "p"})
    [entity] = r.json()["entities"]
    assert entity["name"] == "root" and entity["location"] == "杭州" and entity["has_password"] is True
    assert rest.get(f"/app_users/{uid}").json()["entities"] == [entity]
    # errors in Easemob's format
    assert rest.put(f"/app_users/{uid}", json={"nickname": "x"}).json()["error"] == "illegal_argument"
    assert rest.put(f"/app_users/{uid}", json={"sex": 5}).json()["error"] == "illegal_argument"
    assert rest.put("/app_users/abc", json={}).json()["error"] == "illegal_argument"
    assert rest.get("/app_users/424242424").status_code == 404
    # only the app admin
    user = app_api.rest.register(unique("tok"))[0]["username"]
    r = rest.get(f"/app_users/{uid}", token=rest.user_token(user))
    assert r.status_code == 401
    assert rest.delete(f"/app_users/{uid}").status_code == 200
    assert rest.get(f"/app_users/{uid}").status_code == 404


def test_cli_app_user_set(app_api: AppApi) -> None:
    uid = next(_next_id)
    r = app_api.server.cli("app-user", "set", str(uid), "--name", "命令行", "--password", "cli-pw", "--admin")
    assert r.returncode == 0, r.stderr
    assert '"is_admin": true' in r.stdout
    token = app_api.login(uid, "cli-pw")
    assert app_api.call("POST", "/register-old-users", token).status_code == 201  # an admin
    r = app_api.server.cli("app-user", "set", str(uid), "--no-admin")
    assert r.returncode == 0, r.stderr
    assert messages(app_api.call("POST", "/register-old-users", token), 403, "没有权限执行该操作")
    assert app_api.server.cli("app-user", "set", "x1").returncode == 1


# --- 环信用户管理 ---------------------------------------------------------------------------------


def test_register_one(app_api: AppApi) -> None:
    uid, token = app_api.new_user(password="pw-3")
    r = app_api.call("POST", f"/register/{uid}", token)
    assert r.status_code == 201 and r.json() == []
    # the IM user: username = the id, password = md5 of the stored bcrypt hash
    assert app_api.im_user(uid).status_code == 200
    pwd = im_pwd_hash(app_api, uid)
    r = app_api.rest.post("/token", token=None, json={"grant_type": "password", "username": str(uid), "password": pwd})
    assert r.status_code == 200, r.text
    # twice: Easemob refuses, the wrapper answers 500 with its error_description
    r = app_api.call("POST", f"/register/{uid}", token)
    assert r.status_code == 400 and "exists" in r.json()["message"][0]  # Easemob: taken
    # another user's id: only admins
    other, _ = app_api.new_user()
    messages(app_api.call("POST", f"/register/{other}", token), 403, "没有权限执行该操作")
    messages(app_api.call("POST", f"/register/{uid}", token, json={"user_id": other}), 403, "没有权限执行该操作")
    _, admin_token = app_api.new_user(is_admin=True)
    assert app_api.call("POST", f"/register/{other}", admin_token).status_code == 201
    assert app_api.call("POST", "/register/notanumber", token).status_code == 404


def test_a_path_that_names_no_call_is_refused_in_the_apis_form(app_api: AppApi) -> None:
    _, token = app_api.new_user()
    r = app_api.call("POST", "/register/notanumber", token)
    assert r.status_code == 404 and r.json() == {"message": "no API at /api/v2/easemob/register/notanumber"}
    r = app_api.call("PATCH", "/password", token)
    assert r.status_code == 405 and r.json() == {"message": "this method is not allowed here"}


def test_client_errors_are_not_server_errors(app_api: AppApi) -> None:
    """A request Easemob refuses because of what it asks answers 4xx, never 500."""
    uid, token = app_api.new_user()
    for target in (2, 999_999_999, uid + 1):
        r = app_api.call("POST", f"/register/{target}", token, json={"user_id": 1})
        assert r.status_code != 500, (target, r.text)


def test_register_batch(app_api: AppApi) -> None:
    _, admin_token = app_api.new_user(is_admin=True)
    a, _ = app_api.new_user()
    b, _ = app_api.new_user()
    r = app_api.call("POST", "/register", admin_token, json={"user_ids": f"{a},{b}"})
    assert r.status_code == 201 and r.json() == [], r.text
    assert app_api.im_user(a).status_code == 200 and app_api.im_user(b).status_code == 200
    c, token_c = app_api.new_user()
    d, _ = app_api.new_user()
    messages(app_api.call("POST", "/register", token_c, json={"user_ids": f"{c},{d}"}), 403, "没有权限执行该操作")
    assert app_api.call("POST", "/register", token_c, json={"user_ids": [c]}).status_code == 201
    invalid(app_api.call("POST", "/register", admin_token, json={}), {"user_ids": ["user_ids 不能为空"]})
    invalid(
        app_api.call("POST", "/register", admin_token, json={"user_ids": "1,x"}),
        {"user_ids": ["user_ids 必须是以英文逗号隔开的用户 ID"]},
    )
    invalid(
        app_api.call("POST", "/register", admin_token, json={"user_ids": "987654321"}),
        {"user_ids": ["用户不存在或已经被删除"]},
    )


def test_register_old_users_is_fast_and_says_whom(app_api: AppApi) -> None:
    admin, admin_token = app_api.new_user(is_admin=True)
    app_api.registered(admin)
    first = next(_next_id)
    ids = [first + i for i in range(300)]
    for _ in range(300):
        next(_next_id)
    for uid in ids:
        app_api.put_user(uid, name=f"old{uid}")
    started = time.monotonic()
    r = app_api.call("POST", "/register-old-users", admin_token)
    elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["message"] == ["注册成功"]
    assert set(ids) <= set(body["registered"]) and admin not in body["registered"]
    assert elapsed < 20, elapsed
    for uid in (ids[0], ids[150], ids[-1]):
        assert app_api.im_user(uid).status_code == 200
    # nothing left to do the second time
    r = app_api.call("POST", "/register-old-users", admin_token)
    assert r.status_code == 201 and r.json()["registered"] == []
    # not for ordinary app users
    _, token = app_api.new_user()
    messages(app_api.call("POST", "/register-old-users", token), 403, "没有权限执行该操作")


def test_get_password(app_api: AppApi) -> None:
    uid, token = app_api.new_user(password=None)
    assert app_api.im_user(uid).status_code == 404
    r = app_api.call("GET", "/password", token)
    assert r.status_code == 201
    assert r.json() == {"message": ["成功"], "im_pwd_hash": md5("123456")}  # no password: md5("123456")
    assert app_api.im_user(uid).status_code == 200  # registered on first use
    # the hash is md5 of the bcrypt string: it changes with the password
    app_api.put_user(uid, password="now-one")
    pwd = im_pwd_hash(app_api, uid)
    assert len(pwd) == 32 and pwd != md5("123456")
    # user_id: admins only
    other, _ = app_api.new_user()
    messages(app_api.call("GET", "/password", token, params={"user_id": other}), 403, "没有权限执行该操作")
    _, admin_token = app_api.new_user(is_admin=True)
    r = app_api.call("GET", "/password", admin_token, params={"user_id": other})
    assert r.status_code == 201 and r.json()["im_pwd_hash"] == im_pwd_hash(app_api, other)
    invalid(
        app_api.call("GET", "/password", admin_token, params={"user_id": "x"}), {"user_id": ["user_id 必须是个整数"]}
    )
    messages(
        app_api.call("GET", "/password", admin_token, params={"user_id": "987654321"}), 404, "用户不存在或已经被删除"
    )


def test_put_password_syncs_the_im_password(app_api: AppApi) -> None:
    uid, token = app_api.new_user(password="first")
    # not registered yet: registers
    r = app_api.call("PUT", "/password", token)
    assert r.status_code == 201 and r.json() == []
    app_api.put_user(uid, password="second")
    r = app_api.call("PUT", "/password", token, json={"old_pwd_hash": "ignored"})
    assert r.status_code == 201 and r.json() == []
    pwd = im_pwd_hash(app_api, uid)
    r = app_api.rest.post("/token", token=None, json={"grant_type": "password", "username": str(uid), "password": pwd})
    assert r.status_code == 200, r.text
    other, _ = app_api.new_user()
    messages(app_api.call("PUT", "/password", token, json={"user_id": other}), 403, "没有权限执行该操作")


# --- 环信群组管理 ---------------------------------------------------------------------------------


def _group(app_api: AppApi, token: str, **fields: Any) -> str:
    body = {"groupname": "花儿巷", "desc": "来自花儿巷的朋友", **fields}
    r = app_api.call("POST", "/group", token, json=body)
    assert r.status_code == 201, r.text
    assert list(r.json()) == ["message", "im_group_id"] and r.json()["message"] == ["成功"]
    return r.json()["im_group_id"]


def test_create_group_as_documented(app_api: AppApi) -> None:
    owner, token = app_api.new_user(name="root")
    m1, _ = app_api.new_user(name="花花")
    m2, _ = app_api.new_user(name="草草")
    app_api.registered(owner, m1, m2)
    gid = _group(app_api, token, public=True, maxusers=300, members_only=False, allowinvites=True, members=f"{m1},{m2}")
    g = app_api.group(gid)
    assert g["owner"] == str(owner) and g["maxusers"] == 300 and g["public"] is True
    assert g["membersonly"] is False and g["allowinvites"] is True and g["description"] == "来自花儿巷的朋友"
    assert sorted(a.get("member", "") for a in g["affiliations"] if "member" in a) == sorted([str(m1), str(m2)])
    [notice] = app_api.notices(gid)
    assert notice["from"] == "admin" and notice["chat_type"] == "groupchat"
    assert notice["payload"]["bodies"] == [{"type": "txt", "msg": "root创建了群聊！"}]
    assert notice["payload"]["ext"] == {"type": "ts_group_create", "group_id": gid}
    assert app_api.rest.get(f"/users/{m1}/offline_msg_count").json()["data"] == {str(m1): 1}
    # defaults: public, allowinvites; the string "false" is false (the original read it as true)
    gid2 = _group(app_api, token, members_only="false", public="0")
    g2 = app_api.group(gid2)
    assert g2["membersonly"] is False and g2["public"] is False and g2["allowinvites"] is True
    assert g2["maxusers"] == 200  # the document's default


def test_create_group_validation(app_api: AppApi) -> None:
    _, token = app_api.new_user()
    invalid(
        app_api.call("POST", "/group", token, json={}),
        {"groupname": ["群组名称不能为空"], "desc": ["群组简介不能为空"]},
    )
    invalid(
        app_api.call(
            "POST", "/group", token, json={"groupname": "g", "desc": "d", "public": "maybe", "maxusers": 5000}
        ),
        {"public": ["public 字符必须是 true 或 false"], "maxusers": ["maxusers 必须介于 1 - 2000 之间"]},
    )
    invalid(
        app_api.call("POST", "/group", token, json={"groupname": "g", "desc": "d", "members": "1,abc"}),
        {"members": ["members 必须是以英文逗号隔开的用户 ID"]},
    )
    # the owner has no IM account yet: Easemob refuses, with its status and description
    r = app_api.call("POST", "/group", token, json={"groupname": "g", "desc": "d"})
    assert r.status_code == 404 and "doesn't exist" in r.json()["message"][0]


def test_json_nested_too_deep_or_holding_nul(app_api: AppApi) -> None:
    _, token = app_api.new_user()
    deep = '{"groupname": "g", "desc": "d", "x": ' + "[" * 300 + "]" * 300 + "}"
    messages(app_api.call("POST", "/group", token, content=deep.encode()), 400, "请求体的 JSON 嵌套过深")
    messages(app_api.call("POST", "/group", token, json={"groupname": "g\u0000", "desc": "d"}), 400,
             "请求体含有不允许的字符 U+0000")


def test_private_groups_are_read_by_their_members_only(app_api: AppApi) -> None:
    """As on the REST API: a private group's details and member profiles are for its members;
    anyone else reads it as a group that does not exist."""
    owner, token = app_api.new_user(name="owner")
    member, member_token = app_api.new_user(name="member")
    outsider, outsider_token = app_api.new_user(name="outsider")
    app_api.registered(owner, member, outsider)
    private = _group(app_api, token, members=str(member), public=False)
    public = _group(app_api, token, public=True)
    for path in ("/group", "/groups"):
        seen = app_api.call("GET", path, member_token, params={"im_group_id": private}).json()
        assert seen[0]["id"] == private and "affiliations" in seen[0]
        hidden = app_api.call("GET", path, outsider_token, params={"im_group_id": f"{private},{public}"}).json()
        assert hidden[0] == {"id": private, "error": "group id doesn't exist"}
        assert hidden[1]["id"] == public and "affiliations" in hidden[1]
        alone = app_api.call("GET", path, outsider_token, params={"im_group_id": private})
        assert alone.status_code == 404 and alone.json() == {"message": [f"do not find this group:{private}"]}


def test_get_group_with_profiles(app_api: AppApi) -> None:
    owner, token = app_api.new_user(name="root", bio="me", sex=1, avatar={"url": "http://x/a.png"})
    m1, _ = app_api.new_user(name="m1")
    app_api.registered(owner, m1)
    stranger = unique("im")  # an IM member with no app user: left out of the profiles
    app_api.rest.register(stranger)
    gid = _group(app_api, token, members=str(m1))
    app_api.rest.post(f"/chatgroups/{gid}/users/{stranger}")
    r = app_api.call("GET", "/group", token, params={"im_group_id": gid})
    assert r.status_code == 200, r.text
    [g] = r.json()
    assert g["id"] == gid and g["name"] == "花儿巷" and g["owner"] == str(owner) and g["affiliations_count"] == 3
    assert g["group_face"] == ""
    for key in ("description", "membersonly", "allowinvites", "maxusers", "created", "custom", "public"):
        assert key in g
    assert [a["id"] for a in g["affiliations"]] == [owner, m1]  # owner first
    first = g["affiliations"][0]
    assert list(first) == [
        "id",
        "name",
        "bio",
        "sex",
        "location",
        "created_at",
        "updated_at",
        "is_owner",
        "avatar",
        "bg",
        "verified",
        "extra",
        "certification",
    ]
    assert first["is_owner"] == 1 and first["name"] == "root" and first["bio"] == "me" and first["sex"] == 1
    assert first["avatar"] == {"url": "http://x/a.png"} and first["location"] is None
    assert time.strptime(first["created_at"], "%Y-%m-%d %H:%M:%S")
    assert g["affiliations"][1]["is_owner"] == 0
    # several ids; /groups keeps the raw affiliations
    gid2 = _group(app_api, token)
    r = app_api.call("GET", "/group", token, params={"im_group_id": f"{gid},{gid2}"})
    assert [g["id"] for g in r.json()] == [gid, gid2]
    r = app_api.call("GET", "/groups", token, params={"im_group_id": f"{gid},{gid2}"})
    assert r.status_code == 200
    raw = r.json()
    assert raw[0]["affiliations"] == app_api.group(gid)["affiliations"] and raw[0]["group_face"] == ""
    assert {k: v for k, v in raw[1].items() if k != "group_face"} == app_api.group(gid2)
    # errors
    invalid(app_api.call("GET", "/group", token), {"im_group_id": ["群组ID不能为空"]})
    invalid(
        app_api.call("GET", "/groups", token, params={"im_group_id": "1,x"}),
        {"im_group_id": ["im_group_id 必须是以英文逗号隔开的群组 ID"]},
    )
    r = app_api.call("GET", "/group", token, params={"im_group_id": "123456"})
    assert r.status_code == 404 and r.json() == {"message": ["do not find this group:123456"]}


def test_patch_group_is_partial_and_needs_the_owner(app_api: AppApi) -> None:
    owner, token = app_api.new_user(name="root")
    member, member_token = app_api.new_user(name="小明")
    app_api.registered(owner, member)
    gid = _group(app_api, token, maxusers=300, allowinvites=False, members=str(member))
    r = app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "groupname": "新名字"})
    assert r.status_code == 201, r.text
    assert r.json() == {
        "groupname": "新名字",
        "desc": "来自花儿巷的朋友",
        "public": True,
        "maxusers": 300,
        "members_only": False,
        "allowinvites": False,
        "group_face": "",
        "im_group_id": gid,
    }
    g = app_api.group(gid)
    assert g["name"] == "新名字" and g["maxusers"] == 300 and g["allowinvites"] is False  # kept
    notice = app_api.notices(gid)[0]
    assert notice["payload"]["bodies"][0]["msg"] == "root修改了群信息！"
    assert notice["payload"]["ext"] == {"type": "ts_group_change", "group_id": gid}
    # the document's full form
    r = app_api.call(
        "PATCH",
        "/group",
        token,
        json={
            "im_group_id": int(gid),
            "groupname": "花儿巷",
            "desc": "新简介",
            "public": False,
            "maxusers": 250,
            "members_only": True,
            "allowinvites": True,
        },
    )
    assert r.status_code == 201, r.text
    g = app_api.group(gid)
    assert (g["description"], g["public"], g["maxusers"], g["membersonly"], g["allowinvites"]) == (
        "新简介",
        False,
        250,
        True,
        True,
    )
    # not the owner
    messages(
        app_api.call("PATCH", "/group", member_token, json={"im_group_id": gid, "groupname": "x"}),
        403,
        "没有权限执行该操作",
    )
    # validation
    invalid(app_api.call("PATCH", "/group", token, json={"groupname": "x"}), {"im_group_id": ["群组ID不能为空"]})
    invalid(
        app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "groupname": ""}),
        {"groupname": ["群组名称不能为空"]},
    )
    invalid(
        app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "new_owner_user": 987654321}),
        {"new_owner_user": ["被转让用户不存在或已被删除"]},
    )
    messages(
        app_api.call("PATCH", "/group", token, json={"im_group_id": "123", "groupname": "x"}),
        400,
        "该群组不存在或已被删除",
    )
    # transfer
    r = app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "new_owner_user": member})
    assert r.status_code == 201 and r.json()["newowner"] == str(member)
    assert app_api.group(gid)["owner"] == str(member)
    notice = app_api.notices(gid)[0]
    assert notice["payload"]["bodies"][0]["msg"] == "小明已成为新群主！"
    messages(
        app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "groupname": "x"}), 403, "没有权限执行该操作"
    )


def test_group_face(app_api: AppApi) -> None:
    owner, token = app_api.new_user()
    app_api.registered(owner)
    gid = _group(app_api, token)
    up = app_api.rest.post("/chatfiles", files={"file": ("face.png", b"\x89PNG...", "image/png")})
    assert up.status_code == 200, up.text
    file_uuid = up.json()["entities"][0]["uuid"]
    r = app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "group_face": file_uuid})
    assert r.status_code == 201, r.text
    url = r.json()["group_face"]
    assert url == f"{app_api.server.base_url}/test/main/chatfiles/{file_uuid}"
    assert app_api.call("GET", "/group", token, params={"im_group_id": gid}).json()[0]["group_face"] == url
    assert app_api.call("GET", "/groups", token, params={"im_group_id": gid}).json()[0]["group_face"] == url
    gid2 = _group(app_api, token)
    r = app_api.call("GET", "/group/face", token, params={"im_group_id": f"{gid},{gid2}"})
    assert r.status_code == 200
    assert r.json() == [{"im_group_id": gid, "group_face": file_uuid}, {"im_group_id": gid2, "group_face": None}]
    # an http(s) URL is kept as it is; a UUID that names no file is refused
    r = app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "group_face": "https://cdn.example.com/f.png"})
    assert r.json()["group_face"] == "https://cdn.example.com/f.png"
    invalid(
        app_api.call(
            "PATCH", "/group", token, json={"im_group_id": gid, "group_face": "0b7d5a36-e62f-11f1-9a63-02fc00000001"}
        ),
        {"group_face": ["文件不存在或已经被使用"]},
    )
    invalid(
        app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "group_face": 12}),
        {"group_face": ["文件不存在或已经被使用"]},
    )
    invalid(app_api.call("GET", "/group/face", token), {"im_group_id": ["群组ID不能为空"]})


def test_delete_group(app_api: AppApi) -> None:
    owner, token = app_api.new_user()
    member, member_token = app_api.new_user()
    app_api.registered(owner, member)
    gid = _group(app_api, token, members=str(member))
    messages(app_api.call("DELETE", "/group", member_token, params={"im_group_id": gid}), 400, "该群组不存在或已被删除")
    r = app_api.call("DELETE", "/group", token, params={"im_group_id": gid})
    assert r.status_code == 204 and r.content == b""
    assert app_api.rest.get(f"/chatgroups/{gid}").status_code == 404
    messages(app_api.call("DELETE", "/group", token, params={"im_group_id": gid}), 400, "该群组不存在或已被删除")
    # im_group_id in the body works too
    gid = _group(app_api, token)
    assert app_api.call("DELETE", "/group", token, json={"im_group_id": int(gid)}).status_code == 204
    invalid(app_api.call("DELETE", "/group", token), {"im_group_id": ["群组ID不能为空"]})


def test_add_members(app_api: AppApi) -> None:
    owner, token = app_api.new_user(name="群主")
    member, member_token = app_api.new_user(name="成员")
    a, _ = app_api.new_user(name="甲")
    b, _ = app_api.new_user(name="乙")
    outsider, outsider_token = app_api.new_user()
    app_api.registered(owner, member, a, b, outsider)
    gid = _group(app_api, token, members=str(member), allowinvites=False)
    r = app_api.call("POST", "/group/member", token, json={"im_group_id": gid, "members": f"{a},{b}"})
    assert r.status_code == 201 and r.json() == [], r.text
    members = {v for x in app_api.group(gid)["affiliations"] for v in x.values()}
    assert {str(a), str(b)} <= members
    notice = app_api.notices(gid)[0]
    assert notice["payload"]["bodies"][0]["msg"] == "群主邀请了甲、乙加入了群聊。"
    assert notice["payload"]["ext"] == {"type": "ts_user_join", "uid": [str(a), str(b)]}
    # a member may invite only when allowinvites; an outsider never
    c, _ = app_api.new_user()
    app_api.registered(c)
    messages(
        app_api.call("POST", "/group/member", member_token, json={"im_group_id": gid, "members": str(c)}),
        403,
        "没有权限执行该操作",
    )
    messages(
        app_api.call("POST", "/group/member", outsider_token, json={"im_group_id": gid, "members": str(c)}),
        403,
        "没有权限执行该操作",
    )
    app_api.call("PATCH", "/group", token, json={"im_group_id": gid, "allowinvites": True})
    assert (
        app_api.call("POST", "/group/member", member_token, json={"im_group_id": gid, "members": str(c)}).status_code
        == 201
    )
    messages(
        app_api.call("POST", "/group/member", outsider_token, json={"im_group_id": gid, "members": str(outsider)}),
        403,
        "没有权限执行该操作",
    )
    # an admin app user may
    _, admin_token = app_api.new_user(is_admin=True)
    assert (
        app_api.call(
            "POST", "/group/member", admin_token, json={"im_group_id": gid, "members": str(outsider)}
        ).status_code
        == 201
    )
    # validation
    invalid(app_api.call("POST", "/group/member", token, json={"members": str(a)}), {"im_group_id": ["群组ID不能为空"]})
    invalid(app_api.call("POST", "/group/member", token, json={"im_group_id": gid}), {"members": ["群成员不能为空"]})
    invalid(
        app_api.call("POST", "/group/member", token, json={"im_group_id": gid, "members": f"{a},987654321"}),
        {"members": ["用户不存在或已经被删除"]},
    )
    messages(
        app_api.call("POST", "/group/member", token, json={"im_group_id": "999", "members": str(a)}),
        400,
        "该群组不存在或已被删除",
    )


def test_remove_members(app_api: AppApi) -> None:
    owner, token = app_api.new_user(name="群主")
    a, a_token = app_api.new_user(name="甲")
    b, b_token = app_api.new_user(name="乙")
    c, _ = app_api.new_user(name="丙")
    app_api.registered(owner, a, b, c)
    gid = _group(app_api, token, members=f"{a},{b},{c}")
    # a member may not remove another, but may leave
    messages(
        app_api.call("DELETE", "/group/member", a_token, params={"im_group_id": gid, "members": str(b)}),
        403,
        "没有权限执行该操作",
    )
    r = app_api.call("DELETE", "/group/member", a_token, params={"im_group_id": gid, "members": str(a)})
    assert r.status_code == 204, r.text
    notice = app_api.notices(gid)[0]
    assert notice["payload"]["bodies"][0]["msg"] == "甲退出了群聊。"
    assert notice["payload"]["ext"] == {"type": "ts_user_exit", "uid": str(a)}
    # the owner removes several (the body form)
    r = app_api.call("DELETE", "/group/member", token, json={"im_group_id": gid, "members": f"{b},{c}"})
    assert r.status_code == 204, r.text
    assert {v for x in app_api.group(gid)["affiliations"] for v in x.values()} == {str(owner)}
    notice = app_api.notices(gid)[0]
    assert notice["payload"]["bodies"][0]["msg"] == "群主已将乙、丙移出群聊。"
    assert notice["payload"]["ext"] == {"type": "ts_user_exit", "uid": f"{b},{c}"}
    # not a member any more: cannot "leave" again
    messages(
        app_api.call("DELETE", "/group/member", b_token, params={"im_group_id": gid, "members": str(b)}),
        403,
        "没有权限执行该操作",
    )
    # the owner cannot be removed: Easemob refuses
    r = app_api.call("DELETE", "/group/member", token, params={"im_group_id": gid, "members": str(owner)})
    assert r.status_code == 403 and r.json() == {"message": ["forbidden operation on group owner!"]}


# --- a notice that cannot be sent: 202 ----------------------------------------------------------


@pytest.fixture(scope="module")
def limited(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppApi]:
    """A server that lets the app send one message per second: the second notice in a row fails."""
    tmp = tmp_path_factory.mktemp(f"hxim-limited-{server.backend}")
    srv, pg = start_server(tmp, server.backend, {**EXTRA_ENV, "HXIM_RATE_LIMITS__messages": "1"})
    yield AppApi(srv)
    stop_server(srv, pg)


def test_failed_notice_answers_202(limited: AppApi) -> None:
    owner, token = limited.new_user()
    limited.registered(owner)
    first = limited.call("POST", "/group", token, json={"groupname": "a", "desc": "b"})
    second = limited.call("POST", "/group", token, json={"groupname": "c", "desc": "d"})
    assert first.status_code == 201, first.text
    assert second.status_code == 202, second.text
    body = second.json()
    assert body["message"] == ["消息发送失败"] and list(body) == ["message", "im_group_id"]
    assert limited.group(body["im_group_id"])["name"] == "c"  # created all the same
