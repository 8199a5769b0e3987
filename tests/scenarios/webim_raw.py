"""A raw WebSocket XMPP client that sends exactly the frames the Easemob Web IM SDK 1.x sends
(webim-xmpp.md §3, §9), and reads what the server answers frame by frame.

Each received frame is parsed the way Strophe does (`<wrapper>` + frame + `</wrapper>`, so every
prefix must be declared in the frame) and kept as text too, so tests can assert attributes,
namespaces and ids exactly.
"""

from __future__ import annotations

import base64
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed
from xmpp_helpers import DOMAIN, TIMEOUT, XServer

__all__ = ["WebIm", "Frame", "json_body", "xml_text"]

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
CLIENT = "{jabber:client}"
RECEIPTS = "urn:xmpp:receipts"


def xml_text(text: str) -> str:
    """Escape character data as Strophe writes it (`&quot;` too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def json_body(sender: str, to: str, body: dict[str, Any], ext: dict[str, Any] | None = None) -> str:
    """The SDK's one-line JSON message body (§4.1), as it goes into `<body>`."""
    doc = {"from": sender, "to": to, "bodies": [body], "ext": {**(ext or {}), "weichat": {"originType": "webim"}}}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class Frame:
    """One WebSocket message from the server: its text and its parsed top element(s)."""

    def __init__(self, text: str) -> None:
        self.text = text
        assert "<![CDATA[" not in text and not text.startswith("<?xml"), text
        self.els = list(ET.fromstring(f"<wrapper>{text}</wrapper>"))
        assert self.els, text

    @property
    def el(self) -> ET.Element:
        assert len(self.els) == 1, self.text
        return self.els[0]

    def __repr__(self) -> str:
        return f"Frame({self.text!r})"


