"""The app API's accounts: logging in, and the IM accounts of app users (环信用户管理).

`login` issues the JWT the other calls need; the rest register app users' IM accounts (one, a
list, or every app user who has none yet) and keep their IM password `im_pwd_hash`.
"""

from __future__ import annotations

from starlette.responses import Response

from hxim.http.apidoc import INT, NAMES, STR, arr, doc, obj, one_of, param
from hxim.http.render import json_response
from hxim.seeds.app_api import fields
from hxim.seeds.app_api.face import (
    FORBIDDEN,
    NO_USER,
    Caller,
    Visitor,
    anonymous,
    app_api,
    engine_error,
    invalid,
    messages,
    served_app,
    subject_of,
)
from hxim.seeds.app_api.fields import IDS, USER_ID
from hxim.seeds.easemob_api import Reply
from hxim.services.app_users import AppUser, im_password, parse_app_user_id

__all__ = ["login", "register_one", "register_many", "register_old_users", "reset_password", "get_password"]

# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "App API"
EMPTY = arr({}, max_items=0)

USERS_PAGE = 100  # users per GET /users page while looking for unregistered app users


def _im_entry(user: AppUser) -> dict[str, str]:
    return {"username": str(user.id), "password": im_password(user)}


# --- login -------------------------------------------------------------------------------------


@doc(
    "Log an app user in: their JWT",
    tag=TAG,
    body=obj({"login": one_of(INT, STR, description="the app user's id"), "password": STR}, ["login", "password"]),
    ok=obj({"access_token": STR, "token_type": {"const": "bearer"}, "expires_in": INT},
           ["access_token", "token_type", "expires_in"]),
    errors={422: "missing fields, an unknown account or a wrong password"},
)
@anonymous
async def login(v: Visitor) -> Response:
    """`POST /api/v2/auth/login` with `login` (the app user id) and `password`."""
    node, inputs = v.node, v.inputs
    errors: dict[str, list[str]] = {}
    login_id, password = inputs.get("login"), inputs.get("password")
    if login_id is None or login_id == "":
        errors["login"] = ["login 不能为空"]
    if password is None or password == "":
        errors["password"] = ["password 不能为空"]
    elif not isinstance(password, str):
        errors["password"] = ["password 必须是一个字符串"]
    if errors:
        raise invalid(errors)
    app = await served_app(node)
    uid = parse_app_user_id(login_id)
    user = await node.app_users.get(app, uid) if uid is not None else None
    if user is None:
        return json_response({"message": "账号还没有注册"}, 422)
    assert isinstance(password, str)
    if not await node.app_users.verify_password(user, password):
        return json_response({"message": "账号或密码不正确"}, 422)
    token, ttl = await node.app_users.issue_jwt(user)
    return json_response({"access_token": token, "token_type": "bearer", "expires_in": ttl}, 200)


# --- 环信用户管理 (IM accounts) -------------------------------------------------------------------

# --- 环信用户管理 (IM accounts) -------------------------------------------------------------------


@doc(
    "Register an app user's IM account",
    tag=TAG,
    paths={"user_id": "the app user's id"},
    ok=EMPTY,
    ok_status=201,
    errors={403: "another user's, without being an admin", 404: "no such app user"},
)
@app_api
async def register_one(c: Caller) -> Response:
    """`POST /register/{user_id}`: register the app user's IM account."""
    subject = await subject_of(c, c.request.path_params["user_id"])
    reply = await c.api.register(None, _im_entry(subject))
    if reply[0] != 200:
        raise engine_error(reply)
    return json_response([], 201)


async def _register_batches(c: Caller, ids: list[int]) -> tuple[list[int], Reply | None]:
    """Register these app users in batches; (ids registered, the failing reply or None)."""
    done: list[int] = []
    size = c.node.settings.register_batch_max
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        found = await c.node.app_users.many(c.app, chunk)
        entries = [_im_entry(found[i]) for i in chunk if i in found]
        if not entries:
            continue
        reply = await c.api.register(None, entries)
        if reply[0] != 200:
            return done, reply
        done.extend(i for i in chunk if i in found)
    return done, None


