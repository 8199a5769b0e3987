"""Groups and chat rooms as rooms at `conference.<domain>` (webim-xmpp.md §4.1, §4.3, §4.9).

A member's `<message type='groupchat'>` to `{appkey}_{id}@conference.<domain>` takes the REST
path: `MessageService.send` with chat type `groupchat` (or `chatroom` when the stanza carries
`<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>`), which checks membership, blocks and
mutes through the group service, stores the message (offline copies for group members, none for
chat rooms) and routes it to the other members' available resources. They receive it from
`{room}/{sender}` (no echo to the sender: Easemob semantics; a Web IM sender gets the §4.4 ack).
A refusal bounces the stanza in the §4.9 form (`<body>` kept, `<text>` always present, a muted
sender marked with `<user-muted xmlns='easemob:x:mute'/>`).

Standard clients join with presence to `room/nick` (XEP-0045 §7.2, reduced): a group member, or
anyone admitted to a chat room (the chat room's membership is updated, as REST and the SDK's
join do), gets its own presence back with status 110; leaving a chat room (`unavailable`)
removes the membership, leaving a group changes nothing. Occupants' presence is not
broadcast; room membership is the group service's. The Web IM SDK's forms (§7.5–§7.8): a presence carrying
`<roomtype/>` joins or quits a chat room and is answered with the Easemob self-presence (no
status, no member item); one carrying `<create/>` for an unknown id creates a group owned by the
sender (status 201); a non-member's join of a public group is `joinPublicGroup` (admitted, or
an `<apply/>` to the owner and admins when approval is needed). Joining a chat room announces
the newcomer to the other occupants (§7.8 "Others joining"); existing occupants are not replayed
to the newcomer (§7.11). Web IM sessions also get the `<iq>` with
the presence's id that the SDK's `sendIQ` waits for. disco#items on the conference service lists
the user's groups (§7.2), on a room its members; disco#info on a room has the feature order and
form of §7.3. The muc#admin/owner IQs and invitations are `muc_admin`'s.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim import errors, json_input
from hxim.c2s import muc_admin
from hxim.c2s.messaging import bounce, extensions, parse_body, send_ack
from hxim.c2s.session import CLIENT
from hxim.services.messages import SendMessage
from hxim.services.room_common import parse_room_id
from hxim.services.rooms import NewRoom
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import iq_result

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["on_presence", "register"]

ROOMTYPE = "{easemob:x:roomtype}roomtype"
MUC = "http://jabber.org/protocol/muc"
CREATE = "{" + MUC + "}create"
MUC_USER = MUC + "#user"
INFO = "http://jabber.org/protocol/disco#info"
ITEMS = "http://jabber.org/protocol/disco#items"


async def on_groupchat(session: C2SSession, el: ET.Element) -> bool:
    ctx = session.ctx
    to = JID.try_parse(el.get("to"))
    app, user = session.app, session.user
    assert app is not None and user is not None
    if to is None or to.local is None or to.domain.lower() != ctx.muc_key:
        session.reply_error(el, "bad-request", "Group messages go to a room at the conference service.")
        return True
    found = await ctx.resolve_node(to.local)
    if found is None or found[0].uuid != app.uuid:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    room_id = found[1]
    body = el.findtext(CLIENT + "body")
    if not body:
        return True  # chat states and the like: rooms keep no presence yet, nothing to relay
    try:
        bodies, ext, is_json = parse_body(body, ctx.settings.json_max_depth)
    except json_input.JsonRejected as exc:
        bounce(session, el, "bad-request", exc.description)
        return True
    if is_json:
        session.json_bodies = True
    roomtype = el.find(ROOMTYPE)
    chat_type = "chatroom" if roomtype is not None and roomtype.get("type") == "chatroom" else "groupchat"
    command = SendMessage(
        chat_type, (room_id,), tuple(bodies), ext, user.username, from_client=True, xml=extensions(el)
    )
    try:
        sent = await ctx.node.messages.send(app, command, user)
    except errors.HximError as exc:
        _bounce(session, el, exc)
        return True
    send_ack(session, el, sent[0][1].id)
    return True


def _bounce(session: C2SSession, el: ET.Element, exc: errors.HximError) -> None:
    condition = "item-not-found" if exc.status == 404 else "forbidden"
    if exc.condition == "policy-violation":  # refused by a keyword list (services.moderation)
        condition = exc.condition
    if exc.condition == "not-acceptable":  # refused by a pre-send callback: its code as the text
        condition = "not-acceptable"
    muted = "muted" in exc.description
    app_condition = ET.Element("{easemob:x:mute}user-muted") if muted else None
    bounce(session, el, condition, exc.description or "The message was refused.", app_condition)


async def _room(session: C2SSession, jid: JID | None) -> str | None:
    """The room id a JID at the conference service names, for this session's app."""
    if jid is None or jid.local is None or jid.domain.lower() != session.ctx.muc_key:
        return None
    found = await session.ctx.resolve_node(jid.local)
    if found is None or session.app is None or found[0].uuid != session.app.uuid:
        return None
    return found[1]


