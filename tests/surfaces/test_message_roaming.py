"""Message roaming, the Web IM SDK 1.8's history (webim-xmpp.md §2.6):
`POST /{org}/{app}/users/{u}/messageroaming` answers one page of a conversation, newest first,
each message the complete §4.7 stanza the SDK parses (with a XEP-0203 `<delay>`)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import Api, Server, assert_error, unique

# the server of `extra_server` (conftest) answers pages of 3 messages
EXTRA_ENV = {"HXIM_MESSAGE_ROAMING_PAGE_SIZE": "3"}
PAGE = 3
CLIENT = "{jabber:client}"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def api(extra_server: Server) -> Api:
    return Api(extra_server)


def roam(api: Api, user: str, queue: str, start: Any = -1, *, token: Any = "default", raw: str | None = None
         ) -> httpx.Response:
    """The request as the SDK sends it: a JSON string with no Content-Type of its own (§1.5)."""
    body = raw if raw is not None else json.dumps({"queue": queue, "start": start, "end": -1})
    return api.post(f"/users/{user}/messageroaming", token=token, content=body.encode(),
                    headers={"Content-Type": "text/plain;charset=UTF-8"})


def page(api: Api, user: str, queue: str, start: Any = -1, token: Any = "default") -> dict[str, Any]:
    r = roam(api, user, queue, start, token=token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["data"] and list(body["data"]) == ["msgs", "is_last", "next_key"], body
    assert isinstance(body["data"]["next_key"], str) and isinstance(body["data"]["is_last"], bool)
    return body["data"]


def everything(api: Api, user: str, queue: str, token: Any = "default") -> list[list[ET.Element]]:
    """Every page of the conversation, following next_key until is_last, each stanza parsed."""
    pages, start = [], -1
    for _ in range(50):
        data = page(api, user, queue, start, token)
        pages.append([ET.fromstring(s) for s in data["msgs"]])
        if data["is_last"]:
            return pages
        start = data["next_key"]
    raise AssertionError("is_last never came")


def send(api: Api, sender: str, target_type: str, target: str, text: str, **extra: Any) -> str:
    body = {"target_type": target_type, "target": [target], "msg": {"type": "txt", "msg": text}, "from": sender,
            "ext": {"n": text}, **extra}
    r = api.post("/messages?useMsgId=true", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][target])


def jid(api: Api, name: str, domain: str = "easemob.com") -> str:
    return f"{api.creds.org}#{api.creds.app}_{name.lower()}@{domain}"


def check_stanza(el: ET.Element, api: Api, msg_id: str, stype: str, sender_jid: str, to: str,
                 body: dict[str, Any]) -> None:
    """One roamed message as the SDK reads it (§4.7): ids, addresses, the JSON body, the delay."""
    assert el.tag == CLIENT + "message"
    assert (el.get("type"), el.get("id"), el.get("from"), el.get("to")) == (stype, msg_id, sender_jid, to)
    text = el.findtext(CLIENT + "body")
    assert text is not None and "\n" not in text  # the SDK evals the body: one line (§4.7)
    assert json.loads(text) == body
    delay = el.find("{urn:xmpp:delay}delay")
    assert delay is not None and STAMP.match(delay.get("stamp", "")), ET.tostring(el)
    stamp = datetime.strptime(delay.get("stamp", ""), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(stamp.timestamp() - datetime.now(UTC).timestamp()) < 600


def test_one_to_one_newest_first_in_pages(api: Api) -> None:
    a, b, c = unique("Ra"), unique("rb"), unique("rc")
    api.register(a, b, c)
    sent = []  # (id, sender, recipient, text), oldest first
    for i in range(7):
        sender, to = (a, b) if i % 3 else (b, a)
        sent.append((send(api, sender, "users", to, f"m{i}"), sender, to, f"m{i}"))
        send(api, c, "users", a, f"noise{i}")  # another conversation of a's: not in this one
    # REST `from` keeps the case its caller wrote; the conversation is still the same
    sent.append((send(api, a.upper(), "users", b, "shouted"), a.upper(), b, "shouted"))
    send(api, a, "users", c, "to c")

    pages = everything(api, a, f"{b}@easemob.com", token=api.user_token(a))
    assert [len(p) for p in pages] == [3, 3, 2]
    roamed = [el for p in pages for el in p]
    assert [el.get("id") for el in roamed] == [m[0] for m in reversed(sent)]
    for el, (msg_id, sender, to, text) in zip(roamed, reversed(sent), strict=True):
        check_stanza(el, api, msg_id, "chat", jid(api, sender), jid(api, a),
                     {"from": sender, "to": to, "bodies": [{"type": "txt", "msg": text}], "ext": {"n": text}})

    # the other side sees the same conversation; the queue may also carry the appkey prefix, or
    # name the peer in another case
    theirs = everything(api, b, f"{api.creds.org}#{api.creds.app}_{a.lower()}@easemob.com",
                        token=api.user_token(b))
    assert [el.get("id") for p in theirs for el in p] == [m[0] for m in reversed(sent)]
    assert all(el.get("to") == jid(api, b) for p in theirs for el in p)
    # the app admin may read any user's
    assert [el.get("id") for p in everything(api, b, f"{a.upper()}@easemob.com") for el in p] == \
        [m[0] for m in reversed(sent)]


def test_paging_keys(api: Api) -> None:
    a, b = unique("ka"), unique("kb")
    api.register(a, b)
    ids = [send(api, a, "users", b, f"k{i}") for i in range(PAGE)]
    first = page(api, a, f"{b}@easemob.com")
    # exactly one page: the last one, and asking past it is empty and last again
    assert [ET.fromstring(s).get("id") for s in first["msgs"]] == ids[::-1]
    assert first["is_last"] is True and first["next_key"]
    after = page(api, a, f"{b}@easemob.com", first["next_key"])
    assert after == {"msgs": [], "is_last": True, "next_key": first["next_key"]}
    # a message sent meanwhile shows on a fresh first page, not on the pages already keyed
    newer = send(api, b, "users", a, "newer")
    fresh = page(api, a, f"{b}@easemob.com", "-1")
    assert [ET.fromstring(s).get("id") for s in fresh["msgs"]] == [newer, *ids[::-1][:2]]
    assert fresh["is_last"] is False
    rest = page(api, a, f"{b}@easemob.com", fresh["next_key"])
    assert [ET.fromstring(s).get("id") for s in rest["msgs"]] == [ids[0]] and rest["is_last"] is True
    # nobody to talk to: nothing
    assert page(api, a, "nobody-at-all@easemob.com") == {"msgs": [], "is_last": True, "next_key": ""}


def test_group_and_chat_room(api: Api) -> None:
    owner, member, outsider = unique("go"), unique("gm"), unique("gx")
    api.register(owner, member, outsider)
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": owner,
                                      "members": [member]})
    assert r.status_code == 200, r.text
    gid = str(r.json()["data"]["groupid"])
    sent = [(send(api, who, "chatgroups", gid, f"g{i}"), who) for i, who in enumerate([owner, member, owner, member])]
    send(api, owner, "users", member, "a private word")  # not in the group's history

    pages = everything(api, member, f"{gid}@conference.easemob.com", token=api.user_token(member))
    assert [len(p) for p in pages] == [3, 1]
    roamed = [el for p in pages for el in p]
    assert [el.get("id") for el in roamed] == [m[0] for m in reversed(sent)]
    room_jid = f"{api.creds.org}#{api.creds.app}_{gid}@conference.easemob.com"
    for el, (msg_id, who) in zip(roamed, reversed(sent), strict=True):
        text = f"g{[m[0] for m in sent].index(msg_id)}"
        check_stanza(el, api, msg_id, "groupchat", f"{room_jid}/{who}", jid(api, member),
                     {"from": who, "to": gid, "bodies": [{"type": "txt", "msg": text}], "ext": {"n": text}})
        assert el.find("{easemob:x:roomtype}roomtype") is None

    # not a member, or no such group: refused alike
    outsider_token = api.user_token(outsider)
    for queue in (f"{gid}@conference.easemob.com", "123456789@conference.easemob.com", "x@conference.easemob.com"):
        assert_error(roam(api, outsider, queue, token=outsider_token), 403, "forbidden_op")
    # a member who leaves loses the history
    assert api.delete(f"/chatgroups/{gid}/users/{member}").status_code == 200
    assert_error(roam(api, member, f"{gid}@conference.easemob.com"), 403, "forbidden_op")

    # a chat room's messages carry Easemob's roomtype (§4.3)
    r = api.post("/chatrooms", json={"name": "r", "description": "d", "owner": owner, "members": [member]})
    assert r.status_code == 200, r.text
    rid = str(r.json()["data"]["id"])
    msg_id = send(api, member, "chatrooms", rid, "in the room")
    [[el]] = everything(api, owner, f"{rid}@conference.easemob.com", token=api.user_token(owner))
    assert el.get("id") == msg_id and el.get("type") == "groupchat"
    roomtype = el.find("{easemob:x:roomtype}roomtype")
    assert roomtype is not None and roomtype.get("type") == "chatroom"


def test_authorization(api: Api) -> None:
    a, b = unique("za"), unique("zb")
    api.register(a, b)
    send(api, a, "users", b, "private")
    queue = f"{b}@easemob.com"
    assert_error(roam(api, a, queue, token=None), 401, "unauthorized")
    assert_error(roam(api, a, queue, token="garbage"), 401, "auth_bad_access_token")
    # another user's history is not theirs to read, whatever the queue says
    assert_error(roam(api, a, queue, token=api.user_token(b)), 401, "unauthorized")
    # a token of another app
    assert_error(roam(api, a, queue, token=Api(api.server, "other").token), 401, "unauthorized")
    # the app admin may; an unknown user is 404
    assert len(page(api, a, queue)["msgs"]) == 1
    assert_error(roam(api, unique("ghost"), queue), 404, "service_resource_not_found")


def test_bad_bodies(api: Api) -> None:
    a = unique("ba")
    api.register(a)
    token = api.user_token(a)
    bad = [
        "",
        "[]",
        '"queue"',
        json.dumps({"start": -1, "end": -1}),
        json.dumps({"queue": 42, "start": -1, "end": -1}),
        json.dumps({"queue": "no-domain", "start": -1, "end": -1}),
        json.dumps({"queue": "bob@elsewhere.example", "start": -1, "end": -1}),
        json.dumps({"queue": "bob@easemob.com/res", "start": -1, "end": -1}),
        json.dumps({"queue": "@easemob.com", "start": -1, "end": -1}),
        json.dumps({"queue": "bob@easemob.com", "start": "not-a-key", "end": -1}),
        json.dumps({"queue": "bob@easemob.com", "start": 17, "end": -1}),
        json.dumps({"queue": "bob@easemob.com", "start": True, "end": -1}),
        json.dumps({"queue": "bob@easemob.com", "start": -1, "end": 5}),
    ]
    for raw in bad:
        assert_error(roam(api, a, "", token=token, raw=raw), 400, "illegal_argument")
    assert_error(roam(api, a, "", token=token, raw="{not json"), 400, "json_parse")
    # `end` may be left out
    r = roam(api, a, "", token=token, raw=json.dumps({"queue": "bob@easemob.com", "start": -1}))
    assert r.status_code == 200 and r.json()["data"]["msgs"] == [], r.text
    # only POST
    assert api.get(f"/users/{a}/messageroaming", token=token).status_code == 405
