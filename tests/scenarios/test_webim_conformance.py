"""The Web IM SDK 1.x minimal conformance sequences (webim-xmpp.md §9), frame by frame over a
real WebSocket, and the connection-level behaviour around them (§3.6–3.8, §4.4–4.8)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from webim_raw import CLIENT, RECEIPTS, WebIm
from xmpp_helpers import DOMAIN, XServer, xserver

from conftest import unique

__all__ = ["xserver"]

DELAY = "{urn:xmpp:delay}delay"


def _is_chat(el: ET.Element) -> bool:
    return el.tag == CLIENT + "message" and el.findtext(CLIENT + "body", "").startswith("{")


def test_a_login_and_one_to_one_text(xserver: XServer) -> None:
    """§9(a): password login over REST, `$t$` token SASL, bind `webim`, session, version result
    ignored, initial presence; a text message acked to the sender with the server id, forwarded
    with that id and the JSON byte for byte; the receiver's receipt consumed; delivery ack."""
    a, b = unique("ca"), unique("cb")
    xserver.api.register(a, b)
    alice, bob = WebIm(xserver, a), WebIm(xserver, b)
    try:
        alice.login()
        bob.login()
        alice.quiet(0.3)  # step 11: nothing comes back for the version result
        for _ in range(20):
            if xserver.api.get(f"/users/{b}/status").json()["data"][b] == "online":
                break
        sent = alice.chat(b, "WEBIM_x1", {"type": "txt", "msg": "hi"})
        mid = alice.server_ack("WEBIM_x1")  # step 14
        got = bob.expect(_is_chat)  # step 15
        assert got.get("id") == mid and got.get("type") == "chat" and got.get("to") == bob.full
        assert got.get("from", "").startswith(alice.bare)
        assert got.findtext(CLIENT + "body") == sent  # byte for byte
        assert got.find(DELAY) is None
        bob.receipt(mid)  # step 16: consumed, never routed or bounced
        bob.ping()
        alice.quiet(0.3)
        bob.quiet(0.3)
        # step 17: a delivery ack from Bob, routed to Alice and acked to Bob
        bob.send(f"<message from='{bob.full}' to='{alice.bare}' id='WEBIM_y' xmlns='jabber:client'><body>{mid}</body>"
                 f"<delivery xmlns='{RECEIPTS}' id='{mid}'/></message>")
        bob.server_ack("WEBIM_y")
        delivery = alice.expect(lambda el: el.find(f"{{{RECEIPTS}}}delivery") is not None)
        assert delivery.findtext(CLIENT + "body") == mid
        assert delivery.find(f"{{{RECEIPTS}}}delivery").get("id") == mid  # type: ignore[union-attr]
        alice.receipt(delivery.get("id", ""))
        # a read ack likewise
        bob.send(f"<message from='{bob.full}' to='{alice.bare}' id='WEBIM_z' xmlns='jabber:client'><body>{mid}</body>"
                 f"<acked xmlns='{RECEIPTS}' id='{mid}'/></message>")
        bob.server_ack("WEBIM_z")
        acked = alice.expect(lambda el: el.find(f"{{{RECEIPTS}}}acked") is not None)
        assert acked.findtext(CLIENT + "body") == mid
        # step 18: the other direction
        back = bob.chat(a, "WEBIM_b1", {"type": "txt", "msg": "hello back"}, ext={"k": [1, "v"]})
        mid2 = bob.server_ack("WEBIM_b1")
        got = alice.expect(_is_chat)
        assert got.get("id") == mid2 and got.findtext(CLIENT + "body") == back
        assert json.loads(back)["ext"] == {"k": [1, "v"], "weichat": {"originType": "webim"}}
    finally:
        alice.close()
        bob.close()