async def _membership(session: C2SSession, rid: str) -> tuple[str, str | None] | None:
    """("group" | "chatroom", the user's role or None) for an existing room, else None."""
    node, app, user = session.ctx.node, session.app, session.user
    assert app is not None and user is not None
    for kind, service in (("group", node.groups), ("chatroom", node.chatrooms)):
        try:
            members = await service.rooms.members(app, rid)
        except errors.HximError:
            continue
        role = next((r for name, r in members if name.lower() == user.key), None)
        return kind, role
    return None


async def on_presence(session: C2SSession, el: ET.Element) -> bool:
    """Presence to `room/nick`: create (with Easemob's `<create/>`), join or apply, leave."""
    jid = JID.try_parse(el.get("to"))
    rid = await _room(session, jid)
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None and jid is not None
    found = await _membership(session, rid) if rid is not None else None
    leaving = el.get("type") == "unavailable"
    if rid is not None and found is None and not leaving and el.find(CREATE) is not None:
        return await _create(session, el, rid)
    if rid is None or found is None:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    kind, role = found
    easemob = el.find(ROOMTYPE) is not None  # the SDK's chat-room join and quit (§7.8)
    try:
        if kind == "chatroom" and not leaving and role is None:
            await node.chatrooms.members.join(app, rid, user.username)  # the other occupants are told (§7.8)
            role = "member"
        elif kind == "chatroom" and leaving and role == "member":
            await node.chatrooms.members.remove_member(app, rid, user.username, actor=user.username)
        elif kind == "group" and not leaving and role is None:
            return await _join_group(session, el, rid)
    except errors.HximError as exc:
        session.reply_error(el, "forbidden" if exc.status == 403 else "not-allowed", exc.description)
        _iq_quirk(session, el, "error")
        return True
    nick = jid.resource or user.username
    attrs = {"from": f"{session.room_jid(rid)}/{nick}", "to": session.full_jid}
    if leaving:
        attrs["type"] = "unavailable"
    reply = ET.Element(CLIENT + "presence", attrs)
    if easemob:
        # join success is this presence with no status and no member/participant item (§7.8);
        # the leave confirmation carries no item with a `jid` (§4.11)
        ET.SubElement(reply, ROOMTYPE, {"type": "chatroom"})
        if leaving:
            x = ET.SubElement(reply, "{" + MUC_USER + "}x")
            ET.SubElement(x, "{" + MUC_USER + "}item", {"affiliation": "none", "role": "none"})
            ET.SubElement(x, "{" + MUC_USER + "}status", {"code": "110"})
    else:
        x = ET.SubElement(reply, "{" + MUC_USER + "}x")
        affiliation = "owner" if role == "owner" else "member"
        occupant_role = "none" if leaving else ("moderator" if role == "owner" else "participant")
        ET.SubElement(x, "{" + MUC_USER + "}item", {"affiliation": affiliation, "role": occupant_role})
        ET.SubElement(x, "{" + MUC_USER + "}status", {"code": "110"})
    session.send(reply)
    _iq_quirk(session, el, "result")
    return True


def _iq_quirk(session: C2SSession, el: ET.Element, outcome: str) -> None:
    """The SDK sends its room presences through `sendIQ`: an `<iq>` with the presence's id, from
    the `to` it used verbatim, fires its callbacks (§7.8, §7.11: harmless). Web IM sessions only."""
    if session.json_bodies and el.get("id"):
        iq = ET.Element(CLIENT + "iq", {"type": outcome, "id": el.get("id", ""), "from": el.get("to", ""),
                                        "to": session.full_jid})
        session.send(iq)


async def _create(session: C2SSession, el: ET.Element, rid: str) -> bool:
    """The SDK's `createGroup` (§7.5): the owner's presence with `<create/>` makes a private,
    members-only group with the id the client chose; the form that follows configures it."""
    app, user = session.app, session.user
    assert app is not None and user is not None
    ident = parse_room_id(rid)
    if ident is None:
        session.reply_error(el, "not-acceptable", "Room ids are numbers.")
        return True
    room = NewRoom(name=rid, owner=user.username, public=False, membersonly=True)
    try:
        await session.ctx.node.groups.rooms.create(app, room, ident=ident)
    except errors.HximError as exc:
        session.reply_error(el, "not-allowed", exc.description)
        return True
    reply = ET.Element(CLIENT + "presence", {"from": el.get("to", ""), "to": session.full_jid})
    x = ET.SubElement(reply, "{" + MUC_USER + "}x")
    ET.SubElement(x, "{" + MUC_USER + "}item", {"affiliation": "owner", "role": "moderator", "jid": session.full_jid})
    ET.SubElement(x, "{" + MUC_USER + "}status", {"code": "201"})
    session.send(reply)
    return True


