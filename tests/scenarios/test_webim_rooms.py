"""Groups and chat rooms as the Web IM SDK 1.x drives them over XMPP (webim-xmpp.md §7), frame
by frame over a real WebSocket, with the REST API showing the same state."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from webim_raw import CLIENT, WebIm
from xmpp_helpers import XServer, xserver

from conftest import unique

__all__ = ["xserver"]

MUC_USER = "{http://jabber.org/protocol/muc#user}"
ADMIN = "{http://jabber.org/protocol/muc#admin}"
OWNER = "{http://jabber.org/protocol/muc#owner}"
DATA = "{jabber:x:data}"
INFO = "{http://jabber.org/protocol/disco#info}"
ITEMS = "{http://jabber.org/protocol/disco#items}"
ROOMTYPE = "{easemob:x:roomtype}roomtype"


def _iq(client: WebIm, iq_id: str, to: str, itype: str, payload: str) -> ET.Element:
    """`sendIQ` to a room JID; the reply must come `from` exactly that `to` (§3.4)."""
    client.send(f"<iq to='{to}' from='{client.full}' type='{itype}' id='{iq_id}' xmlns='jabber:client'>{payload}</iq>")
    reply = client.expect_id(iq_id)
    assert reply.tag == CLIENT + "iq" and reply.get("from") == to, ET.tostring(reply)
    return reply


def _admin(client: WebIm, iq_id: str, room: str, itype: str, items: str) -> ET.Element:
    return _iq(client, iq_id, room, itype, f"<query xmlns='http://jabber.org/protocol/muc#admin'>{items}</query>")


def _members(xs: XServer, gid: str) -> list[str]:
    data = xs.api.get(f"/chatgroups/{gid}/users").json()["data"]
    return sorted(next(iter(d.values())) for d in data)


def _presence_from(room: str, ptype: str | None = None):  # type: ignore[no-untyped-def]
    def pred(el: ET.Element) -> bool:
        return el.tag == CLIENT + "presence" and el.get("from", "").startswith(room) and el.get("type") == ptype
    return pred


def test_create_configure_invite_and_administer_a_group(xserver: XServer) -> None:
    """§7.5 create (201 presence, the form, submit), §7.6 invitations (kept for offline users),
    §7.4 member list, kick, ban, unban, self-leave, §7.2/§7.3 discovery, §7.5 destroy."""
    a, b, c, d = unique("ga"), unique("gb"), unique("gc"), unique("gd")
    api = xserver.api
    api.register(a, b, c, d)
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    dave = None
    try:
        bob.ping()
        gid = str(int(time.time() * 1000))
        room = alice.room(gid)
        # createGroup: the create presence, answered with owner/moderator and status 201
        alice.send(f"<presence to='{room}/{a}' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/>"
                   "<create xmlns='http://jabber.org/protocol/muc'/></presence>")
        created = alice.expect(_presence_from(room))
        assert created.get("from") == f"{room}/{a}" and created.get("to") == alice.full
        x = created.find(MUC_USER + "x")
        assert x is not None and x[0].tag == MUC_USER + "item" and x[0].get("role") == "moderator"
        assert x[0].get("affiliation") == "owner" and x.find(MUC_USER + "status").get("code") == "201"  # type: ignore[union-attr]
        # the configuration form: every field has a <value>
        form = _iq(alice, "cf1:sendIQ", room, "get", "<query xmlns='http://jabber.org/protocol/muc#owner'/>")
        fields = form.findall(OWNER + "query/" + DATA + "x/" + DATA + "field")
        assert fields and all(f.get("var") and f.find(DATA + "value") is not None for f in fields)
        assert "muc#roomconfig_roomname" in {f.get("var") for f in fields}
        submit = "".join(
            f"<field var='{var}'><value>{value}</value></field>"
            for var, value in (("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
                               ("muc#roomconfig_maxusers", "200"), ("muc#roomconfig_roomname", "Team"),
                               ("muc#roomconfig_roomdesc", "our team"), ("muc#roomconfig_publicroom", "1"),
                               ("muc#roomconfig_membersonly", "1"), ("muc#roomconfig_moderatedroom", "0"),
                               ("muc#roomconfig_persistentroom", "1"), ("muc#roomconfig_allowinvites", "0")))
        done = _iq(alice, "cf2:sendIQ", room, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                   f"<x xmlns='jabber:x:data' type='submit'>{submit}</x></query>")
        assert done.get("type") == "result"
        info = api.get(f"/chatgroups/{gid}").json()["data"][0]
        assert (info["name"], info["description"], info["public"], info["membersonly"], info["owner"]) == (
            "Team", "our team", True, True, a)
        assert info["maxusers"] == 200
        # changeGroupSubject: a partial form; the other settings stay
        rename = ("<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
                  "<field var='muc#roomconfig_roomname'><value>Team 2</value></field>"
                  "<field var='muc#roomconfig_roomdesc'><value>renamed</value></field>")
        done = _iq(alice, "cf3:sendIQ", room, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                   f"<x xmlns='jabber:x:data' type='submit'>{rename}</x></query>")
        assert done.get("type") == "result"
        info = api.get(f"/chatgroups/{gid}").json()["data"][0]
        assert (info["name"], info["description"], info["public"], info["membersonly"]) == (
            "Team 2", "renamed", True, True)
        done = _iq(alice, "cf4:sendIQ", room, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                   "<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_roomname'><value>Team</value>"
                   "</field></x></query>")
        assert done.get("type") == "result"
        # addGroupMembers: an invitation per user, then the admin IQ
        for name in (b, c):
            alice.send(f"<message to='{room}' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'>"
                       f"<invite to='{alice.jid(name)}'><reason>join us</reason></invite></x></message>")
        invite = bob.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "invite") is not None)
        assert invite.get("from") == room and invite.get("to") == bob.full
        inv = invite.find(MUC_USER + "x/" + MUC_USER + "invite")
        assert inv is not None and inv.get("from") == bob.jid(a) and inv.findtext(MUC_USER + "reason") == "join us"
        assert invite.find("{jabber:x:conference}x").get("jid") == room  # type: ignore[union-attr]
        items = "".join(f"<item affiliation='member' jid='{alice.jid(n)}'/>" for n in (b, c))
        assert _admin(alice, "add:sendIQ", room, "set", items).get("type") == "result"
        assert _members(xserver, gid) == sorted([a, b, c])
        # carol was offline: the invitation waits for her login
        carol = WebIm(xserver, c).login()
        try:
            invite = carol.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "invite") is not None)
            assert invite.get("from") == room
        finally:
            carol.close()
        # discovery: my groups (§7.2), room info (§7.3), members (§7.4)
        listed = _iq(alice, "di:sendIQ", f"conference.{room.split('@conference.')[1]}", "get",
                     "<query xmlns='http://jabber.org/protocol/disco#items'/>")
        assert [(i.get("jid"), i.get("name")) for i in listed.iter(ITEMS + "item")] == [(room, "Team")]
        described = _iq(alice, "ri:sendIQ", room, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
        query = described.find(INFO + "query")
        assert query is not None and query.find(INFO + "identity").get("name") == "Team"  # type: ignore[union-attr]
        features = [f.get("var") for f in query.findall(INFO + "feature")]
        assert features[1] == "muc_public" and features[3] == "muc_membersonly" and features[4] == "muc_notallowinvites"
        form_values = {f.get("var"): f.findtext(DATA + "value") for f in query.iter(DATA + "field")}
        assert form_values["muc#roominfo_owner"] == alice.jid(a).split("@")[0]
        assert form_values["muc#roominfo_description"] == "renamed" and form_values["muc#roominfo_occupants"] == "3"
        assert all(f.get("var") for f in query.iter(DATA + "field"))
        listed = _admin(alice, "qm:sendIQ", room, "get", "<item affiliation='member'/>")
        assert sorted(i.get("jid", "") for i in listed.iter(ADMIN + "item")) == sorted([alice.jid(b), alice.jid(c)])
        # a plain member may not kick
        refused = _admin(bob, "bk:sendIQ", room, "set",
                         f"<item affiliation='none' jid='{bob.jid(c)}'/><item role='none' jid='{bob.jid(c)}'/>")
        assert refused.get("type") == "error"
        # kick carol (offline): the 307 notice waits for her
        kicked = _admin(alice, "k:sendIQ", room, "set",
                        f"<item affiliation='none' jid='{alice.jid(c)}'/><item role='none' jid='{alice.jid(c)}'/>")
        assert kicked.get("type") == "result" and _members(xserver, gid) == sorted([a, b])
        carol = WebIm(xserver, c).login()
        try:
            notice = carol.expect(_presence_from(room, "unavailable"))
            item = notice.find(MUC_USER + "x/" + MUC_USER + "item")
            assert item is not None and item.get("role") == "none" and item.get("jid") == carol.jid(c)
            assert item.find(MUC_USER + "actor").get("nick") == a  # type: ignore[union-attr]
            assert notice.find(MUC_USER + "x/" + MUC_USER + "status").get("code") == "307"  # type: ignore[union-attr]
        finally:
            carol.close()
        # ban bob (online): 321, on the blacklist; then unban
        banned = _admin(alice, "b:sendIQ", room, "set", f"<item affiliation='outcast' jid='{alice.jid(b)}'/>")
        assert banned.get("type") == "result"
        notice = bob.expect(_presence_from(room, "unavailable"))
        assert notice.find(MUC_USER + "x/" + MUC_USER + "status").get("code") == "321"  # type: ignore[union-attr]
        assert api.get(f"/chatgroups/{gid}/blocks/users").json()["data"] == [b]
        outcasts = _admin(alice, "ol:sendIQ", room, "get", "<item affiliation='outcast'/>")
        assert [i.get("jid") for i in outcasts.iter(ADMIN + "item")] == [alice.jid(b)]
        bob.chat(gid, "WEBIM_ban", {"type": "txt", "msg": "still here?"}, group=True)
        bounce = bob.expect_id("WEBIM_ban")
        assert bounce.get("type") == "error"
        assert bounce.find(CLIENT + "error/{urn:ietf:params:xml:ns:xmpp-stanzas}text") is not None
        unbanned = _admin(alice, "ub:sendIQ", room, "set", f"<item affiliation='none' jid='{alice.jid(b)}'/>")
        assert unbanned.get("type") == "result" and api.get(f"/chatgroups/{gid}/blocks/users").json()["data"] == []
        # leaveGroupBySelf: a member removes itself, then its unavailable presence
        assert api.post(f"/chatgroups/{gid}/users/{d}").status_code == 200
        dave = WebIm(xserver, d).login()
        left = _admin(dave, "lv:sendIQ", room, "set", f"<item affiliation='none' jid='{dave.bare}'/>")
        assert left.get("type") == "result" and _members(xserver, gid) == [a]
        dave.send(f"<presence to='{room}/{d}' type='unavailable' xmlns='jabber:client'/>")
        dave.ping()
        # destroy: every member is told, occupant or not
        assert api.post(f"/chatgroups/{gid}/users/{b}").status_code == 200
        gone = _iq(alice, "ds:sendIQ", room, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy>"
                   "<reason>bye</reason></destroy></query>")
        assert gone.get("type") == "result"
        notice = bob.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "destroy") is not None)
        assert notice.get("type") == "unavailable" and notice.get("from") == room
        assert notice.findtext(MUC_USER + "x/" + MUC_USER + "destroy/" + MUC_USER + "reason") == "bye"
        item = notice.find(MUC_USER + "x/" + MUC_USER + "item")
        assert item is not None and item.get("jid") is None
        assert api.get(f"/chatgroups/{gid}").status_code in (400, 404)
    finally:
        alice.close()
        bob.close()
        if dave is not None:
            dave.close()


def test_chat_room_join_and_quit(xserver: XServer) -> None:
    """§7.8: the SDK's join presence (muc#user item + roomtype) is answered with the Easemob
    self-presence (roomtype, no status, no member item) and the `<iq>` with the presence's id
    from `{room}/{nick}`; messages carry roomtype; quit removes the membership."""
    a, b = unique("ca"), unique("cb")
    api = xserver.api
    api.register(a, b)
    rid = api.post("/chatrooms", json={"name": "lobby", "description": "d", "maxusers": 10, "owner": a}).json()[
        "data"]["id"]
    alice, bob = WebIm(xserver, a).login(), WebIm(xserver, b).login()
    try:
        alice.ping()
        room = bob.room(rid)
        bob.send(f"<presence from='{bob.full}' to='{room}/{b}' id='j1:sendIQ' xmlns='jabber:client'>"
                 "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/></x>"
                 "<roomtype xmlns='easemob:x:roomtype' type='chatroom'/></presence>")
        joined = bob.expect(_presence_from(room))
        assert joined.get("from") == f"{room}/{b}" and joined.get("to") == bob.full
        assert [c.tag for c in joined] == [ROOMTYPE] and joined.find(ROOMTYPE).get("type") == "chatroom"  # type: ignore[union-attr]
        iq = bob.expect_id("j1:sendIQ")
        assert iq.tag == CLIENT + "iq" and iq.get("type") == "result" and iq.get("from") == f"{room}/{b}"
        members = api.get(f"/chatrooms/{rid}/users").json()["data"]
        assert {"member": b} in members
        sent = bob.chat(rid, "WEBIM_cr", {"type": "txt", "msg": "hi room"}, group=True, chatroom=True)
        mid = bob.server_ack("WEBIM_cr")
        got = alice.expect(lambda el: el.tag == CLIENT + "message" and el.get("id") == mid)
        assert got.findtext(CLIENT + "body") == sent and got.find(ROOMTYPE).get("type") == "chatroom"  # type: ignore[union-attr]
        assert got.get("type") == "groupchat" and got.get("from") == f"{alice.room(rid)}/{b}"
        bob.send(f"<presence from='{bob.full}' to='{room}/{b}' id='q1:sendIQ' type='unavailable' xmlns='jabber:client'>"
                 "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/></x>"
                 "<roomtype xmlns='easemob:x:roomtype' type='chatroom'/></presence>")
        left = bob.expect(_presence_from(room, "unavailable"))
        assert left.find(ROOMTYPE) is not None
        statuses = [s.get("code") for s in left.iter(MUC_USER + "status")]
        assert statuses in ([], ["110"]) and all(i.get("jid") is None for i in left.iter(MUC_USER + "item"))
        assert bob.expect_id("q1:sendIQ").get("type") == "result"
        assert {"member": b} not in api.get(f"/chatrooms/{rid}/users").json()["data"]
    finally:
        alice.close()
        bob.close()


def test_join_public_groups(xserver: XServer) -> None:
    """§7.7: joining an open public group admits at once (`<accept/>`, member-join presence to the
    others); one that needs approval sends the owner an `<apply/>` (kept if offline)."""
    a, c = unique("pa"), unique("pc")
    api = xserver.api
    api.register(a, c)
    open_gid = api.post("/chatgroups", json={"groupname": "open", "desc": "d", "public": True, "maxusers": 10,
                                             "owner": a, "membersonly": False}).json()["data"]["groupid"]
    closed_gid = api.post("/chatgroups", json={"groupname": "closed", "desc": "d", "public": True, "maxusers": 10,
                                               "owner": a, "membersonly": True}).json()["data"]["groupid"]
    alice, carol = WebIm(xserver, a).login(), WebIm(xserver, c).login()
    try:
        alice.ping()
        room = carol.room(open_gid)
        carol.send(f"<presence from='{carol.full}' to='{room}/{c}' id='jp:sendIQ' xmlns='jabber:client'>"
                   "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        accepted = carol.expect(_presence_from(room))
        x = accepted.find(MUC_USER + "x")
        assert x is not None and x[0].tag == MUC_USER + "accept"
        assert carol.expect_id("jp:sendIQ").get("from") == f"{room}/{c}"
        joined = alice.expect(_presence_from(alice.room(open_gid)))
        assert joined.get("from") == f"{alice.room(open_gid)}/{c}"
        item = joined.find(MUC_USER + "x/" + MUC_USER + "item")
        assert item is not None and item.get("affiliation") == "member" and item.get("role") == "participant"
        assert _members(xserver, open_gid) == sorted([a, c])
        # approval needed: the owner is asked
        alice.close()
        room = carol.room(closed_gid)
        carol.send(f"<presence from='{carol.full}' to='{room}/{c}' id='ja:sendIQ' xmlns='jabber:client'>"
                   "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        carol.expect_id("ja:sendIQ")
        assert _members(xserver, closed_gid) == [a]
        alice = WebIm(xserver, a).login()
        asked = alice.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "apply") is not None)
        apply = asked.find(MUC_USER + "x/" + MUC_USER + "apply")
        assert asked.find(MUC_USER + "x") is asked.findall("*")[0] or asked[0].tag == MUC_USER + "x"
        assert apply is not None and apply.get("from") == alice.jid(c) and apply.get("to") == alice.room(closed_gid)
        assert apply.get("toNick") == "closed" and apply.find(MUC_USER + "reason") is not None
    finally:
        alice.close()
        carol.close()


def test_rest_group_changes_notify_sdk_users(xserver: XServer) -> None:
    """§7.9, §7.11: admin and mute changes, kicks and dissolution made over REST reach the SDK
    user as the notices of §7.9/§7.10, and wait for an offline user's login."""
    a, b, c = unique("na"), unique("nb"), unique("nc")
    api = xserver.api
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]
    bob = WebIm(xserver, b).login()
    try:
        bob.ping()
        room = bob.room(gid)

        def notice(name: str) -> ET.Element:
            el = bob.expect(lambda e: e.find(MUC_USER + "x/" + MUC_USER + name) is not None)
            child = el.find(MUC_USER + "x/" + MUC_USER + name)
            assert child is not None and child.get("mucjid") == room and child.get("from") == bob.jid(a)
            assert el.get("from") == room and el[0].tag == MUC_USER + "x"
            return el

        assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": b}).status_code == 200
        notice("add_admin")
        assert api.delete(f"/chatgroups/{gid}/admin/{b}").status_code == 200
        notice("remove_admin")
        assert api.post(f"/chatgroups/{gid}/mute", json={"usernames": [b], "mute_duration": 60000}).status_code == 200
        notice("add_mute")
        assert api.delete(f"/chatgroups/{gid}/mute/{b}").status_code == 200
        notice("remove_mute")
        # carol is kicked over REST while offline: the 307 notice waits for her
        assert api.delete(f"/chatgroups/{gid}/users/{c}").status_code == 200
        carol = WebIm(xserver, c).login()
        try:
            kicked = carol.expect(_presence_from(carol.room(gid), "unavailable"))
            item = kicked.find(MUC_USER + "x/" + MUC_USER + "item")
            assert item is not None and item.find(MUC_USER + "actor").get("nick") == a  # type: ignore[union-attr]
            assert kicked.find(MUC_USER + "x/" + MUC_USER + "status").get("code") == "307"  # type: ignore[union-attr]
        finally:
            carol.close()
        # dissolved over REST
        assert api.delete(f"/chatgroups/{gid}").status_code == 200
        gone = bob.expect(lambda e: e.find(MUC_USER + "x/" + MUC_USER + "destroy") is not None)
        assert gone.get("type") == "unavailable" and gone.get("from") == room
    finally:
        bob.close()


