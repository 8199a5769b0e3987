"""Friends and the blacklist as the Web IM SDK 1.x drives them (webim-xmpp.md §5, §5b), frame
by frame over a real WebSocket, with REST showing the same state."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from webim_raw import CLIENT, WebIm
from xmpp_helpers import XServer, xserver

from conftest import unique

__all__ = ["xserver"]

ROSTER = "{jabber:iq:roster}"
PRIVACY = "{jabber:iq:privacy}"


def _is_presence(ptype: str, sender: WebIm | None = None):  # type: ignore[no-untyped-def]
    def pred(el: ET.Element) -> bool:
        if el.tag != CLIENT + "presence" or el.get("type") != ptype:
            return False
        return sender is None or el.get("from", "").split("/")[0] == sender.bare
    return pred


def _roster_push(el: ET.Element) -> bool:
    return el.tag == CLIENT + "iq" and el.get("type") == "set" and el.find(ROSTER + "query") is not None


def _ack_push(client: WebIm, push: ET.Element) -> None:
    """The SDK answers roster pushes (§5), `from` its full JID and no `to`."""
    client.send(f"<iq type='result' id='{push.get('id')}' from='{client.full}' xmlns='jabber:client'/>")


def _subscribe(client: WebIm, to: str, ptype: str, status: str | None) -> None:
    extra = f"<status>{status}</status>" if status is not None else ""
    client.send(f"<presence to='{client.jid(to)}' type='{ptype}' xmlns='jabber:client'>{extra}</presence>")


def _contacts(xs: XServer, name: str) -> list[str]:
    return sorted(xs.api.get(f"/users/{name}/contacts/users").json()["data"])


def test_request_accept_remove_decline(xserver: XServer) -> None:
    a, b, c = unique("fa"), unique("fb"), unique("fc")
    xserver.api.register(a, b, c)
    alice, bob, carol = WebIm(xserver, a).login(), WebIm(xserver, b).login(), WebIm(xserver, c).login()
    try:
        for w in (alice, bob, carol):
            w.ping()
        # request: subscribe with the request text (and a nick), delivered with <status> intact
        alice.send(f"<presence to='{alice.jid(b)}' type='subscribe' xmlns='jabber:client'><status>please add me"
                   "</status><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></presence>")
        req = bob.expect(_is_presence("subscribe", alice))
        assert req.findtext(CLIENT + "status") == "please add me" and req.get("to") == bob.full
        asked = alice.expect(_roster_push)  # the pending request (RFC 6121 §3.1.2, §5.1 "keep ask")
        item = asked.find(ROSTER + "query/" + ROSTER + "item")
        assert item is not None and (item.get("subscription"), item.get("ask")) == ("none", "subscribe")
        _ack_push(alice, asked)
        # accept: subscribed + subscribe, both with [resp:true]
        _subscribe(bob, a, "subscribed", "[resp:true]")
        _subscribe(bob, a, "subscribe", "[resp:true]")
        for w, other in ((alice, b), (bob, a)):
            push = w.expect(_roster_push)
            item = push.find(ROSTER + "query/" + ROSTER + "item")
            assert item is not None and item.get("jid") == w.jid(other) and item.get("subscription") == "both"
            assert push.get("to") == w.full
            _ack_push(w, push)
        answer = alice.expect(_is_presence("subscribed", bob))
        assert answer.findtext(CLIENT + "status") == "[resp:true]"
        alice.quiet(0.3, _is_presence("subscribe", bob))  # the [resp:true] subscribe is not a new request
        assert _contacts(xserver, a) == [b] and _contacts(xserver, b) == [a]
        # roster get shows the friend
        alice.send("<iq type='get' xmlns='jabber:client' id='r1:sendIQ'><query xmlns='jabber:iq:roster'/></iq>")
        items = alice.expect_id("r1:sendIQ").findall(ROSTER + "query/" + ROSTER + "item")
        assert [(i.get("jid"), i.get("subscription")) for i in items] == [(alice.jid(b), "both")]
        # remove: removeRoster, then unsubscribed without a status
        alice.send(f"<iq type='set' xmlns='jabber:client' id='rm:sendIQ'><query xmlns='jabber:iq:roster'>"
                   f"<item jid='{alice.jid(b)}' subscription='remove'/></query></iq>")
        assert alice.expect_id("rm:sendIQ").get("type") == "result"
        for w, other in ((alice, b), (bob, a)):
            push = w.expect(_roster_push)
            item = push.find(ROSTER + "query/" + ROSTER + "item")
            assert item is not None and item.get("jid") == w.jid(other) and item.get("subscription") == "remove"
        _subscribe(alice, b, "unsubscribed", None)
        removal = bob.expect(_is_presence("unsubscribed", alice))
        assert removal.find(CLIENT + "status") is None
        assert _contacts(xserver, a) == [] and _contacts(xserver, b) == []
        # decline: unsubscribed with rejectAddFriend
        _subscribe(carol, a, "subscribe", "hello")
        alice.expect(_is_presence("subscribe", carol))
        _subscribe(alice, c, "unsubscribed", "rejectAddFriend")
        declined = carol.expect(_is_presence("unsubscribed", alice))
        assert declined.findtext(CLIENT + "status") == "rejectAddFriend"
        assert _contacts(xserver, c) == []
    finally:
        for w in (alice, bob, carol):
            w.close()


def test_requests_to_offline_users_wait_for_login(xserver: XServer) -> None:
    """§9(d).4: a request to a user who is offline is kept with its <status> and pushed after
    their initial presence (once); the answer to a requester who went offline likewise."""
    a, d = unique("oa"), unique("od")
    xserver.api.register(a, d)
    alice = WebIm(xserver, a).login()
    alice.ping()
    _subscribe(alice, d, "subscribe", "first")
    _subscribe(alice, d, "subscribe", "add me, later")  # the latest request from a sender counts
    alice.ping()
    alice.close()
    dave = WebIm(xserver, d).login(presence=False)
    dave.quiet(0.3)
    dave.send("<presence xmlns='jabber:client'/>")
    req = dave.expect(_is_presence("subscribe"))
    assert req.get("from") == dave.jid(a) and req.get("to") == dave.full
    assert req.findtext(CLIENT + "status") == "add me, later"
    dave.quiet(0.3, _is_presence("subscribe"))
    _subscribe(dave, a, "subscribed", "[resp:true]")
    _subscribe(dave, a, "subscribe", "[resp:true]")
    dave.ping()
    dave.close()
    assert _contacts(xserver, a) == [d]
    alice = WebIm(xserver, a).login()
    try:
        answer = alice.expect(_is_presence("subscribed"))
        assert answer.get("from") == alice.jid(d) and answer.findtext(CLIENT + "status") == "[resp:true]"
    finally:
        alice.close()
    again = WebIm(xserver, d).login()
    try:
        again.ping()
        again.quiet(0.3, _is_presence("subscribe"))  # replayed once only
    finally:
        again.close()


def _privacy_items(el: ET.Element) -> list[tuple[str | None, str | None, str | None, str | None]]:
    lst = el.find(PRIVACY + "query/" + PRIVACY + "list")
    assert lst is not None and lst.get("name") == "special", ET.tostring(el)
    return [(i.get("action"), i.get("order"), i.get("type"), i.get("value")) for i in lst.findall(PRIVACY + "item")]


def test_blacklist_through_the_privacy_list(xserver: XServer) -> None:
    """§5b: the SDK's list `special` is the REST block list and the XEP-0191 block list; every
    set sends the whole list, is answered, then pushed (no reply expected); blocked senders'
    messages bounce in the §4.9 form (body kept, `<text>` present)."""
    a, b, c = unique("ba"), unique("bb"), unique("bc")
    api = xserver.api
    api.register(a, b, c)
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        get = "<iq type='get' xmlns='jabber:client' id='{}'><query xmlns='jabber:iq:privacy'><list name='special'/>" \
              "</query></iq>"
        alice.send(get.format("g1:sendIQ"))
        first = alice.expect_id("g1:sendIQ")
        assert first.get("type") == "result" and first.get("from") in (None, alice.bare) and _privacy_items(first) == []
        # addToBlackList: the whole new list, numbered from 2
        items = "".join(f"<item action='deny' order='{i}' type='jid' value='{alice.jid(n)}'><message/></item>"
                        for i, n in enumerate((b, c), start=2))
        alice.send(f"<iq type='set' xmlns='jabber:client' id='s1:sendIQ'><query xmlns='jabber:iq:privacy'>"
                   f"<list name='special'>{items}</list></query></iq>")
        assert alice.expect_id("s1:sendIQ").get("type") == "result"
        push = alice.expect(lambda el: el.tag == CLIENT + "iq" and el.find(PRIVACY + "query") is not None)
        assert push.get("type") == "set" and push.get("to") == alice.full and _privacy_items(push) == []
        assert sorted(api.get(f"/users/{a}/blocks/users").json()["data"]) == sorted([b, c])
        alice.send(get.format("g2:sendIQ"))
        listed = _privacy_items(alice.expect_id("g2:sendIQ"))
        assert sorted(listed) == sorted([("deny", "2", "jid", alice.jid(b)), ("deny", "3", "jid", alice.jid(c))])
        # the same list through XEP-0191
        alice.send("<iq type='get' xmlns='jabber:client' id='bl1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
        blocklist = alice.expect_id("bl1")
        assert sorted(i.get("jid", "") for i in blocklist.iter("{urn:xmpp:blocking}item")) == sorted(
            [alice.jid(b), alice.jid(c)])
        # bob is blocked: his message bounces, body kept, with a <text>
        sent = bob.chat(a, "WEBIM_blk", {"type": "txt", "msg": "hello?"})
        bounce = bob.expect_id("WEBIM_blk")
        assert bounce.get("type") == "error" and bounce.get("from") == bob.jid(a) and bounce.get("to") == bob.full
        assert bounce.findtext(CLIENT + "body") == sent
        err = bounce.find(CLIENT + "error")
        assert err is not None and err.get("code") and err.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
        alice.quiet(0.3, lambda el: el.tag == CLIENT + "message")
        # removeFromBlackList: the remaining items with their old order
        alice.send(f"<iq type='set' xmlns='jabber:client' id='s2:sendIQ'><query xmlns='jabber:iq:privacy'>"
                   f"<list name='special'><item action='deny' order='3' type='jid' value='{alice.jid(c)}'><message/>"
                   "</item></list></query></iq>")
        assert alice.expect_id("s2:sendIQ").get("type") == "result"
        assert api.get(f"/users/{a}/blocks/users").json()["data"] == [c]
        # REST changes show in the privacy list too
        assert api.delete(f"/users/{a}/blocks/users/{c}").status_code == 200
        alice.send(get.format("g3:sendIQ"))
        assert _privacy_items(alice.expect_id("g3:sendIQ")) == []
        bob.chat(a, "WEBIM_ok", {"type": "txt", "msg": "now?"})
        bob.server_ack("WEBIM_ok")
        alice.expect(lambda el: el.tag == CLIENT + "message" and el.findtext(CLIENT + "body", "").startswith("{"))
    finally:
        alice.close()
        bob.close()


def test_bounces_to_the_old_sdk_carry_no_json_body(xserver: XServer) -> None:
    """§4.11, §4.12: the 1.4.6 SDK (version notice `1.4.2`) throws on an error message with a JSON
    body, so its bounces keep the id, the error and its `<text>` but not the original body."""
    a, b = unique("va"), unique("vb")
    api = xserver.api
    api.register(a, b)
    assert api.post(f"/users/{a}/blocks/users", json={"usernames": [b]}).status_code == 200
    old = WebIm(xserver, b).login(version="1.4.2")
    try:
        old.chat(a, "WEBIM_v1", {"type": "txt", "msg": "hello?"})
        bounce = old.expect_id("WEBIM_v1")
        assert bounce.get("type") == "error" and bounce.find(CLIENT + "body") is None
        err = bounce.find(CLIENT + "error")
        assert err is not None and err.get("code") and err.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
    finally:
        old.close()