def test_every_message_type_passes_unchanged(xserver: XServer) -> None:
    """§4.2: txt, emoji, cmd, loc, img, file, audio, video bodies and `ext` arrive as sent."""
    a, b = unique("ta"), unique("tb")
    xserver.api.register(a, b)
    url = f"{xserver.server.base_url}/x/y/chatfiles/0b6d5d40-0000-11ee-8000-000000000000"
    bodies = [
        {"type": "txt", "msg": "plain"},
        {"type": "txt", "msg": "emoji [):] [:D] 中文"},
        {"type": "cmd", "msg": "", "action": "typing"},
        {"type": "loc", "addr": "Somewhere", "lat": 39.9, "lng": 116.3},
        {"type": "img", "url": url, "secret": "s1", "filename": "a.png", "size": {"width": 10, "height": 20},
         "length": 0, "file_length": 123, "filetype": "image/png"},
        {"type": "file", "url": url, "secret": "s2", "filename": "a.pdf", "length": 0, "file_length": 9,
         "filetype": "application/pdf"},
        {"type": "audio", "url": url, "secret": "s3", "filename": "a.amr", "length": 3, "file_length": 9,
         "filetype": "audio/amr"},
        {"type": "video", "url": url, "secret": "s4", "filename": "a.mp4", "length": 5, "file_length": 99,
         "filetype": "video/mp4"},
    ]
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        bob.ping()
        for i, body in enumerate(bodies):
            sent = alice.chat(b, f"WEBIM_t{i}", body, ext={"n": i, "nested": {"a": "<&>"}})
            mid = alice.server_ack(f"WEBIM_t{i}")
            got = bob.expect(_is_chat)
            assert got.get("id") == mid
            assert json.loads(got.findtext(CLIENT + "body", "")) == json.loads(sent)
    finally:
        alice.close()
        bob.close()


def test_rest_message_in_easemob_json(xserver: XServer) -> None:
    """A REST-sent message reaches an SDK session as the Easemob JSON body with `ext` (§4.7)."""
    a, b = unique("ra"), unique("rb")
    xserver.api.register(a, b)
    bob = WebIm(xserver, b).login()
    try:
        bob.ping()
        r = xserver.api.post("/messages", json={"target_type": "users", "target": [b], "from": a,
                                                "msg": {"type": "txt", "msg": "from rest"}, "ext": {"e": 1}})
        assert r.status_code == 200, r.text
        got = bob.expect(_is_chat)
        doc = json.loads(got.findtext(CLIENT + "body", ""))
        assert doc == {"from": a, "to": b, "bodies": [{"type": "txt", "msg": "from rest"}], "ext": {"e": 1}}
        assert "\n" not in got.findtext(CLIENT + "body", "")
    finally:
        bob.close()


def test_b_roster_listing(xserver: XServer) -> None:
    """§9(b): the roster get answered with `both` items, no `from` (or the bare JID)."""
    a, b = unique("la"), unique("lb")
    xserver.api.register(a, b)
    assert xserver.api.post(f"/users/{a}/contacts/users/{b}").status_code == 200
    alice = WebIm(xserver, a).login()
    try:
        alice.send("<iq type='get' xmlns='jabber:client' id='9f0a:sendIQ'><query xmlns='jabber:iq:roster'/></iq>")
        res = alice.expect_id("9f0a:sendIQ")
        assert res.get("type") == "result" and res.get("from") in (None, alice.bare)
        items = res.findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
        assert [(i.get("jid"), i.get("subscription"), i.get("name")) for i in items] == [(alice.jid(b), "both", b)]
    finally:
        alice.close()


def test_c_group_message_without_join(xserver: XServer) -> None:
    """§9(c): a member sends to the group without any join presence; acked with the server id,
    delivered to every other member from `G/alice` with that id, not echoed."""
    a, b, c = unique("ga"), unique("gb"), unique("gc")
    api = xserver.api
    api.register(a, b, c)
    r = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                      "members": [b, c]})
    gid = r.json()["data"]["groupid"]
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        bob.ping()
        sent = alice.chat(gid, "WEBIM_x2", {"type": "txt", "msg": "hi all"}, group=True)
        mid = alice.server_ack("WEBIM_x2")
        got = bob.expect(_is_chat)
        assert got.get("from") == f"{alice.room(gid)}/{a}" and got.get("type") == "groupchat"
        assert got.get("id") == mid and got.findtext(CLIENT + "body") == sent
        bob.receipt(mid)
        alice.quiet(0.3, _is_chat)  # no echo
        # carol was offline: she gets it at login, with a delay
        carol = WebIm(xserver, c).login()
        try:
            got = carol.expect(_is_chat)
            assert got.get("id") == mid and got.get("type") == "groupchat" and got.find(DELAY) is not None
        finally:
            carol.close()
    finally:
        alice.close()
        bob.close()


