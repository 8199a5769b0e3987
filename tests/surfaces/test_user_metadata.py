"""User attributes: `/metadata/user/…` (Easemob's user_attribute_set, _obtain_single, _obtain_batch,
_capacity_get and _delete pages)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from conftest import Api, Server, assert_error, new_app, unique

# `extra_server` (conftest) runs with a small app total, to reach it
EXTRA_ENV = {"HXIM_USER_METADATA_APP_MAX_BYTES": "100"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
USER_MAX = 2048


def _answer(r: httpx.Response) -> Any:
    """The documented answer: `{"timestamp","data","duration"}`; returns `data`."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["timestamp", "data", "duration"], body
    assert abs(body["timestamp"] - time.time() * 1000) < 60_000 and isinstance(body["duration"], int)
    return body["data"]


def _user(api: Api, prefix: str = "m") -> str:
    name = unique(prefix)
    api.register(name)
    return name


def _put(api: Api, name: str, content: str | bytes, **kw: object) -> httpx.Response:
    return api.put(f"/metadata/user/{name}", content=content, headers=FORM, **kw)  # type: ignore[arg-type]


def _size(attributes: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())


# --- set and get ----------------------------------------------------------------------------------


def test_set_as_form_then_get(api: Api) -> None:
    name = _user(api)
    r = _put(api, name, "avatarurl=https://www.easemob.com/avatar.png&ext=ext&nickname=nickname")
    expected = {"avatarurl": "https://www.easemob.com/avatar.png", "ext": "ext", "nickname": "nickname"}
    assert _answer(r) == expected
    assert _answer(api.get(f"/metadata/user/{name}")) == expected
    # the username is found in any case
    assert _answer(api.get(f"/metadata/user/{name.upper()}")) == expected


def test_set_merges_and_answers_what_it_set(api: Api) -> None:
    name = _user(api)
    assert _answer(_put(api, name, "a=1&b=2")) == {"a": "1", "b": "2"}
    assert _answer(_put(api, name, "b=3&c=4&c=5")) == {"b": "3", "c": "5"}  # a repeated name: the last value
    assert _answer(api.get(f"/metadata/user/{name}")) == {"a": "1", "b": "3", "c": "5"}


def test_form_decoding(api: Api) -> None:
    name = _user(api)
    data = _answer(_put(api, name, "sign=a%26b+c%3Dd&nickname=%E4%BD%A0%E5%A5%BD&ext=&Key=Case"))
    assert data == {"sign": "a&b c=d", "nickname": "你好", "ext": "", "Key": "Case"}
    assert _answer(api.get(f"/metadata/user/{name}")) == data
    # names are case-sensitive
    assert _answer(_put(api, name, "key=lower")) == {"key": "lower"}
    assert _answer(api.get(f"/metadata/user/{name}"))["Key"] == "Case"


def test_set_as_json(api: Api) -> None:
    name = _user(api)
    r = api.put(f"/metadata/user/{name}", json={"nickname": "Nick", "gender": 1, "birth": "2000-01-01"})
    assert _answer(r) == {"nickname": "Nick", "gender": "1", "birth": "2000-01-01"}
    assert _answer(api.get(f"/metadata/user/{name}")) == {"birth": "2000-01-01", "gender": "1", "nickname": "Nick"}


def test_get_without_attributes_or_user_is_empty(api: Api) -> None:
    assert _answer(api.get(f"/metadata/user/{_user(api)}")) == {}
    assert _answer(api.get(f"/metadata/user/{unique('ghost')}")) == {}


def test_set_unknown_user(api: Api) -> None:
    assert_error(_put(api, unique("ghost"), "a=1"), 404, "service_resource_not_found")


def test_bad_bodies(api: Api) -> None:
    name = _user(api)
    for content in ("", "=v", "a=1&=2", "a=%00", "%00=a", "a=%FF", b"a=\xff", "k" * 129 + "=v"):
        assert_error(_put(api, name, content), 400, "illegal_argument")
    for body in ([], "text", {}, {"a": {"b": 1}}, {"a": None}, {"a": True}, {"a": 1.5}, {"": "x"}):
        assert_error(api.put(f"/metadata/user/{name}", json=body), 400, "illegal_argument")
    assert_error(api.put(f"/metadata/user/{name}", content="{", headers={"Content-Type": "application/json"}),
                 400, "json_parse")
    # a name of 128 bytes is accepted; nothing of the refused ones was kept
    assert _answer(_put(api, name, "k" * 128 + "=v")) == {"k" * 128: "v"}
    assert _answer(api.get(f"/metadata/user/{name}")) == {"k" * 128: "v"}


def test_body_limit(api: Api) -> None:
    name = _user(api)
    body = assert_error(_put(api, name, "ext=" + "x" * 4093), 413, "Request Entity Too Large")
    assert "4096" in body["error_description"]
    assert _answer(api.get(f"/metadata/user/{name}")) == {}


