"""What each HTTP route says about itself for the OpenAPI document (OpenAPI 3.1, JSON Schema 2020-12).

A handler carries its description as data: `@doc(summary, tag=…, body=…, ok=…, errors=…)` puts a
`Doc` on the endpoint, and the face's authentication wrapper (`http/easemob.py`'s `endpoint`, the
gateway's, the app API's) puts the security it enforces with `secure`. Nothing here runs on a
request: `http/openapi.py` reads these attributes once, when it builds the document.

Schemas are plain dicts. The shapes every answer of a face shares are written once here: Usergrid's
envelope (`usergrid`), Easemob's error JSON (`EASEMOB_ERROR`), the `/hx` envelope (`hx`), and the
main resources (`USER`, `GROUP`, `CHATROOM`, `MESSAGE`, …) as named components.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "ANY",
    "APP_API_JWT",
    "APP_TOKEN",
    "BOOL",
    "COMPONENTS",
    "DOC_ATTR",
    "Doc",
    "EASEMOB_ERROR",
    "ENVELOPE",
    "GATEWAY_KEY",
    "HISTORY_MESSAGE",
    "HX_ENVELOPE",
    "INT",
    "ITEM_RESULT",
    "MESSAGE_BODY",
    "NAMES",
    "NO_TOKEN",
    "NUM",
    "OBJ",
    "Param",
    "ROOM_DETAILS",
    "SECURITY_ATTR",
    "SECURITY_SCHEMES",
    "STR",
    "Schema",
    "USER",
    "USER_TOKEN",
    "arr",
    "component",
    "doc",
    "header",
    "hx",
    "obj",
    "one_of",
    "param",
    "secure",
    "text",
    "usergrid",
]

Schema = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

DOC_ATTR = "openapi_doc"
SECURITY_ATTR = "openapi_security"

# --- schema builders ---------------------------------------------------------------------------

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
ANY: Schema = {}
NAMES: Schema = {"type": "array", "items": {"type": "string"}}

COMPONENTS: dict[str, Schema] = {}


def component(name: str, schema: Schema) -> Schema:
    """Register `schema` under `#/components/schemas/{name}` and return a reference to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: Mapping[str, Schema] | None = None, required: Iterable[str] = (), description: str = "") -> Schema:
    """A JSON object with these properties (others allowed: Easemob adds fields over time)."""
    out: Schema = {"type": "object"}
    if description:
        out["description"] = description
    if props:
        out["properties"] = dict(props)
    needed = list(required)
    if needed:
        out["required"] = needed
    return out


def arr(items: Schema, description: str = "", max_items: int | None = None, min_items: int | None = None) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if description:
        out["description"] = description
    if min_items is not None:
        out["minItems"] = min_items
    if max_items is not None:
        out["maxItems"] = max_items
    return out


def one_of(*schemas: Schema, description: str = "") -> Schema:
    out: Schema = {"anyOf": list(schemas)}
    if description:
        out["description"] = description
    return out


def text(description: str, **more: Any) -> Schema:
    return {"type": "string", "description": description, **more}


# --- the shapes every face shares --------------------------------------------------------------

EASEMOB_ERROR = component(
    "EasemobError",
    obj(
        {
            "error": text("the error's code, e.g. `illegal_argument`, `service_resource_not_found`"),
            "exception": text("the Java exception Easemob names for it"),
            "timestamp": INT,
            "duration": INT,
            "error_description": text("what went wrong, in words"),
        },
        required=["error", "error_description"],
        description="Easemob's error JSON; the token endpoint leaves out `exception`, `timestamp` and `duration`.",
    ),
)

ENVELOPE = component(
    "UsergridEnvelope",
    obj(
        {
            "action": text("the HTTP method in lower case, or the operation's name"),
            "application": text("the app's UUID", format="uuid"),
            "params": {"type": "object", "additionalProperties": NAMES, "description": "the query parameters"},
            "path": STR,
            "uri": STR,
            "entities": arr(ANY),
            "data": ANY,
            "timestamp": INT,
            "duration": INT,
            "organization": STR,
            "applicationName": STR,
            "cursor": text("the next page's cursor"),
            "count": INT,
        },
        required=["action", "timestamp", "duration"],
        description="Usergrid's answer: `entities` and/or `data`, the rest about the request.",
    ),
)


