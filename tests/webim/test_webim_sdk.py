"""The proof that an app written with Easemob's Web IM SDK 1.x works against hxim with nothing
changed but `url` and `apiUrl`. The unmodified SDK (npm `easemob-websdk` 1.4.6 and 1.8.4, both
installed by package.json) runs in headless Chromium; every test runs once per SDK line and
asserts on what the SDK's callbacks receive (webim-xmpp.md §1–§10).

Each test saves a screenshot of each page and the WebSocket frames it exchanged under
tests/webim/artifacts/ (paths printed).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from webim_browser import SDK_LINES, TIMEOUT, Browser, TcpUser, WebUser, XServer, static_server, xserver

from callback_receiver import REFUSAL, Receiver, judged_by_words, receiver
from conftest import Api, unique

__all__ = ["receiver", "xserver"]

PNG = bytes.fromhex(  # a 2x1 PNG
    "89504e470d0a1a0a0000000d4948445200000002000000010806000000f478d4fa0000001049444154789c63f8cf"
    "c0f01f0003010200ff7f0c7c9b0000000049454e44ae426082"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def page_url() -> Iterator[str]:
    with static_server() as url:
        yield url


@pytest.fixture(params=SDK_LINES, ids=[f"websdk{v}" for v in SDK_LINES])
def sdk(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Web = Callable[..., WebUser]


@pytest.fixture
def web(
    request: pytest.FixtureRequest, browser: Browser, page_url: str, sdk: str, xserver: XServer
) -> Iterator[Web]:
    """`web(name)`: a new page with the SDK line of this test, for user `name` of the server's app
    (or of `xs=`, the same server with another app)."""
    context = browser.run(browser.browser.new_context(viewport={"width": 900, "height": 700}))
    users: list[WebUser] = []

    def make(name: str, *, xs: XServer | None = None, **kw: Any) -> WebUser:
        user = WebUser(browser, context, page_url, sdk, xs or xserver, name, **kw)
        users.append(user)
        return user

    try:
        yield make
    finally:
        for i, user in enumerate(users, 1):
            shot = user.save(f"{request.node.name}-page{i}")
            print(f"screenshot of {user.label}: {shot}")
        browser.run(context.close())


def _rest_sent(api: Api, sender: str, to: str, body: dict[str, Any], ext: dict[str, Any] | None = None) -> str:
    payload: dict[str, Any] = {"target_type": "users", "target": [to], "msg": body, "from": sender}
    if ext is not None:
        payload["ext"] = ext
    r = api.post("/messages?useMsgId=true", json=payload)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][to])


# --- sign up and log in -----------------------------------------------------------------------------


def test_signup_and_login_with_password_and_token(web: Web, xserver: XServer) -> None:
    """§2.3 signup without a token (an app with open registration), §2.1 password login, §2.2
    token login; REST errors reach the SDK as type 17 with Easemob's body."""
    open_app = xserver.server.apps["open"]
    name = unique("su")
    page = web(name, app=open_app)
    signed = page.js("([u, p]) => H.signup(u, p, 'Nick')", [name, "pw-123456"])
    assert "success" in signed, signed
    entity = signed["success"]["entities"][0]
    assert entity["username"] == name and entity["activated"] is True and entity["type"] == "user"
    again = page.js("([u, p]) => H.signup(u, p)", [name, "pw-123456"])
    assert again["error"]["type"] == 17  # WEBIM_CONNCTION_AJAX_ERROR, the body passed on raw
    assert '"duplicate_unique_property_exists"' in again["error"]["data"]

    wrong = page.login("not-the-password")
    assert wrong["error"]["type"] == 1, wrong  # WEBIM_CONNCTION_OPEN_ERROR
    assert wrong["error"]["data"]["type"] == 17 and '"invalid_grant"' in wrong["error"]["data"]["data"]

    page2 = web(name, app=open_app, label=name + "-password")
    opened = page2.login("pw-123456")
    assert "opened" in opened, (opened, page2.frames)
    token = opened["opened"]["accessToken"]
    assert token.startswith("YWMt")
    open_api = Api(xserver.server, "open")
    _wait_status(open_api, name, "online")
    page2.close()
    _wait_status(open_api, name, "offline")

    # a token obtained by the app's backend over REST logs in without any REST call (§2.2)
    rest_token = open_api.user_token(name, "pw-123456")
    page3 = web(name, app=open_app, label=name + "-token")
    opened = page3.login(token=rest_token)
    assert "opened" in opened, (opened, page3.frames)
    _wait_status(open_api, name, "online")
    # a forged token is refused in SASL: WEBIM_CONNCTION_AUTH_ERROR
    page4 = web(unique("nobody"), app=open_app, label="forged-token")
    refused = page4.login(token="YWMtforged")
    assert refused["error"]["type"] == 2, refused
    # an app without open registration refuses the SDK's token-less signup with `unauthorized` (§2.3)
    closed = web(unique("cl"), label="closed-app")
    denied = closed.js("([u, p]) => H.signup(u, p)", [closed.name, "pw-123456"])
    assert denied["error"]["type"] == 17 and '"unauthorized"' in denied["error"]["data"], denied


