"""Text moderation over the Easemob REST surface (services.moderation): keyword lists, their
words and the text check.

Easemob's keyword_list_create (`POST /moderation/text/list`), keyword_list_modify
(`PUT …/list/{id}`), keyword_list_query (`POST …/list/search`), keyword_list_delete
(`DELETE …/list/{id}`), keyword_add (`POST …/list/{id}/word/batch`), keyword_modify
(`PUT …/list/{id}/word`), keyword_query (`POST …/list/{id}/word`), keyword_delete
(`DELETE …/list/{id}/word?wordId=`), keyword_delete_batch (`DELETE …/list/{id}/word/batch`) and
moderation_text_active (`POST /moderation/txt/check`). Answers are `{"status":"OK","entity"}`
or a page `{"status":"OK","entities","first","last","size","number","numberOfElements",
"totalPages","totalElements"}`; the check answers `{"code":200,"data","meta"}`. App admin only.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from hxim import errors
from hxim.http.apidoc import BOOL, INT, NAMES, STR, arr, doc, obj, one_of, param, text
from hxim.http.easemob import Call, endpoint
from hxim.http.render import json_response
from hxim.model import App
from hxim.services.moderation import DISPOSITIONS, SCOPES, KeywordList, ListSettings, Word

__all__ = ["routes"]


# --- what the OpenAPI document says ------------------------------------------------------------

TAG = "Moderation"
PAGE_NUMBER = one_of(INT, STR, description="a number, also as a string")
WORD = obj(
    {"id": STR, "appId": STR, "word": STR, "userId": one_of(STR, {"type": "null"}), "listId": STR, "status": BOOL,
     "createDateTime": INT, "updateDateTime": INT},
    ["id", "word", "listId"],
)
LIST_SETTINGS = obj(
    {"name": STR, "scope": {"enum": list(SCOPES)}, "disposition": {"enum": list(DISPOSITIONS)},
     "tagId": text("needed when scope is TAG"), "fullMatch": BOOL, "userId": STR},
    ["name", "scope", "disposition"],
)
KEYWORD_LIST = obj(
    {"id": STR, "name": STR, "moderationId": STR, "appkey": STR, "category": STR, "scope": STR, "tagId": {},
     "fullMatch": BOOL, "suggestion": STR, "disposition": STR, "quantity": INT, "status": {},
     "createDataTime": INT, "updateDataTime": INT, "textList": arr(WORD)},
    ["id", "name"],
)


def entity_ok(entity: dict[str, Any]) -> dict[str, Any]:
    """What `_ok` answers."""
    return obj({"status": STR, "entity": entity}, ["status"])


def page_ok(entity: dict[str, Any]) -> dict[str, Any]:
    """What `_page` answers."""
    return obj(
        {"status": STR, "entities": arr(entity), "first": BOOL, "last": BOOL, "size": INT, "number": INT,
         "numberOfElements": INT, "totalPages": INT, "totalElements": INT},
        ["status", "entities", "totalElements"],
    )


def word_entity(app: App, w: Word) -> dict[str, Any]:
    return {"id": w.id, "appId": app.id, "word": w.word, "userId": w.creator, "listId": w.list_id, "status": True,
            "createDateTime": w.created, "updateDateTime": w.updated}


def list_entity(app: App, k: KeywordList, words: list[Word] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": k.id, "name": k.name, "moderationId": app.id, "appkey": app.appkey, "category": "DEFAULT",
        "scope": k.scope, "tagId": k.tag_id, "fullMatch": k.full_match, "suggestion": k.disposition,
        "disposition": k.disposition, "quantity": k.quantity, "status": k.status, "createDataTime": k.created,
        "updateDataTime": k.updated,
    }
    if words is not None:
        out["textList"] = [word_entity(app, w) for w in words]
    return out


def _ok(entity: Any = None, with_entity: bool = True) -> Response:
    return json_response({"status": "OK", "entity": entity} if with_entity else {"status": "OK"})


def _page(entities: list[Any], total: int, page: int, size: int) -> Response:
    pages = -(-total // size)
    return json_response({
        "status": "OK", "entities": entities, "first": page == 0, "last": page >= pages - 1, "size": size,
        "number": page, "numberOfElements": len(entities), "totalPages": pages, "totalElements": total,
    })


async def _body(call: Call) -> dict[str, Any]:
    body = await call.json()
    if not isinstance(body, dict):
        raise errors.bad_request("request param is empty")
    return body


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise errors.bad_request(f"{name} must be a string")
    return value


def _number(body: dict[str, Any], name: str) -> int | None:
    """An integer of the body, also written as a string (the pages' examples do)."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 10:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.bad_request(f"{name} must be a number")
    return value


def _settings(body: dict[str, Any]) -> ListSettings:
    full = body.get("fullMatch", False)
    if full is None:
        full = False
    if not isinstance(full, bool):
        raise errors.bad_request("fullMatch must be true or false")
    return ListSettings(
        _text(body, "name") or "", _text(body, "scope") or "", _text(body, "disposition") or "",
        _text(body, "tagId") or None, full, _text(body, "userId") or None,
    )


def _strings(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.bad_request(f"{name} must be an array")
    return value


# --- lists ------------------------------------------------------------------------------------------


@doc(
    "Create a keyword list",
    tag=TAG,
    body=obj({**LIST_SETTINGS["properties"], "textContexts": arr(STR, "its first words")},
             LIST_SETTINGS["required"]),
    ok=entity_ok(KEYWORD_LIST),
)
@endpoint("moderation")
async def create_list(call: Call) -> Response:
    body = await _body(call)
    words = _strings(body, "textContexts")
    created, made = await call.node.moderation.create(call.app, _settings(body), words)
    return _ok(list_entity(call.app, created, made))


@doc(
    "Change a keyword list's settings",
    tag=TAG,
    paths={"list_id": "the list's id"},
    body=LIST_SETTINGS,
    ok=entity_ok(KEYWORD_LIST),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def update_list(call: Call) -> Response:
    changed = await call.node.moderation.update(call.app, call.arg("list_id"), _settings(await _body(call)))
    return _ok(list_entity(call.app, changed))


@doc(
    "Find keyword lists, a page at a time",
    tag=TAG,
    body=obj({"name": STR, "tagId": STR, "page": PAGE_NUMBER, "size": PAGE_NUMBER}),
    ok=page_ok(KEYWORD_LIST),
)
@endpoint("moderation")
async def search_lists(call: Call) -> Response:
    body = await _body(call)
    found, total, page, size = await call.node.moderation.search(
        call.app, _text(body, "name") or None, _text(body, "tagId") or None, _number(body, "page"),
        _number(body, "size"),
    )
    return _page([list_entity(call.app, k) for k in found], total, page, size)


@doc(
    "Delete a keyword list",
    tag=TAG,
    paths={"list_id": "the list's id"},
    ok=obj({"status": STR}, ["status"]),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def delete_list(call: Call) -> Response:
    await call.node.moderation.delete(call.app, call.arg("list_id"))
    return _ok(with_entity=False)


# --- words ------------------------------------------------------------------------------------------


@doc(
    "Add words to a keyword list",
    tag=TAG,
    paths={"list_id": "the list's id"},
    body=obj({"wordContents": arr(STR), "userId": STR}, ["wordContents"]),
    ok=entity_ok(KEYWORD_LIST),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def add_words(call: Call) -> Response:
    body = await _body(call)
    changed, made = await call.node.moderation.add_words(
        call.app, call.arg("list_id"), _strings(body, "wordContents"), _text(body, "userId") or None
    )
    return _ok(list_entity(call.app, changed, made))


@doc(
    "Change a word of a keyword list",
    tag=TAG,
    paths={"list_id": "the list's id"},
    body=obj({"id": STR, "word": STR, "userId": STR}, ["id", "word"]),
    ok=entity_ok(WORD),
    errors={404: "no such list or word"},
)
@endpoint("moderation")
async def update_word(call: Call) -> Response:
    body = await _body(call)
    word = await call.node.moderation.update_word(
        call.app, call.arg("list_id"), _text(body, "id") or "", _text(body, "word") or "",
        _text(body, "userId") or None,
    )
    return _ok(word_entity(call.app, word))


@doc(
    "Find words of a keyword list, a page at a time",
    tag=TAG,
    paths={"list_id": "the list's id"},
    body=obj({"word": STR, "page": PAGE_NUMBER, "size": PAGE_NUMBER}),
    ok=page_ok(WORD),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def query_words(call: Call) -> Response:
    body = await _body(call)
    found, total, page, size = await call.node.moderation.words(
        call.app, call.arg("list_id"), _text(body, "word") or "", _number(body, "page"), _number(body, "size")
    )
    return _page([word_entity(call.app, w) for w in found], total, page, size)


@doc(
    "Delete a word of a keyword list",
    tag=TAG,
    paths={"list_id": "the list's id"},
    params=[param("wordId", "the word's id", required=True)],
    ok=entity_ok(BOOL),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def delete_word(call: Call) -> Response:
    word_id = call.request.query_params.get("wordId", "")
    if not word_id:
        raise errors.bad_request("request data is empty")
    gone = await call.node.moderation.delete_words(call.app, call.arg("list_id"), [word_id])
    return _ok(gone > 0)


@doc(
    "Delete words of a keyword list",
    tag=TAG,
    paths={"list_id": "the list's id"},
    body=obj({"wordIds": NAMES}, ["wordIds"]),
    ok=entity_ok(text("0 when some were deleted, else 1", type="integer")),
    errors={404: "no such list"},
)
@endpoint("moderation")
async def delete_words(call: Call) -> Response:
    ids = _strings(await _body(call), "wordIds")
    if not all(isinstance(i, str) for i in ids):
        raise errors.bad_request("wordIds must be an array of keyword ids")
    gone = await call.node.moderation.delete_words(call.app, call.arg("list_id"), ids)
    return _ok(0 if gone else 1)


# --- the text check ---------------------------------------------------------------------------------


@doc(
    "Check a text against the app's keyword lists",
    tag=TAG,
    body=obj({"content": STR}, ["content"]),
    ok=obj(
        {
            "code": INT,
            "data": obj(
                {"type": STR, "riskType": STR, "riskLabel": STR, "exchangeText": STR, "sensitiveWords": arr({})},
                ["type"],
            ),
            "meta": obj({"timestamp": INT, "requestId": STR}),
        },
        ["code", "data"],
    ),
)
@endpoint("moderation")
async def check_text(call: Call) -> Response:
    content = (await _body(call)).get("content")
    if not isinstance(content, str):
        raise errors.bad_request("message content is empty or null")
    found = call.node.moderation.check(call.app, content)
    hit = found.type != "PASS"
    return json_response({
        "code": 200,
        "data": {
            "type": found.type,
            "riskType": "违禁" if hit else "无风险",
            "riskLabel": "BAN" if hit else "NONE",
            "exchangeText": found.exchanged,
            "sensitiveWords": found.found,
        },
        "meta": {"timestamp": int(time.time() * 1000), "requestId": ""},
    })


M = "/{org}/{app}/moderation/text/list"
routes = [
    Route("/{org}/{app}/moderation/txt/check", check_text, methods=["POST"]),
    Route(M, create_list, methods=["POST"]),
    Route(M + "/search", search_lists, methods=["POST"]),
    Route(M + "/{list_id}", update_list, methods=["PUT"]),
    Route(M + "/{list_id}", delete_list, methods=["DELETE"]),
    Route(M + "/{list_id}/word/batch", add_words, methods=["POST"]),
    Route(M + "/{list_id}/word/batch", delete_words, methods=["DELETE"]),
    Route(M + "/{list_id}/word", update_word, methods=["PUT"]),
    Route(M + "/{list_id}/word", query_words, methods=["POST"]),
    Route(M + "/{list_id}/word", delete_word, methods=["DELETE"]),
]
