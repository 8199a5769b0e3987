"""Fuzzing the XMPP listeners of a real `hxim serve` process (the `xserver` of the scenarios): raw
TCP, WebSocket frames (`/ws/`) and BOSH bodies (`/http-bind/`).

After a real login (SASL PLAIN, bind), a fuzzer sends random bytes and mutations of valid stanzas
(chat messages with plain and Easemob JSON bodies to two bystanders, group messages, presences,
routed IQs, roster, blocking, disco, ping) and then ends its side. For every case the server must:

* answer with well-formed XML only (TCP: the rest of the stream inside its root, ending with
  `</stream:stream>`; WebSocket: each message a document; BOSH: each response a `<body/>`), and
  end the stream with a stream error or a normal close — never drop it unfinished;
* never answer BOSH with a 5xx, never crash, and log no `Traceback`.

Two bystanders stay logged in over raw TCP throughout (one plain XMPP session, one Web IM-style
`webim` session that reads Easemob JSON): everything they are sent must be well-formed, they must
never be disconnected, and a message sent to each over REST after the fuzzing must reach them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
import websockets.sync.client as ws_client
from fuzzing import STREAM_ROOT, check_frame, check_in_root, fuzz_settings, garbage, mutated, tree_mutated
from hypothesis import example, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))

from xmpp_helpers import DOMAIN, TIMEOUT, Raw, XServer, login_raw, plain_auth, xserver

from conftest import unique

__all__ = ["xserver"]

SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
HTTPBIND = "http://jabber.org/protocol/httpbind"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
CLIENT = "{jabber:client}"

# Stanza templates: @P@ and @W@ are the plain and webim bystanders' bare JIDs, @F@ the fuzzer's,
# @R@ the group both belong to, @D@ the domain. Filled in after mutation (a mutation may break a
# placeholder: that is one more kind of bad address).
EASEMOB_JSON = (
    '{"from":"f","to":"w","bodies":[{"type":"txt","msg":"hi \\u0001 \\u001f \\uffff \\ud83d\\ude00 &lt;"}],'
    '"ext":{"n":18446744073709551616,"f":1e300,"a":[[[{"k":null}]]],"s":"\\u2028"}}'
)
STANZAS = [
    b"<message to='@P@' type='chat' id='m1'><body>hello &amp; \xf0\x9f\x98\x80 &#x1F600;</body>"
    b"<request xmlns='urn:xmpp:receipts'/></message>",
    b"<message to='@W@' type='chat' id='m2'><body>" + EASEMOB_JSON.encode() + b"</body></message>",
    b"<message to='@P@' type='chat' id='m3'><body>" + EASEMOB_JSON.encode() + b"</body></message>",
    b"<message to='@P@/phone' type='chat' id='m4'><body>full</body>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    b"<message to='@R@' type='groupchat' id='g1'><body>to the group \xe4\xbd\xa0\xe5\xa5\xbd</body></message>",
    b"<message to='@F@' type='chat' id='s1'><body>to myself</body></message>",
    b"<message to='@W@' type='chat' id='r1'><received xmlns='urn:xmpp:receipts' id='m2'/></message>",
    b"<presence/>",
    b"<presence to='@P@'><status>directed &amp; odd</status><priority>5</priority></presence>",
    b"<presence to='@W@' type='subscribe'><status>be my friend</status></presence>",
    b"<presence to='@R@/nick'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
    b"<iq type='get' id='v1' to='@P@/phone'><query xmlns='jabber:iq:version'/></iq>",
    b"<iq type='set' id='x1' to='@W@/webim'><query xmlns='urn:example' a='1'><x>t</x></query></iq>",
    b"<iq type='get' id='q1'><query xmlns='jabber:iq:roster'/></iq>",
    b"<iq type='set' id='q2'><query xmlns='jabber:iq:roster'><item jid='@P@' name='p'/></query></iq>",
    b"<iq type='get' id='q3' to='@D@'><ping xmlns='urn:xmpp:ping'/></iq>",
    b"<iq type='get' id='q4' to='conference.@D@'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    b"<iq type='get' id='q5' to='@R@'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    b"<iq type='get' id='q6'><blocklist xmlns='urn:xmpp:blocking'/></iq>",
    b"<iq type='get' id='q7'><query xmlns='jabber:iq:privacy'><list name='special'/></query></iq>",
    b"<iq type='get' id='q8' to='@R@'><query xmlns='http://jabber.org/protocol/muc#admin'>"
    b"<item affiliation='member'/></query></iq>",
    b"<iq type='get' id='q9' to='@D@'><query xmlns='jabber:iq:version'/></iq>",
]
SEEDS = [*STANZAS, b"".join(STANZAS[:4]), b"".join(STANZAS[7:12]), b"".join(STANZAS[13:])]

# Inputs that once broke a stream, replayed first as explicit examples. A stanza relayed to
# another client kept its namespaced attributes as '{uri}name' (xml:lang on an IQ to a full JID, on
# a receipt), so the peer's stream stopped being well-formed:
RELAY_INPUTS = [
    b"<iq type='get' id='v1' to='@P@/phone' xml:lang='en'><query xmlns='jabber:iq:version'/></iq>",
    b"<message to='@W@' type='chat' id='r1' xml:lang=''><received xmlns='urn:xmpp:receipts' id='m2'/></message>",
]
# and the answer to a stanza handled asynchronously was written after the stream error that input
# read with it caused (after </stream:stream> over TCP, after <close/> over WebSocket):
AFTER_END_INPUT = b"<iq type='get' id='q1'><query xmlns='jabber:iq:roster'/></iq><bogus/>"


def payloads() -> st.SearchStrategy[bytes]:
    """What the fuzzer sends once logged in: a few stanzas changed as trees (still well-formed, so
    they reach the feature handlers), the same mixed with byte-level mutations, or garbage."""
    return st.one_of(
        st.lists(tree_mutated(STANZAS), min_size=1, max_size=4).map(b"".join),
        st.lists(tree_mutated(STANZAS) | mutated(SEEDS, max_ops=2), min_size=1, max_size=3).map(b"".join),
        garbage(300),
    )


@dataclass
class Names:
    """The JIDs the templates refer to."""

    plain: str
    webim: str
    fuzzer: str
    room: str

    def fill(self, template: bytes) -> bytes:
        return (
            template.replace(b"@P@", self.plain.encode())
            .replace(b"@W@", self.webim.encode())
            .replace(b"@F@", self.fuzzer.encode())
            .replace(b"@R@", self.room.encode())
            .replace(b"@D@", DOMAIN.encode())
        )


class LogWatch:
    """The server log from now on."""

    def __init__(self, xs: XServer) -> None:
        self.path = Path(xs.server.env["HXIM_DATA_DIR"]).parent / "server.log"
        self.start = self.path.stat().st_size

    def assert_clean(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self.start)
            text = f.read().decode("utf-8", "replace")
        assert "Traceback" not in text, text[-8000:]


class Bystander:
    """A raw TCP session, available, that reads everything it is sent into a parser inside the
    stream root: a stanza that is not well-formed fails the test where it arrives."""

    def __init__(self, xs: XServer, username: str, resource: str) -> None:
        self.raw: Raw = login_raw(xs, username, resource=resource)
        self.raw.send("<presence/>")
        self.parser = ET.XMLPullParser(["start", "end"])
        self.parser.feed(STREAM_ROOT)
        self.depth = 0
        self.closed = False
        self.received: list[ET.Element] = []
        self.bytes = b""

    def pump(self, timeout: float = 0.0) -> None:
        """Read whatever has arrived (waiting up to `timeout` for the first bytes)."""
        sock = self.raw.sock
        sock.settimeout(timeout if timeout > 0 else 0.001)
        while not self.closed:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                return
            if not chunk:
                self.closed = True
                return
            self.bytes = (self.bytes + chunk)[-20000:]
            try:
                self.parser.feed(chunk)
                events = list(self.parser.read_events())
            except ET.ParseError as exc:
                raise AssertionError(f"a bystander was sent XML that is not well-formed: {self.bytes!r}") from exc
            for event, el in events:
                if event == "start":
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.received.append(el)
            sock.settimeout(0.001)

    def wait_for(self, pred: Callable[[ET.Element], bool], timeout: float = TIMEOUT) -> ET.Element:
        deadline = time.monotonic() + timeout
        while True:
            for el in self.received:
                if pred(el):
                    return el
            assert not self.closed, f"a bystander was disconnected: {self.bytes[-2000:]!r}"
            left = deadline - time.monotonic()
            assert left > 0, f"nothing matching reached a bystander: {self.bytes[-2000:]!r}"
            self.pump(min(left, 0.2))

    def sync(self) -> None:
        """A ping round trip: everything queued for this session before it has been read."""
        ping_id = f"sync{uuid.uuid4().hex[:8]}"
        self.raw.send(f"<iq type='get' id='{ping_id}' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.wait_for(lambda el: el.get("id") == ping_id)

    def close(self) -> None:
        self.raw.close()


@dataclass
class Scene:
    """The server, the users (a fuzzer, two bystanders in a group with it) and their JIDs."""

    xs: XServer
    names: Names
    fuzzer: str
    plain_user: str
    webim_user: str
    counter: Iterator[int]


@pytest.fixture(scope="module")
def scene(xserver: XServer) -> Scene:
    fuzzer, plain, webim = unique("fz"), unique("by"), unique("bw")
    xserver.api.register(fuzzer, plain, webim)
    r = xserver.api.post(
        "/chatgroups",
        json={"groupname": "fuzz", "desc": "fuzz", "public": True, "maxusers": 100, "owner": fuzzer,
              "members": [plain, webim]},
    )
    assert r.status_code == 200, r.text
    gid = r.json()["data"]["groupid"]
    creds = xserver.api.creds
    names = Names(
        plain=xserver.jid(plain), webim=xserver.jid(webim), fuzzer=xserver.jid(fuzzer),
        room=f"{creds.org}#{creds.app}_{gid}@conference.{DOMAIN}",
    )
    return Scene(xserver, names, fuzzer, plain, webim, iter(range(10**9)))


class Bystanders:
    """The two bystanders of one test, logged in and available before the fuzzing starts."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.connect()

    def connect(self) -> None:
        self.plain = Bystander(self.scene.xs, self.scene.plain_user, "phone")
        self.webim = Bystander(self.scene.xs, self.scene.webim_user, "webim")
        self.plain.sync()  # the initial presence was handled: available
        self.webim.sync()

    def check(self) -> None:
        """After one case: everything it made the server send the bystanders has arrived and is
        well-formed, and they are still connected. On a failure the bystanders log in again (so
        that the next case is judged on its own) and the failure is raised."""
        try:
            self.plain.sync()
            self.webim.sync()
        except BaseException:
            self.close()
            self.connect()
            raise

    def assert_served(self) -> None:
        """A REST message to each bystander arrives, rendered as each session reads it."""
        self.plain.received.clear()
        self.webim.received.clear()
        marker = f"after the fuzzing {uuid.uuid4().hex}"
        xs = self.scene.xs
        r = xs.api.post(
            "/messages",
            json={"target_type": "users", "target": [self.scene.plain_user, self.scene.webim_user],
                  "msg": {"type": "txt", "msg": marker}},
        )
        assert r.status_code == 200, r.text

        def plain_marker(el: ET.Element) -> bool:
            return el.tag == CLIENT + "message" and el.findtext(CLIENT + "body") == marker

        def json_marker(el: ET.Element) -> bool:
            body = el.findtext(CLIENT + "body") if el.tag == CLIENT + "message" else None
            if not body or not body.startswith("{"):
                return False
            return any(b.get("msg") == marker for b in orjson.loads(body).get("bodies", []))

        self.plain.wait_for(plain_marker)
        self.webim.wait_for(json_marker)
        assert xs.server.process.poll() is None, "the server exited"

    def close(self) -> None:
        self.plain.close()
        self.webim.close()


