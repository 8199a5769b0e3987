"""User collections (Easemob's user_collection_add_single, _add_batch, _ext_modify, _get and
_delete pages): `/users/{u}/collections…` and `POST /collections`."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from conftest import Api, Server, assert_error, unique

KEYS = ["id", "type", "data", "ext", "createdAt", "updatedAt"]
NOT_FOUND = "user collection not found"


def _user(api: Api, prefix: str = "c") -> str:
    name = unique(prefix)
    api.register(name)
    return name


def _one(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["collection"], body
    assert list(body["collection"]) == KEYS
    return body["collection"]


def _many(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["collections"], body
    assert all(list(c) == KEYS for c in body["collections"])
    return body["collections"]


def _ids(api: Api, name: str, **params: Any) -> list[str]:
    return [c["id"] for c in _many(api.get(f"/users/{name}/collections", params=params))]


def _batch(api: Api, name: str, *items: tuple[str, int, int], **kw: Any) -> list[dict[str, Any]]:
    """Add (id, type, createdAt) items with POST /collections."""
    body = {"username": name, "collections": [
        {"id": i, "type": t, "data": f"data of {i}", "ext": f"ext of {i}", "createdAt": at} for i, t, at in items
    ]}
    return _many(api.post("/collections", json=body, **kw))


# --- add --------------------------------------------------------------------------------------------


def test_add_one_then_read_it(api: Api) -> None:
    name = _user(api)
    before = int(time.time() * 1000)
    c = _one(api.post(f"/users/{name}/collections", json={"id": "fav-1", "data": "a message", "type": 0,
                                                           "ext": "info"}))
    assert (c["id"], c["type"], c["data"], c["ext"]) == ("fav-1", 0, "a message", "info")
    assert before <= c["createdAt"] == c["updatedAt"] <= time.time() * 1000
    assert _many(api.get(f"/users/{name.upper()}/collections")) == [c]


def test_add_without_id_or_ext(api: Api) -> None:
    name = _user(api)
    c = _one(api.post(f"/users/{name}/collections", json={"data": "x", "type": 7}))
    assert uuid.UUID(c["id"]) and c["ext"] is None and c["type"] == 7
    assert _ids(api, name) == [c["id"]]


def test_batch_keeps_created_at_and_pages(api: Api) -> None:
    name = _user(api)
    added = _batch(api, name, ("a", 1, 1000), ("b", 2, 2000), ("c", 1, 3000), ("d", 2, 3000), ("e", 1, 5000))
    assert [(c["id"], c["createdAt"], c["ext"]) for c in added] == [
        ("a", 1000, "ext of a"), ("b", 2000, "ext of b"), ("c", 3000, "ext of c"), ("d", 3000, "ext of d"),
        ("e", 5000, "ext of e"),
    ]
    assert _ids(api, name) == ["e", "d", "c", "b", "a"]  # newest first by default
    assert _ids(api, name, direction="asc") == ["a", "b", "c", "d", "e"]
    assert _ids(api, name, direction="ASC", limit="2") == ["a", "b"]
    assert _ids(api, name, type="1") == ["e", "c", "a"]
    assert _ids(api, name, begin_time="2000", end_time="3000") == ["d", "c", "b"]
    assert _ids(api, name, begin_time="3000", end_time="3000", direction="asc") == ["c", "d"]
    assert _ids(api, name, end_time="999") == []
    # from a collection on, itself included; its position wins over the time range
    assert _ids(api, name, collection_id="c") == ["c", "b", "a"]
    assert _ids(api, name, collection_id="d", limit="2") == ["d", "c"]
    assert _ids(api, name, collection_id="c", direction="asc", begin_time="9000", end_time="9999") == ["c", "d", "e"]
    assert _ids(api, name, collection_id="d", type="2", direction="asc") == ["d"]


def test_batch_all_or_nothing(api: Api) -> None:
    name = _user(api)
    _batch(api, name, ("x", 0, 10))
    body = {"username": name, "collections": [{"id": "y", "type": 0, "data": "y"}, {"id": "x", "type": 0, "data": "x"}]}
    assert_error(api.post("/collections", json=body), 400, "illegal_argument", "collection [x] already exists")
    assert_error(api.post(f"/users/{name}/collections", json={"id": "x", "type": 0, "data": "again"}), 400,
                 "illegal_argument")
    body = {"username": name, "collections": [{"id": "z", "type": 0, "data": "z"}, {"id": "z", "type": 0, "data": "z"}]}
    assert_error(api.post("/collections", json=body), 400, "illegal_argument")
    body = {"username": name, "collections": [{"id": f"n{i}", "type": 0, "data": "d"} for i in range(21)]}
    assert_error(api.post("/collections", json=body), 400, "illegal_argument")
    assert _ids(api, name) == ["x"]
    body["collections"] = body["collections"][:20]
    assert len(_many(api.post("/collections", json=body))) == 20


def test_add_bad_input(api: Api) -> None:
    name = _user(api)
    path = f"/users/{name}/collections"
    for body in ({"type": 0}, {"data": "x"}, {"data": "", "type": 0}, {"data": 1, "type": 0},
                 {"data": "x", "type": "0"}, {"data": "x", "type": True}, {"data": "x", "type": 2**31},
                 {"data": "x", "type": 0, "ext": 5}, {"data": "x", "type": 0, "id": ""},
                 {"data": "x", "type": 0, "id": 5},
                 {"data": "x", "type": 0, "id": "i" * 129}, {"data": "x" * 20481, "type": 0},
                 {"data": "x", "type": 0, "ext": "e" * 1025}, [], "text"):
        assert_error(api.post(path, json=body), 400, "illegal_argument")
    for body in ({"collections": [], "username": name}, {"collections": {}, "username": name},
                 {"collections": [{"type": 0, "data": "x"}]},
                 {"collections": [{"type": 0, "data": "x", "createdAt": -1}], "username": name},
                 {"collections": [{"type": 0, "data": "x", "createdAt": "now"}], "username": name},
                 {"collections": ["x"], "username": name}):
        assert_error(api.post("/collections", json=body), 400, "illegal_argument")
    assert _ids(api, name) == []
    # the limits themselves are accepted
    c = _one(api.post(path, json={"id": "i" * 128, "data": "x" * 20480, "type": -(2**31), "ext": "e" * 1024}))
    assert len(c["data"]) == 20480 and len(c["ext"]) == 1024


def test_unknown_user(api: Api) -> None:
    ghost = unique("ghost")
    legal = f"username {ghost} is not legal"
    assert_error(api.post(f"/users/{ghost}/collections", json={"data": "x", "type": 0}), 400, "illegal_argument", legal)
    assert_error(api.post("/collections", json={"username": ghost, "collections": [{"data": "x", "type": 0}]}), 400,
                 "illegal_argument", legal)
    assert_error(api.get(f"/users/{ghost}/collections"), 400, "illegal_argument", legal)
    assert_error(api.put(f"/users/{ghost}/collections/x", json={"ext": "e"}), 400, "illegal_argument", legal)
    assert_error(api.delete(f"/users/{ghost}/collections", json={"collection_ids": ["x"]}), 400, "illegal_argument",
                 legal)


# --- modify and delete ------------------------------------------------------------------------------


def test_modify_ext(api: Api) -> None:
    name = _user(api)
    [added] = _batch(api, name, ("m", 3, 1000))
    changed = _one(api.put(f"/users/{name}/collections/m", json={"ext": "new ext"}))
    assert changed["ext"] == "new ext" and changed["createdAt"] == 1000 and changed["updatedAt"] >= added["updatedAt"]
    assert (changed["id"], changed["type"], changed["data"]) == ("m", 3, "data of m")
    assert _many(api.get(f"/users/{name}/collections"))[0]["ext"] == "new ext"
    assert _one(api.put(f"/users/{name}/collections/m", json={"ext": ""}))["ext"] is None  # empty: removed
    assert _one(api.put(f"/users/{name}/collections/m", json={"ext": "again"}))["ext"] == "again"
    assert _one(api.put(f"/users/{name}/collections/m", json={"ext": None}))["ext"] is None
    assert_error(api.put(f"/users/{name}/collections/nope", json={"ext": "e"}), 400, "illegal_argument", NOT_FOUND)
    for body in ({}, {"ext": 1}, {"ext": "e" * 1025}, [], "x"):
        assert_error(api.put(f"/users/{name}/collections/m", json=body), 400, "illegal_argument")
    assert _many(api.get(f"/users/{name}/collections"))[0]["ext"] is None


def test_delete(api: Api) -> None:
    name = _user(api)
    _batch(api, name, ("a", 0, 1), ("b", 0, 2), ("c", 0, 3))
    r = api.delete(f"/users/{name}/collections", json={"collection_ids": ["a", "c"]})
    assert r.status_code == 200 and r.json() == {"result": True}
    assert _ids(api, name) == ["b"]
    # one that does not exist: nothing is deleted
    assert_error(api.delete(f"/users/{name}/collections", json={"collection_ids": ["b", "a"]}), 400,
                 "illegal_argument", NOT_FOUND)
    for body in ({}, {"collection_ids": []}, {"collection_ids": "b"}, {"collection_ids": [1]},
                 {"collection_ids": [""]}, {"collection_ids": [f"x{i}" for i in range(21)]}):
        assert_error(api.delete(f"/users/{name}/collections", json=body), 400, "illegal_argument")
    assert _ids(api, name) == ["b"]


def test_list_bad_parameters(api: Api) -> None:
    name = _user(api)
    path = f"/users/{name}/collections"
    assert_error(api.get(path, params={"limit": "201"}), 400, "illegal_argument", "limit should be less than 200")
    assert_error(api.get(path, params={"direction": "up"}), 400, "illegal_argument", "direction should be desc or asc")
    assert_error(api.get(path, params={"collection_id": "nope"}), 400, "illegal_argument", NOT_FOUND)
    for params in ({"limit": "0"}, {"limit": "x"}, {"begin_time": "x"}, {"end_time": "1.5"}, {"type": "a"},
                   {"begin_time": "10", "end_time": "5"}, {"limit": "9" * 30}):
        assert_error(api.get(path, params=params), 400, "illegal_argument")
    assert _many(api.get(path, params={"limit": "200"})) == []


# --- who may call, and what goes with the user ----------------------------------------------------------


def test_access(api: Api, server: Server) -> None:
    name, other = _user(api, "own"), _user(api, "oth")
    mine, theirs = api.user_token(name), api.user_token(other)
    path = f"/users/{name}/collections"
    # the user themselves may do everything the admin may
    assert _one(api.post(path, token=mine, json={"id": "k", "data": "x", "type": 0}))["id"] == "k"
    assert _many(api.post("/collections", token=mine, json={"username": name.upper(),
                                                            "collections": [{"id": "l", "data": "y", "type": 0}]}))
    assert _one(api.put(f"{path}/k", token=mine, json={"ext": "e"}))["ext"] == "e"
    assert [x["id"] for x in _many(api.get(path, token=mine))] == ["l", "k"]
    # another user, no token, another app: refused, nothing changes
    other_app = Api(server, "other")
    for token in (theirs, None, "garbage", other_app.token):
        for r in (
            api.post(path, token=token, json={"id": "z", "data": "x", "type": 0}),
            api.post("/collections", token=token, json={"username": name, "collections": [{"data": "x", "type": 0}]}),
            api.put(f"{path}/k", token=token, json={"ext": "hacked"}),
            api.get(path, token=token),
            api.delete(path, token=token, json={"collection_ids": ["k"]}),
        ):
            assert r.status_code == 401, r.text
    found = _many(api.get(path))
    assert sorted(x["id"] for x in found) == ["k", "l"] and {x["ext"] for x in found} == {"e", None}
    r = api.delete(path, token=mine, json={"collection_ids": ["k", "l"]})
    assert r.status_code == 200 and r.json() == {"result": True}


def test_collections_go_with_the_user(api: Api) -> None:
    name = _user(api, "gone")
    _batch(api, name, ("a", 0, 1))
    assert api.delete(f"/users/{name}").status_code == 200
    assert_error(api.get(f"/users/{name}/collections"), 400, "illegal_argument")
    api.register(name)
    assert _ids(api, name) == []
