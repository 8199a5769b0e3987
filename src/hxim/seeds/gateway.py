"""The `/hx/*` gateway (seed document 000, "IM环信接口文档"; seed-wrappers.md §1).

Eleven `POST` calls with a JSON body. Every answer is HTTP 200 with the envelope
`{"code", "message", "msg", "data"}`: `code` is the HTTP status of the Easemob operation the
call stands for, `data` exactly the body the Easemob REST API answers for it (through
`EasemobApi`: this node's engine, or a remote Easemob in upstream mode), `message` is
`请求成功` or `请求失败`. The document names the text `message` and shows `msg` for getUser
(the original code's key), so both are sent with the same text.

The gateway's own refusals: a body without `token` → code 401 `请先获取授权信息`; a body that
is not a JSON object, a missing required field, a field of the wrong type or an unknown
`type` → code 400 `请求参数异常`. `/hx/getToken` hands out the app admin token only to loopback
callers (not proxied) and to callers that send `X-HX-Gateway-Key`; others get code 403.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hxim.config import Settings
from hxim.http import apidoc, pipeline
from hxim.http.apidoc import INT, MESSAGE_BODY, NAMES, OBJ, STR, USER, arr, doc, hx, obj, usergrid
from hxim.http.pipeline import BODY_TIMEOUT, TOO_LARGE, Face, Refused, read_json
from hxim.http.render import json_response
from hxim.seeds.easemob_api import EasemobApi, Reply

__all__ = ["routes", "SUCCESS", "FAILURE", "NO_TOKEN", "BAD_PARAMS", "FORBIDDEN"]

SUCCESS = "请求成功"
FAILURE = "请求失败"
NO_TOKEN = "请先获取授权信息"
BAD_PARAMS = "请求参数异常"
FORBIDDEN = "无权获取授权信息"
BODY_TOO_LARGE = "请求体过大"
BODY_TIMED_OUT = "请求体发送超时"
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _answer(code: int, message: str, data: Any) -> Response:
    return json_response({"code": code, "message": message, "msg": message, "data": data})


def _reply(reply: Reply) -> Response:
    status, data = reply
    return _answer(status, SUCCESS if status == 200 else FAILURE, data)


class GatewayFace(Face):
    """The gateway's own refusals (not Easemob's): its envelope with the refusal's status as `code`
    and its message (`Refused.detail`), `data` null. A body past its limit is 413 `请求体过大`,
    one that is not JSON the gateway accepts 400 `请求参数异常`."""

    def body_refused(self, reason: str, description: str, limit: int) -> Exception:
        if reason == BODY_TIMEOUT:
            return Refused(408, BODY_TIMED_OUT)
        return Refused(413, BODY_TOO_LARGE) if reason == TOO_LARGE else Refused(400, BAD_PARAMS)

    def render(self, refused: Refused, started: float) -> Response:
        return _answer(refused.status, refused.detail, None)


GATEWAY = GatewayFace()


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "hx gateway"


def gateway_body(props: dict[str, Any], required: list[str] | None = None, description: str = "") -> dict[str, Any]:
    """A gateway body: `token` (the app admin token) and the call's fields."""
    token = {"type": "string", "minLength": 1, "description": "the app admin token (`/hx/getToken`)"}
    return obj({"token": token, **props}, ["token", *(required or [])], description)


def _name(body: dict[str, Any], key: str) -> str:
    """A required, non-empty string that becomes a path segment (a user name)."""
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise Refused(400, BAD_PARAMS)
    return value


def _string(body: dict[str, Any], key: str) -> str:
    """A required string whose content Easemob judges (a password)."""
    value = body.get(key)
    if not isinstance(value, str):
        raise Refused(400, BAD_PARAMS)
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = body.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value.lower() not in allowed:
        raise Refused(400, BAD_PARAMS)
    return value.lower()


@dataclass(slots=True)
class GatewayRequest:
    """One gateway call once its body is read and its token found."""

    api: EasemobApi
    settings: Settings
    body: dict[str, Any]
    token: str


GatewayCall = Callable[[EasemobApi, Settings, dict[str, Any], str], Awaitable[Reply]]


