"""Easemob's value-added services hxim has no engine of its own for: translation
(services.translation) and the RTC usage summary.

message_translation_text (`POST /translate` `{"from"?,"text","to":[…]}`),
message_translation_language_list (`GET /translate/support/language`; POST too, as the page's
URL says) and message_translation_detect (`POST /translate/detect` `{"text"}`): the engine's
answers passed on, or 403 "service not open" without one. rtc_usage_query
(`GET /billing/rtc/usage-summary?appKey=`): the page's answer for an app without the RTC
service (hxim has none). App admin only.
"""

from __future__ import annotations

import time

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import ANY, NAMES, OBJ, STR, arr, doc, obj, param
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response

__all__ = ["routes"]


TAG = "Value added"


@doc(
    "Translate a text (through the translation engine configured, passed on as it answers)",
    tag=TAG,
    body=obj({"from": STR, "text": STR, "to": NAMES}, ["text", "to"]),
    ok=arr(obj({"translations": arr(obj({"text": STR, "to": STR}))})),
    errors={400: "the engine failed", 403: "no translation engine configured"},
)
@endpoint("translate")
async def translate(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        body = {}
    found = await call.node.translation.translate(body.get("text"), body.get("to"), body.get("from"))
    return json_response(found)


@doc(
    "Detect a text's language (through the translation engine configured)",
    tag=TAG,
    body=obj({"text": STR}, ["text"]),
    ok=ANY,
    errors={400: "the engine failed", 403: "no translation engine configured"},
)
@endpoint("translate")
async def detect(call: Call) -> Response:
    body = await call.json()
    found = await call.node.translation.detect(body.get("text") if isinstance(body, dict) else None)
    return json_response(found)


@doc(
    "The languages the translation engine supports",
    tag=TAG,
    ok=ANY,
    errors={400: "the engine failed", 403: "no translation engine configured"},
)
@endpoint("translate")
async def languages(call: Call) -> Response:
    return json_response(await call.node.translation.languages())


@doc(
    "The RTC usage summary (hxim has no RTC service: always empty)",
    tag=TAG,
    params=[param("appKey", "this app's key")],
    ok=obj({"data": OBJ, "meta": OBJ}, ["data", "meta"]),
)
@endpoint("messages")
async def rtc_usage(call: Call) -> Response:
    asked = call.request.query_params.get("appKey")
    if asked is not None and asked != call.app.appkey:
        raise errors.illegal_argument(f"appKey {asked} is not this app's")
    return json_response({
        "data": {"appKey": call.app.appkey, "planId": None, "billingItemId": None, "discountUsageMinutes": 0,
                 "fuelBagRemain": 0, "freeUsageMinutes": None},
        "meta": {"timestamp": int(time.time() * 1000)},
    })


routes = [
    Route("/{org}/{app}/translate", translate, methods=["POST"]),
    Route("/{org}/{app}/translate/detect", detect, methods=["POST"]),
    Route("/{org}/{app}/translate/support/language", languages, methods=["GET", "POST"]),
    Route("/{org}/{app}/billing/rtc/usage-summary", rtc_usage, methods=["GET"]),
]
