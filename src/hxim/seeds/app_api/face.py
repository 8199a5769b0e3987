"""The app API's face on the HTTP pipeline: how it refuses, who calls, what a handler reads.

Refusals are `Refused` with the API's body as `detail`: `{"message":[…]}` (`messages`), the 422
validation form (`invalid`), 500 with Easemob's `error_description` (`engine_error`), 401
`{"message":"Unauthenticated."}`. A caller authenticates with an HS256 JWT naming an app user of
the app the API serves (`app_api`); `login` needs none (`anonymous`). Handlers read
`inputs`: Laravel's `input()`, the query string overridden by the fields of a JSON object body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hxim.app import Node
from hxim.errors import HximError
from hxim.http import apidoc, pipeline
from hxim.http.pipeline import BODY_TIMEOUT, TOO_LARGE, Face, Refused, bearer_token, read_json
from hxim.model import App
from hxim.seeds.easemob_api import EasemobApi, Reply
from hxim.seeds.local import local_app
from hxim.services.app_users import AppUser, parse_app_user_id

__all__ = [
    "APP_API",
    "FORBIDDEN",
    "NO_USER",
    "Caller",
    "Visitor",
    "anonymous",
    "app_api",
    "engine_error",
    "invalid",
    "messages",
    "served_app",
    "subject_of",
]

VALIDATION = "提交的信息验证错误"
UNAUTHENTICATED = {"message": "Unauthenticated."}
FORBIDDEN = "没有权限执行该操作"
NO_USER = "用户不存在或已经被删除"
NOT_CONFIGURED = "环信未开启或者配置信息不全"

_REJECTED = {  # json_input's reasons (and the pipeline's timeout), in this API's words
    "timeout": "请求体发送超时",
    "syntax": "请求体不是有效的 JSON",
    "depth": "请求体的 JSON 嵌套过深",
    "nul": "请求体含有不允许的字符 U+0000",
}


def messages(status: int, *texts: str, **extra: Any) -> Refused:
    return Refused(status, {"message": list(texts), **extra})


def invalid(errors: dict[str, list[str]]) -> Refused:
    return Refused(422, {"message": VALIDATION, "errors": errors})


_OUR_CREDENTIALS = ("invalid_grant", "unauthorized", "auth_bad_access_token", "expired_token")


def engine_error(reply: Reply, **extra: Any) -> Refused:
    """Easemob refused, with its `error_description`. What Easemob refuses because of what the
    request asks (400, 403, 404: a name taken, a user or group that does not exist, an operation
    on the owner) keeps that status; Easemob's own failures, and refusals of this server's
    credentials, are 500 (the original wrapper answered 500 for all; docs/DECISIONS.md)."""
    status, body = reply
    text = error = None
    if isinstance(body, dict):
        text = body.get("error_description") or body.get("error")
        error = body.get("error")
    client = status in (400, 403, 404) and error not in _OUR_CREDENTIALS
    return messages(status if client else 500, str(text or f"Easemob answered HTTP {status}"), **extra)


class AppApiFace(Face):
    """The API's bodies as the pipeline's default renders them: `detail` in JSON with the status."""

    def body_refused(self, reason: str, description: str, limit: int) -> Exception:
        if reason == TOO_LARGE:
            return messages(413, "请求体过大")
        return messages(408 if reason == BODY_TIMEOUT else 400, _REJECTED[reason])


APP_API = AppApiFace()


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


@dataclass(slots=True)
class Visitor:
    """A request that needs no token (`login`): the node and the inputs."""

    node: Node
    inputs: dict[str, Any]


async def _inputs(request: Request, node: Node) -> dict[str, Any]:
    """Laravel's `input()`: the query string, overridden by the fields of a JSON object body."""
    merged: dict[str, Any] = dict(request.query_params)
    settings = node.settings
    body = await read_json(request, APP_API, settings)
    if isinstance(body, dict):
        merged.update(body)
    return merged


async def served_app(node: Node) -> App:
    """The local app whose users the API serves (`app_api_app`, else the default app)."""
    try:
        return await local_app(node, node.settings.app_api_app)
    except HximError:
        raise messages(500, NOT_CONFIGURED) from None


Handler = Callable[[Caller], Awaitable[Response]]


async def _caller(request: Request, started: float) -> Caller:
    """The JWT's app user (401 without one), and the inputs."""
    node: Node = request.app.state.node
    token = bearer_token(request, query="token")
    if not token:
        raise Refused(401, UNAUTHENTICATED)
    uid = await node.app_users.check_jwt(token)
    if uid is None:
        raise Refused(401, UNAUTHENTICATED)
    app = await served_app(node)
    user = await node.app_users.cached(app, uid)
    if user is None:
        raise Refused(401, UNAUTHENTICATED)
    inputs = await _inputs(request, node)
    inputs.pop("token", None)
    return Caller(request, node, app, user, request.app.state.app_api_easemob, inputs)


def app_api(fn: Handler) -> pipeline.Endpoint:
    """Wrap a handler in the pipeline: authenticate the JWT, load the app user, read the inputs."""
    return apidoc.secure(pipeline.endpoint(APP_API, _caller, fn), *apidoc.APP_API_JWT)


async def _visitor(request: Request, started: float) -> Visitor:
    node: Node = request.app.state.node
    return Visitor(node, await _inputs(request, node))


def anonymous(fn: Callable[[Visitor], Awaitable[Response]]) -> pipeline.Endpoint:
    """Wrap a handler that needs no token in the pipeline: read the inputs."""
    return apidoc.secure(pipeline.endpoint(APP_API, _visitor, fn))


async def subject_of(c: Caller, route_uid: Any = None) -> AppUser:
    """The user an action is for: `user_id` from the input (then the route), else the caller.
    Only admin app users may name someone else (a fix: the original let anyone)."""
    raw = c.inputs.get("user_id", route_uid)
    if raw is None or raw == "":
        return c.user
    uid = parse_app_user_id(raw)
    if uid is None:
        raise invalid({"user_id": ["user_id 必须是个整数"]})
    if uid == c.user.id:
        return c.user
    if not c.user.is_admin:
        raise messages(403, FORBIDDEN)
    user = await c.node.app_users.get(c.app, uid)
    if user is None:
        raise messages(404, NO_USER)
    return user
