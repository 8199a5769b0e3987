"""Groups and chat rooms as rooms at `conference.<domain>` (webim-xmpp.md §4.1, §4.3, §4.9).

A member's `<message type='groupchat'>` to `{appkey}_{id}@conference.<domain>` takes the REST
path: `MessageService.send` with target type `chatgroups` (or `chatrooms` when the stanza carries
`<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>`), which checks membership, blocks and
mutes through the group service, stores the message (offline copies for group members, none for
chat rooms) and routes it to the other members' available resources. They receive it from
`{room}/{sender}` (no echo to the sender: Easemob semantics; a Web IM sender gets the §4.4 ack).
A refusal bounces the stanza in the §4.9 form (`<body>` kept, `<text>` always present, a muted
sender marked with `<user-muted xmlns='easemob:x:mute'/>`).

Standard clients join with presence to `room/nick` (XEP-0045 §7.2, reduced): a group member, or
anyone admitted to a chat room (the chat room's membership is updated, as REST and the SDK's
join do), gets its own presence back with status 110; leaving a chat room (`unavailable`)
removes the membership, leaving a group changes nothing. Occupants are not broadcast; room
membership is the group service's. disco#items on the conference service lists the rooms the
user belongs to; disco#info on a room describes it. The muc#admin/owner IQs are not served.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim import errors
from hxim.c2s.messaging import parse_body, send_ack
from hxim.c2s.session import CLIENT
from hxim.xmpp.errors import STANZA_CONDITIONS
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import error_reply, iq_result

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["on_presence", "register"]

ROOMTYPE = "{easemob:x:roomtype}roomtype"
MUC = "http://jabber.org/protocol/muc"
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
    bodies, ext, is_json = parse_body(body)
    if is_json:
        session.json_bodies = True
    roomtype = el.find(ROOMTYPE)
    target_type = "chatrooms" if roomtype is not None and roomtype.get("type") == "chatroom" else "chatgroups"
    try:
        sent = await ctx.node.messages.send(app, target_type, [room_id], bodies[0], user.username, ext, ext is not None)
    except errors.HximError as exc:
        _bounce(session, el, exc)
        return True
    message = sent[0][1]
    if message is not None:
        send_ack(session, el, message.id)
    return True


def _bounce(session: C2SSession, el: ET.Element, exc: errors.HximError) -> None:
    condition = exc.condition if exc.condition in STANZA_CONDITIONS else "forbidden"
    if exc.status == 404:
        condition = "item-not-found"
    muted = "muted" in exc.description
    app_condition = ET.Element("{easemob:x:mute}user-muted") if muted else None
    reply = error_reply(el, condition, exc.description, include_payload=True, app_condition=app_condition)
    err = reply.find(CLIENT + "error")
    if err is not None:
        err.set("code", str(exc.status if exc.status in (403, 404) else 403))
    session.send(reply)


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
            members = await service.members(app, rid)
        except errors.HximError:
            continue
        role = next((r for name, r in members if name.lower() == user.key), None)
        return kind, role
    return None


async def on_presence(session: C2SSession, el: ET.Element) -> bool:
    """Presence to `room/nick`: join (available) or leave (unavailable)."""
    jid = JID.try_parse(el.get("to"))
    rid = await _room(session, jid)
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None and jid is not None
    found = await _membership(session, rid) if rid is not None else None
    if rid is None or found is None:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    kind, role = found
    leaving = el.get("type") == "unavailable"
    try:
        if kind == "chatroom" and not leaving and role is None:
            await node.chatrooms.add_member(app, rid, user.username)
            role = "member"
        elif kind == "chatroom" and leaving and role == "member":
            await node.chatrooms.remove_member(app, rid, user.username)
    except errors.HximError as exc:
        session.reply_error(el, "forbidden" if exc.status == 403 else "not-allowed", exc.description)
        return True
    if role is None and not leaving:
        session.reply_error(el, "registration-required", "Only members can enter this group.")
        return True
    nick = jid.resource or user.username
    attrs = {"from": f"{session.room_jid(rid)}/{nick}", "to": session.full_jid}
    if leaving:
        attrs["type"] = "unavailable"
    reply = ET.Element(CLIENT + "presence", attrs)
    x = ET.SubElement(reply, "{" + MUC_USER + "}x")
    affiliation = "owner" if role == "owner" else "member"
    occupant_role = "none" if leaving else ("moderator" if role == "owner" else "participant")
    ET.SubElement(x, "{" + MUC_USER + "}item", {"affiliation": affiliation, "role": occupant_role})
    ET.SubElement(x, "{" + MUC_USER + "}status", {"code": "110"})
    session.send(reply)
    return True


async def on_disco_items(session: C2SSession, el: ET.Element) -> bool:
    ctx, app, user = session.ctx, session.app, session.user
    to = JID.try_parse(el.get("to"))
    if to is None or to.local is not None or to.domain.lower() != ctx.muc_key or el[0].get("node"):
        return False
    assert app is not None and user is not None
    query = ET.Element("{" + ITEMS + "}query")
    for service in (ctx.node.groups, ctx.node.chatrooms):
        for rid, name in await service.joined(app, user.username):
            ET.SubElement(query, "{" + ITEMS + "}item", {"jid": session.room_jid(rid), "name": name})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_disco_info(session: C2SSession, el: ET.Element) -> bool:
    rid = await _room(session, JID.try_parse(el.get("to")))
    if rid is None or JID.try_parse(el.get("to")) is None:
        return False
    app = session.app
    assert app is not None
    room = None
    for service in (session.ctx.node.groups, session.ctx.node.chatrooms):
        try:
            room = await service.get(app, rid)
            break
        except errors.HximError:
            continue
    if room is None:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    query = ET.Element("{" + INFO + "}query")
    ET.SubElement(query, "{" + INFO + "}identity", {"category": "conference", "type": "text", "name": room.name})
    features = [MUC, "muc_persistent", "muc_public" if room.public else "muc_hidden"]
    features.append("muc_membersonly" if room.membersonly or room.kind != "chatroom" else "muc_open")
    for feature in features:
        ET.SubElement(query, "{" + INFO + "}feature", {"var": feature})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


def register(table: Dispatcher) -> None:
    table.register("message", "groupchat", None, on_groupchat)
    table.register("iq", "get", ITEMS, on_disco_items, priority=10)  # before the server's disco
    table.register("iq", "get", INFO, on_disco_info, priority=10)