@pytest.fixture
def bystanders(scene: Scene) -> Iterator[Bystanders]:
    b = Bystanders(scene)
    try:
        yield b
    finally:
        b.close()


def read_to_end(sock: socket.socket, timeout: float = TIMEOUT) -> tuple[bytes, bool]:
    """Everything until the server closes the connection: (data, closed)."""
    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


# --- TCP --------------------------------------------------------------------------------------------


def test_tcp_fuzzed_stanzas(scene: Scene, bystanders: Bystanders) -> None:
    log = LogWatch(scene.xs)

    @fuzz_settings(150, fixtures=True)
    @given(payload=payloads())
    @example(payload=RELAY_INPUTS[0] + AFTER_END_INPUT)
    def fuzz(payload: bytes) -> None:
        data = scene.names.fill(payload)
        raw = login_raw(scene.xs, scene.fuzzer, resource=f"tcp{next(scene.counter)}")
        try:
            raw.send(data)
            raw.sock.shutdown(socket.SHUT_WR)  # our side is over: the server answers, then closes
            out, closed = read_to_end(raw.sock)
        finally:
            raw.close()
        assert closed, f"the server did not close the stream after {data!r}; it sent {out!r}"
        try:
            check_in_root(out, must_close=True)
        except ET.ParseError as exc:
            raise AssertionError(f"not well-formed ({exc}) after {data!r}: {out!r}") from None
        bystanders.check()

    fuzz()
    bystanders.assert_served()
    log.assert_clean()


