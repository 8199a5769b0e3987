"""XMPP over BOSH (XEP-0124 + XEP-0206) at /http-bind/, spoken as raw HTTP with httpx: session
creation, SASL PLAIN (password and `$t$` token), restart, bind, session, presence, chat both ways
with a TCP user, long polling, rid repeats and the rid window, terminate, the inactivity timeout
(with the queued message going back offline), bad XML, unknown sid, limits, CORS
(webim-xmpp.md §1.2, §1.6, §3.7–§3.9)."""

from __future__ import annotations

import asyncio
import base64
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import httpx
import pytest
from xmpp_helpers import DOMAIN, Client, XServer, run, start_xmpp_server

from conftest import BACKENDS, stop_server, unique

HTTPBIND = "http://jabber.org/protocol/httpbind"
XBOSH = "urn:xmpp:xbosh"
BODY = "{" + HTTPBIND + "}body"
STREAMS = "http://etherx.jabber.org/streams"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
C = "{jabber:client}"
WAIT = 4  # HXIM_XMPP_BOSH_MAX_WAIT_SECONDS of the test server
INACTIVITY = 2
MAX_SESSIONS = 8


@pytest.fixture(scope="module", params=BACKENDS)
def bserver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-bosh-{request.param}")
    xs, pg_name = start_xmpp_server(
        tmp,
        request.param,
        HXIM_XMPP_BOSH_MAX_WAIT_SECONDS=str(WAIT),
        HXIM_XMPP_BOSH_INACTIVITY_SECONDS=str(INACTIVITY),
        HXIM_XMPP_BOSH_MAX_SESSIONS=str(MAX_SESSIONS),
        HXIM_XMPP_BOSH_MAX_BODY_BYTES="20000",
    )
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


def plain(authcid: str, password: str) -> str:
    return base64.b64encode(f"\0{authcid}\0{password}".encode()).decode()


