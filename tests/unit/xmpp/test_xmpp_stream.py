"""hxim.xmpp.stream: whole logins over TCP and WebSocket, and every way a stream can be refused."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from xmpp_testing import STREAM_OPEN, WS_OPEN, ScramClient, b64, chunked, unb64

from hxim.services.passwords import derive
from hxim.xmpp.errors import InvalidState
from hxim.xmpp.events import (
    Authenticated,
    AuthFailed,
    AuthRequested,
    BindRequested,
    Bound,
    CredentialsRequested,
    Event,
    NonzaReceived,
    StanzaReceived,
    StartTLS,
    StreamClosed,
    StreamOpened,
)
from hxim.xmpp.frames import stream_id
from hxim.xmpp.jid import JID
from hxim.xmpp.states import TRANSITIONS, State
from hxim.xmpp.stream import C2SStream

SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
ALICE = JID.parse("alice@example.com")
PLAIN_AUTH = f"<auth xmlns='{SASL}' mechanism='PLAIN'>{b64(chr(0) + 'alice' + chr(0) + 'secret')}</auth>".encode()
BIND = b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>"
SESSION = b"<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
END = b"</stream:stream>"
STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"


class Tcp:
    """Feeds a TCP stream in chunks and collects what comes out."""

    def __init__(self, stream: C2SStream, how: str = "whole") -> None:
        self.s = stream
        self.how = how

    def send(self, data: bytes) -> tuple[list[Event], bytes]:
        for piece in chunked(data, self.how):
            self.s.feed(piece)
        return self.out()

    def out(self) -> tuple[list[Event], bytes]:
        return self.s.events_received(), b"".join(self.s.data_to_send())

    def header(self) -> bytes:
        return (
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' "
            f"from='example.com' id='{self.s.stream_id}' version='1.0' xml:lang='en'>"
        ).encode()


def stream_error(condition: str, text: str) -> bytes:
    return (
        f"<stream:error><{condition} xmlns='{STREAM_ERR}'/><text xmlns='{STREAM_ERR}'>{text}</text></stream:error>"
    ).encode()


def login_plain(c: Tcp, resource_iq: bytes = BIND) -> None:
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.accept(ALICE)
    c.out()
    c.send(STREAM_OPEN)
    c.send(resource_iq)
    c.s.bind_ok()
    c.out()


# --- logins --------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["whole", "bytewise", "5"])
def test_tcp_plain_login(how: str) -> None:
    c = Tcp(C2SStream("example.com"), how)
    events, out = c.send(STREAM_OPEN)
    assert events == [StreamOpened("example.com", c.s.stream_id, None, False)]
    assert out == c.header() + (
        b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    )
    assert c.s.state is State.NEGOTIATING

    events, out = c.send(PLAIN_AUTH)
    assert events == [AuthRequested("PLAIN", None, "alice", "secret")]
    assert out == b"" and c.s.waiting_for == "auth"
    c.s.accept(JID.parse("alice@example.com/ignored"))
    events, out = c.out()
    assert events == [Authenticated(ALICE, "PLAIN")]
    assert out == b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    assert c.s.state is State.AWAIT_OPEN

    first_id = c.s.stream_id
    events, out = c.send(STREAM_OPEN)
    assert c.s.stream_id != first_id
    assert events == [StreamOpened("example.com", c.s.stream_id, None, True)]
    assert out == c.header() + (
        b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
        b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>"
    )

    events, out = c.send(BIND)
    full = JID.parse("alice@example.com/phone")
    assert events == [BindRequested(full, "phone", False)] and out == b""
    c.s.bind_ok()
    events, out = c.out()
    assert events == [Bound(full)]
    assert out == (
        b"<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        b"<jid>alice@example.com/phone</jid></bind></iq>"
    )
    assert c.s.state is State.ESTABLISHED and c.s.jid == full

    events, out = c.send(SESSION)
    assert events == [] and out == b"<iq type='result' id='s1'/>"

    msg = "<message to='bob@example.com' type='chat' id='m1'><body>你好 bob</body></message>".encode()
    events, out = c.send(msg)
    (ev,) = events
    assert isinstance(ev, StanzaReceived) and ev.kind == "message" and out == b""
    assert ev.element.get("from") == "alice@example.com/phone"
    assert ev.to == "bob@example.com" and ev.type == "chat" and ev.id == "m1"
    assert ev.element.findtext("{jabber:client}body") == "你好 bob"

    events, out = c.send(END)
    assert events == [StreamClosed(None, by_peer=True)] and out == END
    assert c.s.closed


@pytest.mark.parametrize(("mech", "hash_name"), [("SCRAM-SHA-1", "sha1"), ("SCRAM-SHA-256", "sha256")])
@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_tcp_scram_login(mech: str, hash_name: str, how: str) -> None:
    c = Tcp(C2SStream("example.com", mechanisms=("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")), how)
    _, out = c.send(STREAM_OPEN)
    assert b"<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>" in out
    client = ScramClient(hash_name, "alice", "pencil", "cnonce-123")
    events, out = c.send(f"<auth xmlns='{SASL}' mechanism='{mech}'>{b64(client.first())}</auth>".encode())
    assert events == [CredentialsRequested(mech, "alice", None)] and out == b""
    c.s.provide_credentials(derive("pencil", 4096), ALICE)
    events, out = c.out()
    m = re.fullmatch(rb"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>([A-Za-z0-9+/=]+)</challenge>", out)
    assert m is not None and events == []
    final = client.final(unb64(m.group(1).decode()))
    events, out = c.send(f"<response xmlns='{SASL}'>{b64(final)}</response>".encode())
    assert events == [Authenticated(ALICE, mech)]
    assert out == f"<success xmlns='{SASL}'>{b64(b'v=' + b64(client.server_signature).encode())}</success>".encode()
    _, out = c.send(STREAM_OPEN)
    assert b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" in out


def test_scram_wrong_password_and_unknown_user() -> None:
    c = Tcp(C2SStream("example.com", mechanisms=("SCRAM-SHA-1",), max_auth_attempts=5))
    c.send(STREAM_OPEN)
    for creds, jid, user in ((derive("other", 4096), ALICE, "alice"), (None, None, "nobody")):
        client = ScramClient("sha1", user, "pencil", "n0nce")
        c.send(f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-1'>{b64(client.first())}</auth>".encode())
        c.s.provide_credentials(creds, jid)
        _, out = c.out()
        challenge = unb64(out.split(b">")[1].split(b"<")[0].decode())
        assert challenge.startswith(b"r=n0nce") and b",s=" in challenge and challenge.endswith(b",i=4096")
        events, out = c.send(f"<response xmlns='{SASL}'>{b64(client.final(challenge))}</response>".encode())
        assert out.startswith(f"<failure xmlns='{SASL}'><not-authorized/>".encode())
        assert isinstance(events[0], AuthFailed) and events[0].condition == "not-authorized"
    assert c.s.state is State.NEGOTIATING and c.s.auth_failures == 2


def test_starttls_required() -> None:
    c = Tcp(C2SStream("example.com", starttls=True, tls_required=True))
    _, out = c.send(STREAM_OPEN)
    assert out.endswith(
        b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
    )
    events, out = c.send(PLAIN_AUTH)
    assert out == f"<failure xmlns='{SASL}'><encryption-required/><text xml:lang='en'>".encode() + (
        b"Use STARTTLS before authenticating.</text></failure>"
    )
    # <starttls/> and a smuggled <auth/> in the same plain-text chunk: only <proceed/> happens
    events, out = c.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + PLAIN_AUTH)
    assert events == [StartTLS()]
    assert out == b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    assert c.s.state is State.TLS_PENDING
    assert c.send(PLAIN_AUTH) == ([], b"")  # plain text after <proceed/> is dropped
    c.s.tls_established()
    events, out = c.send(STREAM_OPEN)
    assert events == [StreamOpened("example.com", c.s.stream_id, None, True)]
    assert out == c.header() + (
        b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    )
    events, _ = c.send(PLAIN_AUTH)
    assert events == [AuthRequested("PLAIN", None, "alice", "secret")]


def test_starttls_optional_and_not_offered() -> None:
    c = Tcp(C2SStream("example.com", starttls=True))
    _, out = c.send(STREAM_OPEN)
    assert b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls><mechanisms" in out
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    events, out = c.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert out == b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert events == [StreamClosed(None, by_peer=False)]


@pytest.mark.parametrize(
    "bind",
    [
        b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource/></bind></iq>",
    ],
)
def test_bind_without_resource_gets_a_generated_one(bind: bytes) -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.accept(ALICE)
    c.send(STREAM_OPEN)
    (ev,), _ = c.send(bind)
    assert isinstance(ev, BindRequested) and ev.generated
    assert re.fullmatch(r"[0-9a-f]{12}", ev.resource) and ev.jid == ALICE.with_resource(ev.resource)
    c.s.bind_ok()
    _, out = c.out()
    assert f"<jid>alice@example.com/{ev.resource}</jid>".encode() in out


def test_bind_error_then_retry_and_second_bind_refused() -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.accept(ALICE)
    c.send(STREAM_OPEN)
    c.send(BIND)
    c.s.bind_error("conflict")
    _, out = c.out()
    assert out == (
        b"<iq type='error' id='b1'><error type='cancel'>"
        b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    )
    assert c.s.state is State.BINDING
    c.send(BIND)
    c.s.bind_ok(JID.parse("alice@example.com/other"))
    events, _ = c.out()
    assert events == [Bound(JID.parse("alice@example.com/other"))]
    _, out = c.send(BIND)
    assert b"<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in out


def test_bad_resource_is_bad_request() -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.accept(ALICE)
    c.send(STREAM_OPEN)
    events, out = c.send(BIND.replace(b"phone", b"a&#x7f;b"))
    assert events == [] and b"<bad-request " in out and c.s.state is State.BINDING


# --- the Web IM SDK over WebSocket (webim-xmpp.md §3, §9) --------------------------------------------


def test_websocket_login_as_the_web_im_sdk_does() -> None:
    s = C2SStream("easemob.com", framing="websocket")

    def frame(data: bytes) -> tuple[list[Event], list[bytes]]:
        s.feed(data)
        return s.events_received(), s.data_to_send()

    events, out = frame(WS_OPEN)
    assert events == [StreamOpened("easemob.com", s.stream_id, None, False)]
    assert out == [
        f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='easemob.com' id='{s.stream_id}' "
        "version='1.0' xml:lang='en'/>".encode(),
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms "
        b"xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    ]
    token = b64("easemob-demo#chatdemoui_alice@easemob.com\0easemob-demo#chatdemoui_alice\0$t$YWMtAbC")
    events, out = frame(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
    assert events == [
        AuthRequested(
            "PLAIN", "easemob-demo#chatdemoui_alice@easemob.com", "easemob-demo#chatdemoui_alice", "$t$YWMtAbC"
        )
    ]
    alice = JID.parse("easemob-demo#chatdemoui_alice@easemob.com")
    s.accept(alice)
    assert s.data_to_send() == [b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"]
    s.events_received()

    events, out = frame(WS_OPEN)
    assert out[1] == (
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
        b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
        b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>"
    )
    assert out[0].startswith(b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='easemob.com' id=")
    events, out = frame(
        b"<iq type='set' id='_bind_auth_2' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        b"<resource>webim</resource></bind></iq>"
    )
    assert events == [BindRequested(alice.with_resource("webim"), "webim", False)]
    s.bind_ok()
    assert s.data_to_send() == [
        b"<iq xmlns='jabber:client' type='result' id='_bind_auth_2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        b"<jid>easemob-demo#chatdemoui_alice@easemob.com/webim</jid></bind></iq>"
    ]
    s.events_received()
    events, out = frame(
        b"<iq type='set' id='_session_auth_2' xmlns='jabber:client'>"
        b"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
    )
    assert events == [] and out == [b"<iq xmlns='jabber:client' type='result' id='_session_auth_2'/>"]

    version = (
        b"<iq from='easemob-demo#chatdemoui_alice@easemob.com/webim' to='easemob.com' type='result' "
        b"xmlns='jabber:client' id='1a:sendIQ'><query xmlns='jabber:iq:version'><name>easemob</name>"
        b"<version>1.4.13</version><os>webim</os></query></iq>"
    )
    (ev,), out = frame(version)
    assert isinstance(ev, StanzaReceived) and ev.kind == "iq" and out == []
    (ev,), _ = frame(b"<presence xmlns='jabber:client'/>")
    assert isinstance(ev, StanzaReceived) and ev.kind == "presence"
    assert ev.element.get("from") == "easemob-demo#chatdemoui_alice@easemob.com/webim"
    msg = (
        b"<message type='chat' to='easemob-demo#chatdemoui_bob@easemob.com' id='WEBIM_x1' xmlns='jabber:client'>"
        b'<body>{"from":"alice","to":"bob","bodies":[{"type":"txt","msg":"hi"}]}</body></message>'
    )
    (ev,), _ = frame(msg)
    assert isinstance(ev, StanzaReceived) and ev.kind == "message"

    # a newer login replaces this one: the kick the SDK expects (§3.8)
    s.close("conflict", "Replaced by new connection")
    assert s.events_received() == [StreamClosed("conflict", by_peer=False)]
    assert s.data_to_send() == [
        b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
        b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>",
        b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    ]


def test_websocket_client_close_and_first_frame_not_open() -> None:
    s = C2SStream("easemob.com", framing="websocket")
    s.feed(WS_OPEN)
    s.data_to_send()
    s.feed(b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
    assert s.data_to_send() == [b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"]
    assert s.events_received()[-1] == StreamClosed(None, by_peer=True)

    s = C2SStream("easemob.com", framing="websocket")
    s.feed(b"<presence xmlns='jabber:client'/>")
    out = s.data_to_send()
    assert out[0].startswith(b"<open ") and b"<bad-format " in out[1]
    assert out[2] == b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        (b"<!DOCTYPE stream>", "restricted-xml"),
        (b"<!-- hi -->", "restricted-xml"),
        (b"<?php x?>", "restricted-xml"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not-well-formed"),
    ],
)
def test_errors_before_the_header_still_send_a_header(data: bytes, condition: str) -> None:
    c = Tcp(C2SStream("example.com"), "bytewise")
    events, out = c.send(data + STREAM_OPEN)
    assert events == [StreamClosed(condition, by_peer=False)]
    assert out.startswith(c.header()) and out.endswith(b"</stream:error></stream:stream>")
    assert f"<{condition} xmlns='{STREAM_ERR}'/>".encode() in out
    assert c.send(b"<presence/>") == ([], b"")  # closed: input ignored


@pytest.mark.parametrize(
    ("data", "condition", "text"),
    [
        (b"<message><body>&xxe;</body></message>", "restricted-xml", "Entity references and DTDs are not allowed."),
        (b"<message><!-- c --></message>", "restricted-xml", "XML comments are not allowed."),
        (b"<?pi x?>", "restricted-xml", "XML processing instructions are not allowed."),
        (b"<message><body></message>", "not-well-formed", "The XML sent is not well-formed."),
        (b"<message/>", "not-authorized", "Authenticate before sending stanzas."),
        (b"<iq type='get' id='1'><query xmlns='jabber:iq:auth'/></iq>", "not-authorized", None),
        (b"<compress xmlns='http://jabber.org/protocol/compress'/>", "unsupported-stanza-type", None),
        (b"<message xmlns='jabber:server'/>", "invalid-namespace", None),
        (b"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</response>", "unsupported-stanza-type", None),
    ],
)
def test_refusals_before_auth(data: bytes, condition: str, text: str | None) -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    events, out = c.send(data)
    assert events == [StreamClosed(condition, by_peer=False)]
    assert out.startswith(f"<stream:error><{condition} xmlns='{STREAM_ERR}'/>".encode())
    assert out.endswith(b"</stream:error></stream:stream>")
    if text is not None:
        assert out == stream_error(condition, text) + END


def test_oversized_stanza() -> None:
    c = Tcp(C2SStream("example.com", max_stanza_bytes=4096))
    c.send(STREAM_OPEN)
    events, out = c.send(b"<message><body>" + b"x" * 10000 + b"</body></message>")
    assert events == [StreamClosed("policy-violation", by_peer=False)]
    assert (
        out
        == (
            f"<stream:error><policy-violation xmlns='{STREAM_ERR}'/><text xmlns='{STREAM_ERR}'>A stanza is larger "
            "than the limit of 4096 bytes.</text><stanza-too-big xmlns='urn:xmpp:errors'/></stream:error>"
        ).encode()
        + END
    )


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (STREAM_OPEN.replace(b"to='example.com'", b"to='elsewhere.org'"), "host-unknown"),
        (STREAM_OPEN.replace(b" version='1.0'>", b">"), "unsupported-version"),
        (STREAM_OPEN.replace(b" version='1.0'>", b" version='0.9'>"), "unsupported-version"),
        (STREAM_OPEN.replace(b"xmlns='jabber:client'", b"xmlns='jabber:server'"), "invalid-namespace"),
    ],
)
def test_bad_stream_headers(header: bytes, condition: str) -> None:
    c = Tcp(C2SStream("example.com"))
    events, out = c.send(header)
    assert events == [StreamClosed(condition, by_peer=False)]
    assert out.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert f"<stream:error><{condition} ".encode() in out and out.endswith(END)


def test_aliases_and_missing_to() -> None:
    c = Tcp(C2SStream("example.com", aliases=("Easemob.com",)))
    events, out = c.send(STREAM_OPEN.replace(b"example.com", b"easemob.COM"))
    assert events[0] == StreamOpened("Easemob.com", c.s.stream_id, None, False)
    assert b"from='Easemob.com'" in out
    c = Tcp(C2SStream("example.com"))
    events, _ = c.send(STREAM_OPEN.replace(b" to='example.com'", b" xml:lang='zh'"))
    assert events == [StreamOpened("example.com", c.s.stream_id, "zh", False)]


def test_wrong_password_unknown_mechanism_and_too_many_attempts() -> None:
    c = Tcp(C2SStream("example.com", max_auth_attempts=3))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.reject("not-authorized")
    events, out = c.out()
    assert out == f"<failure xmlns='{SASL}'><not-authorized/></failure>".encode()
    assert events == [AuthFailed("PLAIN", "alice", "not-authorized", 1)]
    events, out = c.send(f"<auth xmlns='{SASL}' mechanism='DIGEST-MD5'/>".encode())
    assert (
        out
        == (
            f"<failure xmlns='{SASL}'><invalid-mechanism/><text xml:lang='en'>That mechanism is not offered.</text>"
            "</failure>"
        ).encode()
    )
    assert events == [AuthFailed(None, None, "invalid-mechanism", 2)]
    events, out = c.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>not base64!</auth>".encode())
    assert events[0] == AuthFailed(None, None, "incorrect-encoding", 3)
    assert events[1] == StreamClosed("policy-violation", by_peer=False)
    assert out.startswith(f"<failure xmlns='{SASL}'><incorrect-encoding/>".encode())
    assert out.endswith(stream_error("policy-violation", "Too many failed authentication attempts.") + END)


def test_plain_without_initial_response_and_abort() -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    events, out = c.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'/>".encode())
    assert out == f"<challenge xmlns='{SASL}'>=</challenge>".encode()
    events, out = c.send(f"<abort xmlns='{SASL}'/>".encode())
    assert out == f"<failure xmlns='{SASL}'><aborted/></failure>".encode()
    assert c.s.state is State.NEGOTIATING and c.s.auth_failures == 0
    c.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'/>".encode())
    events, out = c.send(f"<response xmlns='{SASL}'>{b64(chr(0) + 'bob' + chr(0) + 'pw')}</response>".encode())
    assert events == [AuthRequested("PLAIN", None, "bob", "pw")]


def test_input_waits_while_a_decision_is_pending() -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    events, out = c.send(f"<abort xmlns='{SASL}'/>".encode())  # queued behind the pending decision
    assert (events, out) == ([], b"")
    with pytest.raises(InvalidState):
        c.s.bind_ok()
    c.s.reject()
    events, out = c.out()
    assert (
        out
        == f"<failure xmlns='{SASL}'><not-authorized/></failure><failure xmlns='{SASL}'><aborted/></failure>".encode()
    )
    with pytest.raises(InvalidState):
        c.s.accept(ALICE)


def test_too_much_input_while_pending() -> None:
    c = Tcp(C2SStream("example.com", max_queued=2))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    events, _ = c.send(b"<a/><b/><c/>")
    assert events == [StreamClosed("policy-violation", by_peer=False)]
    c.s.accept(ALICE)  # the driver answers late: nothing happens
    assert c.out() == ([], b"")


def test_stanza_before_bind_is_not_authorized() -> None:
    c = Tcp(C2SStream("example.com"))
    c.send(STREAM_OPEN)
    c.send(PLAIN_AUTH)
    c.s.accept(ALICE)
    c.send(STREAM_OPEN)
    events, out = c.send(b"<presence/>")
    assert events == [StreamClosed("not-authorized", by_peer=False)]
    assert out == stream_error("not-authorized", "Bind a resource before sending stanzas.") + END


# --- established --------------------------------------------------------------------------------------


def established(**kwargs: object) -> Tcp:
    c = Tcp(C2SStream("example.com", **kwargs))
    login_plain(c)
    return c


def test_from_is_checked_and_stamped() -> None:
    c = established()
    for sender in ("alice@example.com/phone", "Alice@Example.com", None):
        attr = f" from='{sender}'" if sender else ""
        (ev,), _ = c.send(f"<presence{attr}/>".encode())
        assert isinstance(ev, StanzaReceived) and ev.element.get("from") == "alice@example.com/phone"
    events, out = c.send(b"<message from='bob@example.com/x' to='carol@example.com'/>")
    assert events == [StreamClosed("invalid-from", by_peer=False)]
    assert out == stream_error("invalid-from", "The from address is not yours.") + END

    c = established(from_policy="stamp")
    (ev,), _ = c.send(b"<message from='bob@example.com/x' to='carol@example.com'/>")
    assert isinstance(ev, StanzaReceived) and ev.element.get("from") == "alice@example.com/phone"


def test_stream_answers_what_it_owns() -> None:
    c = established()
    cases = [
        (b"<message to='a b@example.com' id='x'/>", b"jid-malformed"),
        (b"<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", b"bad-request"),
        (b"<iq type='fetch' id='i1'><ping xmlns='urn:xmpp:ping'/></iq>", b"bad-request"),
        (b"<iq type='get' id='i2'/>", b"bad-request"),
        (b"<iq type='get' id='i3'><a xmlns='x'/><b xmlns='y'/></iq>", b"bad-request"),
        (b"<presence type='online'/>", b"bad-request"),
    ]
    for data, condition in cases:
        events, out = c.send(data)
        assert events == [], data
        assert b"type='error'" in out and b"<" + condition + b" xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in out
    events, out = c.send(b"<message to='a b@example.com' type='error'/>")
    assert (events, out) == ([], b"")  # errors are never answered with errors
    events, out = c.send(b"<iq type='get' id='i4'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert out == b"" and isinstance(events[0], StanzaReceived)  # pings are the feature layer's
    _, out = c.send(
        b"<iq type='set' id='s2' to='example.com'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
    )
    assert out == b"<iq type='result' id='s2' from='example.com'/>"
    msg = ET.fromstring(b"<message xmlns='jabber:client' to='bob@example.com'><body>a&amp;b</body></message>")
    c.s.send(msg)
    assert c.out() == ([], b"<message to='bob@example.com'><body>a&amp;b</body></message>")


def test_unknown_elements_and_extra_namespaces() -> None:
    c = established(extra_namespaces={"urn:xmpp:csi:0"})
    (ev,), _ = c.send(b"<active xmlns='urn:xmpp:csi:0'/>")
    assert isinstance(ev, NonzaReceived) and ev.element.tag == "{urn:xmpp:csi:0}active"
    assert c.send(b"  \n ") == ([], b"")  # whitespace keepalive
    events, out = c.send(b"<enable xmlns='urn:xmpp:sm:3'/>")
    assert events == [StreamClosed("unsupported-stanza-type", by_peer=False)]
    assert out == stream_error("unsupported-stanza-type", "That element is not supported here.") + END


def test_driver_closes() -> None:
    c = established()
    c.s.keepalive()
    assert c.out() == ([], b" ")
    c.s.close("connection-timeout", "Idle for too long.")
    assert c.out() == (
        [StreamClosed("connection-timeout", by_peer=False)],
        stream_error("connection-timeout", "Idle for too long.") + END,
    )
    c.s.close()
    c.s.send(ET.Element("x"))
    assert c.out() == ([], b"")
    c = established()
    c.s.close()
    assert c.out() == ([StreamClosed(None, by_peer=False)], END)
    c = established()
    c.s.connection_lost()
    assert c.s.closed and c.out() == ([], b"")


def test_transition_table_is_closed() -> None:
    for state, targets in TRANSITIONS.items():
        assert state is State.CLOSED or State.CLOSED in targets
        assert targets <= set(State)
    assert set(TRANSITIONS) == set(State)


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        C2SStream("example.com", mechanisms=("DIGEST-MD5",))
    with pytest.raises(ValueError):
        C2SStream("example.com", framing="websocket", starttls=True)


def test_renderers_for_the_io_layer() -> None:
    from hxim.xmpp.errors import StreamError
    from hxim.xmpp.frames import render_close, render_stream_error

    err = StreamError("system-shutdown", "The server is restarting.")
    assert render_stream_error(err) == stream_error("system-shutdown", "The server is restarting.")
    assert render_stream_error(err, "websocket").startswith(
        b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown "
    )
    assert render_close() == END
    assert render_close("websocket") == b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
    with pytest.raises(ValueError):
        StreamError("no-such-condition")


def test_stream_ids_are_random_and_distinct_across_a_fork() -> None:
    """Ids come from a pool of urandom bytes; 1,000 of them (more than one 4 KiB read) are all
    distinct, and a forked child does not repeat its parent's next ids."""
    import os

    ids = [stream_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, stream_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert child != stream_id() and len(child) == 16
