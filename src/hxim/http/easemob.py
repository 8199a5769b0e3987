"""The Easemob REST surface: `/{org}/{app}/…` (easemob-rest.md §1–§3, §5, §8, §9.1), and the REST
calls of the Web IM SDK beyond it (message roaming, webim-xmpp.md §2.6). Contacts and blocks (§4)
are in `http/contacts.py`.

Each handler authenticates (through `endpoint`), parses, calls one service function and
renders the answer in Usergrid's envelope. Handlers never touch storage.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.app import Node
from hxim.errors import HximError
from hxim.http import apidoc, pipeline
from hxim.http import easemob_ops as ops
from hxim.http.apidoc import (
    BOOL,
    INT,
    NAMES,
    STR,
    USER,
    arr,
    doc,
    header,
    obj,
    one_of,
    param,
    text,
    usergrid,
)
from hxim.http.auth import Access, check_grant
from hxim.http.pipeline import BODY_TIMEOUT, TOO_LARGE, Face, bearer_token, caller, check_rate, read_json
from hxim.http.render import envelope, error_response, json_response, user_entity
from hxim.model import App
from hxim.services.apps import secret_matches
from hxim.services.files import StoredFile

__all__ = ["routes", "Call", "EASEMOB", "endpoint", "file_response", "read_upload"]



class Call(ops.OpContext):
    """One request on the Easemob surface, with its app and credentials once checked."""

    __slots__ = ("request",)

    def __init__(self, request: Request, node: Node, app: App, started: float, path: str) -> None:
        super().__init__(node, app, started, path)
        self.request = request

    def arg(self, name: str) -> str:
        return self.request.path_params[name]

    def params(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self.request.query_params.multi_items():
            out.setdefault(key, []).append(value)
        return out

    def base(self) -> str:
        return self.node.settings.public_url.rstrip("/") or _base_url(self.request)

    @property
    def is_admin(self) -> bool:
        return self.grant is not None and self.grant.is_admin

    async def json(self, limit: int | None = None) -> Any:
        settings = self.node.settings
        return await read_json(self.request, EASEMOB, settings, limit)

    def ok(self, action: str, **fields: Any) -> Response:
        return json_response(envelope(action=action, app=self.app, uri=self.uri(), started=self.started, **fields))


_BASES: dict[tuple[str, str], str] = {}


def _base_url(request: Request) -> str:
    """scheme://host[:port] of the request, remembered per (scheme, Host header)."""
    key = (request.scope.get("scheme", "http"), request.headers.get("host", ""))
    base = _BASES.get(key)
    if base is None:
        base = str(request.base_url).rstrip("/")
        if len(_BASES) < 256:
            _BASES[key] = base
    return base


class EasemobFace(Face):
    """Easemob's error JSON (`render.error_body`) for every refusal: the services' `HximError`s,
    and the bodies the pipeline refuses (413, Jackson's parse error, or `illegal_argument`)."""

    def body_refused(self, reason: str, description: str, limit: int) -> Exception:
        if reason == TOO_LARGE:
            return errors.too_large(limit)
        if reason == BODY_TIMEOUT:
            return errors.web_application(408, description, "javax.ws.rs.WebApplicationException")
        if reason == "syntax":
            return errors.json_parse(f"Unexpected character: {description}")
        return errors.illegal_argument(description)

    def render_error(self, err: HximError, started: float) -> Response:
        return error_response(err, started)


EASEMOB = EasemobFace()

# What several operations of the OpenAPI document share.
LIMIT = {"type": "integer", "minimum": 1}
USER_NEW = obj({"username": STR, "password": STR, "nickname": STR}, ["username", "password"])
ACTION_ONLY = obj({"action": STR, "timestamp": INT, "duration": INT}, ["action"])
Handler = Callable[[Call], Awaitable[Response]]