# --- WebSocket --------------------------------------------------------------------------------------


class WsClient:
    """A raw RFC 7395 client on `/ws/`: every message it receives must be a well-formed document."""

    def __init__(self, xs: XServer, username: str, resource: str) -> None:
        url = xs.server.base_url.replace("http://", "ws://") + "/ws/"
        self.ws = ws_client.connect(url, subprotocols=[Subprotocol("xmpp")], open_timeout=TIMEOUT).__enter__()
        assert self.ws.subprotocol == "xmpp"
        self.frames: list[bytes] = []
        node = xs.jid(username).split("@")[0]
        self.send(f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>".encode())
        self.expect(b"</stream:features>")
        self.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain_auth(node, 'secret1')}</auth>".encode())
        self.expect(b"<success")
        self.send(f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>".encode())
        self.expect(b"</stream:features>")
        self.send(f"<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='{BIND_NS}'>"
                  f"<resource>{resource}</resource></bind></iq>".encode())
        self.expect(b"<jid>")

    def send(self, frame: bytes) -> None:
        try:
            self.ws.send(frame.decode("utf-8"))
        except UnicodeDecodeError:
            self.ws.send(frame)  # not UTF-8: as a binary message

    def recv(self, timeout: float) -> bytes:
        message = self.ws.recv(timeout)
        data = message.encode("utf-8") if isinstance(message, str) else message
        try:
            check_frame(data)
        except ET.ParseError as exc:
            raise AssertionError(f"a WebSocket message is not well-formed ({exc}): {data!r}") from None
        self.frames.append(data)
        return data

    def expect(self, marker: bytes) -> bytes:
        deadline = time.monotonic() + TIMEOUT
        while True:
            data = self.recv(max(0.01, deadline - time.monotonic()))
            if marker in data:
                return data

    def read_to_end(self) -> bool:
        """Read until the server closes the connection; True if it did in time."""
        deadline = time.monotonic() + TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.recv(left)
            except TimeoutError:
                return False
            except ConnectionClosed:
                return True
        return False

    def close(self) -> None:
        self.ws.close()


def test_websocket_fuzzed_frames(scene: Scene, bystanders: Bystanders) -> None:
    log = LogWatch(scene.xs)

    @fuzz_settings(25, fixtures=True)
    @given(frames=st.lists(payloads(), min_size=1, max_size=3))
    @example(frames=[RELAY_INPUTS[1] + AFTER_END_INPUT])
    def fuzz(frames: list[bytes]) -> None:
        client = WsClient(scene.xs, scene.fuzzer, f"ws{next(scene.counter)}")
        try:
            start = len(client.frames)
            with contextlib.suppress(ConnectionClosed):  # the server may already have ended the stream
                for frame in frames:
                    client.send(scene.names.fill(frame))
                client.send(f"<close xmlns='{FRAMING}'/>".encode())
            closed = client.read_to_end()
            answer = client.frames[start:]
        finally:
            client.close()
        assert closed, f"the server did not end the stream after {frames!r}: {answer!r}"
        assert answer and answer[-1].startswith(b"<close "), f"the stream did not end with <close/>: {answer!r}"
        bystanders.check()

    fuzz()
    bystanders.assert_served()
    log.assert_clean()


# --- BOSH -------------------------------------------------------------------------------------------


class BoshClient:
    """A raw XEP-0206 client on `/http-bind/` with `hold='0'` (every request answered at once);
    every response is checked to be a well-formed `<body/>`, never a 5xx."""

    def __init__(self, xs: XServer, http: httpx.Client) -> None:
        self.url = xs.server.base_url + "/http-bind/"
        self.http = http
        self.rid = 4_000_000 + int(uuid.uuid4().int % 1_000_000)
        self.sid = ""
        self.received: list[ET.Element] = []
        self.terminated = False

    def post(self, data: bytes) -> httpx.Response:
        r = self.http.post(self.url, content=data, headers={"Content-Type": "text/xml; charset=utf-8"})
        assert r.status_code < 500, (r.status_code, data, r.text)
        if r.status_code == 200 or r.content:
            try:
                body = check_frame(r.content)
            except ET.ParseError as exc:
                raise AssertionError(f"a BOSH response is not well-formed ({exc}): {r.content!r}") from None
            assert body.tag == "{" + HTTPBIND + "}body", r.content
            self.received.extend(body)
            if body.get("type") == "terminate":
                self.terminated = True
        return r

    def body(self, payload: bytes = b"", **attrs: str) -> bytes:
        self.rid += 1
        head = " ".join(f"{k}='{v}'" for k, v in {"rid": str(self.rid), "sid": self.sid, **attrs}.items() if v)
        return f"<body {head} xmlns='{HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh'>".encode() + payload + b"</body>"

    def until(self, pred: Callable[[ET.Element], bool], payload: bytes = b"", **attrs: str) -> ET.Element:
        """Send `payload`, then poll until a stanza matching `pred` has arrived."""
        self.post(self.body(payload, **attrs))
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = [el for el in self.received if pred(el)]
            if found:
                self.received.clear()
                return found[0]
            assert not self.terminated and time.monotonic() < deadline, self.received
            time.sleep(0.02)
            self.post(self.body())

    def login(self, xs: XServer, username: str, resource: str) -> None:
        r = self.post(self.body(to=DOMAIN, wait="1", hold="0", ver="1.6", **{"xmpp:version": "1.0"}))
        self.sid = ET.fromstring(r.content).get("sid", "")
        assert self.sid, r.text
        node = xs.jid(username).split("@")[0]
        auth = f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain_auth(node, 'secret1')}</auth>".encode()
        self.until(lambda el: el.tag == "{" + SASL + "}success", auth)
        self.until(lambda el: el.tag.endswith("}features"), to=DOMAIN, **{"xmpp:restart": "true"})
        bind = (f"<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='{BIND_NS}'>"
                f"<resource>{resource}</resource></bind></iq>").encode()
        self.until(lambda el: el.get("id") == "bind1", bind)