# --- limits ---------------------------------------------------------------------------------------


def test_user_total_limit(api: Api) -> None:
    name = _user(api)
    full = {"ext": "x" * (USER_MAX - 3 - 8 - 3), "nickname": "你"}  # 3 + 2034 + 8 + 3 bytes
    assert _size(full) == USER_MAX
    assert _answer(_put(api, name, "ext=" + full["ext"] + "&nickname=%E4%BD%A0")) == full
    over = "size of metadata for this single user exceeds the user defined limit, 2048Bytes"
    body = assert_error(_put(api, name, "a=b"), 403, "FORBIDDEN", over)
    assert "exception" not in body
    assert_error(_put(api, name, "nickname=%E4%BD%A0x"), 403, "FORBIDDEN", over)  # one byte more
    assert _answer(api.get(f"/metadata/user/{name}")) == full
    # replacing a value counts the new size, not both
    assert _answer(_put(api, name, "nickname=abc")) == {"nickname": "abc"}
    assert _answer(_put(api, name, "ext=short")) == {"ext": "short"}
    assert _answer(_put(api, name, "more=" + "y" * 1000)) == {"more": "y" * 1000}


def test_known_field_lengths(api: Api) -> None:
    name = _user(api)
    limits = {"nickname": 64, "avatarurl": 256, "phone": 32, "mail": 64, "sign": 256, "birth": 64}
    for field, longest in limits.items():
        assert _answer(_put(api, name, f"{field}=" + "你" * longest)) == {field: "你" * longest}  # characters
        assert_error(_put(api, name, f"{field}=" + "a" * (longest + 1)), 403, "FORBIDDEN",
                     f"size of metadata for this single user exceeds the current mysql column size, {longest}Bytes")
        assert _answer(api.delete(f"/metadata/user/{name}")) is True
    # other names (ext among them) have no length of their own
    assert _answer(_put(api, name, "ext=" + "z" * 300)) == {"ext": "z" * 300}


@pytest.fixture
def small(extra_server: Server) -> Api:
    return Api(extra_server)


def test_app_total_limit(small: Api) -> None:
    a, b = _user(small, "a"), _user(small, "b")
    assert _answer(_put(small, a, "ext=" + "x" * 57)) == {"ext": "x" * 57}  # 60 bytes
    assert_error(_put(small, b, "ext=" + "y" * 38), 403, "FORBIDDEN",  # 41: one past 100
                 "total size of user metadata for this app exceeds the user defined limit, 100Bytes")
    assert _answer(small.get(f"/metadata/user/{b}")) == {}
    assert _answer(_put(small, b, "ext=" + "y" * 37)) == {"ext": "y" * 37}
    assert _answer(small.get("/metadata/user/capacity")) == 100
    # a write that makes nothing grow is allowed at the limit
    assert _answer(_put(small, a, "ext=" + "z" * 57)) == {"ext": "z" * 57}


def test_concurrent_sets_of_one_user_stay_within_its_limit(api: Api) -> None:
    name = _user(api)

    def put(i: int) -> int:
        with api.server.client() as http:
            r = http.put(f"{api.prefix}/metadata/user/{name}", content=f"k{i}=" + "v" * 298,
                         headers={**FORM, **api.headers(api.token)})
            return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(put, range(10)))
    stored = _answer(api.get(f"/metadata/user/{name}"))
    assert codes.count(200) == len(stored) == USER_MAX // 300, codes  # 6 of 300 bytes fit in 2048
    assert codes.count(403) == 10 - len(stored)


# --- batch get ------------------------------------------------------------------------------------


def test_batch_get(api: Api) -> None:
    a, b, c = _user(api, "a"), _user(api, "b"), _user(api, "c")
    _put(api, a, "avatarurl=u1&ext=e1&nickname=n1&phone=1")
    _put(api, b, "nickname=n2")
    ghost = unique("ghost")
    r = api.post("/metadata/user/get",
                 json={"properties": ["avatarurl", "ext", "nickname", "nope"], "targets": [a, b.upper(), c, ghost]})
    assert _answer(r) == {
        a: {"avatarurl": "u1", "ext": "e1", "nickname": "n1"},
        b.upper(): {"nickname": "n2"},
        c: {},
        ghost: {},
    }
    everything = {a: {"avatarurl": "u1", "ext": "e1", "nickname": "n1", "phone": "1"}}
    assert _answer(api.post("/metadata/user/get", json={"targets": [a]})) == everything
    assert _answer(api.post("/metadata/user/get", json={"targets": [a], "properties": []})) == everything


