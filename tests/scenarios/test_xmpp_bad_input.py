"""Bad input over a raw TCP socket: each case gets the RFC 6120 stream or stanza error, the
session closes where the RFC says, and other sessions are untouched."""

from __future__ import annotations

import asyncio

import pytest
from xmpp_helpers import Client, Raw, XServer, login_raw, plain_auth, run, xserver

from conftest import unique

__all__ = ["xserver"]

STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"


def _stream_error(raw: Raw, data: str | bytes) -> str:
    raw.send(data)
    text, closed = raw.read_all(5)
    assert closed, text
    assert "<stream:error>" in text and text.rstrip().endswith("</stream:stream>"), text
    return text


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        ("<message><body>x</message>", "not-well-formed"),
        ("<message to='a@easemob.com'><body>hi</body></message>", "not-authorized"),
        ("<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>", "not-authorized"),
        ("<foo xmlns='urn:example:unknown'/>", "unsupported-stanza-type"),
        ("<message xmlns='urn:example:other'><body>x</body></message>", "invalid-namespace"),
        ("<message><body>&custom;</body></message>", "restricted-xml"),
        ("<?pi data?>", "restricted-xml"),
        ("<!-- a comment -->", "restricted-xml"),
        ("<message><body>" + "a" * 30_000 + "</body></message>", "policy-violation"),
    ],
    ids=["malformed", "message-before-auth", "iq-before-auth", "unknown-element", "wrong-namespace",
         "entity", "processing-instruction", "comment", "oversized"],
)
def test_bad_input_before_auth(xserver: XServer, data: str, condition: str) -> None:
    raw = Raw(xserver)
    raw.open()
    text = _stream_error(raw, data)
    assert f"<{condition} xmlns='{STREAM_ERRORS}'/>" in text, text
    raw.close()


def test_dtd_in_prolog(xserver: XServer) -> None:
    raw = Raw(xserver)
    raw.send("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream to='easemob.com' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    text, closed = raw.read_all(5)
    assert closed and f"<restricted-xml xmlns='{STREAM_ERRORS}'/>" in text, text


def test_wrong_passwords_then_policy_violation(xserver: XServer) -> None:
    name = unique("pw")
    xserver.api.register(name)
    raw = Raw(xserver)
    raw.open()
    node = xserver.jid(name).split("@")[0]
    for attempt in range(3):
        raw.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth(node, 'bad')}</auth>")
        text = raw.read_until(b"</failure>")
        assert "<not-authorized/>" in text, text
        if attempt == 2:
            rest, closed = raw.read_all(5)
            assert closed and f"<policy-violation xmlns='{STREAM_ERRORS}'/>" in text + rest
    raw.close()


def test_unknown_host(xserver: XServer) -> None:
    raw = Raw(xserver)
    raw.send("<stream:stream to='example.org' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
             "version='1.0'>")
    text, closed = raw.read_all(5)
    assert closed and f"<host-unknown xmlns='{STREAM_ERRORS}'/>" in text, text


def test_stanza_errors_keep_the_session(xserver: XServer) -> None:
    name = unique("se")
    xserver.api.register(name)
    raw = login_raw(xserver, name)
    raw.send("<iq type='get' id='q1'><query xmlns='urn:example:nothing'/></iq>")
    text = raw.read_until(b"</iq>")
    assert "id='q1'" in text and "<service-unavailable" in text, text
    raw.send("<message to='not a jid@@' id='m1'><body>x</body></message>")
    text = raw.read_until(b"</message>")
    assert "<jid-malformed" in text, text
    raw.send("<iq type='get' id='p1' to='easemob.com'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "type='result'" in raw.read_until(b"id='p1'")
    raw.close()


def test_flood_and_oversize_close_only_the_offender(xserver: XServer) -> None:
    a, b = unique("fa"), unique("fb")
    xserver.api.register(a, b)

    async def scenario() -> None:
        bystander = Client(xserver, b)
        await bystander.online()
        flooder = await asyncio.to_thread(login_raw, xserver, a)
        pings = "".join(f"<iq type='get' id='f{i}'><ping xmlns='urn:xmpp:ping'/></iq>" for i in range(300))
        text = await asyncio.to_thread(_stream_error, flooder, pings)
        assert f"<policy-violation xmlns='{STREAM_ERRORS}'/>" in text
        big = await asyncio.to_thread(login_raw, xserver, a, "secret1", "big")
        text = await asyncio.to_thread(_stream_error, big, "<message><body>" + "b" * 30_000 + "</body></message>")
        assert f"<policy-violation xmlns='{STREAM_ERRORS}'/>" in text
        assert "<stanza-too-big xmlns='urn:xmpp:errors'/>" in text
        # the bystander still works
        xserver.api.post("/messages", json={"target_type": "users", "target": [b],
                                            "msg": {"type": "txt", "msg": "still here"}})
        assert (await bystander.next_message())["body"] == "still here"
        assert not bystander.gone.is_set()
        await bystander.close()

    run(scenario)
