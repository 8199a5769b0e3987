"""Room administration over XMPP as the Web IM SDK 1.x does it (webim-xmpp.md §7.4–§7.7, §7.9–
§7.11): the muc#admin affiliation lists and changes, the muc#owner configuration form and
`<destroy/>`, mediated invitations, and the notices those actions send.

Every action goes through the same room services as the REST API, so REST and XMPP show one
state. Who may do what follows Easemob: the owner and admins manage members and the blacklist; a
member may invite when the group allows invites, and may always remove itself (standard MUC
forbids that); only the owner configures or destroys. IQ replies carry the request's `to`
verbatim as `from` (§3.4). Notices to a user with no available session are kept and replayed
at their next login (`notices`):

Kicks, bans, destruction, admin and mute changes reach the users as notices that the services
send (`RoomNotifier`), so REST actions notify exactly as XMPP ones do (§7.11); this module
renders them:

* kicked or banned: `<presence type='unavailable'>` from `{room}/{user}` with
  `<item affiliation='none' role='none' jid=…><actor nick=…/></item>` and status 307 (kick) or
  321 (ban) (§7.11, never 301);
* destroyed: to every member, `<presence type='unavailable'>` from the room with an item without
  `jid` and `<destroy jid=…><reason/></destroy>` (§7.10 `deleteGroupChat`);
* made or unmade admin, muted or unmuted: a body-less `<message>` with `<add_admin/>`,
  `<remove_admin/>`, `<add_mute/>` or `<remove_mute/>` carrying `mucjid` and `from` (§7.9);
* invited: the mediated `<invite from=…><reason/></invite>` plus `jabber:x:conference` (§7.6);
* applied to a group that needs approval: the owner and the admins get
  `<apply from to toNick><reason/></apply>` (§7.7); the applicant is then answered with
  `<accept/>` (a presence from the room: `joinPublicGroupSuccess`) or
  `<decline fromNick='{gid}' from='{owner or admin JID}'/>` (`joinPublicGroupDeclined`) (§7.9);
* joined (an open group, an accepted application, an invitation that needs no confirmation, a
  chat room): the other available members get a member-join presence from `{room}/{user}` with
  `<item affiliation='member' role='participant'/>`, plus `<roomtype/>` for a chat room (§7.8,
  §7.9). It is not kept: a member who logs in later reads the member list instead, and a
  newcomer is not sent the occupants already there (§7.11).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.c2s import notices
from hxim.c2s.session import CLIENT
from hxim.hub import Notice
from hxim.services import group_policy
from hxim.services.notices import NoticeKind
from hxim.services.room_common import ADMIN, MEMBER, OWNER, Room
from hxim.services.rooms import RoomChanges, RoomServices
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import iq_result

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["affiliation", "refuse_disabled", "register"]

MUC = "http://jabber.org/protocol/muc"
MUC_USER = MUC + "#user"
MUC_ADMIN = MUC + "#admin"
MUC_OWNER = MUC + "#owner"
DATA = "jabber:x:data"
CONFERENCE = "jabber:x:conference"
_U = "{" + MUC_USER + "}"
_A = "{" + MUC_ADMIN + "}"
_O = "{" + MUC_OWNER + "}"
_D = "{" + DATA + "}"


# --- helpers ------------------------------------------------------------------------------------
async def _room(session: C2SSession, el: ET.Element) -> tuple[RoomServices, Room] | None:
    """The group or chat room an IQ or message is addressed to (a bare room JID of the app)."""
    ctx, app = session.ctx, session.app
    jid = JID.try_parse(el.get("to"))
    if jid is None or jid.local is None or jid.resource is not None or jid.domain.lower() != ctx.muc_key:
        return None
    found = await ctx.resolve_node(jid.local)
    if found is None or app is None or found[0].uuid != app.uuid:
        return None
    for service in (ctx.node.groups, ctx.node.chatrooms):
        try:
            return service, await service.rooms.get(app, found[1])
        except errors.HximError:
            continue
    return None


async def affiliation(service: RoomServices, session: C2SSession, rid: str, username: str) -> str | None:
    """`owner`, `admin`, `member`, or None for a user of the session's app."""
    app = session.app
    assert app is not None
    key = username.lower()
    role = next((r for n, r in await service.rooms.members(app, rid) if n.lower() == key), None)
    if role == MEMBER and key in {n.lower() for n in await service.moderation.admins(app, rid)}:
        return ADMIN
    return role


