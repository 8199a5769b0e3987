"""The app API: `/api/v2/easemob/*` and `POST /api/v2/auth/login` (seed document 003; seed-wrappers.md §2).

It serves an app's own accounts ("app users", `services/app_users.py`): each maps to the IM
user whose username is the app user's id, with the IM password `im_pwd_hash`. Callers
authenticate with an HS256 JWT (`Authorization: Bearer …` or `?token=…`); without a valid one
the answer is 401 `{"message":"Unauthenticated."}`. Inputs are read as Laravel reads them: the
query string merged with a JSON body (the body wins).

Answers follow the original: 201 with `[]` or `{"message":[…]}`, 204 for deletes, 422
`{"message":"提交的信息验证错误","errors":{field:[…]}}` for validation failures with the
original's Chinese messages, 500 `{"message":[error_description]}` when Easemob refuses, 202
`{"message":["消息发送失败"],"im_group_id":…}` when an operation succeeded but its group notice
could not be sent. Easemob is reached through `EasemobApi` (this node or a remote Easemob);
app users and group faces are always kept on this node. The fixes of the original's flaws
are listed in docs/DECISIONS.md ("Seed APIs").
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hxim import json_input
from hxim.app import Node
from hxim.easemob_api import EasemobApi, Reply
from hxim.errors import HximError
from hxim.http.auth import bearer_token
from hxim.http.render import JSON_TYPE
from hxim.model import App
from hxim.services.app_users import AppUser, im_password, parse_app_user_id

__all__ = ["routes"]

VALIDATION = "提交的信息验证错误"
UNAUTHENTICATED = {"message": "Unauthenticated."}
FORBIDDEN = "没有权限执行该操作"
NO_GROUP = "该群组不存在或已被删除"
NOTICE_FAILED = "消息发送失败"
NO_USER = "用户不存在或已经被删除"
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FACE_URL_MAX = 2048
USERS_PAGE = 100  # users per GET /users page while looking for unregistered app users


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_TYPE)


class Answer(Exception):
    """Stop here and answer `body` with `status`."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _messages(status: int, *texts: str, **extra: Any) -> Answer:
    return Answer(status, {"message": list(texts), **extra})


def _invalid(errors: dict[str, list[str]]) -> Answer:
    return Answer(422, {"message": VALIDATION, "errors": errors})


def _engine_error(reply: Reply, **extra: Any) -> Answer:
    """Easemob refused: 500 with its `error_description` (seed-wrappers.md §2.5)."""
    status, body = reply
    text = None
    if isinstance(body, dict):
        text = body.get("error_description") or body.get("error")
    return _messages(500, str(text or f"Easemob answered HTTP {status}"), **extra)


@dataclass(slots=True)
class Caller:
    """One authenticated request: the node, the local app, the app user, the Easemob API."""

    request: Request
    node: Node
    app: App
    user: AppUser
    api: EasemobApi
    inputs: dict[str, Any]

    @property
    def base(self) -> str:
        return self.node.settings.public_url.rstrip("/") or str(self.request.base_url).rstrip("/")


# --- reading requests --------------------------------------------------------------------------


_REJECTED = {  # json_input's reasons, in this API's words
    "syntax": "请求体不是有效的 JSON",
    "depth": "请求体的 JSON 嵌套过深",
    "nul": "请求体含有不允许的字符 U+0000",
}


async def _inputs(request: Request, limit: int, max_depth: int) -> dict[str, Any]:
    """Laravel's `input()`: the query string, overridden by the fields of a JSON object body."""
    merged: dict[str, Any] = dict(request.query_params)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _messages(413, "请求体过大")
    if declared in (None, "0") and "transfer-encoding" not in request.headers:
        return merged
    raw = await request.body()
    if len(raw) > limit:
        raise _messages(413, "请求体过大")
    if raw.strip():
        try:
            body = json_input.loads(raw, max_depth)
        except json_input.JsonRejected as exc:
            raise _messages(400, _REJECTED[exc.reason]) from None
        if isinstance(body, dict):
            merged.update(body)
    return merged


