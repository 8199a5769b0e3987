"""Failed post-send callbacks over the Easemob REST surface (Easemob's
callback_postsending_exception_storage page): `GET /callbacks/storage/info` lists them by
ten-minute slice (`date`, `size`, `retry`), `POST /callbacks/storage/retry` (`date`, `retry`,
`targetUrl`) tries one slice's once more. App admin token only.

Unlike Easemob, where this storage is an add-on, every post-send callback that its retries could
not deliver is kept here (`callback_failed_keep_seconds`); see docs/callbacks.md.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import INT, STR, arr, doc, obj, text, usergrid
from hxim.http.easemob import Call, endpoint
from hxim.http.messages import invalid_body

__all__ = ["routes"]


@doc(
    "The failed post-send callbacks, per ten-minute slice",
    tag="Callbacks",
    ok=usergrid(data=arr(obj({"date": STR, "size": INT, "retry": INT}, ["date", "size", "retry"]))),
)
@endpoint("callbacks")
async def storage_info(call: Call) -> Response:
    return call.ok("get", path="/callbacks", data=await call.node.callbacks.failed(call.app))


@doc(
    "Try one slice's failed callbacks once more",
    tag="Callbacks",
    body=obj(
        {"date": text("yyyyMMddHHmm, at a multiple of ten minutes"), "retry": {"type": "integer", "minimum": 0},
         "targetUrl": text("send them there instead")},
        ["date"],
    ),
    ok=usergrid(data={"enum": ["success", "failure"]}),
)
@endpoint("callbacks")
async def storage_retry(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise invalid_body()
    date = body.get("date")
    if not isinstance(date, str) or not date:
        raise errors.illegal_argument("date must be provided")
    retry = body.get("retry", 0)
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        raise errors.illegal_argument("retry must be a number from 0")
    target = body.get("targetUrl") or None
    if target is not None and not isinstance(target, str):
        raise errors.illegal_argument("targetUrl must be a URL")
    count = await call.node.callbacks.replay(call.app, date, target)
    return call.ok("post", path="/callbacks", data="success" if count else "failure")


P = "/{org}/{app}"
routes = [
    Route(P + "/callbacks/storage/info", storage_info, methods=["GET"]),
    Route(P + "/callbacks/storage/retry", storage_retry, methods=["POST"]),
]