async def _user_of(session: C2SSession, value: str | None) -> str | None:
    """The username a JID of the session's app names."""
    jid = JID.try_parse(value)
    peer = await session.ctx.resolve_user(jid) if jid is not None else None
    if peer is None or session.app is None or peer[0].uuid != session.app.uuid:
        return None
    return peer[1]


def _muc_x(parent: ET.Element) -> ET.Element:
    return ET.SubElement(parent, _U + "x")


def _refuse(session: C2SSession, el: ET.Element, exc: errors.HximError) -> None:
    condition = "item-not-found" if exc.status == 404 else "forbidden" if exc.status in (401, 403) else "not-allowed"
    session.reply_error(el, condition, exc.description)


# --- notices (rendered per receiving session) ---------------------------------------------------
@notices.renderer(NoticeKind.ROOM_REMOVED)
def _removed(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """Kicked (307) or banned (321) from a room (§7.10, §7.11)."""
    room = session.room_jid(payload["room"])
    me = session.peer_jid(session.user.username if session.user else "")
    attrs = {"type": "unavailable", "from": f"{room}/{payload['nick']}", "to": session.full_jid}
    presence = ET.Element(CLIENT + "presence", attrs)
    x = _muc_x(presence)
    item = ET.SubElement(x, _U + "item", {"affiliation": "none", "role": "none", "jid": me})
    ET.SubElement(item, _U + "actor", {"nick": sender})
    ET.SubElement(x, _U + "status", {"code": payload["code"]})
    return presence


@notices.renderer(NoticeKind.ROOM_DESTROYED)
def _destroyed(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """The room was destroyed (§7.5, §7.10 `deleteGroupChat`); the item has no `jid` (§7.11)."""
    room = session.room_jid(payload["room"])
    presence = ET.Element(CLIENT + "presence", {"type": "unavailable", "from": room, "to": session.full_jid})
    x = _muc_x(presence)
    ET.SubElement(x, _U + "item", {"affiliation": "none", "role": "none"})
    destroy = ET.SubElement(x, _U + "destroy", {"jid": room})
    ET.SubElement(destroy, _U + "reason").text = payload.get("reason") or ""
    return presence


@notices.renderer(NoticeKind.ROOM_INVITE)
def _invite(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A mediated invitation (§7.6): `<reason>` always, the room in `jabber:x:conference`."""
    room = session.room_jid(payload["room"])
    attrs = {"from": room, "to": session.full_jid, "id": secrets.token_hex(8)}
    message = ET.Element(CLIENT + "message", attrs)
    invite = ET.SubElement(_muc_x(message), _U + "invite", {"from": session.peer_jid(sender)})
    ET.SubElement(invite, _U + "reason").text = payload.get("reason") or ""
    ET.SubElement(message, "{" + CONFERENCE + "}x", {"jid": room})
    return message


@notices.renderer(NoticeKind.ROOM_APPLY)
def _apply(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A request to join a group that needs approval, to its owner (§7.7)."""
    room = session.room_jid(payload["room"])
    applicant = session.peer_jid(sender)
    message = ET.Element(CLIENT + "message", {"from": applicant, "to": session.full_jid, "id": secrets.token_hex(8)})
    attrs = {"from": applicant, "to": room, "toNick": payload.get("name") or ""}
    apply = ET.SubElement(_muc_x(message), _U + "apply", attrs)
    ET.SubElement(apply, _U + "reason").text = payload.get("reason") or ""
    return message


@notices.renderer(NoticeKind.ROOM_ACCEPT)
def _accept(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """Admitted to a group (§7.7, §7.9 `joinPublicGroupSuccess`): a presence from the room."""
    presence = ET.Element(CLIENT + "presence", {"from": session.room_jid(payload["room"]), "to": session.full_jid})
    ET.SubElement(_muc_x(presence), _U + "accept")
    return presence


@notices.renderer(NoticeKind.ROOM_DECLINE)
def _decline(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A request to join refused (§7.9 `joinPublicGroupDeclined`): `fromNick` is the group id,
    `from` the JID of who refused."""
    room = session.room_jid(payload["room"])
    message = ET.Element(CLIENT + "message", {"from": room, "to": session.full_jid, "id": secrets.token_hex(8)})
    attrs = {"fromNick": payload["room"], "from": session.peer_jid(sender)}
    decline = ET.SubElement(_muc_x(message), _U + "decline", attrs)
    if payload.get("reason"):
        ET.SubElement(decline, _U + "reason").text = payload["reason"]
    return message


_ROLE_ELEMENTS = {"admin_added": "add_admin", "admin_removed": "remove_admin", "muted": "add_mute",
                  "unmuted": "remove_mute"}


@notices.renderer(NoticeKind.ROOM_ROLE)
def _role(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """Made or unmade admin, muted or unmuted (§7.9): `mucjid` and `from` always present."""
    room = session.room_jid(payload["room"])
    message = ET.Element(CLIENT + "message", {"from": room, "to": session.full_jid, "id": secrets.token_hex(8)})
    attrs = {"mucjid": room, "from": session.peer_jid(sender)}
    ET.SubElement(_muc_x(message), _U + _ROLE_ELEMENTS[payload["event"]], attrs)
    return message


@notices.renderer(NoticeKind.ROOM_JOIN)
def _joined(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A member-join presence from `{room}/{user}` (§7.8, §7.9), with `<roomtype/>` in a chat room."""
    attrs = {"from": f"{session.room_jid(payload['room'])}/{sender}", "to": session.full_jid}
    presence = ET.Element(CLIENT + "presence", attrs)
    ET.SubElement(_muc_x(presence), _U + "item", {"affiliation": "member", "role": "participant"})
    if payload.get("chatroom"):
        ET.SubElement(presence, "{easemob:x:roomtype}roomtype", {"type": "chatroom"})
    return presence


# --- muc#admin ----------------------------------------------------------------------------------
async def on_admin_get(session: C2SSession, el: ET.Element) -> bool:
    found = await _room(session, el)
    if found is None:
        return False
    service, room = found
    app = session.app
    assert app is not None
    wanted = el[0].find(_A + "item")
    aff = wanted.get("affiliation") if wanted is not None else None
    rid = room.room_id
    if aff == "outcast":
        names = await service.moderation.blocks(app, rid)
    elif aff == "admin":
        names = await service.moderation.admins(app, rid)
    elif aff == "owner":
        names = [room.owner]
    elif aff == "member":  # admins are members too, as Easemob lists them (the owner comes from §7.3)
        names = [n for n, r in await service.rooms.members(app, rid) if r == MEMBER]
    else:
        session.reply_error(el, "bad-request", "Ask for one affiliation.")
        return True
    query = ET.Element(_A + "query")
    for name in names:
        ET.SubElement(query, _A + "item", {"affiliation": aff, "jid": session.peer_jid(name), "nick": name})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


def refuse_disabled(session: C2SSession, el: ET.Element, room: Room) -> bool:
    """A change asked of a disabled group over XMPP: refused (`forbidden`) as a user's REST call is."""
    if not room.disabled:
        return False
    session.reply_error(el, "forbidden", group_policy.disabled(room).description)
    return True


async def on_admin_set(session: C2SSession, el: ET.Element) -> bool:
    found = await _room(session, el)
    if found is None:
        return False
    service, room = found
    if refuse_disabled(session, el, room):
        return True
    app, user = session.app, session.user
    assert app is not None and user is not None
    rid = room.room_id
    mine = await affiliation(service, session, rid, user.username)
    manager = mine in (OWNER, ADMIN)
    changes: list[tuple[str, str]] = []  # (username, what) in request order, one per user
    for item in el[0].findall(_A + "item"):
        name = await _user_of(session, item.get("jid"))
        if name is None:
            session.reply_error(el, "item-not-found", "No such user.")
            return True
        what = item.get("affiliation") or ("kick" if item.get("role") == "none" else "")
        if what and all(n != name for n, _ in changes):
            changes.append((name, what))
    try:
        blocked = {n.lower() for n in await service.moderation.blocks(app, rid)}
        for name, what in changes:
            if what == "member":
                if name in blocked:  # [146] unbans with affiliation='member' (and re-adds)
                    _require(manager)
                    await service.moderation.unblock(app, rid, [name])
                    await service.members.add_members(app, rid, [name])
                    continue
                _require(manager or (mine is not None and room.allowinvites))
                await service.members.add_members(app, rid, [name])
            elif what in ("none", "kick"):
                if name == user.key and what == "none":  # leaveGroupBySelf (§7.4)
                    await service.members.remove_member(app, rid, name, actor=user.username)
                elif name in blocked:  # unban ([184])
                    _require(manager)
                    await service.moderation.unblock(app, rid, [name])
                else:  # kick (the service's hook tells the user)
                    _require(manager)
                    await service.members.remove_member(app, rid, name, actor=user.username)
            elif what == "outcast":
                _require(manager)
                results = await service.moderation.block(app, rid, [name], actor=user.username)
                if results and results[0].error is not None:
                    raise results[0].error
            elif what == "admin":
                _require(mine == OWNER)
                await service.moderation.add_admin(app, rid, name, actor=user.username)
            else:
                session.reply_error(el, "not-acceptable", f"Affiliation {what} cannot be set here.")
                return True
    except errors.HximError as exc:
        _refuse(session, el, exc)
        return True
    session.send(iq_result(el, from_=el.get("to")))
    return True


def _require(allowed: bool) -> None:
    if not allowed:
        raise errors.forbidden_op("only the owner or an admin of the group can do this")


# --- muc#owner ----------------------------------------------------------------------------------
_BOOL_FIELDS = {
    "muc#roomconfig_publicroom": "public",
    "muc#roomconfig_membersonly": "membersonly",
    "muc#roomconfig_allowinvites": "allowinvites",
}


def _config_form(room: Room) -> ET.Element:
    """The configuration form (§7.5): every field carries a `<value>`."""
    x = ET.Element(_D + "x", {"type": "form"})
    ET.SubElement(x, _D + "title").text = "Room configuration"
    fields: list[tuple[str, str, str]] = [
        ("FORM_TYPE", "hidden", MUC + "#roomconfig"),
        ("muc#roomconfig_maxusers", "text-single", str(room.maxusers)),
        ("muc#roomconfig_roomname", "text-single", room.name),
        ("muc#roomconfig_roomdesc", "text-single", room.description),
        ("muc#roomconfig_publicroom", "boolean", "1" if room.public else "0"),
        ("muc#roomconfig_membersonly", "boolean", "1" if room.membersonly else "0"),
        ("muc#roomconfig_moderatedroom", "boolean", "0"),
        ("muc#roomconfig_persistentroom", "boolean", "1"),
        ("muc#roomconfig_allowinvites", "boolean", "1" if room.allowinvites else "0"),
        ("muc#roomconfig_allowvisitornickchange", "boolean", "0"),
        ("muc#roomconfig_allowvisitorstatus", "boolean", "0"),
        ("allow_private_messages", "boolean", "0"),
        ("allow_private_messages_from_visitors", "list-single", "nobody"),
    ]
    for var, ftype, value in fields:
        field = ET.SubElement(x, _D + "field", {"var": var, "type": ftype})
        ET.SubElement(field, _D + "value").text = value
    return x


def _submitted(x: ET.Element, room: Room) -> RoomChanges | None:
    """The changes a submitted form asks for (None: it changes nothing)."""
    changes: dict[str, Any] = {}
    for field in x.findall(_D + "field"):
        var, value = field.get("var", ""), field.findtext(_D + "value")
        if value is None:
            continue
        if var == "muc#roomconfig_roomname" and value and value != room.name:
            changes["name"] = value
        elif var == "muc#roomconfig_roomdesc" and value != room.description:
            changes["description"] = value
        elif var == "muc#roomconfig_maxusers" and value.isdecimal() and int(value) != room.maxusers:
            changes["maxusers"] = int(value)
        elif var in _BOOL_FIELDS and room.kind == "group":
            flag = value in ("1", "true")
            if flag != getattr(room, _BOOL_FIELDS[var]):
                changes[_BOOL_FIELDS[var]] = flag
    return RoomChanges(**changes) if changes else None


async def _owned_room(session: C2SSession, el: ET.Element) -> tuple[RoomServices, Room] | bool | None:
    """The room of a muc#owner IQ when the session's user owns it; None: not addressed to a room
    (not ours to answer); True: refused, and answered with `forbidden`."""
    found = await _room(session, el)
    if found is None:
        return None
    service, room = found
    assert session.user is not None
    if await affiliation(service, session, room.room_id, session.user.username) != OWNER:
        session.reply_error(el, "forbidden", "Only the owner can configure or destroy the room.")
        return True
    return found


async def on_owner_get(session: C2SSession, el: ET.Element) -> bool:
    found = await _owned_room(session, el)
    if not isinstance(found, tuple):
        return found is not None
    room = found[1]
    query = ET.Element(_O + "query")
    query.append(_config_form(room))
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_owner_set(session: C2SSession, el: ET.Element) -> bool:
    found = await _owned_room(session, el)
    if not isinstance(found, tuple):
        return found is not None
    service, room = found
    if refuse_disabled(session, el, room):
        return True
    app, user = session.app, session.user
    assert app is not None and user is not None
    rid = room.room_id
    destroy = el[0].find(_O + "destroy")
    x = el[0].find(_D + "x")
    try:
        if destroy is not None:  # the service's hook tells every member
            await service.rooms.delete(app, rid, actor=user.username, reason=destroy.findtext(_O + "reason") or "")
        elif x is not None and x.get("type") == "submit":
            changes = _submitted(x, room)
            if changes is not None:
                await service.rooms.modify(app, rid, changes)
        elif x is None or x.get("type") != "cancel":
            session.reply_error(el, "bad-request", "Submit the form or destroy the room.")
            return True
    except errors.HximError as exc:
        _refuse(session, el, exc)
        return True
    session.send(iq_result(el, from_=el.get("to")))
    return True


# --- invitations (§7.6) -------------------------------------------------------------------------
async def on_invite(session: C2SSession, el: ET.Element) -> bool:
    x = el.find(_U + "x")
    invites = x.findall(_U + "invite") if x is not None else []
    if not invites:
        return False
    found = await _room(session, el)
    if found is None:
        session.reply_error(el, "item-not-found", "No such room.")
        return True
    service, room = found
    ctx, app, user = session.ctx, session.app, session.user
    assert app is not None and user is not None
    mine = await affiliation(service, session, room.room_id, user.username)
    if mine is None or (mine == MEMBER and not room.allowinvites and room.kind == "group"):
        session.reply_error(el, "forbidden", "You cannot invite to this room.")
        return True
    for invite in invites:
        name = await _user_of(session, invite.get("to"))
        invitee = await ctx.node.users.find(app, name) if name is not None else None
        if invitee is None:
            session.reply_error(el, "item-not-found", "No such user.")
            continue
        payload = {"room": room.room_id, "reason": invite.findtext(_U + "reason") or ""}
        await ctx.node.notices.send(app, invitee, Notice(NoticeKind.ROOM_INVITE, user.username, payload))
    return True


def register(table: Dispatcher) -> None:
    table.register("iq", "get", MUC_ADMIN, on_admin_get)
    table.register("iq", "set", MUC_ADMIN, on_admin_set)
    table.register("iq", "get", MUC_OWNER, on_owner_get)
    table.register("iq", "set", MUC_OWNER, on_owner_set)
    table.register("message", None, None, on_invite, priority=10)  # before 1:1 messages