def endpoint(
    family: str, access: Access = Access.ADMIN, who: str = "username"
) -> Callable[[Handler], pipeline.Endpoint]:
    """Wrap a handler in the pipeline: find the app, apply the rate limit, check the token."""

    def wrap(fn: Handler) -> pipeline.Endpoint:
        async def enter(request: Request, started: float) -> Call:
            node: Node = request.app.state.node
            org = request.path_params["org"]
            name = request.path_params["app"]
            path = request.url.path[len(org) + len(name) + 2 :]
            app = await node.apps.get(org, name, f"{org}/{name}{path}")
            call = Call(request, node, app, started, path)
            await _authorize(call, family, access, who)  # first: a caller that is nobody spends nothing
            if family in node.limiter.limits:
                grant = call.grant
                await check_rate(node, app, family, caller(grant is not None and grant.is_admin, _uid(call), request))
            return call

        return apidoc.secure(pipeline.endpoint(EASEMOB, enter, fn), *SECURITY[access])

    return wrap


# The tokens each access level takes, for the OpenAPI document.
SECURITY: dict[Access, tuple[dict[str, list[str]], ...]] = {
    Access.NONE: (),
    Access.ADMIN: (apidoc.APP_TOKEN,),
    Access.SELF: (apidoc.APP_TOKEN, apidoc.USER_TOKEN),
    Access.ANY: (apidoc.APP_TOKEN, apidoc.USER_TOKEN),
    Access.REGISTER: (apidoc.APP_TOKEN, apidoc.NO_TOKEN),
}


def _uid(call: Call) -> int | None:
    if call.user is not None:
        return call.user.id
    return None


async def _authorize(call: Call, family: str, access: Access, who: str) -> None:
    if access is Access.NONE:
        return
    call.grant, call.user = await ops.authorize(
        call.node,
        call.app,
        bearer_token(call.request),
        family,
        access,
        call.request.method,
        call.path,
        call.request.path_params.get(who, ""),
    )


# --- tokens ------------------------------------------------------------------------------------


