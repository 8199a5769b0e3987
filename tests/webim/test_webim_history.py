"""The real Web IM SDK against hxim, for what an app reads back later: 1.8.4's
`fetchHistoryMessages` (message roaming, webim-xmpp.md §2.6) and a received image shown the way
apps show it, `<img src=message.url>` with no headers (§2.5, §2.8).

Pages and fixtures as in test_webim_sdk.py (screenshots and frames under tests/webim/artifacts/).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
from test_webim_sdk import Web, _rest_sent, browser, page_url, sdk, web
from webim_browser import XServer, xserver

from conftest import unique

__all__ = ["browser", "page_url", "sdk", "web", "xserver"]

PAGE = 20  # the server's default message_roaming_page_size


def png(width: int, height: int) -> bytes:
    """A valid RGBA PNG of `width` x `height` opaque red pixels (a browser must be able to decode it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


WIDTH, HEIGHT = 24, 16  # big enough to see in the screenshot
PNG = png(WIDTH, HEIGHT)


def _history(page: Any, queue: str, count: int, group: bool = False) -> list[dict[str, Any]]:
    """conn.fetchHistoryMessages as an app calls it: what its success callback receives."""
    got = page.call("fetchHistoryMessages", {"queue": queue, "count": count, "isGroup": group})
    assert "success" in got, got
    return list(got["success"])


@pytest.mark.parametrize("sdk", ["184"], ids=["websdk184"])  # 1.4.6 has no history (webim-xmpp.md §11)
def test_fetch_history_messages(web: Web, xserver: XServer, sdk: str) -> None:
    """A 1:1 conversation sent over XMPP by both sides and over REST by the backend, then read
    back by each side: every message once, oldest first in the callback (the server answers
    newest first and the SDK reverses), across more than one server page, with the §4.7 fields
    the live callbacks have plus the `<delay>` stamp."""
    a, b = unique("Ha"), unique("hb")
    api = xserver.api
    api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    sent: list[tuple[str, str, str]] = []  # (server id, sender, text), oldest first
    for i in range(3):
        who, peer, to = (alice, bob, b) if i % 2 == 0 else (bob, alice, a)
        ok = who.send("txt", to=to, msg=f"live {i}", ext={"i": i})
        assert ok["ok"] is True, ok
        peer.wait("onTextMessage", {"data": f"live {i}"})
        sent.append((ok["serverMsgId"], who.name, f"live {i}"))
    for i in range(PAGE):  # the backend fills more than a page
        sent.append((_rest_sent(api, b, a, {"type": "txt", "msg": f"rest {i}"}, {"i": 100 + i}), b, f"rest {i}"))
    for i in range(PAGE):
        alice.wait("onTextMessage", {"data": f"rest {i}"})
    ok = alice.send("txt", to=b, msg="last word")
    assert ok["ok"] is True, ok
    sent.append((ok["serverMsgId"], a, "last word"))
    bob.wait("onTextMessage", {"data": "last word"})

    # all of it: the SDK asks again with next_key until it has `count` or is_last
    got = _history(alice, b, len(sent) + 10)
    assert [m["id"] for m in got] == [s[0] for s in sent]
    for m, (_, who, text) in zip(got, sent, strict=True):
        assert (m["type"], m["from"], m["data"], m["error"]) == ("chat", who.lower(), text, False), m
        assert m["to"] == (b if who == a else a.lower()), m
        assert m["delay"] and m["delay"].endswith("Z"), m
        assert m["message_type"] == "txt"
    assert got[0]["ext"]["i"] == 0 and got[3]["ext"]["i"] == 100
    assert got[0]["ext"]["weichat"]["originType"] == "webim"  # the ext the sending SDK added is kept
    # roamed messages fire no callbacks, and nothing went wrong on the page
    assert alice.pending(["onTextMessage", "onEmojiMessage", "onError"], 300) == []
    assert alice.errors == []

    # the other side reads the same conversation, in smaller helpings from the SDK's cache
    newest = _history(bob, a, 5)
    assert [m["id"] for m in newest] == [s[0] for s in sent[-5:]]
    older = _history(bob, a, 5)
    assert [m["id"] for m in older] == [s[0] for s in sent[-10:-5]]
    assert bob.pending(["onTextMessage", "onError"], 300) == []


@pytest.mark.parametrize("sdk", ["184"], ids=["websdk184"])
def test_fetch_group_history(web: Web, xserver: XServer, sdk: str) -> None:
    """A group's history (`isGroup: true`, queue `{gid}@conference.easemob.com`) for a member,
    messages from the SDK and from REST, type `groupchat`; a user outside gets nothing."""
    a, b, c = unique("ga"), unique("gb"), unique("gc")
    api = xserver.api
    api.register(a, b, c)
    r = api.post("/chatgroups", json={"groupname": "history", "desc": "d", "public": True, "maxusers": 10,
                                      "owner": a, "members": [b]})
    assert r.status_code == 200, r.text
    gid = str(r.json()["data"]["groupid"])
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    ok = alice.send("txt", to=gid, msg="hello group", group="groupchat")
    assert ok["ok"] is True, ok
    bob.wait("onTextMessage", {"data": "hello group"})
    r = api.post("/messages?useMsgId=true", json={"target_type": "chatgroups", "target": [gid], "from": b,
                                                  "msg": {"type": "txt", "msg": "from the backend"}})
    assert r.status_code == 200, r.text
    rest_id = str(r.json()["data"][gid])
    alice.wait("onTextMessage", {"data": "from the backend"})

    got = _history(bob, gid, 20, group=True)
    assert [(m["id"], m["from"], m["to"], m["type"], m["data"]) for m in got] == [
        (ok["serverMsgId"], a, gid, "groupchat", "hello group"),
        (rest_id, b, gid, "groupchat", "from the backend"),
    ]
    assert all(m["delay"] for m in got)
    # not a member: refused. The SDK drops REST errors without a word (§1.5), so the page asks
    # with the SDK's own token and request, cross-origin as the SDK does
    carol = web(c)
    carol.online()
    refused = carol.js(
        """gid => fetch(H.cfg.apiUrl + '/' + H.conn.context.orgName + '/' + H.conn.context.appName + '/users/' +
                        H.conn.context.userId + '/messageroaming',
                        {method: 'POST', headers: {Authorization: 'Bearer ' + H.conn.context.accessToken},
                         body: JSON.stringify({queue: gid + '@conference.easemob.com', start: -1, end: -1})})
                  .then(r => r.json().then(body => ({status: r.status, error: body.error})))""",
        gid,
    )
    assert refused == {"status": 403, "error": "forbidden_op"}, refused


def test_received_image_loads_in_img_src(web: Web, xserver: XServer) -> None:
    """§2.5: the SDK uploads an image with restrict-access and sends its URL; the receiving app
    puts `message.url` straight into `<img src>` (a GET with no headers) and the image loads. A
    wrong share-secret is still refused."""
    a, b = unique("ia"), unique("ib")
    xserver.api.register(a, b)
    alice, bob = web(a), web(b)
    alice.online()
    bob.online()
    sent = alice.send_file("img", PNG, "dot.png", "image/png", to=b, width=WIDTH, height=HEIGHT)
    assert sent.get("ok") is True, sent
    pic = bob.wait("onPictureMessage")
    assert pic["secret"] and pic["url"].startswith(alice.api_url), pic
    shown = bob.js("u => H.showImage(u)", pic["url"])
    assert shown == {"width": WIDTH, "height": HEIGHT}, shown
    # so does it on a page that never logged in (no token anywhere)
    stranger = web(unique("viewer"), label="not logged in")
    assert stranger.js("u => H.showImage(u)", pic["url"] + "?fresh=1") == {"width": WIDTH, "height": HEIGHT}
    assert bob.download(pic["url"] + "?again=1", "not-the-secret").get("status") == 401
