"""Offline push settings over the Easemob REST surface (services.push_settings, services.push).

Easemob's push_information_bind_unbind and _query (`PUT|GET /users/{u}/push/binding`),
push_nickname_set_batch (`PUT /push/nickname`), push_settings_set and _query
(`PUT|GET /users/{u}/notification/{chattype}/{key}`), push_preferred_language_set and _obtain
(`PUT|GET /users/{u}/notification/language`), push_template_receiver (`PUT|GET
/users/{u}/notification/template`), push_template_create, _query, _delete (`POST
/notification/template`, `GET|PUT|DELETE /notification/template/{name}`) and
push_result_statistics (`GET /push/data/offline-push/begin/{start}/end/{end}?platform=`), in
Usergrid's envelope (`data` or `entities`) but for the statistics' `{"status":"OK","data"}`.
A user's token acts for that user; the app admin for anyone and alone on templates, nicknames
and statistics.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import INT, OBJ, STR, arr, doc, obj, param, text, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.storage.push import Binding, Setting, Template

__all__ = ["routes"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Push"
BINDING = obj({"device_id": STR, "device_token": STR, "notifier_name": STR},
              ["device_id", "device_token", "notifier_name"])
SETTING = obj({"type": {"enum": ["DEFAULT", "ALL", "AT", "NONE"]}, "ignoreDuration": INT, "ignoreInterval": STR},
              ["type", "ignoreDuration", "ignoreInterval"])
SETTING_PATHS = {"chattype": "user or chatgroup", "key": "the peer or the group (the user itself: user-wide)"}
TEMPLATE = obj({"name": STR, "createAt": INT, "updateAt": INT, "title_pattern": STR, "content_pattern": STR},
               ["name", "title_pattern", "content_pattern"])


def _bindings(found: list[Binding]) -> list[dict[str, str]]:
    return [{"device_id": d, "device_token": t, "notifier_name": n} for d, t, n in found]


def _setting(found: Setting | None, wide: bool) -> dict[str, Any]:
    kind = found.type if found is not None and found.type else ("ALL" if wide else "DEFAULT")
    return {
        "type": kind,
        "ignoreDuration": found.ignore_until if found is not None else 0,
        "ignoreInterval": found.ignore_interval if found is not None else "",
    }


def _template(t: Template) -> dict[str, Any]:
    return {"name": t.name, "createAt": t.created, "updateAt": t.updated, "title_pattern": t.title_pattern,
            "content_pattern": t.content_pattern}


# --- device bindings and nicknames -------------------------------------------------------------------------


@doc(
    "Bind (or unbind) a device's push token",
    tag=TAG,
    body=obj({"device_id": STR, "device_token": text("empty: unbind"), "notifier_name": text("empty: every one")},
             ["device_id", "device_token", "notifier_name"]),
    ok=usergrid(entities=BINDING),
    errors={400: "no such user, or a bad value"},
)
@endpoint("push", Access.SELF)
async def bind(call: Call) -> Response:
    found = await call.node.push_settings.bind(call.app, call.arg("username"), await call.json())
    return call.ok("put", entities=_bindings(found))


@doc("A user's push bindings", tag=TAG, ok=usergrid(entities=BINDING), errors={400: "no such user"})
@endpoint("push", Access.SELF)
async def bindings(call: Call) -> Response:
    return call.ok("get", entities=_bindings(await call.node.push_settings.bindings(call.app, call.arg("username"))))


@doc(
    "Set users' push nicknames",
    tag=TAG,
    body=arr(obj({"username": STR, "push_nickname": STR}, ["username", "push_nickname"]), min_items=1),
    ok=usergrid(entities=obj({"push_nickname": STR, "username": STR}, ["push_nickname", "username"])),
)
@endpoint("push")
async def nicknames(call: Call) -> Response:
    done = await call.node.push_settings.set_nicknames(call.app, await call.json())
    return call.ok("put", path="/push", entities=[{"push_nickname": n, "username": u} for u, n in done])


# --- notification settings, language, template of a user ---------------------------------------------------


@doc(
    "Set a user's notification setting, user-wide or for one conversation",
    tag=TAG,
    paths=SETTING_PATHS,
    body=obj({"type": {"enum": ["DEFAULT", "ALL", "AT", "NONE"]}, "ignoreInterval": text("HH:MM-HH:MM, or empty"),
              "ignoreDuration": text("ms of do-not-disturb from now", type="integer")}),
    ok=usergrid(data=SETTING),
    errors={400: "no such user, or a bad value"},
)
@endpoint("push", Access.SELF)
async def set_setting(call: Call) -> Response:
    found, wide = await call.node.push_settings.set_setting(
        call.app, call.arg("username"), call.arg("chattype"), call.arg("key"), await call.json()
    )
    return call.ok("put", path="/users", data=_setting(found, wide))


@doc(
    "A user's notification setting",
    tag=TAG,
    paths=SETTING_PATHS,
    ok=usergrid(data=SETTING),
    errors={400: "no such user"},
)
@endpoint("push", Access.SELF)
async def get_setting(call: Call) -> Response:
    found, wide = await call.node.push_settings.setting(
        call.app, call.arg("username"), call.arg("chattype"), call.arg("key")
    )
    return call.ok("get", path="/users", data=_setting(found, wide))


@doc(
    "Set the language a user's pushes are translated into",
    tag=TAG,
    body=obj({"translationLanguage": text("empty clears")}, ["translationLanguage"]),
    ok=usergrid(data=obj({"language": STR}, ["language"])),
)
@endpoint("push", Access.SELF)
async def set_language(call: Call) -> Response:
    language = await call.node.push_settings.set_language(call.app, call.arg("username"), await call.json())
    return call.ok("put", path="/users", data={"language": language})


@doc(
    "The language a user's pushes are translated into",
    tag=TAG,
    ok=usergrid(data=obj({"language": STR}, ["language"])),
)
@endpoint("push", Access.SELF)
async def get_language(call: Call) -> Response:
    language = await call.node.push_settings.language(call.app, call.arg("username"))
    return call.ok("get", path="/users", data={"language": language})


@doc(
    "Choose the push template of a user",
    tag=TAG,
    body=obj({"templateName": text("empty clears")}, ["templateName"]),
    ok=usergrid(data=obj({"templateName": STR}, ["templateName"])),
    errors={400: "no such template"},
)
@endpoint("push", Access.SELF)
async def set_user_template(call: Call) -> Response:
    name = await call.node.push_settings.set_user_template(call.app, call.arg("username"), await call.json())
    return call.ok("put", path="/users", data={"templateName": name})


@doc(
    "The push template of a user",
    tag=TAG,
    ok=usergrid(data=obj({"templateName": STR}, ["templateName"])),
)
@endpoint("push", Access.SELF)
async def get_user_template(call: Call) -> Response:
    name = await call.node.push_settings.user_template(call.app, call.arg("username"))
    return call.ok("get", path="/users", data={"templateName": name})


# --- the app's templates --------------------------------------------------------------------------------------


@doc(
    "Create a push template",
    tag=TAG,
    body=obj({"name": {"type": "string", "pattern": "^[a-zA-Z0-9]{1,64}$"}, "title_pattern": STR,
              "content_pattern": STR}, ["name", "title_pattern", "content_pattern"]),
    ok=usergrid(data=TEMPLATE),
    errors={400: "a name taken, or a bad value"},
)
@endpoint("push")
async def create_template(call: Call) -> Response:
    return call.ok("post", data=_template(await call.node.push_settings.create_template(call.app, await call.json())))


@doc(
    "A push template",
    tag=TAG,
    paths={"name": "the template's name"},
    ok=usergrid(data=TEMPLATE),
    errors={400: "no such template"},
)
@endpoint("push")
async def get_template(call: Call) -> Response:
    return call.ok("get", data=_template(await call.node.push_settings.template(call.app, call.arg("name"))))


@doc(
    "Change a push template",
    tag=TAG,
    paths={"name": "the template's name"},
    body=obj({"title_pattern": STR, "content_pattern": STR}),
    ok=usergrid(data=TEMPLATE),
    errors={400: "no such template"},
)
@endpoint("push")
async def update_template(call: Call) -> Response:
    found = await call.node.push_settings.update_template(call.app, call.arg("name"), await call.json())
    return call.ok("put", data=_template(found))


@doc(
    "Delete a push template",
    tag=TAG,
    paths={"name": "the template's name"},
    ok=usergrid(data=TEMPLATE),
    errors={400: "no such template"},
)
@endpoint("push")
async def delete_template(call: Call) -> Response:
    return call.ok("delete", data=_template(await call.node.push_settings.delete_template(call.app, call.arg("name"))))


# --- statistics ---------------------------------------------------------------------------------------------------


_DAYS = (date(1970, 1, 1), date(9998, 12, 31))  # statistics are of days pushes can have been sent on


def _day(text: str, field: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise errors.illegal_argument(f"parameters is invalid : {field} must be yyyy-MM-dd") from None
    if not _DAYS[0] <= day <= _DAYS[1]:
        raise errors.illegal_argument(f"parameters is invalid : {field} must be from 1970-01-01 to 9998-12-31")
    return day


@doc(
    "How many pushes were sent and failed, per day",
    tag=TAG,
    paths={"start": "the first day, yyyy-MM-dd", "end": "the last day, yyyy-MM-dd"},
    params=[param("platform", "ALL (the default) or HTTP")],
    ok=obj({"status": STR, "data": {"type": "object", "additionalProperties": OBJ}}, ["status", "data"]),
)
@endpoint("push")
async def statistics(call: Call) -> Response:
    first, last = _day(call.arg("start"), "startTime"), _day(call.arg("end"), "endTime")
    most = call.node.settings.push_stats_days_max
    if last < first or (last - first).days >= most:
        raise errors.illegal_argument(f"parameters is invalid : the period is 1 to {most} days, startTime first")
    platform = call.request.query_params.get("platform") or "ALL"
    data = await call.node.push.statistics(call.app, first, last, platform.upper())
    return json_response({"status": "OK", "data": data})


U = "/{org}/{app}/users/{username}"
T = "/{org}/{app}/notification/template"
routes = [
    Route(U + "/push/binding", bind, methods=["PUT"]),
    Route(U + "/push/binding", bindings, methods=["GET"]),
    Route("/{org}/{app}/push/nickname", nicknames, methods=["PUT"]),
    Route(U + "/notification/language", set_language, methods=["PUT"]),
    Route(U + "/notification/language", get_language, methods=["GET"]),
    Route(U + "/notification/template", set_user_template, methods=["PUT"]),
    Route(U + "/notification/template", get_user_template, methods=["GET"]),
    Route(U + "/notification/{chattype}/{key}", set_setting, methods=["PUT"]),
    Route(U + "/notification/{chattype}/{key}", get_setting, methods=["GET"]),
    Route(T, create_template, methods=["POST"]),
    Route(T + "/{name}", get_template, methods=["GET"]),
    Route(T + "/{name}", update_template, methods=["PUT"]),
    Route(T + "/{name}", delete_template, methods=["DELETE"]),
    Route("/{org}/{app}/push/data/offline-push/begin/{start}/end/{end}", statistics, methods=["GET"]),
]