BOSH_TEMPLATES = [
    b"<body rid='@RID@' sid='@SID@' xmlns='" + HTTPBIND.encode() + b"'>@STANZAS@</body>",
    b"<body rid='@RID@' sid='@SID@' xmlns='" + HTTPBIND.encode() + b"' type='terminate'>@STANZAS@</body>",
    b"<body rid='@RID@' sid='@SID@' xmlns='" + HTTPBIND.encode() + b"' to='@D@' xmpp:restart='true' "
    b"xmlns:xmpp='urn:xmpp:xbosh'/>",
    b"<body rid='@RID@' xmlns='" + HTTPBIND.encode() + b"' to='@D@' wait='0' hold='1' ver='1.6'/>",
]


@st.composite
def bosh_bodies(draw: st.DrawFn) -> bytes:
    """A request body around mutated stanzas, the whole then mutated again (or garbage)."""
    stanzas = b"".join(draw(st.lists(mutated(STANZAS, max_ops=3), max_size=3)))
    template = draw(st.sampled_from(BOSH_TEMPLATES)).replace(b"@STANZAS@", stanzas)
    return draw(mutated([template], max_ops=3) | garbage(200))


def test_bosh_fuzzed_bodies(scene: Scene, bystanders: Bystanders) -> None:
    log = LogWatch(scene.xs)
    http = httpx.Client(timeout=TIMEOUT)

    @fuzz_settings(20, fixtures=True)
    @given(bodies=st.lists(bosh_bodies(), min_size=1, max_size=3))
    def fuzz(bodies: list[bytes]) -> None:
        client = BoshClient(scene.xs, http)
        client.login(scene.xs, scene.fuzzer, f"bosh{next(scene.counter)}")
        for template in bodies:
            client.rid += 1
            data = scene.names.fill(template).replace(b"@RID@", str(client.rid).encode())
            client.post(data.replace(b"@SID@", client.sid.encode()))
            if client.terminated:
                break
        if not client.terminated:  # end the session (its rid may have moved on: terminate anyway)
            client.post(client.body(type="terminate"))
        bystanders.check()

    try:
        fuzz()
    finally:
        http.close()
    bystanders.assert_served()
    log.assert_clean()


