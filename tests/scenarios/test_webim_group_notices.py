"""The XMPP notices that the Web IM SDK 1.8's REST group calls cause (webim-xmpp.md §2.7, §7.6–
§7.11), stanza by stanza over a real WebSocket: applications to the owner and admins, their
answers (`<accept/>`, `<decline/>`), member-join presences, role and mute notices naming the user
who acted, kicks, dissolution, invitations, and chat-room joins announced to the occupants. Each
is kept for a group member who is offline and replayed at their next login."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from webim_raw import CLIENT, WebIm
from xmpp_helpers import XServer, xserver

from conftest import Api, unique

__all__ = ["xserver"]

MUC_USER = "{http://jabber.org/protocol/muc#user}"
ROOMTYPE = "{easemob:x:roomtype}roomtype"


def _user_api(xs: XServer, name: str) -> Api:
    """The REST client the SDK is: every call with the user's own token."""
    return Api(xs.server, token=xs.api.user_token(name))


def _group(xs: XServer, owner: str, members: list[str], **extra: object) -> str:
    body = {"groupname": "club", "desc": "d", "public": True, "maxusers": 50, "owner": owner, "members": members,
            **extra}
    r = xs.api.post("/chatgroups", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["groupid"])


def _has(child: str) -> Callable[[ET.Element], bool]:
    """A stanza whose first `<x>` is muc#user and holds `child`."""
    return lambda el: len(el) > 0 and el[0].tag == MUC_USER + "x" and el[0].find(MUC_USER + child) is not None


def _member_join(room: str, nick: str) -> Callable[[ET.Element], bool]:
    def pred(el: ET.Element) -> bool:
        item = el.find(MUC_USER + "x/" + MUC_USER + "item")
        return (el.tag == CLIENT + "presence" and el.get("from") == f"{room}/{nick}" and el.get("type") is None
                and item is not None and item.get("affiliation") == "member" and item.get("role") == "participant")
    return pred


def _ok(r: object) -> None:
    status = getattr(r, "status_code", None)
    assert status == 200, getattr(r, "text", r)


def test_apply_goes_to_owner_and_admins_and_the_answer_to_the_applicant(xserver: XServer) -> None:
    """§7.7/§7.9: REST `apply` → `<apply>` to the owner and each admin (kept when offline);
    `apply_verify` true → `<accept/>` to the applicant and a member-join to the members;
    false → `<decline fromNick='{gid}' from='{JID of who declined}'/>` (kept when offline)."""
    a, b, c, d = unique("aa"), unique("ab"), unique("ac"), unique("ad")
    xs = xserver
    xs.api.register(a, b, c, d)
    gid = _group(xs, a, [b], membersonly=True)
    _ok(xs.api.post(f"/chatgroups/{gid}/admin", json={"newadmin": b}))
    alice, bob, carol = WebIm(xs, a).login(), WebIm(xs, b).login(), WebIm(xs, c).login()
    dave = None
    try:
        for client in (alice, bob, carol):
            client.ping()
        room = alice.room(gid)
        _ok(_user_api(xs, c).post(f"/chatgroups/{gid}/apply", json={"message": "join group"}))
        for manager in (alice, bob):
            asked = manager.expect(_has("apply"))
            assert asked.tag == CLIENT + "message" and asked.get("from") == manager.jid(c)
            apply = asked.find(MUC_USER + "x/" + MUC_USER + "apply")
            assert apply is not None and apply.get("from") == manager.jid(c) and apply.get("to") == room
            assert apply.get("toNick") == "club" and apply.findtext(MUC_USER + "reason") == "join group"
        # the admin accepts with their own token
        _ok(_user_api(xs, b).post(f"/chatgroups/{gid}/apply_verify",
                                  json={"applicant": c, "verifyResult": True, "reason": "no clue"}))
        accepted = carol.expect(_has("accept"))
        assert accepted.tag == CLIENT + "presence" and accepted.get("from") == room and accepted.get("type") is None
        assert accepted.get("to") == carol.full
        for member in (alice, bob):
            member.expect(_member_join(room, c))
        carol.quiet(0.3, _member_join(room, c))  # not told about herself
        # dave applies while the owner is offline: the request waits for her
        alice.close()
        _ok(_user_api(xs, d).post(f"/chatgroups/{gid}/apply", json={"message": "me too"}))
        bob.expect(_has("apply"))
        alice = WebIm(xs, a).login()
        kept = alice.expect(_has("apply"))
        assert kept.find(MUC_USER + "x/" + MUC_USER + "apply").get("from") == alice.jid(d)  # type: ignore[union-attr]
        # declined by the owner while dave is offline: the decline waits for him
        _ok(_user_api(xs, a).post(f"/chatgroups/{gid}/apply_verify",
                                  json={"applicant": d, "verifyResult": False, "reason": "no clue"}))
        dave = WebIm(xs, d).login()
        declined = dave.expect(_has("decline"))
        decline = declined.find(MUC_USER + "x/" + MUC_USER + "decline")
        assert declined.get("from") == dave.room(gid) and decline is not None
        assert decline.get("fromNick") == gid and decline.get("from") == dave.jid(a)
        members = [next(iter(m.values())) for m in xs.api.get(f"/chatgroups/{gid}/users").json()["data"]]
        assert c in members and d not in members
    finally:
        for client in (alice, bob, carol, dave):
            if client is not None:
                client.close()