def gateway(body_limit: str = "http_max_body_bytes") -> Callable[[GatewayCall], pipeline.Endpoint]:
    """Wrap a gateway call in the pipeline: read the body, require its `token`, render the envelope."""

    async def enter(request: Request, started: float) -> GatewayRequest:
        settings: Settings = request.app.state.node.settings
        body = await read_json(request, GATEWAY, settings, getattr(settings, body_limit))
        if not isinstance(body, dict):
            raise Refused(400, BAD_PARAMS)
        token = body.get("token")
        if token is None or token == "":
            raise Refused(401, NO_TOKEN)
        if not isinstance(token, str):
            raise Refused(400, BAD_PARAMS)
        return GatewayRequest(request.app.state.hx_easemob, settings, body, token)

    def wrap(fn: GatewayCall) -> pipeline.Endpoint:
        @functools.wraps(fn)
        async def run(g: GatewayRequest) -> Response:
            return _reply(await fn(g.api, g.settings, g.body, g.token))

        return apidoc.secure(pipeline.endpoint(GATEWAY, enter, run))  # the token is in the body

    return wrap


# --- 1. getToken ----------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_get_token(request: Request, settings: Settings) -> bool:
    """A caller that sends the gateway key, or a loopback caller whose request was not proxied."""
    key = settings.hx_gateway_key
    sent = request.headers.get("x-hx-gateway-key")
    if key and sent is not None and hmac.compare_digest(sent.encode(), key.encode()):
        return True
    if not settings.hx_gateway_trust_loopback:
        return False
    if any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    return _is_loopback(request.client.host if request.client else None)


async def _token_caller(request: Request, started: float) -> EasemobApi:
    if not may_get_token(request, request.app.state.node.settings):
        raise Refused(403, FORBIDDEN)
    api: EasemobApi = request.app.state.hx_easemob
    return api


@doc(
    "The app admin token",
    tag=TAG,
    description="For loopback callers whose request was not proxied, and callers that send X-HX-Gateway-Key "
    "(code 403 for others). The body is ignored.",
    body=OBJ,
    body_required=False,
    ok=hx(obj({"access_token": STR, "expires_in": INT, "application": STR}, ["access_token", "expires_in"])),
)
async def get_token(api: EasemobApi) -> Response:
    """The app admin token; the body is ignored."""
    return _reply(await api.token())


# --- 2, 3. registerUser ---------------------------------------------------------------------------