async def _local_app(node: Node) -> App:
    key = node.settings.app_api_app
    if key:
        org, _, name = key.partition("#")
    elif node.default_app is not None:
        org, name = node.default_app.org, node.default_app.name
    else:
        raise _messages(500, "环信未开启或者配置信息不全")
    try:
        return await node.apps.get(org, name, f"{org}/{name}")
    except HximError:
        raise _messages(500, "环信未开启或者配置信息不全") from None


def _ids(value: Any, field: str, required_text: str, limit: int) -> list[int]:
    """App user ids from a comma-separated string or an array; 422 with the field's messages."""
    if value is None or value == "" or value == []:
        raise _invalid({field: [required_text]})
    parts: list[Any]
    if isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    else:
        parts = [value]
    ids = [parse_app_user_id(p) for p in parts]
    if not ids or any(i is None for i in ids):
        raise _invalid({field: [f"{field} 必须是以英文逗号隔开的用户 ID"]})
    if len(ids) > limit:
        raise _invalid({field: [f"{field} 最多 {limit} 个"]})
    return list(dict.fromkeys(i for i in ids if i is not None))


def _group_id(inputs: dict[str, Any]) -> str:
    value = inputs.get("im_group_id")
    if value is None or value == "":
        raise _invalid({"im_group_id": ["群组ID不能为空"]})
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise _invalid({"im_group_id": ["im_group_id 必须是个整数"]})
    return str(value)


def _group_ids(inputs: dict[str, Any], limit: int) -> list[str]:
    value = inputs.get("im_group_id")
    if value is None or value == "" or value == []:
        raise _invalid({"im_group_id": ["群组ID不能为空"]})
    parts = value if isinstance(value, list) else str(value).split(",")
    ids: list[str] = []
    for part in parts:
        text = str(part).strip() if isinstance(part, int | str) and not isinstance(part, bool) else ""
        if not text.isdigit():
            raise _invalid({"im_group_id": ["im_group_id 必须是以英文逗号隔开的群组 ID"]})
        ids.append(text)
    if len(ids) > limit:
        raise _invalid({"im_group_id": [f"im_group_id 最多 {limit} 个"]})
    return list(dict.fromkeys(ids))


def _bool(inputs: dict[str, Any], field: str, errors: dict[str, list[str]]) -> bool | None:
    """Laravel's `boolean` rule (true, false, 1, 0, "1", "0"), plus the strings "true"/"false"."""
    value = inputs.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.lower() in ("1", "true", "0", "false"):
        return value.lower() in ("1", "true")
    errors[field] = [f"{field} 字符必须是 true 或 false"]
    return None


def _text(
    inputs: dict[str, Any], field: str, required_text: str, errors: dict[str, list[str]], required: bool
) -> str | None:
    value = inputs.get(field)
    if value is None or value == "":
        if required or field in inputs:
            errors[field] = [required_text]
        return None
    if not isinstance(value, str):
        errors[field] = [f"{field} 必须是一个字符串"]
        return None
    return value


def _maxusers(inputs: dict[str, Any], high: int, errors: dict[str, list[str]]) -> int | None:
    value = inputs.get("maxusers")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        errors["maxusers"] = [f"maxusers 必须介于 1 - {high} 之间"]
        return None
    return value


def _display(user: AppUser | None, uid: int) -> str:
    return user.name if user is not None and user.name else str(uid)


def _display_names(found: dict[int, AppUser], names: list[str]) -> str:
    """The app users' names joined with '、' (their ids where they have no name)."""
    out = []
    for name in names:
        uid = parse_app_user_id(name)
        user = found.get(uid) if uid is not None else None
        out.append(user.name if user is not None and user.name else name)
    return "、".join(out)


# --- the handler wrapper -----------------------------------------------------------------------

Handler = Callable[[Caller], Awaitable[Response]]