def test_user_token_actions_name_the_user_who_acted(xserver: XServer) -> None:
    """§7.9–§7.11 after REST calls with users' tokens: mute and admin notices carry the acting
    user in `from`, a kick's `<actor nick>` is the admin who kicked, quitting tells nobody, and
    dissolving tells every member."""
    a, b, c, d = unique("ua"), unique("ub"), unique("uc"), unique("ud")
    xs = xserver
    xs.api.register(a, b, c, d)
    gid = _group(xs, a, [b, c, d])
    _ok(xs.api.post(f"/chatgroups/{gid}/admin", json={"newadmin": b}))
    alice, carol = WebIm(xs, a).login(), WebIm(xs, c).login()
    try:
        alice.ping()
        carol.ping()
        room = carol.room(gid)
        as_bob = _user_api(xs, b)
        _ok(as_bob.post(f"/chatgroups/{gid}/mute", json={"usernames": [c], "mute_duration": 60000}))
        muted = carol.expect(_has("add_mute"))
        child = muted.find(MUC_USER + "x/" + MUC_USER + "add_mute")
        assert child is not None and child.get("mucjid") == room and child.get("from") == carol.jid(b)
        _ok(as_bob.delete(f"/chatgroups/{gid}/mute/{c}"))
        unmuted = carol.expect(_has("remove_mute"))
        assert unmuted.find(MUC_USER + "x/" + MUC_USER + "remove_mute").get("from") == carol.jid(b)  # type: ignore[union-attr]
        as_alice = _user_api(xs, a)
        _ok(as_alice.post(f"/chatgroups/{gid}/admin", json={"newadmin": c}))
        assert carol.expect(_has("add_admin")).find(  # type: ignore[union-attr]
            MUC_USER + "x/" + MUC_USER + "add_admin").get("from") == carol.jid(a)
        _ok(as_alice.delete(f"/chatgroups/{gid}/admin/{c}"))
        carol.expect(_has("remove_admin"))
        # quitting tells nobody
        _ok(_user_api(xs, d).delete(f"/chatgroups/{gid}/quit"))
        alice.quiet(0.4, lambda el: el.tag == CLIENT + "presence" and el.get("from", "").startswith(room))
        # kicked by the admin
        _ok(as_bob.delete(f"/chatgroups/{gid}/users/{c}"))
        kicked = carol.expect(lambda el: el.tag == CLIENT + "presence" and el.get("type") == "unavailable")
        assert kicked.get("from") == f"{room}/{c}"
        item = kicked.find(MUC_USER + "x/" + MUC_USER + "item")
        assert item is not None and item.get("jid") == carol.jid(c)
        assert item.find(MUC_USER + "actor").get("nick") == b  # type: ignore[union-attr]
        assert kicked.find(MUC_USER + "x/" + MUC_USER + "status").get("code") == "307"  # type: ignore[union-attr]
        # dissolved by the owner (dissolveGroup's ?version=v3)
        _ok(xs.api.post(f"/chatgroups/{gid}/users/{c}"))
        _ok(as_alice.delete(f"/chatgroups/{gid}?version=v3"))
        gone = carol.expect(_has("destroy"))
        assert gone.get("type") == "unavailable" and gone.get("from") == room
        item = gone.find(MUC_USER + "x/" + MUC_USER + "item")
        assert item is not None and item.get("jid") is None
    finally:
        alice.close()
        carol.close()