# --- the bugs found, each on its own -----------------------------------------------------------------


@pytest.mark.parametrize("template", RELAY_INPUTS, ids=["iq-to-full-jid", "receipt"])
def test_relayed_stanza_with_namespaced_attribute(scene: Scene, bystanders: Bystanders, template: bytes) -> None:
    """A client that puts xml:lang on a stanza relayed to a peer does not break the peer's stream."""
    raw = login_raw(scene.xs, scene.fuzzer, resource="relay")
    try:
        raw.send(scene.names.fill(template))
        raw.send(f"<iq type='get' id='done' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>")
        assert "id='done'" in raw.read_until(b"id='done'")
        bystanders.check()
    finally:
        raw.close()


def test_nothing_after_the_stream_end_tcp(scene: Scene) -> None:
    raw = login_raw(scene.xs, scene.fuzzer, resource="end-tcp")
    try:
        raw.send(AFTER_END_INPUT)
        out, closed = read_to_end(raw.sock)
    finally:
        raw.close()
    assert closed and b"<unsupported-stanza-type" in out, out
    assert out.rstrip().endswith(b"</stream:stream>"), out


def test_nothing_after_the_stream_end_websocket(scene: Scene) -> None:
    client = WsClient(scene.xs, scene.fuzzer, "end-ws")
    try:
        start = len(client.frames)
        client.send(AFTER_END_INPUT)
        assert client.read_to_end()
        answer = client.frames[start:]
    finally:
        client.close()
    assert answer and answer[0].startswith(b"<stream:error"), answer
    assert answer[-1].startswith(b"<close "), answer


def test_server_survived(scene: Scene, bystanders: Bystanders) -> None:
    """After all of the above the server still serves a fresh login and the bystanders."""
    raw = login_raw(scene.xs, scene.fuzzer, resource="last")
    raw.send(f"<iq type='get' id='last' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "type='result'" in raw.read_until(b"id='last'")
    raw.close()
    bystanders.assert_served()
