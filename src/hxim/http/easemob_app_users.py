"""Managing app users over the Easemob REST surface: `/{org}/{app}/app_users/{id}`.

The app's backend keeps the accounts of the `/api/v2/easemob` app API here with its app admin
token: `PUT` creates or changes one (JSON profile fields, optional `password` — or a bcrypt
`password_hash` imported from an existing system — and optional `is_admin`; omitted fields
keep their values), `GET` reads one, `DELETE` removes one. Answers use Usergrid's envelope
with one entity of type `app_user`; the password hash is never shown.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import BOOL, INT, STR, doc, obj, one_of, text, usergrid
from hxim.http.auth import Access
from hxim.http.easemob import Call, endpoint
from hxim.services.app_users import AppUser, parse_app_user_id

__all__ = ["routes", "app_user_entity"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "App users"
_TEXT = one_of(STR, {"type": "null"})
APP_USER = obj(
    {"id": INT, "type": {"const": "app_user"}, "name": _TEXT, "bio": _TEXT, "sex": {"enum": [0, 1, 2, None]},
     "location": _TEXT, "avatar": {}, "bg": {}, "verified": {}, "extra": {}, "certification": {},
     "is_admin": BOOL, "has_password": BOOL, "created": INT, "modified": INT},
    ["id", "type", "is_admin", "has_password"],
)
APP_USER_FIELDS = {
    **obj({
        "name": _TEXT, "location": _TEXT, "bio": _TEXT, "sex": {"enum": [0, 1, 2]}, "avatar": {}, "bg": {},
        "verified": {}, "extra": {}, "certification": {}, "is_admin": BOOL,
        "password": one_of(text("at most 72 bytes", minLength=1), {"type": "null"}),
        "password_hash": one_of(text("a bcrypt hash, imported"), {"type": "null"}),
    }),
    "additionalProperties": False,
    "description": "the fields to set (those left out keep their values); password or password_hash, not both",
}


def app_user_entity(user: AppUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "type": "app_user",
        "name": user.name,
        "bio": user.bio,
        "sex": user.sex,
        "location": user.location,
        "avatar": user.avatar,
        "bg": user.bg,
        "verified": user.verified,
        "extra": user.extra,
        "certification": user.certification,
        "is_admin": user.is_admin,
        "has_password": user.password_hash is not None,
        "created": user.created_at,
        "modified": user.updated_at,
    }


def _uid(call: Call) -> int:
    uid = parse_app_user_id(call.arg("id"))
    if uid is None:
        raise errors.illegal_argument(f"app user id [{call.arg('id')}] must be a number from 1 to 2^63-1")
    return uid


def _not_found(uid: int) -> errors.HximError:
    return errors.entity_not_found(f"app user {uid} not found")


@doc(
    "Create or change an app user of the /api/v2 app API",
    tag=TAG,
    body=APP_USER_FIELDS,
    ok=usergrid(entities=APP_USER),
)
@endpoint("users", Access.ADMIN)
async def put_app_user(call: Call) -> Response:
    user, _created = await call.node.app_users.set(call.app, _uid(call), await call.json())
    return call.ok("put", params={}, path="/app_users", entities=[app_user_entity(user)])


@doc("Get an app user", tag=TAG, ok=usergrid(entities=APP_USER), errors={404: "no such app user"})
@endpoint("users", Access.ADMIN)
async def get_app_user(call: Call) -> Response:
    uid = _uid(call)
    user = await call.node.app_users.get(call.app, uid)
    if user is None:
        raise _not_found(uid)
    return call.ok("get", params={}, path="/app_users", entities=[app_user_entity(user)], count=1)


@doc("Delete an app user", tag=TAG, ok=usergrid(entities=APP_USER), errors={404: "no such app user"})
@endpoint("users", Access.ADMIN)
async def delete_app_user(call: Call) -> Response:
    uid = _uid(call)
    user = await call.node.app_users.delete(call.app, uid)
    if user is None:
        raise _not_found(uid)
    return call.ok("delete", params={}, path="/app_users", entities=[app_user_entity(user)])


P = "/{org}/{app}"
routes = [
    Route(P + "/app_users/{id}", put_app_user, methods=["PUT"]),
    Route(P + "/app_users/{id}", get_app_user, methods=["GET"]),
    Route(P + "/app_users/{id}", delete_app_user, methods=["DELETE"]),
]
