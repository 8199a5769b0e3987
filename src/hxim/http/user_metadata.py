"""User attributes over the Easemob REST surface: `/{org}/{app}/metadata/user/…`.

Easemob's user_attribute_set (`PUT /metadata/user/{username}`, key=value pairs as
`application/x-www-form-urlencoded`, or a JSON object of strings), user_attribute_obtain_single
(`GET /metadata/user/{username}`), user_attribute_obtain_batch (`POST /metadata/user/get`
`{"targets":[…],"properties":[…]}`), user_attribute_capacity_get (`GET /metadata/user/capacity`)
and user_attribute_delete (`DELETE /metadata/user/{username}`). Answers are
`{"timestamp","data","duration"}`. Any token of the app may read; a user's token may set and
delete its own attributes (services.user_metadata); the capacity needs the admin token.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http import pipeline
from hxim.http.apidoc import BOOL, INT, NAMES, doc, obj
from hxim.http.auth import Access
from hxim.http.easemob import EASEMOB, Call, endpoint
from hxim.http.render import json_response

__all__ = ["ATTRIBUTES", "metadata_answer", "metadata_ok", "routes"]

FORM_REFUSED = "the body must be key=value pairs (application/x-www-form-urlencoded, UTF-8) or a JSON object"


ATTRIBUTES = {"type": "object", "additionalProperties": {"type": "string"}, "description": "name → value"}


def metadata_ok(data: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of what `metadata_answer` answers with `data`."""
    return obj({"timestamp": INT, "data": data, "duration": INT}, ["timestamp", "data", "duration"])


def metadata_answer(call: Call, data: Any) -> Response:
    return json_response(
        {
            "timestamp": int(time.time() * 1000),
            "data": data,
            "duration": int((time.perf_counter() - call.started) * 1000),
        }
    )


def _is_json(call: Call) -> bool:
    kind = call.request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _text(key: str, value: Any) -> str:
    """A JSON attribute value as the text it is stored as: a string, or an integer written out."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise errors.illegal_argument(f"the value of attribute [{key[:64]}] must be a string")


async def _pairs(call: Call) -> dict[str, str]:
    """The attributes a PUT sets: form fields (the documented format; a repeated name keeps its
    last value), or a JSON object when the Content-Type says JSON."""
    limit = call.node.settings.user_metadata_body_max_bytes
    if _is_json(call):
        body = await call.json(limit)
        if not isinstance(body, dict):
            raise errors.illegal_argument(FORM_REFUSED)
        return {key: _text(key, value) for key, value in body.items()}
    raw = await pipeline.read_body(call.request, EASEMOB, call.node.settings, limit)
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise errors.illegal_argument(FORM_REFUSED) from None


def _names(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.illegal_argument(f"{field} must be an array of strings")
    return value


@doc(
    "Set some of a user's attributes",
    tag="User attributes",
    description="key=value pairs as a form (Easemob's format), or a JSON object whose values are strings.",
    body=ATTRIBUTES,
    body_type=("application/x-www-form-urlencoded", "application/json"),
    ok=metadata_ok(ATTRIBUTES),
    errors={403: "past a size limit"},
)
@endpoint("metadata", Access.ANY)
async def set_attributes(call: Call) -> Response:
    pairs = await _pairs(call)
    return metadata_answer(call, await call.node.user_metadata.set(call.app, call.user, call.arg("username"), pairs))


@doc("A user's attributes", tag="User attributes", ok=metadata_ok(ATTRIBUTES))
@endpoint("metadata", Access.ANY)
async def get_attributes(call: Call) -> Response:
    return metadata_answer(call, await call.node.user_metadata.get(call.app, call.arg("username")))


@doc(
    "Some attributes of several users",
    tag="User attributes",
    body=obj({"targets": NAMES, "properties": {**NAMES, "description": "the names wanted; all when left out"}},
             ["targets"]),
    ok=metadata_ok({"type": "object", "additionalProperties": ATTRIBUTES}),
    errors={400: "past the batch limit"},
)
@endpoint("metadata", Access.ANY)
async def get_many(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with targets and properties")
    targets = _names(body.get("targets"), "targets")
    properties = body.get("properties")
    wanted = None if properties is None else _names(properties, "properties")
    found = await call.node.user_metadata.get_many(call.app, targets, wanted)
    return metadata_answer(call, found)


@doc("How many bytes of attributes the app's users hold", tag="User attributes", ok=metadata_ok(INT))
@endpoint("metadata")
async def capacity(call: Call) -> Response:
    return metadata_answer(call, await call.node.user_metadata.capacity(call.app))


@doc("Delete all of a user's attributes", tag="User attributes", ok=metadata_ok(BOOL))
@endpoint("metadata", Access.ANY)
async def delete_attributes(call: Call) -> Response:
    await call.node.user_metadata.delete(call.app, call.user, call.arg("username"))
    return metadata_answer(call, True)


# The fixed paths first: `get` and `capacity` are not usernames here.
P = "/{org}/{app}/metadata/user"
routes = [
    Route(P + "/get", get_many, methods=["POST"]),
    Route(P + "/capacity", capacity, methods=["GET"]),
    Route(P + "/{username}", set_attributes, methods=["PUT"]),
    Route(P + "/{username}", get_attributes, methods=["GET"]),
    Route(P + "/{username}", delete_attributes, methods=["DELETE"]),
]
