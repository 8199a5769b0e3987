"""hxim.xmpp.stanza: serialisation without ns0 prefixes, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hxim.xmpp import stanza


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def test_serialize_default_namespaces() -> None:
    el = parse(
        "<message xmlns='jabber:client' to='b@x' id='1'><body>a &lt; b &amp; \u4f60</body>"
        "<received xmlns='urn:xmpp:receipts' id='9'/></message>"
    )
    want = (
        "<message to='b@x' id='1'><body>a &lt; b &amp; \u4f60</body>"
        "<received xmlns='urn:xmpp:receipts' id='9'/></message>"
    )
    assert stanza.serialize(el) == want.encode()
    assert stanza.serialize(el, None) == want.replace("<message ", "<message xmlns='jabber:client' ", 1).encode()
    assert b"ns0" not in stanza.serialize(el)


def test_serialize_attributes_and_mixed_content() -> None:
    el = parse(
        "<iq xmlns='jabber:client' type='get' xml:lang='en' a=\"it's\"><q xmlns='urn:x' xmlns:p='urn:p' p:k='v'>"
        "t<b>x</b>tail</q></iq>"
    )
    out = stanza.serialize(el).decode()
    assert out == (
        "<iq type='get' xml:lang='en' a='it&apos;s'><q xmlns='urn:x' xmlns:a0='urn:p' a0:k='v'>t<b>x</b>tail</q></iq>"
    )
    assert ET.fromstring(stanza.serialize(el, None)).find("{urn:x}q") is not None


def test_serialize_ignores_own_tail() -> None:
    el = parse("<r xmlns='jabber:client'><presence/> </r>")[0]
    assert stanza.serialize(el) == b"<presence/>"


def test_escape() -> None:
    assert stanza.escape_text("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert stanza.escape_attr("'\"\n") == "&apos;&quot;&#10;"


def test_error_reply_swaps_and_echoes() -> None:
    iq = parse("<iq xmlns='jabber:client' type='get' id='q1' from='a@x/r' to='Conference.X'><query xmlns='q'/></iq>")
    err = stanza.error_reply(iq, "service-unavailable", "No such service.")
    assert stanza.serialize(err) == (
        b"<iq type='error' id='q1' to='a@x/r' from='Conference.X'><error type='cancel'>"
        b"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No such service.</text></error></iq>"
    )
    msg = parse("<message xmlns='jabber:client' id='m'><body>x</body></message>")
    out = stanza.serialize(
        stanza.error_reply(msg, "not-allowed", include_payload=True, app_condition=ET.Element("user-muted"))
    )
    assert out == (
        b"<message type='error' id='m'><body>x</body><error type='cancel'>"
        b"<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><user-muted xmlns=''/></error></message>"
    )
    with pytest.raises(ValueError):
        stanza.error_reply(msg, "no-such-condition")


def test_iq_result() -> None:
    iq = parse(
        "<iq xmlns='jabber:client' type='get' id='p1' to='easemob.com' from='a@x/r'><ping xmlns='urn:xmpp:ping'/></iq>"
    )
    assert stanza.serialize(stanza.iq_result(iq, from_=iq.get("to"))) == (
        b"<iq type='result' id='p1' to='a@x/r' from='easemob.com'/>"
    )