def app_api(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the JWT, load the app user, read the inputs, render `Answer`s."""

    async def handle(request: Request) -> Response:
        node: Node = request.app.state.node
        try:
            token = bearer_token(request.headers.get("authorization")) or request.query_params.get("token")
            if not token:
                return _json(UNAUTHENTICATED, 401)
            uid = await node.app_users.check_jwt(token)
            if uid is None:
                return _json(UNAUTHENTICATED, 401)
            app = await _local_app(node)
            user = await node.app_users.cached(app, uid)
            if user is None:
                return _json(UNAUTHENTICATED, 401)
            inputs = await _inputs(request, node.settings.http_max_body_bytes, node.settings.json_max_depth)
            inputs.pop("token", None)
            caller = Caller(request, node, app, user, request.app.state.app_api_easemob, inputs)
            return await fn(caller)
        except Answer as answer:
            if answer.status == 204:
                return Response(status_code=204)
            return _json(answer.body, answer.status)

    handle.__name__ = fn.__name__
    handle.__doc__ = fn.__doc__
    return handle


async def _subject(c: Caller, route_uid: Any = None) -> AppUser:
    """The user an action is for: `user_id` from the input (then the route), else the caller.
    Only admin app users may name someone else (a fix: the original let anyone)."""
    raw = c.inputs.get("user_id", route_uid)
    if raw is None or raw == "":
        return c.user
    uid = parse_app_user_id(raw)
    if uid is None:
        raise _invalid({"user_id": ["user_id 必须是个整数"]})
    if uid == c.user.id:
        return c.user
    if not c.user.is_admin:
        raise _messages(403, FORBIDDEN)
    user = await c.node.app_users.get(c.app, uid)
    if user is None:
        raise _messages(404, NO_USER)
    return user


def _im_entry(user: AppUser) -> dict[str, str]:
    return {"username": str(user.id), "password": im_password(user)}


async def _notice(c: Caller, group_id: str, text: str, ext: dict[str, Any]) -> bool:
    """A group notice: a text message from `admin` to the group with `ext.type` (§2.9)."""
    reply = await c.api.send_message(
        None,
        {
            "target_type": "chatgroups",
            "target": [group_id],
            "msg": {"type": "txt", "msg": text},
            "from": "admin",
            "ext": ext,
        },
    )
    return reply[0] == 200


def _notice_failed(group_id: str) -> Answer:
    return _messages(202, NOTICE_FAILED, im_group_id=group_id)


# --- login -------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    """`POST /api/v2/auth/login` with `login` (the app user id) and `password`."""
    node: Node = request.app.state.node
    try:
        inputs = await _inputs(request, node.settings.http_max_body_bytes, node.settings.json_max_depth)
        errors: dict[str, list[str]] = {}
        login_id, password = inputs.get("login"), inputs.get("password")
        if login_id is None or login_id == "":
            errors["login"] = ["login 不能为空"]
        if password is None or password == "":
            errors["password"] = ["password 不能为空"]
        elif not isinstance(password, str):
            errors["password"] = ["password 必须是一个字符串"]
        if errors:
            raise _invalid(errors)
        app = await _local_app(node)
        uid = parse_app_user_id(login_id)
        user = await node.app_users.get(app, uid) if uid is not None else None
        if user is None:
            return _json({"message": "账号还没有注册"}, 422)
        assert isinstance(password, str)
        if not await node.app_users.verify_password(user, password):
            return _json({"message": "账号或密码不正确"}, 422)
        token, ttl = await node.app_users.issue_jwt(user)
        return _json({"access_token": token, "token_type": "bearer", "expires_in": ttl}, 200)
    except Answer as answer:
        return _json(answer.body, answer.status)


# --- 环信用户管理 (IM accounts) -------------------------------------------------------------------


@app_api
async def register_one(c: Caller) -> Response:
    """`POST /register/{user_id}`: register the app user's IM account."""
    subject = await _subject(c, c.request.path_params["user_id"])
    reply = await c.api.register(None, _im_entry(subject))
    if reply[0] != 200:
        raise _engine_error(reply)
    return _json([], 201)


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


@app_api
async def register_many(c: Caller) -> Response:
    """`POST /register` with `user_ids` ("1,2,3" or an array)."""
    ids = _ids(c.inputs.get("user_ids"), "user_ids", "user_ids 不能为空", c.node.settings.app_api_ids_max)
    if any(i != c.user.id for i in ids) and not c.user.is_admin:
        raise _messages(403, FORBIDDEN)
    found = await c.node.app_users.many(c.app, ids)
    known = [i for i in ids if i in found]
    if not known:
        raise _invalid({"user_ids": [NO_USER]})
    _done, failure = await _register_batches(c, known)
    if failure is not None:
        raise _engine_error(failure)
    return _json([], 201)


@app_api
async def register_old_users(c: Caller) -> Response:
    """`POST /register-old-users`: give every app user without an IM account one (admins only).

    Reads the IM users page by page, registers the missing ones in batches without pausing,
    and answers whom it registered."""
    if not c.user.is_admin:
        raise _messages(403, FORBIDDEN)
    registered: set[str] = set()
    cursor: str | None = None
    page = min(USERS_PAGE, c.node.settings.users_page_max)
    while True:
        reply = await c.api.list_users(None, page, cursor)
        if reply[0] != 200 or not isinstance(reply[1], dict):
            raise _engine_error(reply)
        for entity in reply[1].get("entities") or []:
            if isinstance(entity, dict) and isinstance(entity.get("username"), str):
                registered.add(entity["username"].lower())
        cursor = reply[1].get("cursor")
        if not cursor:
            break
    missing = [i for i in await c.node.app_users.ids(c.app) if str(i) not in registered]
    done, failure = await _register_batches(c, missing)
    if failure is not None:
        raise _engine_error(failure, registered=done, unregistered=[i for i in missing if i not in set(done)])
    return _json({"message": ["注册成功"], "registered": done}, 201)


async def _ensure_registered(c: Caller, subject: AppUser, failure_text: str) -> bool:
    """Whether the IM user existed; registers it when Easemob answers 404 (500 `failure_text` if that fails)."""
    reply = await c.api.get_user(None, str(subject.id))
    if reply[0] == 404:
        created = await c.api.register(None, _im_entry(subject))
        if created[0] != 200:
            raise _messages(500, failure_text)
        return False
    if reply[0] != 200:
        raise _engine_error(reply)
    return True


@app_api
async def reset_password(c: Caller) -> Response:
    """`PUT /password`: set the IM password to the current `im_pwd_hash` (registering the user if needed)."""
    subject = await _subject(c)
    if await _ensure_registered(c, subject, "未注册成功"):
        reply = await c.api.reset_password(None, str(subject.id), im_password(subject))
        if reply[0] != 200:
            raise _engine_error(reply)
    return _json([], 201)


@app_api
async def get_password(c: Caller) -> Response:
    """`GET /password`: the IM password, registering the IM user on first use."""
    subject = await _subject(c)
    await _ensure_registered(c, subject, "注册失败")
    return _json({"message": ["成功"], "im_pwd_hash": im_password(subject)}, 201)


# --- 环信群组管理 (groups) ------------------------------------------------------------------------


async def _group(c: Caller, group_id: str) -> dict[str, Any] | None:
    """The group's Easemob details, or None when Easemob does not know it."""
    reply = await c.api.groups(None, [group_id])
    if reply[0] == 404:
        return None
    if reply[0] != 200 or not isinstance(reply[1], dict):
        raise _engine_error(reply)
    data = reply[1].get("data") or []
    first = data[0] if data else None
    if not isinstance(first, dict) or "error" in first:
        return None
    return first


def _roles(group: dict[str, Any]) -> tuple[str, set[str]]:
    """(owner, every member including the owner) of a group's details."""
    owner = str(group.get("owner", ""))
    members = {owner}
    for entry in group.get("affiliations") or []:
        if isinstance(entry, dict):
            members.update(str(v) for v in entry.values())
    return owner, members


async def _is_group_admin(c: Caller, group_id: str) -> bool:
    reply = await c.api.group_admins(None, group_id)
    return reply[0] == 200 and isinstance(reply[1], dict) and str(c.user.id) in (reply[1].get("data") or [])


def _face_url(c: Caller, face: str | None) -> str:
    if not face:
        return ""
    if face.startswith(("http://", "https://")):
        return face
    return c.api.chatfile_url(face, c.base)


async def _check_face(c: Caller, errors: dict[str, list[str]]) -> str | None:
    """`group_face`: a chat-file UUID of the app or an http(s) URL; "" or null clears it."""
    value = c.inputs.get("group_face")
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= FACE_URL_MAX:
        return value
    if isinstance(value, str) and UUID_RE.fullmatch(value) and await c.api.chatfile_exists(value):
        return value.lower()
    errors["group_face"] = ["文件不存在或已经被使用"]
    return None


@app_api
async def create_group(c: Caller) -> Response:
    """`POST /group`: the caller owns the new group; `members` are app user ids."""
    errors: dict[str, list[str]] = {}
    name = _text(c.inputs, "groupname", "群组名称不能为空", errors, True)
    desc = _text(c.inputs, "desc", "群组简介不能为空", errors, True)
    public = _bool(c.inputs, "public", errors)
    members_only = _bool(c.inputs, "members_only", errors)
    allowinvites = _bool(c.inputs, "allowinvites", errors)
    maxusers = _maxusers(c.inputs, c.node.settings.app_api_group_maxusers_max, errors)
    members: list[int] = []
    if c.inputs.get("members") not in (None, "", []):
        try:
            members = _ids(c.inputs["members"], "members", "群成员不能为空", c.node.settings.room_create_members_max)
        except Answer as answer:
            errors.update(answer.body["errors"])
    if errors:
        raise _invalid(errors)
    body: dict[str, Any] = {
        "groupname": name,
        "desc": desc,
        "public": True if public is None else public,
        "members_only": bool(members_only),
        "allowinvites": True if allowinvites is None else allowinvites,
        "owner": str(c.user.id),
    }
    if maxusers is not None:
        body["maxusers"] = maxusers
    others = [str(i) for i in members if i != c.user.id]
    if others:
        body["members"] = others
    reply = await c.api.create_group(None, body)
    if reply[0] != 200:
        raise _engine_error(reply)
    group_id = str(reply[1]["data"]["groupid"])
    text = f"{_display(c.user, c.user.id)}创建了群聊！"
    if not await _notice(c, group_id, text, {"type": "ts_group_create", "group_id": group_id}):
        raise _notice_failed(group_id)
    return _json({"message": ["成功"], "im_group_id": group_id}, 201)


@app_api
async def update_group(c: Caller) -> Response:
    """`PATCH /group`: a partial update by the owner; `new_owner_user` transfers the group."""
    group_id = _group_id(c.inputs)
    errors: dict[str, list[str]] = {}
    name = _text(c.inputs, "groupname", "群组名称不能为空", errors, False)
    desc = _text(c.inputs, "desc", "群组简介不能为空", errors, False)
    public = _bool(c.inputs, "public", errors)
    members_only = _bool(c.inputs, "members_only", errors)
    allowinvites = _bool(c.inputs, "allowinvites", errors)
    maxusers = _maxusers(c.inputs, c.node.settings.app_api_group_maxusers_max, errors)
    face = await _check_face(c, errors) if "group_face" in c.inputs else None
    new_owner: AppUser | None = None
    if c.inputs.get("new_owner_user") not in (None, "", 0, "0"):
        uid = parse_app_user_id(c.inputs["new_owner_user"])
        new_owner = await c.node.app_users.get(c.app, uid) if uid is not None else None
        if new_owner is None:
            errors["new_owner_user"] = ["被转让用户不存在或已被删除"]
    if errors:
        raise _invalid(errors)
    group = await _group(c, group_id)
    if group is None:
        raise _messages(400, NO_GROUP)
    if str(group.get("owner")) != str(c.user.id):
        raise _messages(403, FORBIDDEN)
    changes: dict[str, Any] = {}
    for key, value in (
        ("groupname", name),
        ("description", desc),
        ("public", public),
        ("maxusers", maxusers),
        ("membersonly", members_only),
        ("allowinvites", allowinvites),
    ):
        if value is not None:
            changes[key] = value
    if changes:
        reply = await c.api.modify_group(None, group_id, changes)
        if reply[0] != 200:
            raise _engine_error(reply)
    if new_owner is not None:
        reply = await c.api.modify_group(None, group_id, {"newowner": str(new_owner.id)})
        if reply[0] != 200:
            raise _engine_error(reply)
    if face is not None:
        await c.node.app_users.set_face(c.app, group_id, face or None)
        stored = face
    else:
        stored = (await c.node.app_users.faces(c.app, [group_id])).get(group_id, "")
    if changes or new_owner is not None or face is not None:
        if new_owner is not None:
            text = f"{_display(new_owner, new_owner.id)}已成为新群主！"
        else:
            text = f"{_display(c.user, c.user.id)}修改了群信息！"
        if not await _notice(c, group_id, text, {"type": "ts_group_change", "group_id": group_id}):
            raise _notice_failed(group_id)
    out: dict[str, Any] = {
        "groupname": name if name is not None else group.get("name"),
        "desc": desc if desc is not None else group.get("description"),
        "public": public if public is not None else group.get("public"),
        "maxusers": maxusers if maxusers is not None else group.get("maxusers"),
        "members_only": members_only if members_only is not None else group.get("membersonly"),
        "allowinvites": allowinvites if allowinvites is not None else group.get("allowinvites"),
    }
    if new_owner is not None:
        out["newowner"] = str(new_owner.id)
    out["group_face"] = _face_url(c, stored)
    out["im_group_id"] = group_id
    return _json(out, 201)


@app_api
async def delete_group(c: Caller) -> Response:
    """`DELETE /group`: the owner deletes the group; `im_group_id` from the query or the body."""
    group_id = _group_id(c.inputs)
    group = await _group(c, group_id)
    if group is None or str(group.get("owner")) != str(c.user.id):
        raise _messages(400, NO_GROUP)
    reply = await c.api.delete_group(None, group_id)
    if reply[0] != 200:
        raise _engine_error(reply)
    await c.node.app_users.set_face(c.app, group_id, None)
    raise Answer(204, None)


def _profile(user: AppUser, is_owner: bool) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "bio": user.bio,
        "sex": user.sex,
        "location": user.location,
        "created_at": _datetime(user.created_at),
        "updated_at": _datetime(user.updated_at),
        "is_owner": 1 if is_owner else 0,
        "avatar": user.avatar,
        "bg": user.bg,
        "verified": user.verified,
        "extra": user.extra,
        "certification": user.certification,
    }


