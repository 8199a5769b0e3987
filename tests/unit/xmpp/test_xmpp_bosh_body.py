"""hxim.xmpp.bosh: the XEP-0124/XEP-0206 `<body/>` wrapper, parsed and rendered without I/O."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hxim.c2s.bosh import _version
from hxim.xmpp.bosh import (
    BODY_TAG,
    BoshError,
    classify_output,
    close_frame,
    legacy_status,
    open_frame,
    parse_body,
    render_body,
    render_terminate,
)
from hxim.xmpp.reader import StreamHeader, StreamReader, TopElement

HB = "http://jabber.org/protocol/httpbind"


def test_parse_creation_request_as_the_sdk_sends_it() -> None:
    req = parse_body(
        f"<body rid='4242' xmlns='{HB}' to='easemob.com' xml:lang='en' wait='30' hold='1' "
        "content='text/xml; charset=utf-8' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>".encode(),
        10_000,
    )
    assert req.rid == 4242 and req.sid is None and req.children == []
    assert req.number("wait", 60) == 30 and req.number("hold", 1) == 1 and req.number("absent", 7) == 7
    assert req.lang == "en" and not req.restart and not req.terminate
    assert req.attrs["{urn:xmpp:xbosh}version"] == "1.0"


def test_restart_terminate_and_children_become_frames() -> None:
    restart = parse_body(f"<body rid='5' sid='s' xmlns='{HB}' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'/>"
                         .encode(), 10_000)
    assert restart.restart and restart.sid == "s"
    req = parse_body(
        f"<body rid='6' sid='s' type='terminate' xmlns='{HB}'>"
        "<presence xmlns='jabber:client' type='unavailable'/>"
        "<message to='b@easemob.com'><body>no xmlns &amp; more</body></message></body>".encode(),
        10_000,
    )
    assert req.terminate
    frames = req.frames()
    assert frames[0] == b"<presence xmlns='jabber:client' type='unavailable'/>"
    # a stanza left in the httpbind namespace is read as jabber:client, children included
    reader = StreamReader("websocket")
    reader.feed(open_frame("easemob.com", "en"))
    events = reader.feed(frames[1])
    assert isinstance(events[0], TopElement)
    el = events[0].element
    assert el.tag == "{jabber:client}message" and el.findtext("{jabber:client}body") == "no xmlns & more"
    header = StreamReader("websocket").feed(open_frame("easemob.com", None))[0]
    assert isinstance(header, StreamHeader) and header.attrs["to"] == "easemob.com"
    assert close_frame() == b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<body rid='1' xmlns='urn:other'/>",
        f"<body xmlns='{HB}'/>".encode(),  # no rid
        f"<body rid='0' xmlns='{HB}'/>".encode(),
        f"<body rid='-3' xmlns='{HB}'/>".encode(),
        f"<body rid='99999999999999999' xmlns='{HB}'/>".encode(),  # above 2^53 - 1
        f"<body rid='1' xmlns='{HB}'><a></body>".encode(),
        f"<body rid='1' xmlns='{HB}'/><body rid='2' xmlns='{HB}'/>".encode(),
        f"<!DOCTYPE body [<!ENTITY x 'y'>]><body rid='1' xmlns='{HB}'>&x;</body>".encode(),
        f"<body rid='1' xmlns='{HB}'><!-- c --></body>".encode(),
        f"<body rid='1' xmlns='{HB}'>{'x' * 3000}</body>".encode(),  # over the size cap
    ],
)
def test_bad_bodies_are_bad_request(data: bytes) -> None:
    with pytest.raises(BoshError) as err:
        parse_body(data, 2048)
    assert err.value.condition == "bad-request"


def test_bad_numbers() -> None:
    req = parse_body(f"<body rid='1' wait='soon' xmlns='{HB}'/>".encode(), 2048)
    with pytest.raises(BoshError) as err:
        req.number("wait", 60)
    assert err.value.condition == "bad-request"


def test_classify_session_output() -> None:
    payload, error, closed = classify_output([
        b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='x' version='1.0'/>",
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
        b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict/></stream:error>",
        b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    ])
    assert payload == [b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"]
    assert error is not None and b"conflict" in error and closed


def test_rendered_bodies_parse_back() -> None:
    empty = ET.fromstring(render_body())
    assert empty.tag == BODY_TAG and len(empty) == 0 and not empty.attrib
    created = ET.fromstring(render_body({"sid": "a'b", "xmpp:version": "1.0"},
                                        [b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"]))
    assert created.get("sid") == "a'b" and created.get("{urn:xmpp:xbosh}version") == "1.0"
    assert created[0].tag == "{http://etherx.jabber.org/streams}features"
    term = ET.fromstring(render_terminate("remote-stream-error",
                                          [b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                           b"</stream:error>"]))
    assert term.get("type") == "terminate" and term.get("condition") == "remote-stream-error"
    assert term.find("{http://etherx.jabber.org/streams}error") is not None
    assert ET.fromstring(render_terminate()).get("condition") is None
    assert legacy_status("item-not-found") == 404 and legacy_status("bad-request") == 400
    assert legacy_status("policy-violation") == 403
    with pytest.raises(ValueError):
        BoshError("no-such-condition")


def test_version_negotiation() -> None:
    assert _version("1.6") == "1.6" and _version("1.11") == "1.11" and _version("2.0") == "1.11"
    assert _version(None) == "1.11" and _version("junk") == "1.11"
