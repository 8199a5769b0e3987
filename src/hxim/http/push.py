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
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.storage.push import Binding, Setting, Template

__all__ = ["routes"]


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


@endpoint("push", Access.SELF)
async def bind(call: Call) -> Response:
    found = await call.node.push_settings.bind(call.app, call.arg("username"), await call.json())
    return call.ok("put", entities=_bindings(found))


@endpoint("push", Access.SELF)
async def bindings(call: Call) -> Response:
    return call.ok("get", entities=_bindings(await call.node.push_settings.bindings(call.app, call.arg("username"))))


@endpoint("push")
async def nicknames(call: Call) -> Response:
    done = await call.node.push_settings.set_nicknames(call.app, await call.json())
    return call.ok("put", path="/push", entities=[{"push_nickname": n, "username": u} for u, n in done])


# --- notification settings, language, template of a user ---------------------------------------------------


@endpoint("push", Access.SELF)
async def set_setting(call: Call) -> Response:
    found, wide = await call.node.push_settings.set_setting(
        call.app, call.arg("username"), call.arg("chattype"), call.arg("key"), await call.json()
    )
    return call.ok("put", path="/users", data=_setting(found, wide))


@endpoint("push", Access.SELF)
async def get_setting(call: Call) -> Response:
    found, wide = await call.node.push_settings.setting(
        call.app, call.arg("username"), call.arg("chattype"), call.arg("key")
    )
    return call.ok("get", path="/users", data=_setting(found, wide))


@endpoint("push", Access.SELF)
async def set_language(call: Call) -> Response:
    language = await call.node.push_settings.set_language(call.app, call.arg("username"), await call.json())
    return call.ok("put", path="/users", data={"language": language})


@endpoint("push", Access.SELF)
async def get_language(call: Call) -> Response:
    language = await call.node.push_settings.language(call.app, call.arg("username"))
    return call.ok("get", path="/users", data={"language": language})


@endpoint("push", Access.SELF)
async def set_user_template(call: Call) -> Response:
    name = await call.node.push_settings.set_user_template(call.app, call.arg("username"), await call.json())
    return call.ok("put", path="/users", data={"templateName": name})


@endpoint("push", Access.SELF)
async def get_user_template(call: Call) -> Response:
    name = await call.node.push_settings.user_template(call.app, call.arg("username"))
    return call.ok("get", path="/users", data={"templateName": name})


# --- the app's templates --------------------------------------------------------------------------------------


@endpoint("push")
async def create_template(call: Call) -> Response:
    return call.ok("post", data=_template(await call.node.push_settings.create_template(call.app, await call.json())))


@endpoint("push")
async def get_template(call: Call) -> Response:
    return call.ok("get", data=_template(await call.node.push_settings.template(call.app, call.arg("name"))))


@endpoint("push")
async def update_template(call: Call) -> Response:
    found = await call.node.push_settings.update_template(call.app, call.arg("name"), await call.json())
    return call.ok("put", data=_template(found))


@endpoint("push")
async def delete_template(call: Call) -> Response:
    return call.ok("delete", data=_template(await call.node.push_settings.delete_template(call.app, call.arg("name"))))


# --- statistics ---------------------------------------------------------------------------------------------------


def _day(text: str, field: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise errors.illegal_argument(f"parameters is invalid : {field} must be yyyy-MM-dd") from None


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