@functools.lru_cache(maxsize=65_536)
def _datetime(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _member_ids(group: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(IM username, app user id or None) of the owner, then the other members in Easemob's order."""
    owner = str(group.get("owner", ""))
    names = [owner]
    for entry in group.get("affiliations") or ():
        if isinstance(entry, dict):
            names.extend(str(v) for v in entry.values())
    return [(name, parse_app_user_id(name)) for name in dict.fromkeys(names)]


async def _details(c: Caller, profiles: bool) -> Response:
    ids = _group_ids(c.inputs, c.node.settings.app_api_ids_max)
    reply = await c.api.groups(None, ids)
    if reply[0] != 200 or not isinstance(reply[1], dict):
        raise _engine_error(reply)
    groups = [g for g in reply[1].get("data") or () if isinstance(g, dict)]
    members = [_member_ids(g) if profiles and "error" not in g else [] for g in groups]
    wanted = [uid for listed in members for _, uid in listed if uid is not None]
    users, faces = await c.node.app_users.profiles_and_faces(c.app, wanted, ids)
    out = []
    for g, listed in zip(groups, members, strict=True):
        if "error" in g:
            out.append(g)
            continue
        entry = dict(g)
        if profiles:
            shown = []
            for index, (_, uid) in enumerate(listed):
                user = users.get(uid) if uid is not None else None
                if user is not None:
                    shown.append(_profile(user, index == 0))  # the owner comes first
            entry["affiliations"] = shown
        entry["group_face"] = _face_url(c, faces.get(str(g.get("id"))))
        out.append(entry)
    return _json(out, 200)


@app_api
async def get_group(c: Caller) -> Response:
    """`GET /group?im_group_id=1,2`: details with the members' app-user profiles, owner first."""
    return await _details(c, True)


@app_api
async def get_groups(c: Caller) -> Response:
    """`GET /groups?im_group_id=1,2`: details with Easemob's raw affiliations."""
    return await _details(c, False)


@app_api
async def group_faces(c: Caller) -> Response:
    """`GET /group/face?im_group_id=1,2`: the stored face of each group (null when none)."""
    ids = _group_ids(c.inputs, c.node.settings.app_api_ids_max)
    faces = await c.node.app_users.faces(c.app, ids)
    return _json([{"im_group_id": i, "group_face": faces.get(i)} for i in ids], 200)


async def _member_input(c: Caller) -> tuple[str, list[int], dict[int, AppUser]]:
    group_id = _group_id(c.inputs)
    ids = _ids(c.inputs.get("members"), "members", "群成员不能为空", c.node.settings.room_batch_max)
    found = await c.node.app_users.many(c.app, ids)
    if any(i not in found for i in ids):
        raise _invalid({"members": [NO_USER]})
    return group_id, ids, found


@app_api
async def add_members(c: Caller) -> Response:
    """`POST /group/member`: the owner, an admin (app or group), or a member when `allowinvites`."""
    group_id, ids, found = await _member_input(c)
    group = await _group(c, group_id)
    if group is None:
        raise _messages(400, NO_GROUP)
    owner, members = _roles(group)
    me = str(c.user.id)
    allowed = (
        me == owner
        or c.user.is_admin
        or (me in members and group.get("allowinvites") is True)
        or (me in members and await _is_group_admin(c, group_id))
    )
    if not allowed:
        raise _messages(403, FORBIDDEN)
    reply = await c.api.add_members(None, group_id, [str(i) for i in ids])
    if reply[0] != 200:
        raise _engine_error(reply)
    data = reply[1].get("data") if isinstance(reply[1], dict) else None
    added = [str(n) for n in (data.get("newmembers") if isinstance(data, dict) else None) or []]
    if added:
        text = f"{_display(c.user, c.user.id)}邀请了{_display_names(found, added)}加入了群聊。"
        if not await _notice(c, group_id, text, {"type": "ts_user_join", "uid": added}):
            raise _notice_failed(group_id)
    return _json([], 201)


@app_api
async def remove_members(c: Caller) -> Response:
    """`DELETE /group/member`: the owner or an admin removes members; a member may leave."""
    group_id, ids, found = await _member_input(c)
    group = await _group(c, group_id)
    if group is None:
        raise _messages(400, NO_GROUP)
    owner, members = _roles(group)
    me = str(c.user.id)
    leaving = ids == [c.user.id] and me in members and me != owner
    manager = me == owner or c.user.is_admin or (me in members and await _is_group_admin(c, group_id))
    if not (manager or leaving):
        raise _messages(403, FORBIDDEN)
    reply = await c.api.remove_members(None, group_id, [str(i) for i in ids])
    if reply[0] != 200:
        raise _engine_error(reply)
    data = reply[1].get("data") if isinstance(reply[1], dict) else None
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    removed = [str(i.get("user")) for i in items if isinstance(i, dict) and i.get("result") is True]
    if removed:
        if leaving and not manager:
            text = f"{_display(c.user, c.user.id)}退出了群聊。"
        else:
            text = f"{_display(c.user, c.user.id)}已将{_display_names(found, removed)}移出群聊。"
        if not await _notice(c, group_id, text, {"type": "ts_user_exit", "uid": ",".join(removed)}):
            raise _notice_failed(group_id)
    raise Answer(204, None)


E = "/api/v2/easemob"
routes = [
    Route("/api/v2/auth/login", login, methods=["POST"]),
    Route(E + "/register/{user_id:int}", register_one, methods=["POST"]),
    Route(E + "/register", register_many, methods=["POST"]),
    Route(E + "/register-old-users", register_old_users, methods=["POST"]),
    Route(E + "/password", reset_password, methods=["PUT"]),
    Route(E + "/password", get_password, methods=["GET"]),
    Route(E + "/group", get_group, methods=["GET"]),
    Route(E + "/group", create_group, methods=["POST"]),
    Route(E + "/group", update_group, methods=["PATCH"]),
    Route(E + "/group", delete_group, methods=["DELETE"]),
    Route(E + "/groups", get_groups, methods=["GET"]),
    Route(E + "/group/face", group_faces, methods=["GET"]),
    Route(E + "/group/member", add_members, methods=["POST"]),
    Route(E + "/group/member", remove_members, methods=["DELETE"]),
]