def test_d_offline_messages_until_acknowledged(xserver: XServer) -> None:
    """§9(d): messages stored while Bob is offline are pushed after his initial presence, in
    order, with `<delay from stamp>`; each is deleted when his §4.5 receipt arrives, and the ones
    he never acknowledged come again at his next login."""
    a, b = unique("oa"), unique("ob")
    api = xserver.api
    api.register(a, b)
    alice = WebIm(xserver, a).login()
    try:
        mids = []
        for i in range(3):
            alice.chat(b, f"WEBIM_o{i}", {"type": "txt", "msg": f"offline {i}"})
            mids.append(alice.server_ack(f"WEBIM_o{i}"))
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 3
        bob = WebIm(xserver, b).login(presence=False)
        bob.quiet(0.3)  # nothing before the initial presence
        bob.send("<presence xmlns='jabber:client'/>")
        got = [bob.expect(_is_chat) for _ in range(3)]
        assert [g.get("id") for g in got] == mids
        for g in got:
            delay = g.find(DELAY)
            assert delay is not None and delay.get("from") == DOMAIN
            stamp = delay.get("stamp", "")
            assert len(stamp) == 24 and stamp.endswith("Z") and stamp[19] == ".", stamp
        bob.receipt(mids[0])
        bob.ping()
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 2
        assert api.get(f"/users/{b}/offline_msg_status/{mids[0]}").json()["data"] == {mids[0]: "delivered"}
        bob.close()
        bob = WebIm(xserver, b).login()
        again = [bob.expect(_is_chat) for _ in range(2)]
        assert [g.get("id") for g in again] == mids[1:]
        for m in mids[1:]:
            bob.receipt(m)
        bob.ping()
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 0
        bob.close()
    finally:
        alice.close()


def test_standard_client_offline_messages_are_delivered_once(xserver: XServer) -> None:
    """A session that is not the SDK's (resource not `webim`, no JSON) never sends §4.5 receipts:
    its offline messages count as delivered once written (docs/DECISIONS.md)."""
    a, b = unique("sa"), unique("sb")
    api = xserver.api
    api.register(a, b)
    api.post("/messages", json={"target_type": "users", "target": [b], "from": a, "msg": {"type": "txt", "msg": "x"}})
    bob = WebIm(xserver, b, resource="desktop").login()
    try:
        got = bob.expect(lambda el: el.tag == CLIENT + "message")
        assert got.findtext(CLIENT + "body") == "x" and got.find(DELAY) is not None
        bob.ping()
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 0
    finally:
        bob.close()


STREAM_ERROR = ("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><{cond} "
                "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
                "{text}</text></stream:error>")
CLOSE = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"


def test_token_login_failures_and_reconnect(xserver: XServer) -> None:
    """§3.2: a bad token or another user's token fails SASL with `<not-authorized/>` (the SDK's
    AUTH_ERROR, type 2); §3.7: after the socket drops, the SDK logs in again with the same stored
    token, and the server answers its pings (§3.6) in between."""
    a, b = unique("ka"), unique("kb")
    api = xserver.api
    api.register(a, b)
    token = api.user_token(a)
    bad = WebIm(xserver, a)
    try:
        assert bad.authenticate("$t$" + token[:-4] + "AAAA") == "not-authorized"
    finally:
        bad.ws.close()
    other = WebIm(xserver, b)
    try:
        assert other.authenticate("$t$" + token) == "not-authorized"  # the token is alice's
    finally:
        other.ws.close()
    wrong = WebIm(xserver, a)
    try:
        assert wrong.authenticate("not-the-password") == "not-authorized"
    finally:
        wrong.ws.close()
    first = WebIm(xserver, a).login(token)
    first.ping()
    first.ws.close()  # dropped without <close/>
    for _ in range(100):
        if api.get(f"/users/{a}/status").json()["data"][a] == "offline":
            break
    assert api.get(f"/users/{a}/status").json()["data"][a] == "offline"
    again = WebIm(xserver, a).login(token)  # the silent re-login reuses the token
    try:
        again.ping()
        assert api.get(f"/users/{a}/status").json()["data"][a] == "online"
    finally:
        again.close()


def test_replaced_by_a_second_login(xserver: XServer) -> None:
    """§3.8: the same user logging in again with resource `webim` replaces the first session,
    which gets the conflict stream error in one frame (every child in the streams namespace),
    then `<close/>`, then the socket closes; the new login works."""
    a = unique("xa")
    xserver.api.register(a)
    first = WebIm(xserver, a).login()
    first.ping()
    second = WebIm(xserver, a).login()
    try:
        frames = [f.text for f in first.wait_closed()]
        assert frames[-2:] == [STREAM_ERROR.format(cond="conflict", text="Replaced by new connection"), CLOSE], frames
        second.ping()
    finally:
        second.close()