@doc(
    "Register several app users' IM accounts",
    tag=TAG,
    body=obj({"user_ids": IDS}, ["user_ids"]),
    ok=EMPTY,
    ok_status=201,
    errors={403: "others', without being an admin", 422: "no user_ids, or none that exists"},
)
@app_api
async def register_many(c: Caller) -> Response:
    """`POST /register` with `user_ids` ("1,2,3" or an array)."""
    ids = fields.ids(c.inputs.get("user_ids"), "user_ids", "user_ids 不能为空", c.node.settings.app_api_ids_max)
    if any(i != c.user.id for i in ids) and not c.user.is_admin:
        raise messages(403, FORBIDDEN)
    found = await c.node.app_users.many(c.app, ids)
    known = [i for i in ids if i in found]
    if not known:
        raise invalid({"user_ids": [NO_USER]})
    _done, failure = await _register_batches(c, known)
    if failure is not None:
        raise engine_error(failure)
    return json_response([], 201)


@doc(
    "Give every app user without an IM account one (admins only)",
    tag=TAG,
    ok=obj({"message": NAMES, "registered": arr(INT)}, ["registered"]),
    ok_status=201,
    errors={403: "not an admin"},
)
@app_api
async def register_old_users(c: Caller) -> Response:
    """`POST /register-old-users`: give every app user without an IM account one (admins only).

    Reads the IM users page by page, registers the missing ones in batches without pausing,
    and answers whom it registered."""
    if not c.user.is_admin:
        raise messages(403, FORBIDDEN)
    registered: set[str] = set()
    cursor: str | None = None
    page = min(USERS_PAGE, c.node.settings.users_page_max)
    while True:
        reply = await c.api.list_users(None, page, cursor)
        if reply[0] != 200 or not isinstance(reply[1], dict):
            raise engine_error(reply)
        for entity in reply[1].get("entities") or []:
            if isinstance(entity, dict) and isinstance(entity.get("username"), str):
                registered.add(entity["username"].lower())
        cursor = reply[1].get("cursor")
        if not cursor:
            break
    missing = [i for i in await c.node.app_users.ids(c.app) if str(i) not in registered]
    done, failure = await _register_batches(c, missing)
    if failure is not None:
        raise engine_error(failure, registered=done, unregistered=[i for i in missing if i not in set(done)])
    return json_response({"message": ["注册成功"], "registered": done}, 201)


async def _ensure_registered(c: Caller, subject: AppUser, failure_text: str) -> bool:
    """Whether the IM user existed; registers it when Easemob answers 404 (500 `failure_text` if that fails)."""
    reply = await c.api.get_user(None, str(subject.id))
    if reply[0] == 404:
        created = await c.api.register(None, _im_entry(subject))
        if created[0] != 200:
            raise messages(500, failure_text)
        return False
    if reply[0] != 200:
        raise engine_error(reply)
    return True


@doc(
    "Set the IM password to the app user's current one (registering the IM user if needed)",
    tag=TAG,
    body=obj({"user_id": USER_ID}),
    body_required=False,
    ok=EMPTY,
    ok_status=201,
    errors={403: "another user's, without being an admin", 404: "no such app user"},
)
@app_api
async def reset_password(c: Caller) -> Response:
    """`PUT /password`: set the IM password to the current `im_pwd_hash` (registering the user if needed)."""
    subject = await subject_of(c)
    if await _ensure_registered(c, subject, "未注册成功"):
        reply = await c.api.reset_password(None, str(subject.id), im_password(subject))
        if reply[0] != 200:
            raise engine_error(reply)
    return json_response([], 201)


@doc(
    "The IM password of an app user (registering the IM user on first use)",
    tag=TAG,
    params=[param("user_id", "another app user's (admins only)")],
    ok=obj({"message": NAMES, "im_pwd_hash": STR}, ["im_pwd_hash"]),
    ok_status=201,
    errors={403: "another user's, without being an admin", 404: "no such app user"},
)
@app_api
async def get_password(c: Caller) -> Response:
    """`GET /password`: the IM password, registering the IM user on first use."""
    subject = await subject_of(c)
    await _ensure_registered(c, subject, "注册失败")
    return json_response({"message": ["成功"], "im_pwd_hash": im_password(subject)}, 201)

