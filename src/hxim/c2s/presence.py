"""Presence (RFC 6121 §4): availability, broadcast to contacts, probes, directed presence, and
the subscription presences that add and remove contacts (§3, mutual as Easemob friendships are).

* The initial available presence makes the session available: the hub's registry then counts
  the user online (REST `status`), contacts' available resources get the presence, the client
  gets its contacts' current presences (the probe answer), and the offline messages are replayed
  (`messaging.replay_offline`). Later available presences are broadcast; `unavailable` (or the
  end of the session) broadcasts `unavailable`.
* Several resources: each keeps its own priority and last presence; all available resources of a
  user receive messages (docs/routing.md).
* Directed presence to a user is delivered to that user's available resources.
* Blocks (XEP-0191 §3.3): no presence passes between two users when either blocks the other; each
  available session keeps the keys its user blocks (`session.blocked`, loaded with the initial
  presence, kept fresh by `blocking.changed`), so this costs no query per presence.
* The Web IM SDK 1.4.6 (its version notice names a version below 1.4.13) reports every available
  presence without a `<status>` text as `joinPublicGroupSuccess` (webim-xmpp.md §6, §7.10) and
  refreshes its group list; such presences of users are not sent to those sessions (`_misread`).
  Every other client, the 1.8.4 SDK included, gets the RFC 6121 broadcast. Room presences
  (`muc`) are not concerned: there that reading is the intended one.
* Subscriptions (§3): `subscribe` to a user who is not a contact is a friend request, kept until
  it is answered (`ContactService.request`); the requester's resources get a roster push with
  `ask='subscribe'` (`roster.request_changed`). It is forwarded to the contact (answered
  `subscribed` at once if they already are contacts). `subscribed` answers a pending request and
  adds the contact pair (a `subscribed` that answers no request is ignored, RFC 6121 §3.1.5);
  `unsubscribed` declines a pending request (the requester's item goes: a `remove` push) or ends
  the friendship; `unsubscribe` withdraws one's own request or ends the friendship. Each change is
  pushed to both users' rosters through the contact service's hooks. A `subscribe`, `subscribed`
  or `unsubscribed` for a contact with no available resource is kept with its `<status/>` (the Web
  IM SDK's request text, `[resp:true]`, `rejectAddFriend`) and replayed at their next login
  (`notices`), the latest one per sender; a withdrawn request is not replayed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.c2s import muc, notices, roster
from hxim.c2s.session import CLIENT, copy_to
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import local_name

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["broadcast_unavailable", "register", "send_presence"]

_PRIORITY = CLIENT + "priority"
_STATUS = CLIENT + "status"


def _allowed(sender: C2SSession, target: C2SSession) -> bool:
    """No presence passes between two users when either blocks the other (XEP-0191 §3.3)."""
    theirs, mine = target.blocked, sender.blocked
    return not ((theirs and sender.user_key in theirs) or (mine and target.user_key in mine))


def _misread(target: C2SSession, el: ET.Element) -> bool:
    """Would the 1.4.6 Web IM SDK take this user presence for `joinPublicGroupSuccess`? It does
    for an available presence whose first `<status>` (at any depth) has no text and that has no
    `<error>` (webim-xmpp.md §6; `connection.js` `handlePresence`)."""
    version = target.sdk_version
    if version is None or version >= (1, 4, 13) or el.get("type") is not None:
        return False
    status = None
    for child in el.iter():
        name = local_name(child.tag)
        if name == "error":
            return False
        if name == "status" and status is None:
            status = child
    return status is None or not "".join(status.itertext())


def send_presence(sender: C2SSession, target: C2SSession, el: ET.Element) -> None:
    """`el`, a presence of `sender`'s user, to `target` unless a block or the 1.4.6 SDK's
    misreading stands in the way."""
    if _allowed(sender, target) and not _misread(target, el):
        target.send(copy_to(el, sender, target))


def _presence(type: str | None = None) -> ET.Element:
    return ET.Element(CLIENT + "presence", {"type": type} if type else {})


def _audience(session: C2SSession) -> list[C2SSession]:
    """Available resources of the contacts, and the user's own other available resources."""
    app = session.app
    assert app is not None and session.user is not None
    out: list[C2SSession] = []
    for key in sorted(session.contacts or ()):
        out.extend(session.ctx.available(app, key))
    out.extend(s for s in session.ctx.available(app, session.user.key) if s is not session)
    return out


def broadcast_unavailable(session: C2SSession, el: ET.Element | None = None) -> None:
    """Tell contacts this resource went away (synchronous: also runs from `close()`)."""
    if session.app is None or session.user is None:
        return
    stanza = el if el is not None else _presence("unavailable")
    for target in _audience(session):
        if _allowed(session, target):
            target.send(copy_to(stanza, session, target, type="unavailable"))


async def on_available(session: C2SSession, el: ET.Element) -> bool:
    if el.get("to") is not None:
        return await on_directed(session, el)
    first = not session.initial_presence_done
    prio = el.findtext(_PRIORITY)
    try:
        session.priority = max(-128, min(127, int(prio))) if prio else 0
    except ValueError:
        session.priority = 0
    session.presence = el
    contacts = await roster.load(session)
    if session.blocked is None:  # then kept fresh by `blocking.changed`
        assert session.user is not None
        session.blocked = set()
        session.blocked |= await session.ctx.node.contacts.blocked_keys(session.user)
    if first:
        session.hold_deliveries()
    session._available = True  # the registry now counts the user online
    for target in _audience(session):
        send_presence(session, target, el)
    if first:
        session.initial_presence_done = True
        # the probe answer: the current presence of each available contact resource
        app = session.app
        assert app is not None
        for key in sorted(contacts):
            for other in session.ctx.available(app, key):
                if other.presence is not None:
                    send_presence(other, session, other.presence)
        from hxim.c2s.messaging import replay_offline

        await replay_offline(session)
        await notices.replay(session)
    return True