def _wait_status(api: Api, name: str, want: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if api.get(f"/users/{name}/status").json()["data"].get(name) == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never {want}")


# --- two browser users chatting -----------------------------------------------------------------------


def test_two_browsers_chat_text_emoji_cmd_location(web: Web, xserver: XServer) -> None:
    a, b = unique("wa"), unique("wb")
    xserver.api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()

    text = "héllo 你好 <b>&amp;\"quotes\"</b>"
    sent = alice.send("txt", to=b, msg=text, ext={"k": "v", "n": 1, "nested": {"list": [1, 2]}})
    assert sent["ok"] is True and sent["serverMsgId"], sent
    got = bob.wait("onTextMessage")
    assert got["data"] == text and got["from"] == a and got["to"] == b and got["type"] == "chat"
    assert got["id"] == sent["serverMsgId"]  # the copy carries the server id (§4.4)
    assert got["ext"]["k"] == "v" and got["ext"]["n"] == 1 and got["ext"]["nested"] == {"list": [1, 2]}
    assert got["ext"]["weichat"]["originType"] == "webim"
    assert got["error"] is False and "delay" not in got

    sent = bob.send("txt", to=a, msg="hi [):] there")
    assert sent["ok"] is True, sent
    emoji = alice.wait("onEmojiMessage")
    assert emoji["from"] == b and emoji["type"] == "chat"
    parts = emoji["data"]
    assert parts[0] == {"type": "txt", "data": "hi "}
    assert parts[1]["type"] == "emoji" and "ee_1.png" in parts[1]["data"]
    assert parts[2] == {"type": "txt", "data": " there"}

    sent = alice.send("cmd", to=b, action="refresh_profile", ext={"why": "avatar"})
    assert sent["ok"] is True, sent
    cmd = bob.wait("onCmdMessage")
    assert cmd["action"] == "refresh_profile" and cmd["from"] == a and cmd["ext"]["why"] == "avatar"

    alice.send("location", to=b, addr="北京市海淀区", lat=39.98, lng=116.31, ext={"zoom": 15})
    loc = bob.wait("onLocationMessage")
    assert loc["addr"] == "北京市海淀区" and loc["lat"] == 39.98 and loc["lng"] == 116.31
    assert loc["from"] == a and loc["type"] == "chat" and loc["ext"]["zoom"] == 15

    # nothing echoed to the sender, no error anywhere
    assert alice.pending(["onTextMessage", "onCmdMessage", "onLocationMessage", "onError"], 300) == []
    assert bob.pending(["onTextMessage", "onEmojiMessage", "onError"]) == []
    # the messages are in the REST history with their bodies
    hist = xserver.api.get("/chatmessages", params={"ql": "select * order by timestamp desc", "limit": 10}).json()
    mine = [e for e in hist["entities"] if e["from"] in (a, b)]
    types = sorted(e["payload"]["bodies"][0]["type"] for e in mine)
    assert types == ["cmd", "loc", "txt", "txt"], mine


def test_two_browsers_send_image_and_file_through_chatfiles(web: Web, xserver: XServer) -> None:
    """§2.5: img/file messages upload to chatfiles (restrict-access), the receiver downloads with
    WebIM.utils.download and the share-secret."""
    a, b = unique("fa"), unique("fb")
    xserver.api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    files_url = f"{alice.api_url}/{xserver.api.creds.org}/{xserver.api.creds.app}/chatfiles/"

    sent = alice.send_file("img", PNG, "dot.png", "image/png", to=b, width=2, height=1)
    assert sent.get("ok") is True, sent
    pic = bob.wait("onPictureMessage")
    assert pic["from"] == a and pic["type"] == "chat" and pic["filename"] == "dot.png"
    assert pic["url"].startswith(files_url) and pic["secret"], pic
    assert pic["width"] == 2 and pic["height"] == 1
    got = bob.download(pic["url"], pic["secret"])
    assert got.get("status") == 200, got
    assert got["base64"] == base64.b64encode(PNG).decode() and got["type"] == "image/png"
    # without the share-secret the random id is enough (§2.8; test_webim_history.py shows it in
    # <img src>), a wrong secret is refused (a query string keeps the browser cache out of it)
    unsecret = bob.download(pic["url"] + "?again=1", None)
    assert unsecret.get("status") == 200 and unsecret["base64"] == base64.b64encode(PNG).decode(), unsecret
    assert bob.download(pic["url"] + "?again=2", "not-the-secret").get("status") == 401

    content = "a plain text file\n第二行\n".encode()
    sent = alice.send_file("file", content, "notes.txt", "text/plain", to=b)
    assert sent.get("ok") is True, sent
    f = bob.wait("onFileMessage")
    assert f["from"] == a and f["filename"] == "notes.txt" and f["url"].startswith(files_url) and f["secret"]
    got = bob.download(f["url"], f["secret"])
    assert got.get("status") == 200 and base64.b64decode(got["base64"]) == content, got


@pytest.mark.parametrize("sdk", ["184"], ids=["websdk184"])  # 1.4.6 has none of these (webim-xmpp.md §11)
def test_delivery_and_read_acks_and_recall(web: Web, xserver: XServer, sdk: str) -> None:
    """1.8: `delivery: true` acks every message automatically (§4.6), a read ack is sent by the app,
    and the sender recalls a message (§4.10)."""
    a, b = unique("da"), unique("db")
    xserver.api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    assert "opened" in bob.login(delivery=True)
    bob.wait_online()

    sent = alice.send("txt", to=b, msg="did you get this?")
    assert sent["ok"] is True, sent
    mid = sent["serverMsgId"]
    got = bob.wait("onTextMessage")
    assert got["id"] == mid
    assert alice.wait("onDeliveredMessage") == {"mid": mid}
    bob.send("read", id=mid, to=a, noWait=True)
    assert alice.wait("onReadMessage") == {"mid": mid}

    recalled = alice.call("recallMessage", {"mid": mid, "to": b})
    assert "success" in recalled, recalled
    assert bob.wait("onRecallMessage") == {"mid": mid, "from": a, "type": "chat"}
    assert alice.pending(["onError"]) == [] and bob.pending(["onError"]) == []


# --- a browser user and a plain XMPP (TCP) user -----------------------------------------------------


def test_browser_and_tcp_user_chat(web: Web, xserver: XServer) -> None:
    a, b = unique("ba"), unique("bt")
    xserver.api.register(a, b)
    alice = web(a)
    alice.online()
    bob = TcpUser(xserver, b)
    try:
        sent = alice.send("txt", to=b, msg="from the browser", ext={"x": 1})
        assert sent["ok"] is True, sent
        got = bob.do(lambda c: c.next_message())
        assert got["body"] == "from the browser" and got["type"] == "chat"  # plain text for a plain client
        assert str(got["from"]).startswith(xserver.jid(a))

        async def reply(c: Any) -> None:
            c.send_message(mto=xserver.jid(a), mbody="from slixmpp <&>", mtype="chat")

        bob.do(reply)
        msg = alice.wait("onTextMessage")
        assert msg["data"] == "from slixmpp <&>" and msg["from"] == b and msg["to"] == a and msg["type"] == "chat"
        assert alice.pending(["onError"]) == []
    finally:
        bob.close()


def test_rest_message_reaches_browser(web: Web, xserver: XServer) -> None:
    a, b = unique("ra"), unique("rb")
    xserver.api.register(a, b)
    bob = web(b)
    bob.online()
    mid = _rest_sent(xserver.api, a, b, {"type": "txt", "msg": "sent by the backend"}, {"order": 42, "tag": "t"})
    got = bob.wait("onTextMessage")
    assert got["data"] == "sent by the backend" and got["from"] == a and got["to"] == b and got["type"] == "chat"
    assert got["id"] == mid and got["ext"]["order"] == 42 and got["ext"]["tag"] == "t"
    _rest_sent(xserver.api, a, b, {"type": "cmd", "action": "sync"})
    cmd = bob.wait("onCmdMessage")
    assert cmd["action"] == "sync" and cmd["from"] == a
    _rest_sent(xserver.api, a, b, {"type": "loc", "addr": "here", "lat": "1.5", "lng": "2.5"})
    loc = bob.wait("onLocationMessage")
    assert loc["addr"] == "here" and loc["from"] == a


def test_offline_messages_replayed_on_login(web: Web, xserver: XServer) -> None:
    a, b = unique("oa"), unique("ob")
    api = xserver.api
    api.register(a, b)
    alice = web(a)
    alice.online()
    for i in range(3):
        assert alice.send("txt", to=b, msg=f"while away {i}")["ok"] is True
    _rest_sent(api, a, b, {"type": "txt", "msg": "from REST while away"})
    assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 4

    bob = web(b)
    bob.online()
    texts = []
    for _ in range(4):
        got = bob.wait("onTextMessage")
        assert got["from"] == a and got["delay"], got  # §4.8: the <delay> stamp reaches the app
        texts.append(got["data"])
    assert texts == ["while away 0", "while away 1", "while away 2", "from REST while away"]
    # the SDK's receipts (5 a second) clear the offline store
    deadline = time.monotonic() + TIMEOUT
    while api.get(f"/users/{b}/offline_msg_count").json()["data"][b] != 0:
        assert time.monotonic() < deadline, "the receipts never cleared the offline messages"
        time.sleep(0.1)
    bob.close()
    bob.wait_online(False)
    again = web(b, label=b + "-again")
    again.online()
    assert again.pending(["onTextMessage"], 500) == []


# --- friends and the blacklist --------------------------------------------------------------------------


def _contacts(api: Api, name: str) -> list[str]:
    return sorted(api.get(f"/users/{name}/contacts/users").json()["data"])


def test_friend_request_accept_decline_remove(web: Web, xserver: XServer) -> None:
    """§5 with the demo's conventions: request = subscribe with a text; accept = subscribed +
    subscribe '[resp:true]'; decline = unsubscribed 'rejectAddFriend'; remove = removeRoster."""
    a, b, c = unique("ka"), unique("kb"), unique("kc")
    api = xserver.api
    api.register(a, b, c)
    alice, bob, carol = web(a), web(b), web(c)
    for u in (alice, bob, carol):
        u.online()

    alice.call("subscribe", {"to": b, "message": "please add me"}, wait=False)
    req = bob.wait("onPresence", {"info": {"type": "subscribe"}})
    assert req["info"]["from"] == a and req["info"]["status"] == "please add me"
    bob.call("subscribed", {"to": a, "message": "[resp:true]"}, wait=False)
    bob.call("subscribe", {"to": a, "message": "[resp:true]"}, wait=False)
    ok = alice.wait("onPresence", {"info": {"type": "subscribed"}})
    assert ok["info"]["from"] == b
    deadline = time.monotonic() + TIMEOUT
    while not (_contacts(api, a) == [b] and _contacts(api, b) == [a]):
        assert time.monotonic() < deadline, (_contacts(api, a), _contacts(api, b))
        time.sleep(0.1)
    roster = alice.call("getRoster")
    assert "success" in roster, roster
    items = {i["name"]: i for i in roster["success"]}
    assert items[b]["subscription"] == "both", roster

    carol.call("subscribe", {"to": a, "message": "me too"}, wait=False)
    req = alice.wait("onPresence", {"info": {"type": "subscribe", "from": c}})
    assert req["info"]["status"] == "me too"
    alice.call("unsubscribed", {"to": c, "message": "rejectAddFriend"}, wait=False)
    no = carol.wait("onPresence", {"info": {"type": "unsubscribed"}})
    assert no["info"]["from"] == a and no["info"]["status"] == "rejectAddFriend"
    assert _contacts(api, c) == [] and _contacts(api, a) == [b]

    removed = alice.call("removeRoster", {"to": b})
    assert "success" in removed, removed
    alice.call("unsubscribed", {"to": b}, wait=False)
    deadline = time.monotonic() + TIMEOUT
    while _contacts(api, a) or _contacts(api, b):
        assert time.monotonic() < deadline, (_contacts(api, a), _contacts(api, b))
        time.sleep(0.1)
    _wait_roster_item(bob, a, "remove")
    roster = alice.call("getRoster")
    assert [i for i in roster["success"] if i["name"] == b and i["subscription"] in ("both", "to", "from")] == []


def _wait_roster_item(user: WebUser, name: str, subscription: str) -> dict[str, Any]:
    """The next roster push (onRoster) with an item for `name` in state `subscription`."""
    seen = []
    for _ in range(10):
        push = user.wait("onRoster")
        seen.append(push)
        for item in push:
            if item["name"] == name and item.get("subscription") == subscription:
                return dict(item)
    raise AssertionError(f"no roster push with {name} {subscription}: {seen}")


def test_blacklist_is_the_rest_block_list(web: Web, xserver: XServer) -> None:
    """§5b: the SDK's privacy list `special` is the user's REST block list, both ways; a blocked
    sender's message is dropped or bounced in the §4.9 form (with <text>), and the sender's SDK
    keeps working (1.4.6 loses its message handler on an error message with a JSON body, §4.11)."""
    a, b, c = unique("la"), unique("lb"), unique("lc")
    api = xserver.api
    api.register(a, b, c)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    assert "success" in alice.call("getBlacklist")
    assert not alice.wait("onBlacklistUpdate")  # nothing blocked yet ({} from 1.8.4, [] from 1.4.6)

    jid = xserver.jid(b)
    item = {"jid": jid, "name": b, "subscription": "both", "order": 2, "type": "jid"}
    done = alice.call("addToBlackList", {"list": {b: item}})
    assert "success" in done, done
    assert _blocks(api, a) == [b]
    listed = alice.wait("onBlacklistUpdate")  # the server's privacy push makes the SDK re-fetch the list
    assert list(listed) == [b] and listed[b]["jid"] == jid, listed

    sent = bob.send("txt", to=a, msg="can you hear me?", noWait=True)
    assert alice.pending(["onTextMessage"], 700) == []
    # §5b.1: dropped, or bounced in the §4.9 form (the original body, an error with <text>)
    for bounce in bob.pending(["onTextMessage"]):
        data = bounce["data"]
        assert data["error"] is True and data["errorText"] and data["data"] == "can you hear me?", data
        assert data["id"] == sent["id"], data
    # whatever came back did not disable bob's SDK (§4.11): he still receives messages
    assert alice.send("txt", to=b, msg="I blocked you")["ok"] is True
    assert bob.wait("onTextMessage")["data"] == "I blocked you"

    # a block added over REST shows in the SDK's list
    assert api.post(f"/users/{a}/blocks/users", json={"usernames": [c]}).status_code == 200
    alice.pending(["onBlacklistUpdate"], 300)
    assert "success" in alice.call("getBlacklist")
    listed = alice.wait("onBlacklistUpdate")
    assert sorted(listed) == sorted([b, c]), listed

    # removing everyone sends an empty list
    done = alice.call("removeFromBlackList", {"list": {}})
    assert "success" in done, done
    assert _blocks(api, a) == []
    sent = bob.send("txt", to=a, msg="now?")
    assert sent["ok"] is True, sent
    assert alice.wait("onTextMessage")["data"] == "now?"


def _blocks(api: Api, name: str) -> list[str]:
    return sorted(api.get(f"/users/{name}/blocks/users").json()["data"])


# --- groups and chat rooms ----------------------------------------------------------------------------


def test_group_message_to_members_who_never_joined(web: Web, xserver: XServer) -> None:
    a, b, c = unique("ga"), unique("gb"), unique("gc")
    api = xserver.api
    api.register(a, b, c)
    r = api.post("/chatgroups", json={"groupname": "team", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                      "members": [b, c]})
    assert r.status_code == 200, r.text
    gid = r.json()["data"]["groupid"]
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    sent = alice.send("txt", to=gid, msg="hello team", group="groupchat", ext={"g": True})
    assert sent["ok"] is True and sent["serverMsgId"], sent
    got = bob.wait("onTextMessage")
    assert got["data"] == "hello team" and got["type"] == "groupchat" and got["from"] == a and got["to"] == gid
    assert got["ext"]["g"] is True and got["id"] == sent["serverMsgId"]
    assert alice.pending(["onTextMessage"], 300) == []  # not echoed to the sender
    if bob.sdk == "184":  # 1.8's REST group API with the user's token (§2.7), as its demo calls it
        mine = bob.call("getGroup")
        assert {"groupid": gid, "groupname": "team"}.items() <= mine["success"]["data"][0].items(), mine
        public = bob.call("listGroups", {"limit": 100})
        assert any(g["groupid"] == gid for g in public["success"]["data"]), public
    # carol was offline: it waits for her
    carol = web(c)
    carol.online()
    late = carol.wait("onTextMessage")
    assert late["data"] == "hello team" and late["type"] == "groupchat" and late["to"] == gid and late["delay"]


def test_create_group_and_invite_over_xmpp(web: Web, xserver: XServer, sdk: str) -> None:
    """demo.html's createGroup (§7.5): the create presence, the owner form, the invitations (§7.6);
    the group then exists over REST with its members and carries their messages."""
    a, b = unique("na"), unique("nb")
    api = xserver.api
    api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    options = {"subject": "Book club", "description": "we read", "members": [b], "optionsPublic": True,
               "optionsModerate": False, "optionsMembersOnly": False, "optionsAllowInvites": True}
    alice.call("createGroup", options, wait=False)
    if sdk == "184":  # 1.8 waits for the app to carry on after createGroupACK
        ack = alice.wait("onPresence", {"info": {"type": "createGroupACK"}})
        rid = ack["info"]["from"]
        done = alice.call("createGroupAsync", {"from": rid})
        assert "success" in done, done
    else:  # 1.4.6 carries on by itself one second after the owner's presence
        ack = alice.wait("onPresence", {"info": {"type": "joinPublicGroupSuccess"}})
        rid = ack["info"]["from"]
    invite = bob.wait("onInviteMessage")
    assert invite["type"] == "invite" and invite["from"] == a and invite["roomid"] == rid, invite
    deadline = time.monotonic() + TIMEOUT
    while True:
        r = api.get(f"/chatgroups/{rid}")
        group = r.json()["data"][0] if r.status_code == 200 else {}
        members = {m.get("owner") or m.get("member") for m in group.get("affiliations", [])}
        if group.get("name") == "Book club" and members == {a, b}:
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    assert group["description"] == "we read" and group["public"] is True, group
    sent = bob.send("txt", to=rid, msg="count me in", group="groupchat")
    assert sent["ok"] is True, sent
    got = alice.wait("onTextMessage")
    assert got["data"] == "count me in" and got["type"] == "groupchat" and got["to"] == rid and got["from"] == b


def test_chat_room_join_send_quit(web: Web, xserver: XServer) -> None:
    a, b, c = unique("ca"), unique("cb"), unique("cc")
    api = xserver.api
    api.register(a, b, c)
    r = api.post("/chatrooms", json={"name": "lobby", "description": "d", "maxusers": 10, "owner": a})
    assert r.status_code == 200, r.text
    rid = r.json()["data"]["id"]
    bob, carol = web(b), web(c)
    bob.online()
    carol.online()
    # the room list over REST with the user's token, in Usergrid's shape (§2.4)
    listed = bob.call("getChatRooms", {"apiUrl": bob.api_url, "pagenum": 1, "pagesize": 20})
    assert "success" in listed, listed
    assert {"id": rid, "name": "lobby"}.items() <= next(r for r in listed["success"]["data"] if r["id"] == rid).items()
    for user in (bob, carol):
        user.call("joinChatRoom", {"roomId": rid}, wait=False)
        joined = user.wait("onPresence", {"info": {"type": "joinChatRoomSuccess"}})
        assert joined["info"]["from"] == rid and joined["info"]["chatroom"] is True
    members = api.get(f"/chatrooms/{rid}").json()["data"][0]
    names = {next(iter(x.values())) for x in members["affiliations"]}
    assert {b, c} <= names, members

    sent = bob.send("txt", to=rid, msg="hi room", roomType=True, group="groupchat")
    assert sent["ok"] is True, sent
    got = carol.wait("onTextMessage")
    assert got["data"] == "hi room" and got["type"] == "chatroom" and got["from"] == b and got["to"] == rid
    assert bob.pending(["onTextMessage"], 300) == []

    bob.call("quitChatRoom", {"roomId": rid}, wait=False)
    left = bob.wait("onPresence", {"info": {"type": "leaveChatRoom"}})
    assert left["info"]["from"] == rid
    carol.send("txt", to=rid, msg="bob is gone", roomType=True, group="groupchat")
    assert bob.pending(["onTextMessage"], 700) == []


# --- being replaced and being kicked --------------------------------------------------------------------


def test_replaced_by_second_login_and_kicked_by_rest(web: Web, xserver: XServer) -> None:
    """§3.8: a second login with the default resource `webim` replaces the first: the first page
    gets onError type 8 with conflict, then onClosed, and does not reconnect. REST disconnect
    closes the session."""
    a = unique("xa")
    xserver.api.register(a)
    first, second = web(a, label=a + "-first"), web(a, label=a + "-second")
    first.online()
    assert "opened" in second.login()
    err = first.wait("onError", {"type": 8})
    assert err.get("conflict") is True, err
    first.wait("onClosed")
    assert first.js("() => H.status()")["opened"] is False
    assert first.pending(["onOpened"], 1000) == [] and first.sockets == 1  # no auto-reconnect (§3.8)
    second.wait_online()
    assert second.pending(["onError", "onClosed"], 300) == []

    # REST disconnect: a stream error after connecting is WEBIM_CONNCTION_SERVER_ERROR, no conflict
    r = xserver.api.get(f"/users/{a}/disconnect")
    assert r.status_code == 200 and r.json()["data"]["result"] is True, r.text
    err = second.wait("onError")
    assert err["type"] == 8 and not err.get("conflict"), err
    second.wait("onClosed")
    second.wait_online(False)
    assert second.js("() => H.status()")["opened"] is False
    assert second.pending(["onOpened"], 1000) == [] and second.sockets == 1


# --- pre-send callbacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["184"], ids=["websdk184"])
def test_pre_send_rule_refuses_and_passes(web: Web, xserver: XServer, receiver: Receiver) -> None:
    """An app's pre-send rule (docs/callbacks.md) whose receiver refuses texts with the word "bad":
    the refused message comes back to its sender as an XMPP `<message type='error'>` with
    `<not-acceptable/>` in the §4.9 form, which 1.8.4 reports through onTextMessage with `error`,
    `errorCode` 406 and the receiver's code as `errorText` (no onError; the SDK keeps working); the
    recipient gets nothing of it; a permitted text's success has the server's id."""
    xs, a, b = judged_by_words(xserver, receiver)  # an app of its own: rules are per app
    alice, bob = web(a, xs=xs), web(b, xs=xs)
    alice.online()
    bob.online()

    sent = alice.send("txt", to=b, msg="bad words", noWait=True)
    # {id: the client's, type: "error", from, to, data: the text, ext, error, errorCode, errorText}
    bounced = alice.wait("onTextMessage", {"error": True})
    assert bounced["id"] == sent["id"] and bounced["type"] == "error" and bounced["data"] == "bad words", bounced
    assert bounced["errorCode"] == "406" and bounced["errorText"] == REFUSAL, bounced
    assert bounced["from"] == a and bounced["to"] == b, bounced
    (frame,) = [f for f in alice.frames if f.startswith("S: ") and "<error " in f]
    assert "type='error'" in frame and "<not-acceptable " in frame and f">{REFUSAL}</text>" in frame, frame

    passed = alice.send("txt", to=b, msg="good words")
    assert passed["ok"] is True, passed
    got = bob.wait("onTextMessage", {"data": "good words"})
    assert got["id"] == passed["serverMsgId"] and got["from"] == a and got["error"] is False, got
    assert bob.pending(["onTextMessage"], 300) == []  # the refused one never came
    # the refusal did not disable alice's SDK (§4.11): she still receives
    assert bob.send("txt", to=a, msg="still there?")["ok"] is True
    assert alice.wait("onTextMessage", {"data": "still there?"})["from"] == b
    assert alice.pending(["onError"]) == []
    assert [x["payload"]["msg"] for x in receiver.asked(a)] == ["bad words", "good words"]