@doc(
    "Get a token: the app's (client credentials), a user's (password), or a user's for the app (inherit)",
    tag="Tokens",
    body=obj(
        {
            "grant_type": {"enum": ["client_credentials", "password", "inherit"]},
            "client_id": STR,
            "client_secret": STR,
            "username": STR,
            "password": STR,
            "ttl": one_of(INT, STR, description="seconds (0: the longest this server gives)"),
            "autoCreateUser": text("inherit: register the user first if needed", type="boolean"),
        },
        required=["grant_type"],
    ),
    ok=one_of(
        obj({"access_token": STR, "expires_in": INT, "application": STR},
            ["access_token", "expires_in", "application"]),
        obj({"access_token": STR, "expires_in": INT, "user": USER}, ["access_token", "expires_in", "user"]),
    ),
    errors={400: "invalid_grant (wrong credentials) or unsupported_grant_type", 429: "too many failed logins"},
)
@endpoint("token", Access.NONE)
async def token(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.invalid_grant("the request body must be a JSON object with grant_type")
    grant_type = body.get("grant_type")
    ttl = body.get("ttl")
    if isinstance(ttl, str) and ttl.isdecimal():  # Easemob's own examples send it as a string
        ttl = int(ttl)
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise errors.illegal_argument("ttl must be a number of seconds")
    # 0 ("never expires" at Easemob) and anything longer get the longest lifetime this server gives
    ttl = min(ttl, call.node.settings.token_ttl_seconds) if ttl else call.node.settings.token_ttl_seconds
    tokens, logins = call.node.tokens, call.node.logins
    address = call.request.client.host if call.request.client else ""
    if grant_type == "client_credentials":
        account = "#client_credentials"  # the app's own credentials: throttled like an account
        wait = logins.wait(call.app.id, account, address)
        if wait:
            raise errors.login_throttled(wait)
        if body.get("client_id") != call.app.client_id:
            raise errors.invalid_grant("client_id does not match")
        secret = body.get("client_secret")
        if not isinstance(secret, str) or not secret_matches(call.app, secret):
            logins.failed(call.app.id, account, address)
            raise errors.invalid_grant("client_secret does not match")
        logins.succeeded(call.app.id, account, address)
        return json_response(ops.issue_admin_token(call.node, call.app, ttl))
    if grant_type == "password":
        username = body.get("username")
        account = username.lower() if isinstance(username, str) else ""
        wait = logins.wait(call.app.id, account, address)
        if wait:
            raise errors.login_throttled(wait)
        try:
            user = await call.node.users.authenticate(call.app, username, body.get("password"))
        except HximError as exc:
            if exc.error == "invalid_grant":
                logins.failed(call.app.id, account, address)
            raise
        logins.succeeded(call.app.id, account, address)
        return json_response(
            {"access_token": tokens.issue_user(call.app, user, ttl), "expires_in": ttl, "user": user_entity(user)}
        )
    if grant_type == "inherit":
        return json_response(await _inherit(call, body, ttl))
    raise HximError(
        400, "unsupported_grant_type", f"grant_type [{grant_type}] is not supported", None, bare=True
    )


async def _inherit(call: Call, body: dict[str, Any], ttl: int) -> dict[str, Any]:
    """`grant_type: inherit`: the app's backend, with its admin token, takes a token for one of
    its users by name, no password asked; with `autoCreateUser` a user who does not exist yet is
    registered first (with a random password: they log in with tokens)."""
    await ops.authorize(call.node, call.app, bearer_token(call.request), "token", Access.ADMIN, "POST", call.path)
    username, create = body.get("username"), body.get("autoCreateUser", False)
    if not isinstance(username, str) or not username:
        raise errors.illegal_argument("username can't be empty")
    if not isinstance(create, bool):
        raise errors.illegal_argument("autoCreateUser must be true or false")
    users = call.node.users
    user = await users.find(call.app, username)
    if user is None and create:
        try:
            (user,) = await users.register(call.app, [{"username": username, "password": secrets.token_urlsafe(24)}])
        except HximError as exc:
            if exc.error != "duplicate_unique_property_exists":
                raise
            user = await users.find(call.app, username)  # registered by a concurrent request
    if user is None:
        raise HximError(404, "invalid_grant", "user not found", None, "item-not-found", bare=True)
    if not user.activated:
        raise errors.invalid_grant("user not activated")
    return {"access_token": call.node.tokens.issue_user(call.app, user, ttl), "expires_in": ttl,
            "user": user_entity(user)}


# --- users -------------------------------------------------------------------------------------


def limit_param(call: Call, default: int, maximum: int) -> int:
    raw = call.request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdecimal() or not 1 <= int(raw) <= maximum:
        raise errors.illegal_argument(f"limit must be a number from 1 to {maximum}")
    return int(raw)


@doc(
    "Register a user, or (app token) several",
    tag="Users",
    description="Without a token only when the app has open registration.",
    body=one_of(USER_NEW, arr(USER_NEW, min_items=1)),
    ok=usergrid(entities=USER),
    errors={400: "a name taken or not allowed, a bad password"},
)
@endpoint("users", Access.REGISTER)
async def register(call: Call) -> Response:
    return json_response(await ops.register(call, await call.json()))


@doc(
    "List users, a page at a time, or those a query names",
    tag="Users",
    params=[
        param("limit", "users per page", LIMIT),
        param("cursor", "the page after the one that answered this cursor"),
        param("ql", "`select * where username='a' or username='b'`"),
    ],
    ok=usergrid(entities=USER),
)
@endpoint("users")
async def list_users(call: Call) -> Response:
    limit = limit_param(call, 10, call.node.settings.users_page_max)
    cursor = call.request.query_params.get("cursor")
    return json_response(await ops.list_users(call, limit, cursor, call.params()))


@doc(
    "Delete the oldest users",
    tag="Users",
    params=[param("limit", "how many", LIMIT)],
    ok=usergrid(entities=USER),
)
@endpoint("users")
async def delete_users(call: Call) -> Response:
    limit = limit_param(call, 10, call.node.settings.users_delete_batch_max)
    gone, cursor = await call.node.users.delete_oldest(call.app, limit)
    return call.ok(
        "delete",
        params=call.params(),
        path="/users",
        entities=[user_entity(u) for u in gone],
        cursor=cursor,
        count=len(gone),
    )


@doc("Get a user", tag="Users", ok=usergrid(entities=USER), errors={404: "no such user"})
@endpoint("users", Access.SELF)
async def get_user(call: Call) -> Response:
    return json_response(await ops.get_user(call, call.arg("username")))


@doc(
    "Change a user's nickname or profile fields",
    tag="Users",
    body=obj({"nickname": STR}, description="the fields to set; `{\"entities\":[{…}]}` is taken too"),
    ok=usergrid(entities=USER),
    errors={404: "no such user"},
)
@endpoint("users", Access.SELF)
async def update_user(call: Call) -> Response:
    body = await call.json()
    # The Web IM SDK 1.8's blockGroup sends Usergrid's wrapped form `{"entities":[{fields}]}`
    # (webim-xmpp.md §2.7): the one entity's fields are the change.
    if isinstance(body, dict) and list(body) == ["entities"] and isinstance(body["entities"], list):
        if len(body["entities"]) != 1:
            raise errors.illegal_argument("entities must hold exactly one entity")
        body = body["entities"][0]
    user = await call.node.users.update(call.app, call.arg("username"), body)
    return call.ok("put", params={}, path="/users", entities=[user_entity(user)])


@doc("Delete a user", tag="Users", ok=usergrid(entities=USER), errors={404: "no such user"})
@endpoint("users")
async def delete_user(call: Call) -> Response:
    user = await call.node.users.delete(call.app, call.arg("username"))
    return call.ok("delete", params={}, path="/users", entities=[user_entity(user)])


@doc(
    "Set a user's password (app token), or change one's own (user token, with the old one)",
    tag="Users",
    body=obj({"newpassword": STR, "oldpassword": STR}, ["newpassword"]),
    ok=ACTION_ONLY,
    errors={404: "no such user"},
)
@endpoint("users", Access.SELF)
async def reset_password(call: Call) -> Response:
    return json_response(await ops.reset_password(call, call.arg("username"), await call.json()))


def _action_only(call: Call, action: str) -> Response:
    return json_response(ops.action_only(call, action))


@doc(
    "Deactivate a user: their sessions end and they cannot log in",
    tag="Users",
    ok=obj({"action": STR, "entities": arr(USER)}, ["action", "entities"]),
    errors={404: "no such user"},
)
@endpoint("users")
async def deactivate(call: Call) -> Response:
    user = await call.node.users.set_activated(call.app, call.arg("username"), False)
    return json_response(
        {
            "action": "Deactivate user",
            "entities": [user_entity(user)],
            "timestamp": int(time.time() * 1000),
            "duration": int((time.perf_counter() - call.started) * 1000),
        }
    )


@doc("Activate a user again", tag="Users", ok=ACTION_ONLY, errors={404: "no such user"})
@endpoint("users")
async def activate(call: Call) -> Response:
    await call.node.users.set_activated(call.app, call.arg("username"), True)
    return _action_only(call, "activate user")


@doc(
    "End every session of a user",
    tag="Users",
    ok=usergrid(data=obj({"result": BOOL}, ["result"])),
    errors={404: "no such user"},
)
@endpoint("users")
async def disconnect(call: Call) -> Response:
    kicked = await call.node.users.disconnect(call.app, call.arg("username"))
    return call.ok("get", entities=[], data={"result": kicked}, count=0)


@doc(
    "End the session of one of a user's devices",
    tag="Users",
    paths={"resource": "the session's resource"},
    ok=usergrid(data=obj({"result": BOOL}, ["result"])),
    errors={404: "no such user"},
)
@endpoint("users")
async def disconnect_device(call: Call) -> Response:
    """`DELETE /users/{u}/disconnect/{resource}`: end the one session bound to that resource."""
    kicked = await call.node.users.disconnect(call.app, call.arg("username"), call.arg("resource"))
    return call.ok("delete", entities=[], data={"result": kicked})


@doc(
    "A user's live sessions",
    tag="Users",
    ok=usergrid(data=arr(obj({"res": STR, "device_uuid": STR, "device_name": STR}, ["res", "device_uuid"]))),
    errors={404: "no such user"},
)
@endpoint("users")
async def devices(call: Call) -> Response:
    """`GET /users/{u}/resources`: the user's live sessions, every protocol's. `device_uuid` is
    stable for one user and resource; `device_name` says what kind of client holds it."""
    user, found = await call.node.users.devices(call.app, call.arg("username"))
    data = [
        {"res": res, "device_uuid": str(uuid.uuid5(user.uuid, res)), "device_name": device} for res, device in found
    ]
    return call.ok("get", path=f"/users/{user.username}/resources", entities=[], data=data)


@doc(
    "Whether a user is online",
    tag="Users",
    ok=usergrid(data={"type": "object", "additionalProperties": {"enum": ["online", "offline"]}}),
    errors={404: "no such user"},
)
@endpoint("status", Access.SELF)
async def status(call: Call) -> Response:
    return json_response(await ops.status(call, call.arg("username")))


@doc(
    "Whether each of some users is online",
    tag="Users",
    body=obj({"usernames": NAMES}, ["usernames"]),
    ok=obj({"action": STR, "data": arr({"type": "object", "additionalProperties": {"enum": ["online", "offline"]}})},
           ["data"]),
)
@endpoint("status")
async def batch_status(call: Call) -> Response:
    body = await call.json()
    names = body.get("usernames") if isinstance(body, dict) else None
    result = call.node.users.batch_status(call.app, names)
    return json_response(
        {
            "action": "get batch user status",
            "data": [{n: "online" if on else "offline"} for n, on in result],
            "timestamp": int(time.time() * 1000),
            "duration": int((time.perf_counter() - call.started) * 1000),
        }
    )


@doc(
    "How many messages wait for a user",
    tag="Users",
    ok=usergrid(data={"type": "object", "additionalProperties": INT}),
    errors={404: "no such user"},
)
@endpoint("offline", Access.SELF)
async def offline_count(call: Call) -> Response:
    return json_response(await ops.offline_count(call, call.arg("username")))


@doc(
    "Whether a message kept for a user has been delivered",
    tag="Users",
    paths={"msg_id": "the message's id"},
    ok=usergrid(data={"type": "object", "additionalProperties": {"enum": ["delivered", "undelivered"]}}),
    errors={404: "no such user"},
)
@endpoint("offline", Access.SELF)
async def offline_status(call: Call) -> Response:
    msg_id = call.arg("msg_id")
    _, delivered = await call.node.messages.offline_status(call.app, call.arg("username"), msg_id)
    return call.ok("get", entities=[], data={msg_id: "delivered" if delivered else "undelivered"}, count=0)


# --- chat files --------------------------------------------------------------------------------


async def read_upload(call: Call, missing: str = "") -> tuple[str, str, bytes]:
    """(file name, content type, content) of the multipart field `file`, within `chatfile_max_bytes`;
    `missing`: the refusal's text when there is no such field."""
    limit = call.node.settings.chatfile_max_bytes
    if pipeline.declared_past(call.request, limit + 64 * 1024):
        raise errors.too_large(limit)
    refused = "the upload must be multipart/form-data with a field named file"
    try:
        form = await call.request.form(max_files=1, max_fields=16, max_part_size=limit + 1)
    except Exception as exc:  # python-multipart reports size and syntax problems alike
        if "size" in str(exc).lower() or "large" in str(exc).lower():
            raise errors.too_large(limit) from None
        raise errors.illegal_argument(f"{refused}: {exc}") from None
    part = form.get("file")
    if part is None or isinstance(part, str):
        raise errors.illegal_argument(missing or refused)
    content = await part.read()
    await form.close()
    return part.filename or "file", part.content_type or "application/octet-stream", content


@doc(
    "Upload a chat file",
    tag="Files",
    description="With the header `restrict-access: true` the file needs its `share-secret` to download.",
    body=obj({"file": {"type": "string", "contentMediaType": "application/octet-stream"}}, ["file"]),
    body_type="multipart/form-data",
    params=[header("restrict-access", "any value: the file needs its share-secret")],
    ok=usergrid(entities=obj({"uuid": STR, "type": {"const": "chatfile"}, "share-secret": STR}, ["uuid", "type"])),
    errors={413: "past chatfile_max_bytes"},
)
@endpoint("files", Access.ANY)
async def upload(call: Call) -> Response:
    filename, content_type, content = await read_upload(call)
    stored = await call.node.files.upload(
        call.app,
        call.user.username if call.user else None,
        filename,
        content_type,
        content,
        "restrict-access" in call.request.headers,
    )
    entity: dict[str, Any] = {"uuid": stored.uuid, "type": "chatfile"}
    if stored.share_secret is not None:
        entity["share-secret"] = stored.share_secret
    return call.ok("post", path="/chatfiles", entities=[entity])


@doc(
    "Download a chat file",
    tag="Files",
    paths={"file": "the file's UUID"},
    params=[
        header("share-secret", "the file's secret, for a restricted file"),
        param("share-secret", "the same, in the query string"),
    ],
    ok={"type": "string", "contentMediaType": "application/octet-stream"},
    ok_type="application/octet-stream",
    errors={404: "no such file"},
)
@endpoint("files", Access.NONE)
async def download(call: Call) -> Response:
    token = bearer_token(call.request)
    admin = authenticated = False
    if token is not None:
        grant = check_grant(call.node.tokens, call.app, token, "files", "GET", call.path)
        if not grant.is_admin:
            await call.node.users.user_for_grant(call.app, grant)
        admin, authenticated = grant.is_admin, True
    secret = call.request.headers.get("share-secret") or call.request.query_params.get("share-secret")
    stored = await call.node.files.download(call.app, call.arg("file"), secret, admin, authenticated)
    return file_response(stored)


def file_response(stored: StoredFile) -> Response:
    """A stored file as its download: shown inline only when that runs nothing of it."""
    disposition = "inline" if _shown_inline(stored.content_type) else "attachment"
    return Response(
        stored.content,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote(stored.filename)}",
            "Cache-Control": "private, max-age=86400",
            # the type is the uploader's word: never sniffed, never a page that runs scripts here
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


def _shown_inline(content_type: str) -> bool:
    """Pictures, sound and video, which a browser shows without running anything of the file's
    (SVG excepted: it can hold scripts), are served inline for `<img>`, `<audio>` and `<video>`;
    anything else (HTML, SVG, scripts, documents) is an attachment, downloaded, not displayed on
    this server's origin (docs/DECISIONS.md)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(("image/", "audio/", "video/")) and kind != "image/svg+xml"


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


# --- the route table ---------------------------------------------------------------------------

P = "/{org}/{app}"
routes = [
    Route(P + "/token", token, methods=["POST"]),
    Route(P + "/users", register, methods=["POST"]),
    Route(P + "/users", list_users, methods=["GET"]),
    Route(P + "/users", delete_users, methods=["DELETE"]),
    Route(P + "/users/batch/status", batch_status, methods=["POST"]),
    Route(P + "/users/{username}", get_user, methods=["GET"]),
    Route(P + "/users/{username}", update_user, methods=["PUT"]),
    Route(P + "/users/{username}", delete_user, methods=["DELETE"]),
    Route(P + "/users/{username}/password", reset_password, methods=["PUT", "POST"]),
    Route(P + "/users/{username}/deactivate", deactivate, methods=["POST"]),
    Route(P + "/users/{username}/activate", activate, methods=["POST"]),
    Route(P + "/users/{username}/disconnect", disconnect, methods=["GET"]),
    Route(P + "/users/{username}/disconnect/{resource}", disconnect_device, methods=["DELETE"]),
    Route(P + "/users/{username}/resources", devices, methods=["GET"]),
    Route(P + "/users/{username}/status", status, methods=["GET"]),
    Route(P + "/users/{username}/offline_msg_count", offline_count, methods=["GET"]),
    Route(P + "/users/{username}/offline_msg_status/{msg_id}", offline_status, methods=["GET"]),
    Route(P + "/chatfiles", upload, methods=["POST"]),
    Route(P + "/chatfiles/{file}", download, methods=["GET"]),
]
