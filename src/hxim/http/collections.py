"""User collections over the Easemob REST surface, and the chat-file lifetime that keeps a
collected attachment.

Easemob's user_collection_add_single (`POST /users/{u}/collections`), _add_batch
(`POST /collections` `{"username","collections":[…]}`), _ext_modify
(`PUT /users/{u}/collections/{id}` `{"ext"}`), _get (`GET /users/{u}/collections?begin_time=
&end_time=&direction=&type=&limit=&collection_id=`) and _delete (`DELETE /users/{u}/collections`
`{"collection_ids":[…]}`): their answers are bare, `{"collection":{…}}`, `{"collections":[…]}`
or `{"result":true}`, a collection being `{"id","type","data","ext","createdAt","updatedAt"}`.
The app admin may act on anyone's collections, a user on their own.

message_attachment_storage (`PUT /users/{u}/chatfiles/lifetime`
`{"lifetime":"default"|"refresh"|"forever","chatfile_ids":[…]}`): `data` says `success` or
`failed` for each file id; a user's token changes the files that user uploaded, the admin's any
file of the app (services.files).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import BOOL, INT, NAMES, STR, arr, doc, obj, one_of, param, text, usergrid
from hxim.http.auth import Access, permission_error
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.services.collections import Collection, NewCollection

__all__ = ["routes"]

NUMBER = re.compile(r"-?[0-9]{1,18}")


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Collections"
COLLECTION = obj(
    {"id": STR, "type": INT, "data": STR, "ext": one_of(STR, {"type": "null"}), "createdAt": INT, "updatedAt": INT},
    ["id", "type", "data", "createdAt", "updatedAt"],
)
NEW_COLLECTION = obj(
    {"type": text("the app's kind of collection", type="integer"), "data": STR, "ext": STR,
     "id": text("the collection's id (one is made when left out)")},
    ["type", "data"],
)
QUERY_NUMBER = {"type": "integer"}


def entity(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "type": c.type, "data": c.data, "ext": c.ext, "createdAt": c.created, "updatedAt": c.updated}


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is not None and not isinstance(value, str):
        raise errors.illegal_argument(f"{name} must be a string")
    return value


def _new(item: Any, batch: bool) -> NewCollection:
    """A collection of a request body (`createdAt` only in a batch)."""
    if not isinstance(item, dict):
        raise errors.illegal_argument("a collection must be a JSON object with type and data")
    kind = item.get("type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise errors.illegal_argument("type must be an integer")
    data = _text(item, "data")
    if data is None:
        raise errors.illegal_argument("data can't be empty")
    created = item.get("createdAt") if batch else None
    if created is not None and (isinstance(created, bool) or not isinstance(created, int)):
        raise errors.illegal_argument("createdAt must be a time in milliseconds")
    return NewCollection(kind, data, _text(item, "ext"), _text(item, "id"), created)


async def _body(call: Call) -> dict[str, Any]:
    body = await call.json(call.node.settings.collection_body_max_bytes)
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object")
    return body


@doc(
    "Collect a message for a user",
    tag=TAG,
    body=NEW_COLLECTION,
    ok=obj({"collection": COLLECTION}, ["collection"]),
    errors={404: "no such user"},
)
@endpoint("collections", Access.SELF)
async def add_one(call: Call) -> Response:
    item = _new(await _body(call), batch=False)
    (added,) = await call.node.collections.add(call.app, call.arg("username"), [item])
    return json_response({"collection": entity(added)})


@doc(
    "Collect several messages for a user",
    tag=TAG,
    body=obj({"username": STR, "collections": arr(obj({**NEW_COLLECTION["properties"], "createdAt": INT},
                                                       ["type", "data"]))},
             ["username", "collections"]),
    ok=obj({"collections": arr(COLLECTION)}, ["collections"]),
    errors={404: "no such user"},
)
@endpoint("collections", Access.ANY)
async def add_batch(call: Call) -> Response:
    body = await _body(call)
    username, items = body.get("username"), body.get("collections")
    if not isinstance(username, str) or not username:
        raise errors.illegal_argument("username can't be empty")
    if call.user is not None and call.user.key != username.lower():
        raise permission_error(call.app, call.request.method, call.path)
    if not isinstance(items, list):
        raise errors.illegal_argument("collections must be an array of collections")
    added = await call.node.collections.add(call.app, username, [_new(item, batch=True) for item in items])
    return json_response({"collections": [entity(c) for c in added]})


@doc(
    "Change a collected message's ext",
    tag=TAG,
    paths={"collectionId": "the collection's id"},
    body=obj({"ext": one_of(STR, {"type": "null"})}, ["ext"]),
    ok=obj({"collection": COLLECTION}, ["collection"]),
    errors={404: "no such user or collection"},
)
@endpoint("collections", Access.SELF)
async def set_ext(call: Call) -> Response:
    body = await _body(call)
    if "ext" not in body:
        raise errors.illegal_argument("ext is required")
    changed = await call.node.collections.set_ext(
        call.app, call.arg("username"), call.arg("collectionId"), _text(body, "ext")
    )
    return json_response({"collection": entity(changed)})


def _number(call: Call, name: str) -> int | None:
    raw = call.request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not NUMBER.fullmatch(raw):
        raise errors.illegal_argument(f"{name} must be a number")
    return int(raw)


@doc(
    "A user's collected messages",
    tag=TAG,
    params=[
        param("begin_time", "from (ms)", QUERY_NUMBER),
        param("end_time", "until (ms)", QUERY_NUMBER),
        param("direction", "desc (newest first, the default) or asc", {"enum": ["desc", "asc", "DESC", "ASC"]}),
        param("type", "only this type", QUERY_NUMBER),
        param("limit", "how many", QUERY_NUMBER),
        param("collection_id", "start after this collection"),
    ],
    ok=obj({"collections": arr(COLLECTION)}, ["collections"]),
    errors={404: "no such user"},
)
@endpoint("collections", Access.SELF)
async def list_collections(call: Call) -> Response:
    query = call.request.query_params
    direction = (query.get("direction") or "desc").lower()
    if direction not in ("desc", "asc"):
        raise errors.illegal_argument("direction should be desc or asc")
    found = await call.node.collections.page(
        call.app,
        call.arg("username"),
        descending=direction == "desc",
        limit=_number(call, "limit"),
        kind=_number(call, "type"),
        begin=_number(call, "begin_time") or 0,
        end=_number(call, "end_time"),
        start_id=query.get("collection_id") or None,
    )
    return json_response({"collections": [entity(c) for c in found]})


@doc(
    "Delete collected messages",
    tag=TAG,
    body=obj({"collection_ids": NAMES}, ["collection_ids"]),
    ok=obj({"result": BOOL}, ["result"]),
    errors={404: "no such user"},
)
@endpoint("collections", Access.SELF)
async def delete_collections(call: Call) -> Response:
    ids = (await _body(call)).get("collection_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise errors.illegal_argument("collection_ids must be an array of collection ids")
    await call.node.collections.delete(call.app, call.arg("username"), ids)
    return json_response({"result": True})


# --- chat-file lifetimes -------------------------------------------------------------------------


@doc(
    "Keep chat files for their default time, a new one from now, or for ever",
    tag="Files",
    body=obj({"lifetime": {"enum": ["default", "refresh", "forever"]}, "chatfile_ids": NAMES},
             ["lifetime", "chatfile_ids"]),
    ok=usergrid(data={"type": "object", "additionalProperties": {"enum": ["success", "failed"]}}),
    errors={404: "no such user"},
)
@endpoint("files", Access.SELF)
async def chatfile_lifetime(call: Call) -> Response:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.illegal_argument("the body must be a JSON object with lifetime and chatfile_ids")
    lifetime, ids = body.get("lifetime"), body.get("chatfile_ids")
    if not isinstance(lifetime, str):
        lifetime = ""  # refused by the service in the docs' words
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise errors.illegal_argument("chatfile_ids must be an array of chat file ids")
    user = call.user or await call.node.users.get(call.app, call.arg("username"))
    uploader = call.user.username if call.user is not None else None
    done = await call.node.files.set_lifetime(call.app, lifetime, ids, uploader)
    data = {i: "success" if ok else "failed" for i, ok in done.items()}
    return call.ok("put", path=f"/users/{user.username}/chatfiles/lifetime", data=data)


U = "/{org}/{app}/users/{username}"
routes = [
    Route("/{org}/{app}/collections", add_batch, methods=["POST"]),
    Route(U + "/collections", add_one, methods=["POST"]),
    Route(U + "/collections", list_collections, methods=["GET"]),
    Route(U + "/collections", delete_collections, methods=["DELETE"]),
    Route(U + "/collections/{collectionId}", set_ext, methods=["PUT"]),
    Route(U + "/chatfiles/lifetime", chatfile_lifetime, methods=["PUT"]),
]