async def _join_group(session: C2SSession, el: ET.Element, rid: str) -> bool:
    """`joinPublicGroup` (§7.7) by a non-member, as the REST `apply`: an open public group admits
    at once (`<accept/>` to the user, a member-join presence to the other members); one that
    needs approval keeps the request and sends the owner and admins an `<apply/>`; a private
    group refuses. The notices come from the group service (`RoomNotifier`)."""
    node, app, user = session.ctx.node, session.app, session.user
    assert app is not None and user is not None
    room = await node.groups.rooms.get(app, rid)
    if muc_admin.refuse_disabled(session, el, room):
        _iq_quirk(session, el, "error")
        return True
    if not room.public:
        session.reply_error(el, "registration-required", "Only members can enter this group.")
        _iq_quirk(session, el, "error")
        return True
    try:
        await node.groups.members.apply(app, rid, user.username, el.findtext(CLIENT + "status") or "")
    except errors.HximError as exc:
        session.reply_error(el, "forbidden" if exc.status == 403 else "not-allowed", exc.description)
        _iq_quirk(session, el, "error")
        return True
    _iq_quirk(session, el, "result")
    return True


async def on_disco_items(session: C2SSession, el: ET.Element) -> bool:
    """On the service: the rooms the user belongs to; a Web IM session gets its groups only (the
    [146] demo shows this list as "my groups", §7.2, §7.11). On a room: its members as occupants
    (`queryRoomOccupants`)."""
    ctx, app, user = session.ctx, session.app, session.user
    to = JID.try_parse(el.get("to"))
    if to is None or to.domain.lower() != ctx.muc_key or el[0].get("node") or to.resource is not None:
        return False
    assert app is not None and user is not None
    query = ET.Element("{" + ITEMS + "}query")
    if to.local is None:
        services = (ctx.node.groups,) if session.json_bodies else (ctx.node.groups, ctx.node.chatrooms)
        for service in services:
            for rid, name in await service.rooms.joined(app, user.username):
                ET.SubElement(query, "{" + ITEMS + "}item", {"jid": session.room_jid(rid), "name": name})
    else:
        room_id = await _room(session, to)
        found = await _membership(session, room_id) if room_id is not None else None
        if room_id is None or found is None:
            session.reply_error(el, "item-not-found", "No such room.")
            return True
        service = ctx.node.groups if found[0] == "group" else ctx.node.chatrooms
        for name, _ in await service.rooms.members(app, room_id):
            ET.SubElement(query, "{" + ITEMS + "}item", {"jid": f"{el.get('to')}/{name}", "name": name})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_disco_info(session: C2SSession, el: ET.Element) -> bool:
    """A room's description as `queryRoomInfo` reads it (§7.3): the identity with the name, five
    features in a fixed order ([1] public/hidden, [3] members-only/open, [4] invites), and a
    `muc#roominfo` result form whose owner is a JID node."""
    rid = await _room(session, JID.try_parse(el.get("to")))
    if rid is None or JID.try_parse(el.get("to")) is None:
        return False
    app = session.app
    assert app is not None
    room = None
    for service in (session.ctx.node.groups, session.ctx.node.chatrooms):
        try:
            room = await service.rooms.get(app, rid)
            break
        except errors.HximError:
            continue
    if room is None:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    members = len(await service.rooms.members(app, rid))
    query = ET.Element("{" + INFO + "}query")
    ET.SubElement(query, "{" + INFO + "}identity", {"category": "conference", "type": "text", "name": room.name})
    membersonly = room.membersonly if room.kind == "group" else False
    features = [
        MUC,
        "muc_public" if room.public else "muc_hidden",
        "muc_persistent",
        "muc_membersonly" if membersonly or not room.public else "muc_open",
        "muc_allowinvites" if room.allowinvites else "muc_notallowinvites",
    ]
    for feature in features:
        ET.SubElement(query, "{" + INFO + "}feature", {"var": feature})
    x = ET.SubElement(query, "{jabber:x:data}x", {"type": "result"})
    owner = session.peer_jid(room.owner).split("@", 1)[0]
    fields = [
        ("FORM_TYPE", MUC + "#roominfo"),
        ("muc#roominfo_description", room.description),
        ("muc#roominfo_occupants", str(members)),
        ("muc#roominfo_maxusers", str(room.maxusers)),
        ("muc#roominfo_affiliations", str(members)),
        ("muc#roominfo_owner", owner),
    ]
    for var, value in fields:
        field = ET.SubElement(x, "{jabber:x:data}field", {"var": var})
        ET.SubElement(field, "{jabber:x:data}value").text = value
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


def register(table: Dispatcher) -> None:
    table.register("message", "groupchat", None, on_groupchat)
    table.register("iq", "get", ITEMS, on_disco_items, priority=10)  # before the server's disco
    table.register("iq", "get", INFO, on_disco_info, priority=10)