def test_kicked_by_rest_disconnect(xserver: XServer) -> None:
    """REST `GET /users/{u}/disconnect` ends the SDK session with a stream error (the SDK's
    SERVER_ERROR, type 8, which it does not auto-reconnect from), then `<close/>`."""
    a = unique("da")
    api = xserver.api
    api.register(a)
    web = WebIm(xserver, a).login()
    web.ping()
    r = api.get(f"/users/{a}/disconnect")
    assert r.status_code == 200 and r.json()["data"]["result"] is True, r.text
    frames = [f.text for f in web.wait_closed()]
    assert frames[-1] == CLOSE, frames
    err = ET.fromstring(frames[-2])
    assert err.tag == "{http://etherx.jabber.org/streams}error"
    assert all(c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-streams}") for c in err), frames[-2]
    assert err[0].tag == "{urn:ietf:params:xml:ns:xmpp-streams}policy-violation"


RECALL = "{urn:xmpp:recall}recall"


def test_recall(xserver: XServer) -> None:
    """§4.10: the sender recalls a message by its server id: acked in the §4.4 form; a recipient
    who got it is told (`from` present); one who never got it finds it gone from the offline
    queue; someone else's message cannot be recalled (an error with a non-empty `<text>`)."""
    a, b, c = unique("ya"), unique("yb"), unique("yc")
    api = xserver.api
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        bob.ping()
        alice.chat(b, "WEBIM_r1", {"type": "txt", "msg": "oops"})
        mid = alice.server_ack("WEBIM_r1")
        bob.expect(lambda el: el.get("id") == mid)
        alice.send(f"<message from='{alice.full}' to='{alice.jid(b)}' id='WEBIM_r2' type='chat' xmlns='jabber:client'>"
                   f"<recall xmlns='urn:xmpp:recall' id='{mid}'/></message>")
        assert alice.server_ack("WEBIM_r2") == mid
        told = bob.expect(lambda el: el.find(RECALL) is not None)
        assert told.get("from") == bob.jid(a) and told.find(RECALL).get("id") == mid  # type: ignore[union-attr]
        # a group message: carol (offline) never got it, so it leaves her queue
        alice.chat(gid, "WEBIM_g1", {"type": "txt", "msg": "group oops"}, group=True)
        gmid = alice.server_ack("WEBIM_g1")
        bob.expect(lambda el: el.get("id") == gmid)
        assert api.get(f"/users/{c}/offline_msg_count").json()["data"][c] == 1
        alice.send(f"<message from='{alice.full}' to='{alice.room(gid)}' id='WEBIM_g2' type='groupchat' "
                   f"xmlns='jabber:client'><recall xmlns='urn:xmpp:recall' id='{gmid}'/></message>")
        alice.server_ack("WEBIM_g2")
        told = bob.expect(lambda el: el.find(RECALL) is not None)
        assert told.get("from") == bob.room(gid)
        assert api.get(f"/users/{c}/offline_msg_count").json()["data"][c] == 0
        # bob cannot recall alice's message
        alice.chat(b, "WEBIM_r3", {"type": "txt", "msg": "mine"})
        mid3 = alice.server_ack("WEBIM_r3")
        bob.send(f"<message from='{bob.full}' to='{bob.jid(a)}' id='WEBIM_r4' type='chat' xmlns='jabber:client'>"
                 f"<recall xmlns='urn:xmpp:recall' id='{mid3}'/></message>")
        refused = bob.expect_id("WEBIM_r4")
        assert refused.get("type") == "error" and refused.find(RECALL) is not None
        err = refused.find(CLIENT + "error")
        assert err is not None and err.get("code") and err.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
    finally:
        alice.close()
        bob.close()


def test_recall_over_rest_reaches_the_client(xserver: XServer) -> None:
    """REST `msg_recall` runs the rule XMPP recall does: the recipient who got the message is told
    `<recall/>` from its sender, and (`sync_device`) so is the sender's own session, from the
    peer."""
    a, b = unique("za"), unique("zb")
    api = xserver.api
    api.register(a, b)
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        bob.ping()
        alice.chat(b, "WEBIM_z1", {"type": "txt", "msg": "oops"})
        mid = alice.server_ack("WEBIM_z1")
        bob.expect(lambda el: el.get("id") == mid)
        r = api.post("/messages/msg_recall", json={"msg_id": mid, "to": b, "from": a, "chat_type": "chat",
                                                   "force": False})
        assert r.status_code == 200, r.text
        told = bob.expect(lambda el: el.find(RECALL) is not None)
        assert told.get("from") == bob.jid(a) and told.find(RECALL).get("id") == mid  # type: ignore[union-attr]
        own = alice.expect(lambda el: el.find(RECALL) is not None)
        assert own.get("from") == alice.jid(b)
    finally:
        alice.close()
        bob.close()