def test_batch_get_limits_and_bad_bodies(api: Api) -> None:
    a = _user(api)
    targets = [a] + [unique("t") for _ in range(99)]
    assert len(_answer(api.post("/metadata/user/get", json={"targets": targets, "properties": ["x"]}))) == 100
    assert_error(api.post("/metadata/user/get", json={"targets": [*targets, "one-more"]}), 400, "BAD_REQUEST",
                 "exceed allowed batch size 100")
    bad = (None, [], [a], {}, {"targets": []}, {"targets": a}, {"targets": [1]},
           {"targets": [a], "properties": "x"}, {"targets": [a], "properties": [None]})
    for body in bad:
        assert_error(api.post("/metadata/user/get", json=body), 400, "illegal_argument")


# --- capacity and delete --------------------------------------------------------------------------


def test_capacity_counts_bytes_of_the_app(server: Server) -> None:
    app = new_app(server)
    assert _answer(app.get("/metadata/user/capacity")) == 0
    a, b = _user(app, "a"), _user(app, "b")
    _put(app, a, "nickname=%E4%BD%A0%E5%A5%BD&ext=e")  # 8 + 6, 3 + 1
    _put(app, b, "sign=s")  # 5
    assert _answer(app.get("/metadata/user/capacity")) == 23
    _put(app, a, "ext=long")  # 3 more
    assert _answer(app.get("/metadata/user/capacity")) == 26
    # another app's attributes are not counted
    other = Api(server, "other")
    o = _user(other)
    _put(other, o, "x=y")
    assert _answer(app.get("/metadata/user/capacity")) == 26
    assert _answer(app.delete(f"/metadata/user/{a}")) is True
    assert _answer(app.get("/metadata/user/capacity")) == 5


def test_delete(api: Api) -> None:
    name = _user(api)
    _put(api, name, "a=1&b=2")
    assert _answer(api.delete(f"/metadata/user/{name.upper()}")) is True
    assert _answer(api.get(f"/metadata/user/{name}")) == {}
    # nothing to delete, or nobody: also true
    assert _answer(api.delete(f"/metadata/user/{name}")) is True
    assert _answer(api.delete(f"/metadata/user/{unique('ghost')}")) is True


def test_deleting_the_user_deletes_the_attributes(server: Server) -> None:
    app = new_app(server)
    name = _user(app)
    _put(app, name, "nickname=n&ext=e")
    assert app.delete(f"/users/{name}").status_code == 200
    assert _answer(app.get(f"/metadata/user/{name}")) == {}
    assert _answer(app.get("/metadata/user/capacity")) == 0
    app.register(name)  # the same name again: a new user, without the old attributes
    assert _answer(app.get(f"/metadata/user/{name}")) == {}


# --- who may call ---------------------------------------------------------------------------------


def test_user_token_on_own_attributes(api: Api) -> None:
    name = _user(api)
    token = api.user_token(name)
    assert _answer(_put(api, name, "nickname=me", token=token)) == {"nickname": "me"}
    assert _answer(api.get(f"/metadata/user/{name}", token=token)) == {"nickname": "me"}
    assert _answer(api.delete(f"/metadata/user/{name}", token=token)) is True
    assert _answer(api.get(f"/metadata/user/{name}")) == {}


def test_user_token_reads_anyone_changes_nobody_else(api: Api) -> None:
    me, other = _user(api, "me"), _user(api, "other")
    _put(api, other, "nickname=theirs")
    token = api.user_token(me)
    # reading another user of the app, as the SDKs' fetchUserInfo does
    assert _answer(api.get(f"/metadata/user/{other}", token=token)) == {"nickname": "theirs"}
    r = api.post("/metadata/user/get", token=token, json={"targets": [other], "properties": ["nickname"]})
    assert _answer(r) == {other: {"nickname": "theirs"}}
    # but not changing it
    assert_error(_put(api, other, "nickname=mine", token=token), 401, "metadata_error", "auth error")
    assert_error(api.delete(f"/metadata/user/{other}", token=token), 401, "metadata_error", "auth error")
    assert_error(_put(api, unique("ghost"), "a=1", token=token), 401, "metadata_error", "auth error")
    assert _answer(api.get(f"/metadata/user/{other}")) == {"nickname": "theirs"}
    # the app's total is the admin's
    assert_error(api.get("/metadata/user/capacity", token=token), 401, "unauthorized")


def test_without_a_valid_token(api: Api) -> None:
    name = _user(api)
    _put(api, name, "nickname=n")
    other_app = Api(api.server, "other").token
    for token in (None, "YWMtnot-a-token", other_app):
        assert _put(api, name, "nickname=x", token=token).status_code == 401
        assert api.get(f"/metadata/user/{name}", token=token).status_code == 401
        assert api.post("/metadata/user/get", token=token, json={"targets": [name]}).status_code == 401
        assert api.get("/metadata/user/capacity", token=token).status_code == 401
        assert api.delete(f"/metadata/user/{name}", token=token).status_code == 401
    assert_error(api.get(f"/metadata/user/{name}", token=None), 401, "unauthorized")
    assert _answer(api.get(f"/metadata/user/{name}")) == {"nickname": "n"}
