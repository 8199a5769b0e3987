"""hxim.xmpp.reader: incremental parsing, restricted XML, limits, WebSocket framing."""

from __future__ import annotations

import pytest
from xmpp_testing import STREAM_OPEN, WS_OPEN, chunked

from hxim.xmpp.errors import StreamError
from hxim.xmpp.reader import SLICE, ReaderEvent, StreamEnd, StreamHeader, StreamReader, TopElement

MSG = "<message to='bob@example.com' type='chat' id='m1'><body>héllo 你好 &amp; &#x263A;</body></message>".encode()
PRES = b"<presence/>"
END = b"</stream:stream>"


def feed_all(reader: StreamReader, data: bytes, how: str = "whole") -> list[ReaderEvent]:
    out: list[ReaderEvent] = []
    for piece in chunked(data, how):
        out.extend(reader.feed(piece))
    return out


def shape(events: list[ReaderEvent]) -> list[str]:
    out = []
    for ev in events:
        if isinstance(ev, StreamHeader):
            out.append("header")
        elif isinstance(ev, TopElement):
            out.append(ev.element.tag)
        else:
            out.append("end")
    return out


@pytest.mark.parametrize("how", ["whole", "bytewise", "3", "7", "4096"])
def test_stream_in_any_chunks(how: str) -> None:
    events = feed_all(StreamReader(), STREAM_OPEN + MSG + b"\n " + PRES + MSG + END, how)
    assert shape(events) == [
        "header",
        "{jabber:client}message",
        "{jabber:client}presence",
        "{jabber:client}message",
        "end",
    ]
    header = events[0]
    assert isinstance(header, StreamHeader)
    assert header.tag == "{http://etherx.jabber.org/streams}stream"
    assert header.attrs == {"to": "example.com", "version": "1.0"}
    assert header.namespaces == {"": "jabber:client", "stream": "http://etherx.jabber.org/streams"}
    body = events[1].element.find("{jabber:client}body")
    assert body is not None and body.text == "héllo 你好 & \u263a"


def test_one_stanza_per_chunk() -> None:
    r = StreamReader()
    r.feed(STREAM_OPEN)
    assert shape(r.feed(MSG)) == ["{jabber:client}message"]
    assert shape(r.feed(b"  \n" + PRES + b" ")) == ["{jabber:client}presence"]
    assert shape(r.feed(MSG + PRES)) == ["{jabber:client}message", "{jabber:client}presence"]
    assert r.feed(MSG[:10]) == []
    assert shape(r.feed(MSG[10:])) == ["{jabber:client}message"]
    assert shape(r.feed(MSG)) == ["{jabber:client}message"]
    auth = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    assert shape(r.feed(auth)) == ["{urn:ietf:params:xml:ns:xmpp-sasl}auth"]


def test_prefixes_declared_on_the_header_apply_to_stanzas() -> None:
    r = StreamReader()
    r.feed(STREAM_OPEN.replace(b"to=", b"xmlns:x='urn:x' to="))
    (ev,) = r.feed(b"<message><x:y/></message>")
    assert isinstance(ev, TopElement)
    assert ev.element[0].tag == "{urn:x}y"


def test_whitespace_keepalives_are_free() -> None:
    r = StreamReader(max_stanza_bytes=1024)
    r.feed(STREAM_OPEN)
    for _ in range(100):
        assert r.feed(b" " * 100) == []
    (ev,) = r.feed(MSG)
    assert isinstance(ev, TopElement) and ev.element.tag == "{jabber:client}message"


def test_restart_uses_a_fresh_parser() -> None:
    r = StreamReader()
    assert shape(r.feed(STREAM_OPEN + MSG)) == ["header", "{jabber:client}message"]
    r.reset()
    assert shape(r.feed(STREAM_OPEN + PRES)) == ["header", "{jabber:client}presence"]


def test_end_then_input_ignored() -> None:
    r = StreamReader()
    assert shape(r.feed(STREAM_OPEN + END)) == ["header", "end"]
    assert r.ended
    assert r.feed(b"garbage") == []


@pytest.mark.parametrize(
    ("prolog", "condition"),
    [
        (b"<!DOCTYPE stream>", "restricted-xml"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]>", "restricted-xml"),
        (b"<!-- hello -->", "restricted-xml"),
        (b"<?php echo 1 ?>", "restricted-xml"),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?>", "unsupported-encoding"),
        (b"GET / HTTP/1.1\r\n", "not-well-formed"),
    ],
)
def test_restricted_prolog(prolog: bytes, condition: str) -> None:
    r = StreamReader()
    data = prolog + STREAM_OPEN.replace(b"<?xml version='1.0'?>", b"")
    with pytest.raises(StreamError) as err:
        feed_all(r, data, "bytewise")
    assert err.value.condition == condition
    with pytest.raises(StreamError):  # dead for good
        r.feed(b" ")


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        (b"<message><body>&xxe;</body></message>", "restricted-xml"),
        (b"<message><body>&amp;&lt;&gt;&quot;&apos;</body></message><message>&nbsp;</message>", "restricted-xml"),
        (b"<message><!-- c --></message>", "restricted-xml"),
        (b"<?pi x?>", "restricted-xml"),
        (b"<message><?pi x?></message>", "restricted-xml"),
        (b"<!DOCTYPE x>", "restricted-xml"),
        (b"<message><body></message>", "not-well-formed"),
        (b"<message a='<'/>", "not-well-formed"),
        (b"<message>\xff\xfe</message>", "not-well-formed"),
        (b"<message><x:body/></message>", "bad-namespace-prefix"),
        (b"</stream:stream><junk/>", None),
    ],
)
def test_restricted_in_stream(data: bytes, condition: str | None) -> None:
    r = StreamReader()
    r.feed(STREAM_OPEN)
    if condition is None:
        assert shape(r.feed(data)) == ["end"]
        return
    with pytest.raises(StreamError) as err:
        r.feed(data)
    assert err.value.condition == condition


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (b"<stream xmlns='http://etherx.jabber.org/streams'>", "bad-namespace-prefix"),
        (b"<stream:stream xmlns='jabber:client'>", "bad-namespace-prefix"),
        (b"<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>", "invalid-namespace"),
        (b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", "invalid-namespace"),
        (b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", "invalid-namespace"),
        (b"<message xmlns='jabber:client'>", "bad-format"),
    ],
)
def test_bad_headers(header: bytes, condition: str) -> None:
    with pytest.raises(StreamError) as err:
        StreamReader().feed(header)
    assert err.value.condition == condition