def test_muted_member_bounce(xserver: XServer) -> None:
    """§4.9: a muted member's group message bounces with the same id, the body, `<text>` and
    `<user-muted xmlns='easemob:x:mute'/>` inside `<error>`; a non-member's likewise (403)."""
    a, b, x = unique("ma"), unique("mb"), unique("mx")
    api = xserver.api
    api.register(a, b, x)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                        "members": [b]}).json()["data"]["groupid"]
    assert api.post(f"/chatgroups/{gid}/mute", json={"usernames": [b], "mute_duration": 60000}).status_code == 200
    bob, stranger = WebIm(xserver, b).login(), WebIm(xserver, x).login()
    try:
        sent = bob.chat(gid, "WEBIM_m1", {"type": "txt", "msg": "can I talk?"}, group=True)
        bounce = bob.expect_id("WEBIM_m1")
        assert bounce.get("type") == "error" and bounce.get("from") == bob.room(gid) and bounce.get("to") == bob.full
        assert bounce.findtext(CLIENT + "body") == sent
        err = bounce.find(CLIENT + "error")
        assert err is not None and err.get("code") == "403"
        assert err.find("{easemob:x:mute}user-muted") is not None
        assert err.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
        sent = stranger.chat(gid, "WEBIM_m2", {"type": "txt", "msg": "me too"}, group=True)
        bounce = stranger.expect_id("WEBIM_m2")
        err = bounce.find(CLIENT + "error")
        assert bounce.findtext(CLIENT + "body") == sent and err is not None and err.get("code") == "403"
        assert err.find("{easemob:x:mute}user-muted") is None
        assert err.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
    finally:
        bob.close()
        stranger.close()


def test_sdk_user_and_standard_client_chat(xserver: XServer) -> None:
    """An SDK session and a standard XMPP client (slixmpp over TCP) chat: the standard client
    reads plain text, the SDK reads the Easemob JSON body."""
    import asyncio

    from xmpp_helpers import Client, run

    a, b = unique("ia"), unique("ib")
    xserver.api.register(a, b)

    async def scenario() -> None:
        web = await asyncio.to_thread(lambda: WebIm(xserver, a).login())
        tcp = Client(xserver, b)
        try:
            await tcp.online()
            await asyncio.to_thread(web.chat, b, "WEBIM_i1", {"type": "txt", "msg": "from the browser"})
            got = await tcp.next_message()
            assert got["body"] == "from the browser" and got["type"] == "chat"
            tcp.send_message(mto=xserver.jid(a), mbody="from a desktop client", mtype="chat")
            el = await asyncio.to_thread(web.expect, _is_chat)
            doc = json.loads(el.findtext(CLIENT + "body", ""))
            assert doc["from"] == b and doc["to"] == a
            assert doc["bodies"] == [{"type": "txt", "msg": "from a desktop client"}]
        finally:
            await tcp.close()
            await asyncio.to_thread(web.close)

    run(scenario)


def test_read_ack_waits_for_an_offline_sender(xserver: XServer) -> None:
    """§4.6, §4.12: a read ack for a sender who went offline is kept and pushed at their next
    login, with its `<body>` (never without, §4.11)."""
    a, b = unique("qa"), unique("qb")
    xserver.api.register(a, b)
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        bob.ping()
        alice.chat(b, "WEBIM_q1", {"type": "txt", "msg": "read me"})
        mid = alice.server_ack("WEBIM_q1")
        bob.expect(lambda el: el.get("id") == mid)
        alice.close()
        bob.send(f"<message from='{bob.full}' to='{bob.jid(a)}' id='WEBIM_q2' xmlns='jabber:client'><body>{mid}</body>"
                 f"<acked xmlns='{RECEIPTS}' id='{mid}'/></message>")
        bob.server_ack("WEBIM_q2")
        alice = WebIm(xserver, a).login()
        acked = alice.expect(lambda el: el.find(f"{{{RECEIPTS}}}acked") is not None)
        assert acked.findtext(CLIENT + "body") == mid and acked.get("from") == alice.jid(b)
        assert acked.find(f"{{{RECEIPTS}}}acked").get("id") == mid  # type: ignore[union-attr]
    finally:
        alice.close()
        bob.close()