@doc(
    "Register a user, or several",
    tag=TAG,
    body=gateway_body(
        {"username": STR, "password": STR, "nickname": STR,
         "users": arr(obj({"username": STR, "password": STR}, ["username", "password"]), min_items=1)},
        description="`username` and `password`, or `users`",
    ),
    ok=hx(usergrid(entities=USER)),
)
@gateway()
async def register_user(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    """One user (`username`, `password`) or a batch (`users`: [{username, password}, …])."""
    users = body.get("users")
    if users is not None:
        if not isinstance(users, list) or not users:
            raise Refused(400, BAD_PARAMS)
        for entry in users:
            if not isinstance(entry, dict):
                raise Refused(400, BAD_PARAMS)
            _name(entry, "username")
            _string(entry, "password")
        return await api.register(token, users)
    one: dict[str, Any] = {"username": _name(body, "username"), "password": _string(body, "password")}
    if isinstance(body.get("nickname"), str):
        one["nickname"] = body["nickname"]
    return await api.register(token, one)


# --- 4. addFriends --------------------------------------------------------------------------------


@doc(
    "Add a contact (type post, the default) or remove one (type delete)",
    tag=TAG,
    body=gateway_body({"owner_username": STR, "friend_username": STR, "type": {"enum": ["post", "delete"]}},
              ["owner_username", "friend_username"]),
    ok=hx(usergrid(entities=USER)),
)
@gateway()
async def add_friends(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    """`type` `post` (the default) adds a contact, `delete` removes one."""
    owner, friend = _name(body, "owner_username"), _name(body, "friend_username")
    if _choice(body, "type", ("post", "delete"), "post") == "delete":
        return await api.remove_contact(token, owner, friend)
    return await api.add_contact(token, owner, friend)


# --- 5. getFriends --------------------------------------------------------------------------------


@doc(
    "A user's contacts (type contacts) or block list (type blocks)",
    tag=TAG,
    body=gateway_body({"owner_username": STR, "type": {"enum": ["contacts", "blocks"]}}, ["owner_username", "type"]),
    ok=hx(usergrid(data=NAMES)),
)
@gateway()
async def get_friends(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    """`type` `contacts` lists the contacts, `blocks` the blocked users."""
    owner = _name(body, "owner_username")
    if _choice(body, "type", ("contacts", "blocks"), None) == "blocks":
        return await api.blocks(token, owner)
    return await api.contacts(token, owner)


# --- 6, 7. getUserStatus, offlineMsgCount ---------------------------------------------------------


@doc(
    "Whether a user is online",
    tag=TAG,
    body=gateway_body({"username": STR}, ["username"]),
    ok=hx(usergrid(data={"type": "object", "additionalProperties": STR})),
)
@gateway()
async def get_user_status(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    return await api.status(token, _name(body, "username"))


@doc(
    "How many messages wait for a user",
    tag=TAG,
    body=gateway_body({"owner_username": STR}, ["owner_username"]),
    ok=hx(usergrid(data={"type": "object", "additionalProperties": INT})),
)
@gateway()
async def offline_msg_count(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    return await api.offline_count(token, _name(body, "owner_username"))


# --- 8. sendMessages ------------------------------------------------------------------------------


@doc(
    "Send a message",
    tag=TAG,
    body=gateway_body(
        {"target_type": {"enum": ["users", "chatgroups", "chatrooms"]}, "target": NAMES, "msg": MESSAGE_BODY,
         "from": STR, "ext": OBJ},
        ["target_type", "target", "msg"],
    ),
    ok=hx(usergrid(data={"type": "object", "additionalProperties": {"const": "success"}})),
)
@gateway("message_max_body_bytes")
async def send_messages(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    """`target_type`, `target` (an array), `msg` (an object), `from` and `ext` (optional); each
    target answered `"success"`, whichever Easemob (this node or a remote) answers ids."""
    target_type, target, msg = body.get("target_type"), body.get("target"), body.get("msg")
    if not isinstance(target_type, str) or not isinstance(target, list) or not isinstance(msg, dict):
        raise Refused(400, BAD_PARAMS)
    out: dict[str, Any] = {"target_type": target_type, "target": target, "msg": msg}
    sender = body.get("from")
    if sender is not None:
        if not isinstance(sender, str):
            raise Refused(400, BAD_PARAMS)
        out["from"] = sender
    ext = body.get("ext")
    if ext is not None:
        if not isinstance(ext, dict):
            raise Refused(400, BAD_PARAMS)
        out["ext"] = ext
    status, answer = await api.send_message(token, out)
    if status == 200 and isinstance(answer, dict) and isinstance(answer.get("data"), dict):
        # the seed document answers "success" for each target; Easemob now answers message ids
        answer = {**answer, "data": dict.fromkeys(answer["data"], "success")}
    return status, answer


# --- 9. resetPassword -----------------------------------------------------------------------------


@doc(
    "Set a user's password",
    tag=TAG,
    body=gateway_body({"username": STR, "newpassword": STR}, ["username", "newpassword"]),
    ok=hx(obj({"action": STR}, ["action"])),
)
@gateway()
async def reset_password(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    return await api.reset_password(token, _name(body, "username"), _string(body, "newpassword"))


# --- 10, 11. getUser ------------------------------------------------------------------------------


@doc(
    "Get a user (username), or list users (limit, cursor)",
    tag=TAG,
    body=gateway_body({"username": STR, "limit": {"type": "integer", "minimum": 1},
                       "cursor": {"type": "string", "minLength": 1}},
              description="`username`, or `limit` (1 to hx_users_page_max) and `cursor`"),
    ok=hx(usergrid(entities=USER)),
)
@gateway()
async def get_user(api: EasemobApi, settings: Settings, body: dict[str, Any], token: str) -> Reply:
    """`limit` (1–`hx_users_page_max`, optional `cursor`) lists users; otherwise `username` gets one."""
    limit = body.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= settings.hx_users_page_max:
            raise Refused(400, BAD_PARAMS)
        cursor = body.get("cursor")
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise Refused(400, BAD_PARAMS)
        return await api.list_users(token, limit, cursor)
    return await api.get_user(token, _name(body, "username"))


routes = [
    Route(
        "/hx/getToken",
        apidoc.secure(pipeline.endpoint(GATEWAY, _token_caller, get_token), apidoc.GATEWAY_KEY, apidoc.NO_TOKEN),
        methods=["POST"],
    ),
    Route("/hx/registerUser", register_user, methods=["POST"]),
    Route("/hx/addFriends", add_friends, methods=["POST"]),
    Route("/hx/getFriends", get_friends, methods=["POST"]),
    Route("/hx/getUserStatus", get_user_status, methods=["POST"]),
    Route("/hx/offlineMsgCount", offline_msg_count, methods=["POST"]),
    Route("/hx/sendMessages", send_messages, methods=["POST"]),
    Route("/hx/resetPassword", reset_password, methods=["POST"]),
    Route("/hx/getUser", get_user, methods=["POST"]),
]