def usergrid(entities: Schema | None = None, data: Schema | None = None, **more: Schema) -> Schema:
    """The Usergrid envelope with these `entities`, `data` and other fields, each required."""
    props: dict[str, Schema] = {}
    if entities is not None:
        props["entities"] = arr(entities) if entities.get("type") != "array" else entities
    if data is not None:
        props["data"] = data
    props.update(more)
    return {"allOf": [ENVELOPE, obj(props, required=list(props))]}


HX_ENVELOPE = component(
    "HxEnvelope",
    obj(
        {
            "code": {"type": "integer", "description": "the HTTP status of the Easemob operation (or of the refusal)"},
            "message": text("请求成功 (success) or 请求失败 (failure), or the gateway's refusal"),
            "msg": text("the same text as `message`"),
            "data": {"description": "the Easemob REST API's answer to the same operation; null for a refusal"},
        },
        required=["code", "message", "msg", "data"],
        description="Every `/hx` answer, with HTTP status 200.",
    ),
)


def hx(data: Schema | None = None) -> Schema:
    """The `/hx` envelope; `data` what the REST API answers on success (or its error JSON)."""
    if data is None:
        return HX_ENVELOPE
    return {"allOf": [HX_ENVELOPE, obj({"data": one_of(data, EASEMOB_ERROR, {"type": "null"})})]}


# --- the main resources ------------------------------------------------------------------------

USER = component(
    "User",
    obj(
        {
            "uuid": {"type": "string", "format": "uuid"},
            "type": {"const": "user"},
            "created": text("ms since the epoch", type="integer"),
            "modified": {"type": "integer"},
            "username": STR,
            "activated": BOOL,
            "nickname": STR,
        },
        required=["uuid", "type", "created", "modified", "username", "activated"],
        description="A user; custom profile fields set with `PUT /users/{username}` follow.",
    ),
)

MESSAGE_BODY = component(
    "MessageBody",
    obj(
        {
            "type": text("txt, img, loc, audio, video, file, cmd or custom"),
            "msg": text("txt: the text"),
            "url": text("img, audio, video, file: the file's URL"),
            "filename": STR,
            "secret": STR,
            "lat": NUM,
            "lng": NUM,
            "addr": STR,
            "action": text("cmd: the action"),
            "customEvent": STR,
            "customExts": OBJ,
        },
        required=["type"],
        description="One message body, Easemob's `msg`/`bodies[]`: its `type` and that type's fields.",
    ),
)

HISTORY_MESSAGE = component(
    "HistoryMessage",
    obj(
        {
            "uuid": STR,
            "type": {"const": "chatmessage"},
            "created": INT,
            "modified": INT,
            "timestamp": INT,
            "from": STR,
            "msg_id": STR,
            "to": STR,
            "chat_type": {"enum": ["chat", "groupchat", "chatroom"]},
            "payload": obj({"bodies": arr(MESSAGE_BODY), "ext": OBJ, "from": STR, "to": STR}),
        },
        required=["uuid", "type", "timestamp", "from", "msg_id", "to", "chat_type", "payload"],
        description="A stored message as the chat history lists it.",
    ),
)

ROOM_DETAILS = component(
    "RoomDetails",
    obj(
        {
            "id": STR,
            "name": STR,
            "description": STR,
            "membersonly": BOOL,
            "allowinvites": BOOL,
            "invite_need_confirm": text("groups only", type="boolean"),
            "public": BOOL,
            "maxusers": INT,
            "owner": STR,
            "created": INT,
            "custom": STR,
            "mute": text("whether everyone is muted now", type="boolean"),
            "affiliations_count": INT,
            "affiliations": arr(
                {"type": "object", "additionalProperties": STR}, "`{\"owner\": name}` then `{\"member\": name}`s"
            ),
            "error": text("only for an id that names no room, with `id`"),
        },
        required=["id"],
        description="A group's or chat room's details (or, in a multi-id answer, an unknown id's error).",
    ),
)

