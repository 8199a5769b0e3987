"""Content that XML cannot carry never ends another user's stream.

Control characters (and U+FFFE/U+FFFF) are legal in JSON, so a REST body, an Easemob JSON body sent
over XMPP with `\\u0001` escapes, or a group application's reason can hold them. XML 1.0 has no way
to write them, so each one reaches an XMPP client as U+FFFD: the stanza stays well-formed, the
recipient's stream stays open, and the offline messages queued behind it all arrive. U+0000 is
refused as bad input wherever JSON comes in (it cannot be stored either).
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

from slixmpp.stanza import Message
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from xmpp_helpers import Client, Raw, XServer, login_raw, run, xserver

from conftest import Api, unique

__all__ = ["xserver"]

MUC_USER = "{http://jabber.org/protocol/muc#user}"
BAD = "\u0001\u0008\u000b\u001f\ufffe\uffff"
SHOWN = "\ufffd" * len(BAD)


def _send(xs: XServer, sender: str, to: str, text: str) -> None:
    r = xs.api.post("/messages", json={"target_type": "users", "target": [to],
                                       "msg": {"type": "txt", "msg": text}, "from": sender})
    assert r.status_code == 200, r.text


def _offline_count(xs: XServer, name: str) -> int:
    r = xs.api.get(f"/users/{name}/offline_msg_count")
    assert r.status_code == 200, r.text
    return int(r.json()["data"][name])


def test_rest_body_with_control_characters_reaches_an_offline_user_with_the_rest(xserver: XServer) -> None:
    xs = xserver
    a, b = unique("pa"), unique("pb")
    xs.api.register(a, b)
    for text in ("before", "poison" + BAD, "after"):
        _send(xs, a, b, text)
    assert _offline_count(xs, b) == 3

    async def scenario() -> None:
        bob = Client(xs, b)
        await bob.online()
        bodies = [(await bob.next_message())["body"] for _ in range(3)]
        assert bodies == ["before", "poison" + SHOWN, "after"]
        await bob.sync()  # the stream is still open
        assert not bob.gone.is_set() and not bob.stream_errors
        await bob.close()

    run(scenario)
    assert _offline_count(xs, b) == 0


def test_raw_bytes_of_a_poisoned_body_are_well_formed(xserver: XServer) -> None:
    """What goes on the wire parses as XML, byte for byte (not only what slixmpp tolerates)."""
    xs = xserver
    a, b = unique("pc"), unique("pd")
    xs.api.register(a, b)
    _send(xs, a, b, "x" + BAD + "<&>")
    raw = login_raw(xs, b)
    raw.send("<presence/>")
    text = raw.read_until(b"</message>")
    stanza = text[text.index("<message"):text.index("</message>") + len("</message>")]
    el = ET.fromstring(stanza)
    assert el.findtext("body") == "x" + SHOWN + "<&>"
    raw.send("<iq type='get' id='alive'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "id='alive'" in raw.read_until(b"id='alive'")
    raw.close()


async def _webim_and_plain(xs: XServer, a: str, b: str) -> tuple[Client, Client]:
    """`a` online as a Web IM resource (it speaks Easemob JSON), `b` as a plain XMPP client."""
    alice, bob = Client(xs, a, resource="webim"), Client(xs, b)
    await alice.online()
    await bob.online()
    return alice, bob


def test_easemob_json_body_over_xmpp_reaches_a_plain_client(xserver: XServer) -> None:
    """A JSON body is valid XML on the way in (`\\u0001` is six characters) and decoded; a plain
    XMPP recipient is sent the text of its `txt` body."""
    xs = xserver
    a, b = unique("pe"), unique("pf")
    xs.api.register(a, b)

    async def scenario() -> None:
        alice, bob = await _webim_and_plain(xs, a, b)
        doc = {"from": a, "to": b, "bodies": [{"type": "txt", "msg": "boom" + BAD}], "ext": {"k": "v" + BAD}}
        alice.send_message(mto=xs.jid(b), mbody=json.dumps(doc), mtype="chat")
        got: Message = await bob.next_message()
        assert got["body"] == "boom" + SHOWN
        alice.send_message(mto=xs.jid(b), mbody="second", mtype="chat")
        assert (await bob.next_message())["body"] == "second"
        await bob.sync()
        assert not bob.gone.is_set() and not bob.stream_errors
        # a client that reads Easemob JSON gets the exact characters, escaped by JSON
        bob2 = Client(xs, b, resource="webim-2")
        await bob2.online()
        alice.send_message(mto=xs.jid(b), mbody=json.dumps(doc), mtype="chat")
        for client in (bob, bob2):
            msg = await client.next_message()
            if client is bob2:
                assert json.loads(msg["body"])["bodies"][0]["msg"] == "boom" + BAD
                assert json.loads(msg["body"])["ext"] == {"k": "v" + BAD}
        await asyncio.gather(alice.close(), bob.close(), bob2.close())

    run(scenario)


def test_nul_and_deep_json_bodies_over_xmpp_bounce(xserver: XServer) -> None:
    xs = xserver
    a, b = unique("pn"), unique("po")
    xs.api.register(a, b)

    async def scenario() -> None:
        alice, bob = await _webim_and_plain(xs, a, b)
        nul = {"from": a, "to": b, "bodies": [{"type": "txt", "msg": "x\u0000"}], "ext": {}}
        deep = json.dumps({**nul, "bodies": [{"type": "txt", "msg": "x"}], "ext": "EXT"}).replace(
            '"EXT"', '{"a":' * 254 + "1" + "}" * 254)
        for body in (json.dumps(nul), deep):
            alice.send_message(mto=xs.jid(b), mbody=body, mtype="chat")
            error = await asyncio.wait_for(alice.errors.get(), 10)
            assert error["error"]["condition"] == "bad-request", error
        await bob.quiet(0.3)
        await alice.sync()
        await asyncio.gather(alice.close(), bob.close())

    run(scenario)


def _group(xs: XServer, owner: str, **extra: object) -> str:
    body = {"groupname": "club", "desc": "d", "public": True, "maxusers": 50, "owner": owner,
            **extra}
    r = xs.api.post("/chatgroups", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["groupid"])


def _notice(client: Client, child: str) -> asyncio.Future[ET.Element]:
    """The next message that carries muc#user `child` (slixmpp's own `message` event fires only
    for messages with a `<body>`)."""
    got: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()

    def seen(msg: Message) -> None:
        found = msg.xml.find(f"{MUC_USER}x/{MUC_USER}{child}")
        if found is not None and not got.done():
            got.set_result(found)

    client.register_handler(Callback(child, MatchXPath(f"{{jabber:client}}message/{MUC_USER}x"), seen))
    return got


def test_group_application_and_invitation_reasons_keep_the_owner_connected(xserver: XServer) -> None:
    xs = xserver
    owner, applicant, invitee = unique("pg"), unique("ph"), unique("pi")
    xs.api.register(owner, applicant, invitee)
    gid = _group(xs, owner, membersonly=True)

    async def scenario() -> None:
        boss, guest = Client(xs, owner), Client(xs, invitee)
        await boss.online()
        await guest.online()
        asked = _notice(boss, "apply")
        r = Api(xs.server, token=xs.api.user_token(applicant)).post(
            f"/chatgroups/{gid}/apply", json={"message": "X" + BAD})
        assert r.status_code == 200, r.text
        assert (await asyncio.wait_for(asked, 10)).findtext(MUC_USER + "reason") == "X" + SHOWN
        invited = _notice(guest, "invite")
        r = Api(xs.server, token=xs.api.user_token(owner)).post(
            f"/chatgroups/{gid}/invite", json={"usernames": [invitee], "reason": "Y" + BAD})
        assert r.status_code == 200, r.text
        assert (await asyncio.wait_for(invited, 10)).findtext(MUC_USER + "reason") == "Y" + SHOWN
        await boss.sync()
        await guest.sync()
        assert not boss.stream_errors and not guest.stream_errors
        await asyncio.gather(boss.close(), guest.close())

    run(scenario)


def test_an_unknown_sender_cannot_poison_the_stream_header(xserver: XServer) -> None:
    """The stream's own answers echo nothing a peer could use (control characters cannot even
    be written in the XML a client sends: the parser refuses them as not well-formed)."""
    raw = Raw(xserver)
    raw.open()
    raw.send(b"<message><body>a\x01b</body></message>")
    text, closed = raw.read_all(5)
    assert closed and "not-well-formed" in text and "\x01" not in text
    raw.close()
