"""Presence and the blacklist as the Web IM SDK 1.x sees them, frame by frame over a real
WebSocket: the 1.4.6 SDK's misreading of status-less presence (webim-xmpp.md §6, §6.1) and the
privacy-list path of blocking (§5b) with its presence effects (XEP-0191 §3.3, §3.4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from webim_raw import CLIENT, WebIm
from xmpp_helpers import XServer, xserver

from conftest import unique

__all__ = ["xserver"]

PRIVACY = "{jabber:iq:privacy}"
BLOCKING = "{urn:xmpp:blocking}"
OLD, NEW = "1.4.2", "1.4.13"  # the version notices of the 1.4.6 and 1.8.4 SDKs (§3.5)


def _presence_from(sender: WebIm, ptype: str | None = None) -> Callable[[ET.Element], bool]:
    def pred(el: ET.Element) -> bool:
        return (el.tag == CLIENT + "presence" and el.get("type") == ptype
                and el.get("from", "").split("/")[0] == sender.bare)
    return pred


def _any_presence_from(sender: WebIm) -> Callable[[ET.Element], bool]:
    return lambda el: el.tag == CLIENT + "presence" and el.get("from", "").split("/")[0] == sender.bare


def _privacy_push(el: ET.Element) -> bool:
    return el.tag == CLIENT + "iq" and el.get("type") == "set" and el.find(PRIVACY + "query") is not None


def _blocking_push(el: ET.Element) -> bool:
    return el.tag == CLIENT + "iq" and any(c.tag.startswith(BLOCKING) for c in el)


def test_old_sdk_gets_no_statusless_presence(xserver: XServer) -> None:
    """The 1.4.6 SDK reports an available presence without <status> as `joinPublicGroupSuccess`
    (and refreshes its groups): it gets none — not its contacts', not its own other resource's —
    while presences with a status text and unavailable ones still reach it; the 1.8.4 SDK gets
    them all."""
    a, b, c = unique("oa"), unique("ob"), unique("oc")
    api = xserver.api
    api.register(a, b, c)
    api.post(f"/users/{c}/contacts/users/{a}")
    api.post(f"/users/{c}/contacts/users/{b}")
    old = WebIm(xserver, a).login(version=OLD)
    new = WebIm(xserver, b).login(version=NEW)
    carol = other = late = None
    try:
        old.ping()
        new.ping()
        carol = WebIm(xserver, c).login(version=NEW)
        carol.ping()
        seen = new.expect(_presence_from(carol))
        assert seen.find(CLIENT + "status") is None and seen.get("to") == new.full
        old.quiet(0.3, _any_presence_from(carol))
        # the probe answer of an old session that logs in now leaves it out too
        late = WebIm(xserver, a, resource="webim_late").login(version=OLD)
        late.ping()
        late.quiet(0.2, _any_presence_from(carol))
        assert carol.expect(_presence_from(late)).get("to") == carol.full  # carol is 1.8.4: she sees it
        # a presence with a status text is read correctly by 1.4.6: it is sent
        carol.send("<presence xmlns='jabber:client'><status>at work</status></presence>")
        assert old.expect(_presence_from(carol)).findtext(CLIENT + "status") == "at work"
        assert new.expect(_presence_from(carol)).findtext(CLIENT + "status") == "at work"
        # so is unavailable
        carol.send("<presence xmlns='jabber:client' type='unavailable'/>")
        old.expect(_presence_from(carol, "unavailable"))
        # the user's own second resource (the SDK's multi-login), no status: not sent to 1.4.6
        other = WebIm(xserver, a, resource="webim_2").login(version=OLD)
        other.ping()
        old.quiet(0.3, _any_presence_from(old))  # neither `late`'s nor `other`'s status-less presence
    finally:
        for w in (old, new, carol, other, late):
            if w is not None:
                w.close()


def test_privacy_list_block_pushes_and_presence(xserver: XServer) -> None:
    """§5b: a block made through the SDK's privacy list is pushed (the privacy push, which the SDK
    answers by fetching the list) to every Web IM session of the user, the XEP-0191 push to none of
    them (they never asked for the block list); the blocked contact sees the user's resources go
    unavailable and the user sees the contact go; a REST unblock pushes again and both sides get
    the current presences back."""
    a, d = unique("pa"), unique("pd")
    api = xserver.api
    api.register(a, d)
    api.post(f"/users/{a}/contacts/users/{d}")
    alice = WebIm(xserver, a).login(version=NEW)
    second = WebIm(xserver, a, resource="webim_2").login(version=NEW)
    dave = WebIm(xserver, d).login(version=NEW)
    try:
        for w in (alice, second, dave):
            w.ping()
        dave.expect(_presence_from(second))
        items = (f"<item action='deny' order='2' type='jid' value='{alice.jid(d)}'><message/></item>")
        alice.send(f"<iq type='set' xmlns='jabber:client' id='pl1:sendIQ'><query xmlns='jabber:iq:privacy'>"
                   f"<list name='special'>{items}</list></query></iq>")
        assert alice.expect_id("pl1:sendIQ").get("type") == "result"
        for w in (alice, second):
            push = w.expect(_privacy_push)
            assert push.get("to") == w.full
            lst = push.find(PRIVACY + "query/" + PRIVACY + "list")
            assert lst is not None and lst.get("name") == "special" and len(lst) == 0
        gone = {dave.expect(_presence_from(w, "unavailable")).get("from") for w in (alice, second)}
        assert gone == {alice.full, second.full}
        alice.expect(_presence_from(dave, "unavailable"))
        second.expect(_presence_from(dave, "unavailable"))
        # while blocked, dave's presence does not reach alice
        alice.ping()
        alice.pending.clear()  # what arrived before the block
        dave.send("<presence xmlns='jabber:client'><status>hello?</status></presence>")
        dave.ping()
        alice.quiet(0.3, _presence_from(dave))
        # a REST unblock: pushed again; current presences both ways
        assert api.delete(f"/users/{a}/blocks/users/{d}").status_code == 200
        for w in (alice, second):
            w.expect(_privacy_push)
        back = alice.expect(_presence_from(dave))
        assert back.findtext(CLIENT + "status") == "hello?"
        assert {dave.expect(_presence_from(w)).get("from") for w in (alice, second)} == {alice.full, second.full}
        for w in (alice, second):
            w.quiet(0.2, _blocking_push)
        assert api.get(f"/users/{a}/blocks/users").json()["data"] == []
    finally:
        for w in (alice, second, dave):
            w.close()