def test_invite_over_rest(xserver: XServer) -> None:
    """§7.6 after `inviteToGroup`: each invitee gets the mediated invitation from the inviter;
    a group that needs no confirmation adds them at once and the members see them join."""
    a, b, c, d = unique("ia"), unique("ib"), unique("ic"), unique("id")
    xs = xserver
    xs.api.register(a, b, c, d)
    direct = _group(xs, a, [b], invite_need_confirm=False)
    confirm = _group(xs, a, [b])
    alice, bob, carol = WebIm(xs, a).login(), WebIm(xs, b).login(), WebIm(xs, c).login()
    try:
        for client in (alice, bob, carol):
            client.ping()
        as_alice = _user_api(xs, a)
        _ok(as_alice.post(f"/chatgroups/{direct}/invite", json={"usernames": [c]}))
        invite = carol.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "invite") is not None)
        assert invite.get("from") == carol.room(direct)
        inv = invite.find(MUC_USER + "x/" + MUC_USER + "invite")
        assert inv is not None and inv.get("from") == carol.jid(a) and inv.find(MUC_USER + "reason") is not None
        assert invite.find("{jabber:x:conference}x").get("jid") == carol.room(direct)  # type: ignore[union-attr]
        bob.expect(_member_join(bob.room(direct), c))
        # confirmation needed: an invitation only; offline invitees get it at their next login
        _ok(as_alice.post(f"/chatgroups/{confirm}/invite", json={"usernames": [c, d]}))
        carol.expect(lambda el: el.find("{jabber:x:conference}x") is not None
                     and el.find("{jabber:x:conference}x").get("jid") == carol.room(confirm))  # type: ignore[union-attr]
        bob.quiet(0.3, _member_join(bob.room(confirm), c))
        dave = WebIm(xs, d).login()
        try:
            kept = dave.expect(lambda el: el.find(MUC_USER + "x/" + MUC_USER + "invite") is not None)
            assert kept.get("from") == dave.room(confirm)
        finally:
            dave.close()
        members = [next(iter(m.values())) for m in xs.api.get(f"/chatgroups/{confirm}/users").json()["data"]]
        assert sorted(members) == sorted([a, b])
    finally:
        for client in (alice, bob, carol):
            client.close()


def test_chat_room_joins_are_announced_to_the_occupants(xserver: XServer) -> None:
    """§7.8 "Others joining": the occupants get `<item affiliation='member' role='participant'/>`
    with `<roomtype/>` from `{room}/{nick}`; the newcomer is not sent the occupants already
    there (§7.11), and gets only its own join presence."""
    a, b, c = unique("ra"), unique("rb"), unique("rc")
    xs = xserver
    xs.api.register(a, b, c)
    r = xs.api.post("/chatrooms", json={"name": "lobby", "description": "d", "maxusers": 10, "owner": a})
    rid = str(r.json()["data"]["id"])
    bob, carol = WebIm(xs, b).login(), WebIm(xs, c).login()
    try:
        bob.ping()
        carol.ping()
        room = bob.room(rid)

        def join(client: WebIm, nick: str, jid: str) -> None:
            client.send(f"<presence from='{client.full}' to='{room}/{nick}' id='{jid}' xmlns='jabber:client'>"
                        "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/>"
                        "</x><roomtype xmlns='easemob:x:roomtype' type='chatroom'/></presence>")
            joined = client.expect(lambda el: el.tag == CLIENT + "presence" and el.get("from") == f"{room}/{nick}")
            assert [ch.tag for ch in joined] == [ROOMTYPE]
            client.expect_id(jid)

        join(bob, b, "j-b:sendIQ")
        join(carol, c, "j-c:sendIQ")
        seen = bob.expect(_member_join(room, c))
        assert seen.find(ROOMTYPE).get("type") == "chatroom" and seen.get("to") == bob.full  # type: ignore[union-attr]
        carol.quiet(0.4, lambda el: el.tag == CLIENT + "presence" and el.get("from") == f"{room}/{b}")
    finally:
        bob.close()
        carol.close()


def test_join_public_group_over_xmpp_asks_the_admins_too(xserver: XServer) -> None:
    """`joinPublicGroup` (§7.7) to a group that needs approval keeps the request, so that the
    REST `apply_verify` can answer it; the owner and the admins are asked."""
    a, b, c = unique("xa"), unique("xb"), unique("xc")
    xs = xserver
    xs.api.register(a, b, c)
    gid = _group(xs, a, [b], membersonly=True)
    _ok(xs.api.post(f"/chatgroups/{gid}/admin", json={"newadmin": b}))
    bob, carol = WebIm(xs, b).login(), WebIm(xs, c).login()
    try:
        bob.ping()
        room = carol.room(gid)
        carol.send(f"<presence from='{carol.full}' to='{room}/{c}' id='jg:sendIQ' xmlns='jabber:client'>"
                   "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
        assert carol.expect_id("jg:sendIQ").get("type") == "result"
        bob.expect(_has("apply"))
        _ok(_user_api(xs, b).post(f"/chatgroups/{gid}/apply_verify", json={"applicant": c, "verifyResult": True}))
        carol.expect(_has("accept"))
    finally:
        bob.close()
        carol.close()