def _tag(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


class WebIm:
    """One SDK-like connection. `login()` runs §9(a) steps 2–12 and checks every frame."""

    def __init__(self, xs: XServer, username: str, *, resource: str = "webim") -> None:
        self.xs = xs
        self.username = username
        self.resource = resource
        creds = xs.api.creds
        self.appkey = f"{creds.org}#{creds.app}"
        self.node = f"{self.appkey}_{username.lower()}"
        self.bare = f"{self.node}@{DOMAIN}"
        self.full = f"{self.bare}/{resource}"
        self.ws: Any = None
        self.pending: list[Frame] = []  # frames read while looking for another one
        self.closed = False

    # --- addressing --------------------------------------------------------------------------------
    def jid(self, username: str) -> str:
        return f"{self.appkey}_{username}@{DOMAIN}"

    def room(self, rid: str) -> str:
        return f"{self.appkey}_{rid}@conference.{DOMAIN}"

    # --- REST login (§2.1, §9(a).1) --------------------------------------------------------------
    def password_token(self, password: str = "secret1") -> str:
        creds = self.xs.api.creds
        body = json.dumps({"grant_type": "password", "username": self.username, "password": password,
                           "timestamp": int(time.time() * 1000)})
        r = httpx.post(f"{self.xs.server.base_url}/{creds.org}/{creds.app}/token", content=body,
                       headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://example.org"})
        assert r.status_code == 200, r.text
        assert r.headers.get("access-control-allow-origin") == "*", r.headers
        token = r.json()["access_token"]
        assert token
        return str(token)

    # --- frames -------------------------------------------------------------------------------------
    def send(self, xml: str) -> None:
        self.ws.send(xml)

    def recv(self, timeout: float = TIMEOUT) -> Frame:
        if self.pending:
            return self.pending.pop(0)
        return Frame(self.ws.recv(timeout))

    def expect(self, pred: Callable[[ET.Element], bool], timeout: float = TIMEOUT) -> ET.Element:
        """The first stanza matching `pred`; other frames are kept for later `recv`/`expect`."""
        for i, frame in enumerate(self.pending):
            for el in frame.els:
                if pred(el):
                    del self.pending[i]
                    return el
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing matching arrived; pending: {self.pending}")
            try:
                frame = Frame(self.ws.recv(left))
            except TimeoutError:
                raise AssertionError(f"nothing matching arrived; pending: {self.pending}") from None
            if any(pred(el) for el in frame.els):
                return next(el for el in frame.els if pred(el))
            self.pending.append(frame)

    def expect_id(self, stanza_id: str, timeout: float = TIMEOUT) -> ET.Element:
        return self.expect(lambda el: el.get("id") == stanza_id, timeout)

    def quiet(self, seconds: float = 0.5, pred: Callable[[ET.Element], bool] = lambda el: True) -> None:
        """Assert that nothing (matching `pred`) arrives for a while."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = Frame(self.ws.recv(left))
            except TimeoutError:
                break
            self.pending.append(frame)
        bad = [f for f in self.pending if any(pred(el) for el in f.els)]
        assert not bad, bad

    # --- the SDK's connection sequence (§3.1–3.5, §9(a) steps 2–12) -------------------------------
    def connect(self) -> None:
        url = self.xs.server.base_url.replace("http://", "ws://") + "/ws/"
        self.ws = ws_client.connect(url, subprotocols=["xmpp"], open_timeout=TIMEOUT,
                                    additional_headers={"Origin": "http://example.org"}).__enter__()
        assert self.ws.subprotocol == "xmpp"

    def _open(self) -> ET.Element:
        self.send(f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>")
        opened = self.ws.recv(TIMEOUT)
        assert opened.startswith("<open "), opened
        el = ET.fromstring(opened)
        assert el.tag == "{" + FRAMING + "}open" and el.get("version") == "1.0", opened
        features = self.recv()
        assert features.text.startswith("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"), features
        return features.el

    def authenticate(self, password: str) -> str:
        """Open, SASL PLAIN with `{bare}\\0{node}\\0{password}`: 'success' or the failure condition."""
        self.connect()
        features = self._open()
        mechs = [m.text for m in features.iter("{urn:ietf:params:xml:ns:xmpp-sasl}mechanism")]
        assert mechs == ["PLAIN"], mechs
        plain = base64.b64encode(f"{self.bare}\0{self.node}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>")
        reply = self.recv().el
        if reply.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success":
            return "success"
        assert reply.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}failure", reply
        return _tag(reply[0])

    def bind(self) -> None:
        features = self._open()
        names = [c.tag for c in features]
        assert "{urn:ietf:params:xml:ns:xmpp-bind}bind" in names, names
        self.send("<iq type='set' id='_bind_auth_2' xmlns='jabber:client'>"
                  f"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{self.resource}</resource></bind></iq>")
        iq = self.recv().el
        assert iq.get("type") == "result" and iq.get("id") == "_bind_auth_2", ET.tostring(iq)
        assert iq.findtext("{urn:ietf:params:xml:ns:xmpp-bind}bind/{urn:ietf:params:xml:ns:xmpp-bind}jid") == self.full
        if "{urn:ietf:params:xml:ns:xmpp-session}session" in names:
            self.send("<iq type='set' id='_session_auth_2' xmlns='jabber:client'>"
                      "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
            iq = self.recv().el
            assert iq.get("type") == "result" and iq.get("id") == "_session_auth_2", ET.tostring(iq)

    def login(self, token: str | None = None, *, presence: bool = True, version: str = "1.4.13") -> WebIm:
        """§9(a) steps 1–12: REST password login (unless a token is given), SASL with `$t$`+token,
        bind, session, the unsolicited version result (answered with nothing; `1.4.2` is what the
        1.4.6 SDK sends, `1.4.13` the 1.8.4 one), initial presence."""
        token = token or self.password_token()
        assert self.authenticate("$t$" + token) == "success"
        self.bind()
        self.send(f"<iq from='{self.full}' to='{DOMAIN}' type='result' xmlns='jabber:client' id='v-1:sendIQ'>"
                  f"<query xmlns='jabber:iq:version'><name>easemob</name><version>{version}</version><os>webim</os>"
                  "</query></iq>")
        if presence:
            self.send("<presence xmlns='jabber:client'/>")
        return self

    def ping(self) -> None:
        """A round trip (the SDK's ping, §3.6): everything sent before has been handled."""
        pid = f"ping-{time.monotonic_ns()}:sendIQ"
        self.send(f"<iq from='{self.full}' to='{DOMAIN}' type='get' xmlns='jabber:client' id='{pid}'>"
                  "<ping xmlns='urn:xmpp:ping'/></iq>")
        pong = self.expect_id(pid)
        assert pong.get("type") == "result" and pong.get("from") == DOMAIN, ET.tostring(pong)

    # --- what the SDK sends ---------------------------------------------------------------------
    def chat(self, to: str, msg_id: str, body: dict[str, Any], *, ext: dict[str, Any] | None = None,
             group: bool = False, chatroom: bool = False) -> str:
        """`_send` (§4.1): returns the JSON text sent."""
        text = json_body(self.username, to, body, ext)
        target = self.room(to) if group else self.jid(to)
        extra = "<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>" if chatroom else ""
        stype = "groupchat" if group else "chat"
        self.send(f"<message type='{stype}' to='{target}' id='{msg_id}' xmlns='jabber:client'>"
                  f"<body>{xml_text(text)}</body>{extra}</message>")
        return text

    def server_ack(self, client_id: str) -> str:
        """Wait for the §4.4 ack of `client_id`, check its exact form, return the server id."""
        ack = self.expect(lambda el: el.find(f"{{{RECEIPTS}}}received") is not None
                          and el.findtext(f"{{{RECEIPTS}}}received") == client_id)
        assert ack.tag == CLIENT + "message", ET.tostring(ack)
        assert ack.get("from") == DOMAIN and ack.get("to") == self.full, ET.tostring(ack)
        assert ack.get("id") and ack.get("id") != client_id
        assert ack.findtext(CLIENT + "body") == client_id
        received = ack.find(f"{{{RECEIPTS}}}received")
        assert received is not None and received.get("id") == client_id
        mid = received.get("mid")
        assert mid
        return mid

    def receipt(self, stanza_id: str) -> None:
        """The client ack to the server (§4.5)."""
        self.send(f"<message from='{self.full}' to='{DOMAIN}' id='{stanza_id}' xmlns='jabber:client'>"
                  f"<received xmlns='{RECEIPTS}' id='{stanza_id}'/></message>")

    def close(self) -> None:
        """`close()` (§3.7): unavailable presence, `<close/>`, socket closed without waiting."""
        if self.ws is None or self.closed:
            return
        self.closed = True
        try:
            self.send("<presence xmlns='jabber:client' type='unavailable'/>")
            self.send(f"<close xmlns='{FRAMING}'/>")
        except ConnectionClosed:
            pass
        self.ws.close()

    def wait_closed(self, timeout: float = TIMEOUT) -> list[Frame]:
        """Every frame until the server closes the socket."""
        frames = list(self.pending)
        self.pending.clear()
        deadline = time.monotonic() + timeout
        while True:
            try:
                frames.append(Frame(self.ws.recv(max(0.01, deadline - time.monotonic()))))
            except ConnectionClosed:
                self.closed = True
                return frames
            if time.monotonic() > deadline:
                raise AssertionError(f"the server kept the socket open; saw {frames}")
