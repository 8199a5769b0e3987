"""Fuzzing the sans-I/O XMPP core: `C2SStream` (TCP and WebSocket framing), `StreamReader` and the
BOSH `parse_body`.

Fed random bytes, random Unicode, and mutations of a real client exchange (stream header, SASL
PLAIN and SCRAM, STARTTLS, bind, the session IQ, presence, messages with bodies and Easemob JSON,
IQs, the close) cut at random points, the core proves that:

* `C2SStream.feed` and the driver's answers (`accept`, `reject`, `provide_credentials`,
  `bind_ok`, `bind_error`, `tls_established`, `close`) raise nothing: every protocol violation
  ends the stream with a stream error instead, and a run always finishes (a watchdog fails it
  otherwise);
* everything the stream wants to send (`data_to_send()`) is well-formed XML as a client parses it:
  over TCP one document per stream header, nothing after `</stream:stream>`; over WebSocket
  every message a document of its own; and its size stays proportional to the input;
* every stanza handed to the driver carries the client's own bound JID as `from`;
* `StreamReader.feed` raises only `StreamError`, and once it has, raises that same error again;
  every element it returns serialises (`stanza.serialize`) to well-formed XML;
* `parse_body` raises only `BoshError`; the frames of a body it accepts are well-formed XML.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest
from fuzzing import (
    check_document,
    check_frame,
    cuts,
    fuzz_settings,
    garbage,
    mutated,
    nasty_text,
    tree_mutated,
    watchdog,
)
from hypothesis import given
from hypothesis import strategies as st

from hxim.services.passwords import derive
from hxim.xmpp.bosh import BoshError, parse_body
from hxim.xmpp.errors import StreamError
from hxim.xmpp.events import (
    AuthRequested,
    BindRequested,
    CredentialsRequested,
    Event,
    StanzaReceived,
    StartTLS,
)
from hxim.xmpp.jid import JID
from hxim.xmpp.reader import StreamReader, TopElement
from hxim.xmpp.stanza import serialize
from hxim.xmpp.stream import C2SStream

DOMAIN = "example.com"
ALICE = JID.parse("alice@example.com")
CREDS = derive("secret", 4096)
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
HTTPBIND = "http://jabber.org/protocol/httpbind"


def _b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


TCP_OPEN = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>"
)
WS_OPEN = f"<open xmlns='{FRAMING}' to='example.com' version='1.0'/>".encode()
WS_CLOSE = f"<close xmlns='{FRAMING}'/>".encode()
PLAIN = f"<auth xmlns='{SASL}' mechanism='PLAIN'>{_b64(chr(0) + 'alice' + chr(0) + 'secret')}</auth>".encode()
PLAIN_WRONG = f"<auth xmlns='{SASL}' mechanism='PLAIN'>{_b64(chr(0) + 'alice' + chr(0) + 'nope')}</auth>".encode()
SCRAM_FIRST = f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-1'>{_b64('n,,n=alice,r=abcdefgh')}</auth>".encode()
SCRAM_FINAL = f"<response xmlns='{SASL}'>{_b64('c=biws,r=abcdefgh,p=AAAA')}</response>".encode()
ABORT = f"<abort xmlns='{SASL}'/>".encode()
STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
BIND = (
    b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>"
)
SESSION = b"<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
EASEMOB_JSON = (
    '{"from":"alice","to":"bob","bodies":[{"type":"txt","msg":"hi \\u0001 \\uffff \\ud83d\\ude00"}],'
    '"ext":{"n":18446744073709551615,"deep":[[[{"k":null}]]]}}'
)
STANZAS = [
    b"<presence/>",
    b"<presence type='subscribe' to='bob@example.com'><status>hi &amp; bye</status></presence>",
    "<message to='bob@example.com' type='chat' id='m1'><body>你好 &lt;b&gt; 😀</body></message>".encode(),
    f"<message to='bob@example.com/webim' type='chat' id='m2'><body>{EASEMOB_JSON}</body>"
    "<request xmlns='urn:xmpp:receipts'/></message>".encode(),
    b"<message to='1234@conference.example.com' type='groupchat' id='g1'><body>group</body></message>",
    b"<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    b"<iq type='get' id='p1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
    b"<iq type='set' id='x1' to='bob@example.com/phone'><query xmlns='urn:example' a='1'><x>t</x></query></iq>",
    b"<iq type='get' id='d1' to='conference.example.com'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    b"<message from='alice@example.com/phone' to='not a jid@@' id='j1'><body>x</body></message>",
    b"<iq type='result' id='v1'/>",
    b"<unknown xmlns='urn:example:nonza'/>",
    b"<r xmlns='urn:xmpp:sm:3'/>",
]
# Each exchange as the units a client sends, waiting for the server between them (a client may not
# pipeline past <auth/> or <starttls/>: the stream restarts there, RFC 6120 §5.3.3, §6.4.6).
TCP_EXCHANGES = [
    [TCP_OPEN, PLAIN, TCP_OPEN, BIND, SESSION, *STANZAS, b" </stream:stream>"],
    [TCP_OPEN, PLAIN_WRONG, SCRAM_FIRST, SCRAM_FINAL, PLAIN, TCP_OPEN, BIND + b"".join(STANZAS[:4])],
    [TCP_OPEN, STARTTLS, TCP_OPEN, PLAIN, TCP_OPEN, BIND, b"".join(STANZAS[4:]) + b"</stream:stream>"],
    [TCP_OPEN, SCRAM_FIRST, ABORT, PLAIN, TCP_OPEN + BIND + BIND, b"".join(STANZAS[2:6])],
]
TCP_SEEDS = [unit for exchange in TCP_EXCHANGES for unit in exchange]
READER_SEED = TCP_OPEN + PLAIN + BIND + SESSION + b"".join(STANZAS) + b"</stream:stream>"  # one stream, no restart
WS_EXCHANGE = [WS_OPEN, PLAIN, WS_OPEN, BIND, SESSION, *STANZAS, WS_CLOSE]
WS_SEEDS = [*WS_EXCHANGE, PLAIN_WRONG, SCRAM_FIRST, SCRAM_FINAL, ABORT, b"".join(STANZAS[:3])]


def new_stream(framing: str, draw: st.DrawFn) -> C2SStream:
    """A stream with randomly chosen options (small limits included)."""
    return C2SStream(
        DOMAIN,
        framing="tcp" if framing == "tcp" else "websocket",
        aliases=("localhost",),
        mechanisms=draw(st.sampled_from([("PLAIN",), ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")])),
        starttls=framing == "tcp" and draw(st.booleans()),
        from_policy=draw(st.sampled_from(["reject", "stamp"])),
        max_stanza_bytes=draw(st.sampled_from([1024, 4096, 256 * 1024])),
        max_depth=draw(st.sampled_from([3, 8, 64])),
        max_auth_attempts=draw(st.integers(1, 3)),
        max_queued=draw(st.sampled_from([1, 4, 16])),
        extra_namespaces=("urn:xmpp:sm:3",),
        scram_iterations=4096,
    )


def settle(stream: C2SStream, seen: list[Event]) -> None:
    """Answer every decision the stream asks for, as `C2SSession` does: the right password for
    alice is accepted, SCRAM gets alice's credentials (nobody else's exist), the resource `taken`
    is refused, a STARTTLS handshake always succeeds."""
    for _ in range(1000):
        events = stream.events_received()
        if not events:
            return
        seen.extend(events)
        for ev in events:
            if isinstance(ev, AuthRequested):
                if ev.username == "alice" and ev.password == "secret" and ev.authzid in (None, "", str(ALICE)):
                    stream.accept(ALICE)
                else:
                    stream.reject()
            elif isinstance(ev, CredentialsRequested):
                known = ev.username == "alice"
                stream.provide_credentials(CREDS if known else None, ALICE if known else None)
            elif isinstance(ev, BindRequested):
                if ev.resource == "taken":
                    stream.bind_error("conflict")
                else:
                    stream.bind_ok()
            elif isinstance(ev, StartTLS):
                stream.tls_established()
    raise AssertionError("the stream kept producing events")


def run_stream(stream: C2SStream, pieces: list[bytes | str], close: str | None) -> list[bytes]:
    """Feed `pieces`, answering decisions after each; end with the driver's `close`; check the
    stamped `from` of every stanza and the size of the output. Returns the output chunks."""
    out: list[bytes] = []
    seen: list[Event] = []
    with watchdog(20):
        for piece in pieces:
            stream.feed(piece)
            settle(stream, seen)
            out.extend(stream.data_to_send())
        if close is not None:
            stream.close(None if close == "" else "system-shutdown", close or None)
            settle(stream, seen)
            out.extend(stream.data_to_send())
    for ev in seen:
        if isinstance(ev, StanzaReceived):
            assert ev.element.get("from") == str(stream.jid), (ev.element.get("from"), stream.jid)
    size_in = sum(len(p.encode("utf-8", "surrogatepass") if isinstance(p, str) else p) for p in pieces)
    size_out = sum(len(c) for c in out)
    assert size_out <= 4096 + 4 * size_in, (size_in, size_out)
    return out


def check_output(framing: str, out: list[bytes]) -> None:
    if framing == "tcp":
        check_document(out)
    else:
        for chunk in out:
            check_frame(chunk)


@st.composite
def mutated_units(draw: st.DrawFn, units: list[bytes], seeds: list[bytes]) -> list[bytes]:
    """An exchange kept intact up to a random unit, and from there on with some units mutated,
    dropped, repeated, replaced by a (mutated) seed from elsewhere or by a stanza changed as a tree
    (`tree_mutated`), or joined to the next (a client that does not wait for the answer). Most
    cases so get past the login and stress the stanzas."""
    start = draw(st.integers(0, len(units)))
    out = list(units[:start])
    for unit in units[start:]:
        action = draw(st.sampled_from(("keep", "keep", "mutate", "tree", "drop", "repeat", "other", "join")))
        if action == "keep":
            out.append(unit)
        elif action == "mutate":
            out.append(draw(mutated([unit], max_ops=3)))
        elif action == "tree":  # a well-formed stanza with odd attributes, text and children
            out.append(draw(tree_mutated(STANZAS)))
        elif action == "repeat":
            out.extend([unit, unit])
        elif action == "other":
            out.append(draw(mutated(seeds, max_ops=2)))
        elif action == "join" and out:
            out[-1] += unit
        elif action == "join":
            out.append(unit)
    return out


def ws_frames() -> st.SearchStrategy[list[bytes]]:
    """The WebSocket exchange, each unit one message."""
    return mutated_units(WS_EXCHANGE, WS_SEEDS)


@st.composite
def tcp_pieces(draw: st.DrawFn) -> list[bytes]:
    """A TCP exchange, its units mutated and each cut at random points."""
    units = draw(mutated_units(draw(st.sampled_from(TCP_EXCHANGES)), TCP_SEEDS))
    return [piece for unit in units for piece in draw(cuts(unit))]


# --- C2SStream --------------------------------------------------------------------------------------


def test_tcp_stream_valid_exchanges() -> None:
    """The seeds themselves: each logs in, and the first ends with a bound, closed stream."""
    for exchange in TCP_EXCHANGES:
        stream = C2SStream(DOMAIN, mechanisms=("SCRAM-SHA-1", "PLAIN"), starttls=True)
        out = run_stream(stream, list(exchange), None)
        check_document(out)
        assert b"<jid>alice@example.com/phone</jid>" in b"".join(out), out
    assert stream.jid is not None


@fuzz_settings(300)
@given(data=st.data())
def test_tcp_stream_mutated_exchanges(data: st.DataObject) -> None:
    stream = new_stream("tcp", data.draw)
    pieces: list[bytes | str] = list(data.draw(tcp_pieces(), label="pieces"))
    close = data.draw(st.none() | nasty_text(max_size=10), label="close")
    check_document(run_stream(stream, pieces, close))


@fuzz_settings(300)
@given(data=st.data())
def test_websocket_stream_mutated_frames(data: st.DataObject) -> None:
    stream = new_stream("websocket", data.draw)
    frames: list[bytes | str] = list(data.draw(ws_frames(), label="frames"))
    close = data.draw(st.none() | nasty_text(max_size=10), label="close")
    for chunk in run_stream(stream, frames, close):
        check_frame(chunk)


@pytest.mark.parametrize("framing", ["tcp", "websocket"])
@fuzz_settings(150)
@given(data=st.data())
def test_stream_random_input(framing: str, data: st.DataObject) -> None:
    """Random bytes and random text, from the first byte or after a valid login."""
    stream = new_stream(framing, data.draw)
    if framing == "tcp":
        login: list[bytes | str] = [TCP_OPEN, PLAIN, TCP_OPEN, BIND]
    else:
        login = [WS_OPEN, PLAIN, WS_OPEN, BIND]
    prefix = data.draw(st.sampled_from([[], login[:1], login]), label="prefix")
    text = nasty_text(surrogates=False, max_size=200)
    noise = data.draw(
        st.lists(
            st.one_of(
                garbage(),
                text,  # fed as str, as a WebSocket text message arrives
                nasty_text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),  # invalid UTF-8
            ),
            min_size=1,
            max_size=6,
        ),
        label="noise",
    )
    out = run_stream(stream, [*prefix, *noise], data.draw(st.none() | st.just(""), label="close"))
    check_output(framing, out)


@pytest.mark.parametrize("framing", ["tcp", "websocket"])
@fuzz_settings(50)
@given(text=nasty_text(max_size=50))
def test_stream_feed_any_python_str(framing: str, text: str) -> None:
    """`feed` takes `bytes | str`: any str, lone surrogates included, must end in a stream error at
    worst."""
    stream = C2SStream(DOMAIN, framing="tcp" if framing == "tcp" else "websocket")
    check_output(framing, run_stream(stream, [text], None))


# --- StreamReader -----------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["tcp", "websocket"])
@fuzz_settings(200)
@given(data=st.data())
def test_reader_raises_only_stream_errors(framing: str, data: st.DataObject) -> None:
    if framing == "tcp":
        source = mutated([READER_SEED], max_ops=8).flatmap(cuts) | st.lists(garbage(), max_size=5)
    else:
        source = ws_frames() | st.lists(garbage(), max_size=5)
    pieces = data.draw(source, label="pieces")
    reader = StreamReader(
        "tcp" if framing == "tcp" else "websocket",
        max_stanza_bytes=data.draw(st.sampled_from([1024, 256 * 1024])),
        max_depth=data.draw(st.sampled_from([3, 64])),
    )
    failure: StreamError | None = None
    with watchdog(20):
        for piece in pieces:
            if failure is not None:
                with pytest.raises(StreamError) as again:
                    reader.feed(piece)
                assert again.value is failure  # the reader is dead: the same error every time
                continue
            try:
                events = reader.feed(piece)
            except StreamError as exc:
                failure = exc
                continue
            for ev in events:
                if isinstance(ev, TopElement):
                    check_frame(serialize(ev.element, None))  # what a relay would write


# --- BOSH -------------------------------------------------------------------------------------------

BOSH_BODIES = [
    f"<body rid='1573741820' xmlns='{HTTPBIND}' to='example.com' xml:lang='en' wait='60' hold='1' "
    "content='text/xml; charset=utf-8' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>".encode(),
    f"<body rid='1573741821' sid='SomeSID' xmlns='{HTTPBIND}'>".encode() + PLAIN + b"</body>",
    f"<body rid='1573741822' sid='SomeSID' xmlns='{HTTPBIND}' to='example.com' xml:lang='en' "
    "xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'/>".encode(),
    f"<body rid='1573741823' sid='SomeSID' xmlns='{HTTPBIND}'>".encode()
    + BIND.replace(b"<iq ", b"<iq xmlns='jabber:client' ")
    + b"</body>",
    f"<body rid='1573741824' sid='SomeSID' xmlns='{HTTPBIND}'>".encode() + b"".join(STANZAS[:6]) + b"</body>",
    f"<body rid='1573741825' sid='SomeSID' type='terminate' xmlns='{HTTPBIND}'>".encode() + STANZAS[0] + b"</body>",
]


@fuzz_settings(400)
@given(body=mutated(BOSH_BODIES, max_ops=6) | garbage(400), limit=st.sampled_from([1024, 20_000]))
def test_parse_body_raises_only_bosh_errors(body: bytes, limit: int) -> None:
    with watchdog(20):
        try:
            req = parse_body(body, limit)
        except BoshError as exc:
            assert exc.condition == "bad-request"
            return
        for name in ("wait", "hold"):
            try:
                req.number(name, 1)
            except BoshError:
                pass
        for frame in req.frames():
            check_frame(frame)
    assert isinstance(req.rid, int) and req.rid > 0
    _ = (req.sid, req.terminate, req.restart, req.lang)


def test_output_checkers_reject_bad_xml() -> None:
    """The checks above can fail: they refuse what a client could not parse."""
    with pytest.raises(ET.ParseError):
        check_frame(b"<message><body>\x01</body></message>")
    with pytest.raises(ET.ParseError):
        check_frame(b"<stream:error/>")  # undeclared prefix
    with pytest.raises(AssertionError):
        check_document([b"<message/>"])  # before any header
    with pytest.raises((ET.ParseError, AssertionError)):
        check_document([TCP_OPEN, b"</stream:stream>", b"<presence/>"])