ITEM_RESULT = component(
    "ItemResult",
    obj(
        {"result": BOOL, "action": STR, "reason": text("why it failed"), "user": STR},
        required=["result", "user"],
        description="One user's outcome of a batch group or chat-room operation (with the room's id).",
    ),
)

# --- query parameters and declarations ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: Schema
    description: str = ""
    required: bool = False
    where: str = "query"


def param(name: str, description: str = "", schema: Schema | None = None, required: bool = False) -> Param:
    return Param(name, schema if schema is not None else STR, description, required)


def header(name: str, description: str = "", schema: Schema | None = None, required: bool = False) -> Param:
    return Param(name, schema if schema is not None else STR, description, required, "header")


@dataclass(frozen=True, slots=True)
class Doc:
    """One operation's description. `body`: the JSON request body's schema (`body_type` another
    media type, or several); `ok`: the success's schema (`ok_type` its media type, `ok_status` its
    status: no body for 204); `errors`: the refusals worth naming, by status (every operation also
    answers its face's errors)."""

    summary: str
    tag: str
    description: str = ""
    body: Schema | None = None
    body_required: bool = True
    body_type: str | tuple[str, ...] = "application/json"
    ok: Schema | None = None
    ok_type: str = "application/json"
    ok_status: int = 200
    params: tuple[Param, ...] = ()
    paths: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)


def doc(
    summary: str,
    *,
    tag: str,
    description: str = "",
    body: Schema | None = None,
    body_required: bool = True,
    body_type: str | tuple[str, ...] = "application/json",
    ok: Schema | None = None,
    ok_type: str = "application/json",
    ok_status: int = 200,
    params: Iterable[Param] = (),
    paths: Mapping[str, str] | None = None,
    errors: Mapping[int, str] | None = None,
) -> Callable[[F], F]:
    """Describe the endpoint it decorates (put it above the face's wrapper). `paths` describes the
    path's parameters by name; `description` defaults to the handler's docstring."""

    def attach(fn: F) -> F:
        setattr(
            fn,
            DOC_ATTR,
            Doc(
                summary, tag, description or (fn.__doc__ or "").strip(), body, body_required, body_type, ok,
                ok_type, ok_status, tuple(params), dict(paths or {}), dict(errors or {}),
            ),
        )
        return fn

    return attach


def secure(fn: F, *requirements: Mapping[str, list[str]]) -> F:
    """Record the security requirements the face's wrapper enforces on `fn` (OpenAPI's `security`:
    any one of them; `{}` means no credentials)."""
    setattr(fn, SECURITY_ATTR, [dict(r) for r in requirements])
    return fn


# --- security schemes --------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, Schema] = {
    "easemobAppToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The app admin token: `POST /{org}/{app}/token` with `grant_type` `client_credentials`.",
    },
    "easemobUserToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A user's token: `POST /{org}/{app}/token` with `grant_type` `password` (or `inherit`, "
        "asked with the app admin token). It may act on that user's own resources only.",
    },
    "hxGatewayKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-HX-Gateway-Key",
        "description": "`/hx/getToken` answers callers that send the configured `hx_gateway_key`, and loopback "
        "callers whose request was not proxied. The other `/hx` calls carry the app admin token in the "
        "JSON body's `token` field, which OpenAPI has no security scheme for: each body schema requires it.",
    },
    "appApiJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The app API's HS256 token: `POST /api/v2/auth/login`.",
    },
    "appApiJwtQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The app API's token, in the query string instead of the header.",
    },
}

APP_TOKEN: dict[str, list[str]] = {"easemobAppToken": []}
USER_TOKEN: dict[str, list[str]] = {"easemobUserToken": []}
NO_TOKEN: dict[str, list[str]] = {}
GATEWAY_KEY: dict[str, list[str]] = {"hxGatewayKey": []}
APP_API_JWT: tuple[dict[str, list[str]], ...] = ({"appApiJwt": []}, {"appApiJwtQuery": []})
