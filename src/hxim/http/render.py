"""Rendering for the Easemob REST surface: Usergrid envelopes and error bodies.

easemob-rest.md §1.4 (success envelope, key order, `params` as arrays of strings, nulls
left out) and §1.5 (error envelope). JSON is written with orjson.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.responses import Response

from hxim.errors import HximError
from hxim.model import App, User

__all__ = ["JSON_TYPE", "json_response", "error_response", "error_body", "user_entity", "envelope"]

JSON_TYPE = "application/json;charset=UTF-8"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_TYPE)


def error_body(err: HximError, started: float) -> dict[str, Any]:
    if err.bare:
        return {"error_description": err.description, "error": err.error}
    body: dict[str, Any] = {
        "error": err.error,
        "timestamp": int(time.time() * 1000),
        "duration": int((time.perf_counter() - started) * 1000),
    }
    if err.exception:
        body["exception"] = err.exception
    body["error_description"] = err.description
    return body


def error_response(err: HximError, started: float) -> Response:
    return json_response(error_body(err, started), err.status)


def user_entity(user: User) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "uuid": str(user.uuid),
        "type": "user",
        "created": user.created,
        "modified": user.modified,
        "username": user.username,
        "activated": user.activated,
    }
    if user.nickname is not None:
        entity["nickname"] = user.nickname
    entity.update(user.profile)
    return entity


def envelope(
    *,
    action: str,
    app: App | None,
    uri: str,
    started: float,
    params: dict[str, list[str]] | None = None,
    path: str | None = None,
    entities: list[Any] | None = None,
    data: Any = None,
    cursor: str | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    """A Usergrid ApiResponse with its keys in Usergrid's order and nulls left out."""
    body: dict[str, Any] = {"action": action}
    if app is not None:
        body["application"] = app.id
    if params is not None:
        body["params"] = params
    if path is not None:
        body["path"] = path
    body["uri"] = uri
    if entities is not None:
        body["entities"] = entities
    if data is not None:
        body["data"] = data
    body["timestamp"] = int(time.time() * 1000)
    body["duration"] = int((time.perf_counter() - started) * 1000)
    if app is not None:
        body["organization"] = app.org
        body["applicationName"] = app.name
    if cursor is not None:
        body["cursor"] = cursor
    if count is not None:
        body["count"] = count
    return body