def test_other_stream_prefix_is_fine() -> None:
    r = StreamReader()
    events = r.feed(b"<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' version='1.0'>" + PRES)
    assert shape(events) == ["header", "{jabber:client}presence"]
    assert shape(r.feed(b"</s:stream>")) == ["end"]


@pytest.mark.parametrize("how", ["whole", "1000", "bytewise"])
def test_stanza_size_limit(how: str) -> None:
    limit = 2048
    ok = b"<message><body>" + b"x" * (limit - 40) + b"</body></message>"
    assert len(ok) <= limit
    r = StreamReader(max_stanza_bytes=limit)
    r.feed(STREAM_OPEN)
    for _ in range(3):
        assert shape(feed_all(r, ok, how)) == ["{jabber:client}message"]
    big = b"<message><body>" + b"x" * (limit + SLICE) + b"</body></message>"
    with pytest.raises(StreamError) as err:
        feed_all(r, big, how)
    assert err.value.condition == "policy-violation"
    assert err.value.app_condition == "stanza-too-big"


def test_unfinished_start_tag_is_bounded() -> None:
    r = StreamReader(max_stanza_bytes=4096)
    r.feed(STREAM_OPEN)
    r.feed(b"<message ")
    with pytest.raises(StreamError) as err:
        for _ in range(100):
            r.feed(b"a" * 100)
    assert err.value.condition == "policy-violation"


def test_text_flood_at_stream_level_is_bounded() -> None:
    r = StreamReader(max_stanza_bytes=4096)
    r.feed(STREAM_OPEN)
    with pytest.raises(StreamError) as err:
        for _ in range(100):
            r.feed(b"junk" * 25)
    assert err.value.condition == "policy-violation"


def test_prolog_is_bounded() -> None:
    r = StreamReader(max_stanza_bytes=1024)
    with pytest.raises(StreamError) as err:
        r.feed(b"<stream:stream " + b"a='b' " * 400)
    assert err.value.condition == "policy-violation"


def test_depth_limit() -> None:
    r = StreamReader(max_depth=10)
    r.feed(STREAM_OPEN)
    with pytest.raises(StreamError) as err:
        r.feed(b"<message>" + b"<a>" * 20)
    assert err.value.condition == "policy-violation"


# --- WebSocket framing (RFC 7395) -------------------------------------------------------------------


def test_websocket_frames() -> None:
    r = StreamReader("websocket")
    (header,) = r.feed(WS_OPEN)
    assert header == StreamHeader(
        "{urn:ietf:params:xml:ns:xmpp-framing}open",
        {"to": "easemob.com", "version": "1.0"},
        {"": "urn:ietf:params:xml:ns:xmpp-framing"},
    )
    frame = b"<message xmlns='jabber:client' to='b@x'><body>\xe4\xbd\xa0</body></message>"
    (ev,) = r.feed(frame)
    assert isinstance(ev, TopElement) and ev.element.tag == "{jabber:client}message"
    (ev,) = r.feed(frame.decode())  # str frames work too
    assert isinstance(ev, TopElement) and ev.element.tag == "{jabber:client}message"
    (ev,) = r.feed(b"<presence/>")  # no xmlns: the virtual stream's jabber:client applies
    assert isinstance(ev, TopElement) and ev.element.tag == "{jabber:client}presence"
    assert r.feed(b" ") == []
    assert shape(r.feed(b"<presence/><presence/>")) == ["{jabber:client}presence"] * 2
    assert shape(r.feed(b"<?xml version='1.0'?><presence/>")) == ["{jabber:client}presence"]
    assert r.feed(b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>") == [StreamEnd()]
    assert r.ended


@pytest.mark.parametrize(
    ("frame", "condition"),
    [
        (b"<message><body>hi</body>", "not-well-formed"),  # incomplete element
        (b"<message/><presence", "not-well-formed"),
        (b"<message><!-- c --></message>", "restricted-xml"),
        (b"<!DOCTYPE x><message/>", "restricted-xml"),
        (b"<message>&ent;</message>", "restricted-xml"),
        (b"<?xml version='1.0' encoding='latin-1'?><presence/>", "unsupported-encoding"),
        (b"<message>" + b"x" * 2000 + b"</message>", "policy-violation"),
    ],
)
def test_websocket_bad_frames(frame: bytes, condition: str) -> None:
    r = StreamReader("websocket", max_stanza_bytes=1024)
    r.feed(WS_OPEN)
    with pytest.raises(StreamError) as err:
        r.feed(frame)
    assert err.value.condition == condition