def test_odd_room_stanzas_get_errors_not_disconnects(xserver: XServer) -> None:
    """Malformed room requests are answered with errors; the session stays up."""
    a = unique("za")
    xserver.api.register(a)
    alice = WebIm(xserver, a).login()
    try:
        room = alice.room("notanumber")
        alice.send(f"<presence to='{room}/{a}' id='c1' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/>"
                   "<create xmlns='http://jabber.org/protocol/muc'/></presence>")
        assert alice.expect_id("c1").get("type") == "error"
        alice.send(f"<message to='{alice.jid(a)}' id='r1' type='chat' xmlns='jabber:client'>"
                   f"<recall xmlns='urn:xmpp:recall' id='{'9' * 30}'/></message>")
        refused = alice.expect_id("r1")
        assert refused.get("type") == "error" and refused.find(CLIENT + "error") is not None
        big = alice.room("9" * 25)
        reply = _admin(alice, "a1", big, "set", f"<item affiliation='member' jid='{alice.jid(a)}'/>")
        assert reply.get("type") == "error"
        alice.send(f"<message to='{big}' id='i1' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'>"
                   f"<invite to='{alice.jid(a)}'><reason>x</reason></invite></x></message>")
        assert alice.expect_id("i1").get("type") == "error"
        alice.ping()
    finally:
        alice.close()
