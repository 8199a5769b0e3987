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
* `subscribe` is forwarded to the contact (answered `subscribed` at once if they already are
  contacts); `subscribed` adds the contact pair through the contact service; `unsubscribe` and
  `unsubscribed` remove it. Each change is pushed to both users' rosters (`roster.push`). A
  `subscribe`, `subscribed` or `unsubscribed` for a contact with no available resource is kept
  with its `<status/>` (the Web IM SDK's request text, `[resp:true]`, `rejectAddFriend`) and
  replayed at their next login (`notices`), the latest one per sender.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.c2s import muc, notices
from hxim.c2s.session import CLIENT, copy_to
from hxim.xmpp.jid import JID

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["broadcast_unavailable", "register"]

_PRIORITY = CLIENT + "priority"
_STATUS = CLIENT + "status"


def _presence(type: str | None = None) -> ET.Element:
    return ET.Element(CLIENT + "presence", {"type": type} if type else {})


async def _contacts(session: C2SSession) -> set[str]:
    if session.contacts is None:
        assert session.user is not None
        names = await session.ctx.node.contacts.names(session.user)
        session.contacts = {n.lower() for n in names}
    return session.contacts


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
    session.contacts = None  # reload: the list may have changed since (hooks keep it fresh, this is cheap)
    contacts = await _contacts(session)
    if first:
        session.hold_deliveries()
    session._available = True  # the registry now counts the user online
    for target in _audience(session):
        target.send(copy_to(el, session, target))
    if first:
        session.initial_presence_done = True
        # the probe answer: the current presence of each available contact resource
        app = session.app
        assert app is not None
        for key in sorted(contacts):
            for other in session.ctx.available(app, key):
                if other.presence is not None:
                    session.send(copy_to(other.presence, other, session))
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
                target.send(copy_to(el, session, target))
    return True


async def on_probe(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is not None and found[0] in await _contacts(session):
        for other in found[1]:
            if other.available and other.presence is not None:
                session.send(copy_to(other.presence, other, session))
    return True


async def on_subscription(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is None:
        return True
    key, sessions = found
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None
    stype = el.get("type")
    contacts = await _contacts(session)
    if stype == "subscribe" and key in contacts:
        # already mutual contacts: answer for the contact (RFC 6121 §3.1.3)
        attrs = {"type": "subscribed", "from": session.peer_jid(key), "to": session.full_jid}
        reply = ET.Element(CLIENT + "presence", attrs)
        session.send(reply)
        return True
    if stype in ("subscribed", "unsubscribe", "unsubscribed") and key != user.key:
        try:
            # the contact service's hook pushes the roster change to both users (roster.changed)
            if stype == "subscribed":
                if key not in contacts:
                    await node.contacts.add(app, user, key)
            elif key in contacts:
                await node.contacts.remove(app, user, key)
        except errors.HximError as exc:
            session.reply_error(el, exc.condition if exc.condition else "not-allowed")
            return True
    if any(target.available for target in sessions):
        for target in sessions:
            if target.available:
                target.send(copy_to(el, session, target))
    elif stype != "unsubscribe":  # kept for the contact's next login, <status/> intact (§5.1)
        peer = await node.users.find(app, key)
        if peer is not None:
            payload = {"type": stype, "status": el.findtext(_STATUS)}
            await notices.deliver(session.ctx, app, peer, "subscription", user.username, payload, replace=True)
    if stype == "subscribed":  # the new contacts see each other's presence
        for target in sessions:
            if target.available and target.presence is not None:
                session.send(copy_to(target.presence, target, session))
                if session.presence is not None and session.available:
                    target.send(copy_to(session.presence, session, target))
    elif stype in ("unsubscribe", "unsubscribed"):
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