class Bosh:
    """A raw BOSH client: each `request` is one POST; every stanza of every response is kept in
    `received` (the order responses arrived in)."""

    def __init__(self, xs: XServer, path: str = "/http-bind/", rid: int = 1_000_000) -> None:
        self.xs = xs
        self.url = xs.server.base_url + path
        self.http = httpx.AsyncClient(timeout=30)
        self.rid = rid
        self.sid: str | None = None
        self.received: list[ET.Element] = []
        self._arrived = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._stop = False

    def body(self, payload: str = "", rid: int | None = None, **attrs: str) -> str:
        if rid is None:
            self.rid += 1
            rid = self.rid
        all_attrs = {"rid": str(rid), **({"sid": self.sid} if self.sid else {}), **attrs}
        text = " ".join(f"{k}='{v}'" for k, v in all_attrs.items())
        return f"<body {text} xmlns='{HTTPBIND}' xmlns:xmpp='{XBOSH}'>{payload}</body>"

    async def post(self, data: str | bytes, **headers: str) -> httpx.Response:
        return await self.http.post(self.url, content=data, headers={"Content-Type": "text/xml; charset=utf-8",
                                                                     **headers})

    async def request(self, payload: str = "", rid: int | None = None, **attrs: str) -> ET.Element:
        r = await self.post(self.body(payload, rid, **attrs))
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["content-type"].startswith("text/xml")
        body = ET.fromstring(r.content)
        assert body.tag == BODY, r.text
        self.received.extend(body)
        self._arrived.set()
        return body

    async def create(self, wait: int = WAIT, hold: int = 1, to: str = DOMAIN, **extra: str) -> ET.Element:
        attrs = {"to": to, "xml:lang": "en", "wait": str(wait), "hold": str(hold),
                 "content": "text/xml; charset=utf-8", "ver": "1.6", "xmpp:version": "1.0", **extra}
        body = await self.request(**attrs)
        self.sid = body.get("sid")
        return body

    async def login(self, username: str, secret: str = "secret1", resource: str = "bosh") -> str:
        """Creation, SASL PLAIN, restart, bind, session: the bound JID."""
        created = await self.create()
        assert created.get("sid"), ET.tostring(created)
        authcid = self.xs.jid(username).split("@")[0]
        ok = await self.request(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain(authcid, secret)}</auth>")
        assert ok.find(f"{{{SASL}}}success") is not None, ET.tostring(ok)
        restarted = await self.request(to=DOMAIN, **{"xml:lang": "en", "xmpp:restart": "true"})
        features = restarted.find(f"{{{STREAMS}}}features")
        assert features is not None and features.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None
        bound = await self.request("<iq xmlns='jabber:client' type='set' id='bind_1'>"
                                   "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                                   f"<resource>{resource}</resource></bind></iq>")
        jid = bound.find(f"{C}iq/{{urn:ietf:params:xml:ns:xmpp-bind}}bind/{{urn:ietf:params:xml:ns:xmpp-bind}}jid")
        assert jid is not None and jid.text, ET.tostring(bound)
        session = await self.request("<iq xmlns='jabber:client' type='set' id='sess_1'>"
                                     "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        assert session.find(f"{C}iq[@id='sess_1']") is not None, ET.tostring(session)
        return jid.text

    def start_polling(self) -> None:
        """Keep an empty request outstanding (as Strophe does) until `terminate`."""
        self._stop = False

        async def loop() -> None:
            while not self._stop:
                body = await self.request()
                if body.get("type") == "terminate":
                    return

        self._poller = asyncio.get_running_loop().create_task(loop())

    async def stop_polling(self) -> None:
        """Abandon the poller (a rid it took may never reach the server: only at the end)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None

    async def expect(self, pred: Callable[[ET.Element], bool], timeout: float = 10) -> ET.Element:
        deadline = time.monotonic() + timeout
        while True:
            for el in self.received:
                if pred(el):
                    self.received.remove(el)
                    return el
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("not received: " + " | ".join(ET.tostring(e).decode() for e in self.received))
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.2))
            except TimeoutError:
                pass

    async def terminate(self, payload: str = "") -> ET.Element:
        self._stop = True  # the held poll is released by this request; no new one after it
        body = await self.request(payload, type="terminate")
        if self._poller is not None:
            await asyncio.wait_for(asyncio.gather(self._poller, return_exceptions=True), WAIT + 5)
            self._poller = None
        return body

    async def aclose(self) -> None:
        await self.stop_polling()
        await self.http.aclose()


def status(xs: XServer, name: str) -> str:
    return str(xs.api.get(f"/users/{name}/status").json()["data"][name])


async def until_status(xs: XServer, name: str, want: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while status(xs, name) != want:
        assert time.monotonic() < deadline, f"{name} never {want}"
        await asyncio.sleep(0.1)


def body_text(el: ET.Element) -> str:
    return el.findtext(f"{C}body") or ""


# --- session creation and login ------------------------------------------------------------------------


def test_creation_password_login_presence_and_terminate(bserver: XServer) -> None:
    name = unique("ba")
    bserver.api.register(name)

    async def scenario() -> None:
        for path in ("/http-bind/", "/http-bind"):
            b = Bosh(bserver, path)
            try:
                created = await b.create(wait=30, hold=3)
                # XEP-0124 §7.2, XEP-0206 §5: wait and hold capped by the settings
                assert created.get("wait") == str(WAIT) and created.get("hold") == "1"
                assert created.get("requests") == "2" and created.get("inactivity") == str(INACTIVITY)
                assert created.get("ver") == "1.6" and created.get("from") == DOMAIN and created.get("polling")
                assert created.get(f"{{{XBOSH}}}version") == "1.0"
                assert created.get(f"{{{XBOSH}}}restartlogic") == "true"
                assert created.get("authid") and len(created.get("sid", "")) >= 16
                mechs = created.findall(f"{{{STREAMS}}}features/{{{SASL}}}mechanisms/{{{SASL}}}mechanism")
                assert [m.text for m in mechs] == ["PLAIN"]
                # a wrong password is a SASL failure, the session goes on
                authcid = bserver.jid(name).split("@")[0]
                bad = await b.request(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain(authcid, 'nope')}</auth>")
                assert bad.find(f"{{{SASL}}}failure/{{{SASL}}}not-authorized") is not None, ET.tostring(bad)
            finally:
                await b.aclose()
        b = Bosh(bserver)
        try:
            jid = await b.login(name, resource="web")
            assert jid == bserver.jid(name, "web")
            b.start_polling()
            await b.request("<presence xmlns='jabber:client'/>")
            await until_status(bserver, name, "online")
            # a ping answered with the domain as its sender
            await b.request("<iq xmlns='jabber:client' type='get' id='p1' to='easemob.com'>"
                            "<ping xmlns='urn:xmpp:ping'/></iq>")
            pong = await b.expect(lambda e: e.get("id") == "p1")
            assert pong.get("type") == "result" and pong.get("from") == DOMAIN
            done = await b.terminate("<presence xmlns='jabber:client' type='unavailable'/>")
            assert done.get("type") == "terminate" and done.get("condition") is None
            await until_status(bserver, name, "offline")
            gone = await b.request()  # the sid is forgotten
            assert gone.get("type") == "terminate" and gone.get("condition") == "item-not-found"
        finally:
            await b.aclose()

    run(scenario)


def test_token_login_and_chat_with_a_tcp_user(bserver: XServer) -> None:
    a, b = unique("bt"), unique("bu")
    bserver.api.register(a, b)
    token = bserver.api.user_token(a)

    async def scenario() -> None:
        web = Bosh(bserver)
        tcp = Client(bserver, b)
        try:
            assert await web.login(a, "$t$" + token, resource="webim") == bserver.jid(a, "webim")
            await web.request("<presence xmlns='jabber:client'/>")
            await tcp.online()
            await until_status(bserver, a, "online")
            # a held request is answered as soon as a message comes, well before `wait`
            held = asyncio.get_running_loop().create_task(web.request())
            await asyncio.sleep(0.5)
            assert not held.done()
            started = time.monotonic()
            tcp.send_message(mto=bserver.jid(a), mbody="tcp -> bosh", mtype="chat")
            await asyncio.wait_for(held, WAIT + 2)
            assert time.monotonic() - started < WAIT - 1
            got = await web.expect(lambda e: e.tag == f"{C}message" and "tcp -> bosh" in body_text(e))
            assert got.get("from") == bserver.jid(b) and got.get("type") == "chat"
            assert '"bodies"' in body_text(got)  # a webim resource gets Easemob JSON (§4)
            # and the other way, while a poll is held (it is released by the new request)
            web.start_polling()
            await asyncio.sleep(0.3)
            await web.request(f"<message xmlns='jabber:client' type='chat' to='{bserver.jid(b)}' id='m1'>"
                              "<body>bosh -> tcp</body></message>")
            assert (await tcp.next_message())["body"] == "bosh -> tcp"
            await web.terminate()
        finally:
            await tcp.close()
            await web.aclose()

    run(scenario)


# --- rid handling ----------------------------------------------------------------------------------------------


def test_rid_repeat_resends_and_out_of_window_terminates(bserver: XServer) -> None:
    name = unique("br")
    bserver.api.register(name)

    async def scenario() -> None:
        b = Bosh(bserver)
        try:
            await b.login(name)
            ping = "<iq xmlns='jabber:client' type='get' id='r1' to='easemob.com'><ping xmlns='urn:xmpp:ping'/></iq>"
            first = await b.post(b.body(ping))
            again = await b.post(b.body(ping, rid=b.rid))  # the network lost the answer: same rid
            assert again.status_code == 200 and again.content == first.content and b"r1" in first.content
            # a request sent ahead of the next expected rid waits for the one before it
            later = asyncio.get_running_loop().create_task(b.post(b.body(rid=b.rid + 2)))
            await asyncio.sleep(0.3)
            assert not later.done()
            ping2 = ping.replace("r1", "r2")
            before = await b.post(b.body(ping2, rid=b.rid + 1))
            assert b"r2" in before.content
            b.rid += 2
            await asyncio.wait_for(later, WAIT + 2)
            # far outside the window: the session ends with item-not-found
            out = ET.fromstring((await b.post(b.body(rid=b.rid + 50))).content)
            assert out.get("type") == "terminate" and out.get("condition") == "item-not-found"
            gone = ET.fromstring((await b.post(b.body())).content)
            assert gone.get("condition") == "item-not-found"
            await until_status(bserver, name, "offline")
        finally:
            await b.aclose()

    run(scenario)


def test_repeat_of_a_held_request_shares_its_answer(bserver: XServer) -> None:
    a, b = unique("bh"), unique("bi")
    bserver.api.register(a, b)

    async def scenario() -> None:
        web = Bosh(bserver)
        tcp = Client(bserver, b)
        try:
            await web.login(a)
            await web.request("<presence xmlns='jabber:client'/>")
            await tcp.online()
            loop = asyncio.get_running_loop()
            rid = web.rid + 1
            web.rid = rid
            original = loop.create_task(web.post(web.body(rid=rid)))
            await asyncio.sleep(0.3)
            repeat = loop.create_task(web.post(web.body(rid=rid)))
            await asyncio.sleep(0.3)
            tcp.send_message(mto=bserver.jid(a), mbody="once", mtype="chat")
            r1, r2 = await asyncio.wait_for(asyncio.gather(original, repeat), WAIT + 2)
            assert r1.content == r2.content and b"once" in r1.content
            await web.terminate()
        finally:
            await tcp.close()
            await web.aclose()

    run(scenario)


# --- the end of a session ----------------------------------------------------------------------------------------


def test_inactivity_ends_the_session_and_queued_messages_go_back_offline(bserver: XServer) -> None:
    a, b = unique("bv"), unique("bw")
    bserver.api.register(a, b)

    async def scenario() -> None:
        web = Bosh(bserver)
        tcp = Client(bserver, b)
        try:
            await tcp.online()
            await web.login(a)
            await web.request("<presence xmlns='jabber:client'/>")
            # no request outstanding now: the message waits in the session's queue
            tcp.send_message(mto=bserver.jid(a), mbody="while nobody polls", mtype="chat")
            await tcp.sync()
            assert status(bserver, a) == "online"  # the session took it, and then nobody came for it
            await until_status(bserver, a, "offline", timeout=INACTIVITY + 5)
            gone = await web.request()
            assert gone.get("type") == "terminate" and gone.get("condition") == "item-not-found"
            count = bserver.api.get(f"/users/{a}/offline_msg_count").json()["data"][a]
            assert count == 1
            # the next login gets it
            again = Bosh(bserver, rid=5_000_000)
            try:
                await again.login(a)
                again.start_polling()
                await again.request("<presence xmlns='jabber:client'/>")
                got = await again.expect(lambda e: "while nobody polls" in body_text(e))
                assert got.find("{urn:xmpp:delay}delay") is not None
                await again.terminate()
            finally:
                await again.aclose()
        finally:
            await tcp.close()
            await web.aclose()

    run(scenario, timeout=90)


def test_a_new_login_elsewhere_ends_the_bosh_session_with_conflict(bserver: XServer) -> None:
    name = unique("bc")
    bserver.api.register(name)

    async def scenario() -> None:
        web = Bosh(bserver)
        tcp = Client(bserver, name, resource="same")
        try:
            await web.login(name, resource="same")
            held = asyncio.get_running_loop().create_task(web.request())
            await asyncio.sleep(0.3)
            await tcp.online()
            body = await asyncio.wait_for(held, WAIT + 2)
            # webim-xmpp.md §3.8: terminate, remote-stream-error, <conflict/> inside
            assert body.get("type") == "terminate" and body.get("condition") == "remote-stream-error"
            err = body.find(f"{{{STREAMS}}}error")
            assert err is not None and err.find("{urn:ietf:params:xml:ns:xmpp-streams}conflict") is not None
        finally:
            await tcp.close()
            await web.aclose()

    run(scenario)


# --- errors, limits, CORS ------------------------------------------------------------------------------------------


def test_bad_requests_unknown_sid_and_limits(bserver: XServer) -> None:
    async def scenario() -> None:
        b = Bosh(bserver)
        try:
            async def condition(data: str | bytes) -> str | None:
                r = await b.post(data)
                assert r.status_code == 200, r.text
                assert r.headers["access-control-allow-origin"] == "*"
                body = ET.fromstring(r.content)
                assert body.tag == BODY and body.get("type") == "terminate", r.text
                return body.get("condition")

            assert await condition("this is not XML") == "bad-request"
            assert await condition("<body rid='1' xmlns='urn:other'/>") == "bad-request"  # not a BOSH body
            assert await condition(f"<body xmlns='{HTTPBIND}' to='{DOMAIN}'/>") == "bad-request"  # no rid
            assert await condition(f"<body rid='1' xmlns='{HTTPBIND}'><unclosed></body>") == "bad-request"
            entity = f"<!DOCTYPE body [<!ENTITY x 'y'>]><body rid='1' xmlns='{HTTPBIND}'>&x;</body>"
            assert await condition(entity) == "bad-request"
            assert await condition(f"<body rid='7' sid='no-such-sid' xmlns='{HTTPBIND}'/>") == "item-not-found"
            big = f"<body rid='9' to='{DOMAIN}' xmlns='{HTTPBIND}'>{'x' * 30000}</body>"
            assert await condition(big) == "policy-violation"
            assert await condition(b.body(to="example.org", ver="1.6")) == "host-unknown"
            # a client without `ver` (before XEP-0124 1.6) gets the HTTP status instead (§17.1)
            legacy = await b.post(b.body(to="example.org"))
            assert legacy.status_code == 404 and legacy.headers["access-control-allow-origin"] == "*"
            created = await b.create()
            assert created.get("sid")
            out = await b.post(b.body(rid=b.rid + 10))
            assert ET.fromstring(out.content).get("condition") == "item-not-found"
            # the session cap
            extra = [Bosh(bserver, rid=7_000_000 + i * 1000) for i in range(MAX_SESSIONS + 1)]
            try:
                refused = []
                for client in extra:
                    body = await client.create()
                    if body.get("type") == "terminate":
                        refused.append(body.get("condition"))
                assert refused and set(refused) == {"remote-connection-failed"}
            finally:
                for client in extra:
                    if client.sid:
                        await client.terminate()
                    await client.aclose()
            again = Bosh(bserver, rid=9_000_000)
            try:
                assert (await again.create()).get("sid")
                await again.terminate()
            finally:
                await again.aclose()
        finally:
            await b.aclose()

    run(scenario)


def test_cors_preflight_and_get(bserver: XServer) -> None:
    url = bserver.server.base_url + "/http-bind/"
    pre = httpx.options(url, headers={"Origin": "http://page.example", "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200, pre.text
    assert pre.headers["access-control-allow-origin"] in ("*", "http://page.example")
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    plain_options = httpx.options(url)
    assert plain_options.status_code == 200 and plain_options.headers["access-control-allow-origin"] == "*"
    page = httpx.get(bserver.server.base_url + "/http-bind")
    assert page.status_code == 200 and "BOSH" in page.text and page.headers["access-control-allow-origin"] == "*"
