"""The Web IM SDK over BOSH (webim-xmpp.md §1.2, §3.9): the unmodified SDK (1.4.6 and 1.8.4) in
headless Chromium, given `url: 'http://127.0.0.1:{port}/http-bind/'`, logs in through
/http-bind/ (cross-origin, so with CORS preflights) and chats with a user of the same SDK line
over WebSocket. Screenshots of both pages and the BOSH bodies / WebSocket frames each exchanged
are saved under tests/webim/artifacts/ like the other browser tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_webim_sdk import browser, page_url, sdk
from webim_browser import Browser, WebUser, XServer, xserver

from conftest import unique

__all__ = ["browser", "page_url", "sdk", "xserver"]


class BoshWebUser(WebUser):
    """A page whose SDK connects over BOSH: `url` is the /http-bind/ URL, used as it is (§1.2).
    The BOSH requests and responses are recorded with the frames."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.xmpp_url = self.api_url + "/http-bind/"
        frames = self.frames

        async def watch() -> None:
            async def on_response(resp: Any) -> None:
                if "/http-bind" in resp.url and resp.request.method == "POST":
                    try:
                        frames.append(f"S: {resp.status} {await resp.text()}")
                    except Exception as exc:  # the page may be gone
                        frames.append(f"S: ({exc})")

            def on_request(req: Any) -> None:
                if "/http-bind" in req.url:
                    frames.append(f"C: {req.method} {req.post_data or ''}")

            self.page.on("request", on_request)
            self.page.on("response", on_response)

        self.browser.run(watch())
        self.js("cfg => H.configure(cfg)", {"xmppUrl": self.xmpp_url, "apiUrl": self.api_url,
                                            "appKey": f"{self.app.org}#{self.app.app}", "label": self.label})

    @property
    def bosh_posts(self) -> int:
        return sum(1 for f in self.frames if f.startswith("C: POST"))


Web = Callable[..., WebUser]


@pytest.fixture
def pages(
    request: pytest.FixtureRequest, browser: Browser, page_url: str, sdk: str, xserver: XServer
) -> Iterator[tuple[Web, Web]]:
    """(bosh(name), ws(name)): new pages of this test's SDK line, over BOSH or over WebSocket."""
    context = browser.run(browser.browser.new_context(viewport={"width": 900, "height": 700}))
    users: list[WebUser] = []

    def maker(cls: type[WebUser]) -> Web:
        def make(name: str, **kw: Any) -> WebUser:
            user = cls(browser, context, page_url, sdk, xserver, name, **kw)
            users.append(user)
            return user

        return make

    try:
        yield maker(BoshWebUser), maker(WebUser)
    finally:
        for i, user in enumerate(users, 1):
            shot = user.save(f"{request.node.name}-page{i}")
            print(f"screenshot of {user.label}: {shot}")
        browser.run(context.close())


def test_bosh_user_chats_with_a_websocket_user(pages: tuple[Web, Web], xserver: XServer) -> None:
    bosh, ws = pages
    a, b = unique("ha"), unique("hb")
    xserver.api.register(a, b)
    alice = bosh(a, label=a + " (BOSH)")
    bob = ws(b, label=b + " (WebSocket)")
    opened = alice.online()
    assert opened["accessToken"].startswith("YWMt")
    assert isinstance(alice, BoshWebUser) and alice.bosh_posts >= 5 and alice.sockets == 0
    bob.online()

    sent = alice.send("txt", to=b, msg="over BOSH 你好", ext={"via": "bosh"})
    assert sent["ok"] is True and sent["serverMsgId"], (sent, alice.frames[-10:])
    got = bob.wait("onTextMessage")
    assert got["data"] == "over BOSH 你好" and got["from"] == a and got["ext"]["via"] == "bosh"

    # the long-polled request carries bob's message to alice
    sent = bob.send("txt", to=a, msg="over WebSocket")
    assert sent["ok"] is True, sent
    got = alice.wait("onTextMessage")
    assert got["data"] == "over WebSocket" and got["from"] == b and got["to"] == a

    sent = bob.send("cmd", to=a, action="ping_back")
    assert sent["ok"] is True, sent
    assert alice.wait("onCmdMessage")["action"] == "ping_back"
    # a REST message reaches the BOSH user too
    r = xserver.api.post("/messages", json={"target_type": "users", "target": [a], "from": b,
                                            "msg": {"type": "txt", "msg": "from REST"}})
    assert r.status_code == 200, r.text
    assert alice.wait("onTextMessage")["data"] == "from REST"
    assert alice.pending(["onError"], 300) == [] and bob.pending(["onError"]) == []

    alice.close()  # the demo's logout: unavailable presence and a BOSH terminate
    alice.wait_online(False)
    assert any("type='terminate'" in f or 'type="terminate"' in f for f in alice.frames if f.startswith("C: POST"))