async def on_unavailable(session: C2SSession, el: ET.Element) -> bool:
    if el.get("to") is not None:
        return await on_directed(session, el)
    if session.available:
        session._available = False
        broadcast_unavailable(session, el)
    return True


async def _target(session: C2SSession, el: ET.Element) -> tuple[str, list[C2SSession]] | None:
    """The user a presence is addressed to (key) and their sessions, or None if not a user of
    this app (an error is sent back where RFC 6121 asks for one)."""
    jid = JID.try_parse(el.get("to"))
    if jid is None:
        return None
    peer = await session.ctx.resolve_user(jid)
    if peer is None or session.app is None or peer[0].uuid != session.app.uuid:
        if jid.domain.lower() != session.ctx.muc_key:
            session.reply_error(el, "service-unavailable")
        return None
    sessions = session.ctx.sessions(peer[0], peer[1])
    if jid.resource is not None:
        sessions = [s for s in sessions if s.resource == jid.resource]
    return peer[1], sessions


async def on_directed(session: C2SSession, el: ET.Element) -> bool:
    jid = JID.try_parse(el.get("to"))
    if jid is not None and jid.domain.lower() == session.ctx.muc_key:
        return await muc.on_presence(session, el)
    found = await _target(session, el)
    if found is not None:
        for target in found[1]:
            if target.available:
                send_presence(session, target, el)
    return True


async def on_probe(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is not None and found[0] in await roster.load(session):
        for other in found[1]:
            if other.available and other.presence is not None:
                send_presence(other, session, other.presence)
    return True


async def on_subscription(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is None:
        return True
    key, sessions = found
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None
    stype = el.get("type")
    contacts = await roster.load(session)
    if stype == "subscribe" and key in contacts:
        # already mutual contacts: answer for the contact (RFC 6121 §3.1.3)
        attrs = {"type": "subscribed", "from": session.peer_jid(key), "to": session.full_jid}
        reply = ET.Element(CLIENT + "presence", attrs)
        session.send(reply)
        return True
    was_contact = key in contacts  # (the hooks update `contacts` as the pair changes)
    peer = await node.users.find(app, key)
    if peer is None:
        session.reply_error(el, "item-not-found", "No such user.")
        return True
    if key != user.key:
        if await node.contacts.blockers_of(user, [peer]):
            return True  # the addressee blocks the sender: dropped (XEP-0191 §3.3)
        try:  # the contact service's hooks push the roster changes (roster.changed, request_changed)
            if stype == "subscribe":
                await node.contacts.request(app, user, key)
            elif stype == "subscribed":
                if key not in contacts and await node.contacts.accept(app, user, key) is None:
                    return True  # answers no request: ignored (RFC 6121 §3.1.5)
            elif was_contact:  # unsubscribe / unsubscribed between contacts: the friendship ends
                await node.contacts.remove(app, user, key)
            elif stype == "unsubscribed":  # a declined request
                await node.contacts.withdraw(app, peer, user)
            elif await node.contacts.withdraw(app, user, peer) and not any(t.available for t in sessions):
                await node.notices.forget(peer, "subscription", user.username)  # withdrawn: not replayed
        except errors.HximError as exc:
            session.reply_error(el, exc.condition if exc.condition else "not-allowed")
            return True
    if any(target.available for target in sessions):
        for target in sessions:
            if target.available:
                target.send(copy_to(el, session, target))
    elif stype != "unsubscribe":  # kept for the contact's next login, <status/> intact (§5.1)
        payload = {"type": stype, "status": el.findtext(_STATUS)}
        await notices.deliver(session.ctx, app, peer, "subscription", user.username, payload, replace=True)
    if stype == "subscribed":  # the new contacts see each other's presence
        for target in sessions:
            if target.available and target.presence is not None:
                send_presence(target, session, target.presence)
                if session.presence is not None and session.available:
                    send_presence(session, target, session.presence)
    elif stype in ("unsubscribe", "unsubscribed") and was_contact:
        for target in sessions:
            if target.available:
                session.send(copy_to(_presence("unavailable"), target, session))
    return True


@notices.renderer("subscription")
def _subscription(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A subscription presence kept while its addressee was offline."""
    attrs = {"type": payload["type"], "from": session.peer_jid(sender), "to": session.full_jid}
    el = ET.Element(CLIENT + "presence", attrs)
    if payload.get("status") is not None:
        ET.SubElement(el, _STATUS).text = payload["status"]
    return el


async def _ignore(session: C2SSession, el: ET.Element) -> bool:
    return True


def register(table: Dispatcher) -> None:
    table.register("presence", "available", None, on_available)
    table.register("presence", "unavailable", None, on_unavailable)
    table.register("presence", "probe", None, on_probe)
    for stype in ("subscribe", "subscribed", "unsubscribe", "unsubscribed"):
        table.register("presence", stype, None, on_subscription)
    table.register("presence", "error", None, _ignore)
