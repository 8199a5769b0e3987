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
* Who sees whose presence is `PresenceService`'s (blocks included: no presence passes between two
  users when either blocks the other, XEP-0191 §3.3); this module turns stanzas into
  `PresenceChanged` events for it, and renders the events it routes (`_render`): the presence's
  children as the sender wrote them, from the sender's full JID as this client writes JIDs.
* The Web IM SDK 1.4.6 (its version notice names a version below 1.4.13) reports every available
  presence without a `<status>` text as `joinPublicGroupSuccess` (webim-xmpp.md §6, §7.10) and
  refreshes its group list; such presences of users are not sent to those sessions (`_misread`).
  Every other client, the 1.8.4 SDK included, gets the RFC 6121 broadcast. Room presences
  (`muc`) are not concerned: there that reading is the intended one.
* Easemob presence (`PresenceStatus`, from `PresenceSubscriptions`: a followed user's status set
  over REST, or one of their sessions come or gone) is rendered as a presence from the device's
  full JID, `unavailable` for status `0`, with the custom text in `<status>` and the status in
  `<x xmlns='urn:hxim:presence' status='…'/>` (`_render_status`).
* Subscriptions (§3): `subscribe` to a user who is not a contact is a friend request, kept until
  it is answered (`ContactService.request`); the requester's resources get a roster push with
  `ask='subscribe'`. It is forwarded to the contact (answered
  `subscribed` at once if they already are contacts). `subscribed` answers a pending request and
  adds the contact pair (a `subscribed` that answers no request is ignored, RFC 6121 §3.1.5);
  `unsubscribed` declines a pending request (the requester's item goes: a `remove` push) or ends
  the friendship; `unsubscribe` withdraws one's own request or ends the friendship. The contact
  service pushes each change to both users' rosters and shows them each other's presence (or its
  end). Subscription presences reach the contact as a `subscription` notice with its `<status/>`
  (the Web IM SDK's request text, `[resp:true]`, `rejectAddFriend`): at once, or, but for
  `unsubscribe`, at their next login (the latest one per sender); a withdrawn request is not
  replayed.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.c2s import muc, notices, roster
from hxim.c2s.session import CLIENT
from hxim.hub import PresenceChanged, PresenceStatus
from hxim.services.notices import NoticeKind
from hxim.services.presence_subscriptions import OFFLINE
from hxim.xmpp import namespaces as ns
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import escape_attr, escape_text, local_name, serialize

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["RENDERERS", "broadcast_unavailable", "register"]

_PRIORITY = CLIENT + "priority"
_STATUS = CLIENT + "status"
_SHOW = CLIENT + "show"
_HXIM_PRESENCE = "urn:hxim:presence"  # the Easemob status of a followed user's device
_BROADCASTS: set[asyncio.Task[None]] = set()  # unavailable broadcasts of ended sessions (kept referenced)


def _event(session: C2SSession, el: ET.Element | None, available: bool, directed: bool = False) -> PresenceChanged:
    """The hub event for a presence of this session's user (None: a bare `unavailable`)."""
    assert session.user is not None
    if el is None:
        return PresenceChanged(session.user.username, session.resource, available, directed=directed)
    xml = "".join(serialize(child).decode() for child in el)
    return PresenceChanged(
        session.user.username,
        session.resource,
        available,
        priority=session.priority,
        show=el.findtext(_SHOW),
        status=el.findtext(_STATUS),
        xml=xml,
        directed=directed,
    )


def _misread(target: C2SSession, available: bool, xml: str) -> bool:
    """Would the 1.4.6 Web IM SDK take this user presence (children `xml`) for
    `joinPublicGroupSuccess`? It does for an available presence whose first `<status>` (at any
    depth) has no text and that has no `<error>` (webim-xmpp.md §6; `connection.js`
    `handlePresence`)."""
    version = target.sdk_version
    if version is None or version >= (1, 4, 13) or not available:
        return False
    status = None
    for child in ET.fromstring(f"<presence xmlns='{ns.CLIENT}'>{xml}</presence>").iter():
        name = local_name(child.tag)
        if name == "error":
            return False
        if name == "status" and status is None:
            status = child
    return status is None or not "".join(status.itertext())


def _send(session: C2SSession, user: str, resource: str, available: bool, xml: str) -> None:
    """A presence from `user`'s full JID as this client writes JIDs, with the children `xml`."""
    if _misread(session, available, xml):
        return
    sender = escape_attr(f"{session.peer_jid(user)}/{resource}")
    kind = "" if available else " type='unavailable'"
    head = f"<presence{session.xmlns_attr} from='{sender}' to='{escape_attr(session.full_jid)}'{kind}"
    session.send(f"{head}>{xml}</presence>".encode() if xml else f"{head}/>".encode())


def _render(session: C2SSession, event: PresenceChanged) -> None:
    """A user's presence, children as their client sent them."""
    _send(session, event.user, event.resource, event.available, event.xml)


def _render_status(session: C2SSession, event: PresenceStatus) -> None:
    """A followed user's Easemob presence (`PresenceSubscriptions`): from the device's full JID,
    `unavailable` when the device is offline (`0`), the custom text in `<status>`, the status
    itself in `<x xmlns='urn:hxim:presence' status='…'/>`."""
    xml = f"<status>{escape_text(event.ext)}</status>" if event.ext else ""
    xml += f"<x xmlns='{_HXIM_PRESENCE}' status='{escape_attr(event.status)}'/>"
    _send(session, event.user, event.resource, event.status != OFFLINE, xml)


RENDERERS = {PresenceChanged: _render, PresenceStatus: _render_status}


def broadcast_unavailable(session: C2SSession, el: ET.Element | None = None) -> None:
    """Tell contacts this resource went away (synchronous: also runs from `close()`)."""
    app, user = session.app, session.user
    if app is None or user is None:
        return
    session.presence = None
    event = _event(session, el, False)
    service = session.ctx.node.presence
    task = asyncio.get_running_loop().create_task(service.broadcast(app, user, event, list(session.contacts or ())))
    _BROADCASTS.add(task)
    task.add_done_callback(_BROADCASTS.discard)


async def on_available(session: C2SSession, el: ET.Element) -> bool:
    if el.get("to") is not None:
        return await on_directed(session, el)
    first = not session.initial_presence_done
    prio = el.findtext(_PRIORITY)
    try:
        session.priority = max(-128, min(127, int(prio))) if prio else 0
    except ValueError:
        session.priority = 0
    contacts = await roster.load(session)
    app, user, service = session.app, session.user, session.ctx.node.presence
    assert app is not None and user is not None
    event = session.presence = _event(session, el, True)
    if first:
        session.hold_deliveries()
    arrived = not session.available
    session._available = True  # the router now counts the user online
    await service.broadcast(app, user, event, contacts, arrived=arrived)
    if first:
        session.initial_presence_done = True
        for current in await service.current(app, user, contacts):  # the probe answer
            _render(session, current)
        from hxim.c2s.messaging import replay_offline

        await replay_offline(session)
        await notices.replay(session)
    return True


async def on_unavailable(session: C2SSession, el: ET.Element) -> bool:
    if el.get("to") is not None:
        return await on_directed(session, el)
    if session.available:
        session._available = False
        app, user = session.app, session.user
        assert app is not None and user is not None
        session.presence = None
        event = _event(session, el, False)
        await session.ctx.node.presence.broadcast(app, user, event, list(session.contacts or ()))
    return True


async def _target(session: C2SSession, el: ET.Element) -> tuple[str, str | None] | None:
    """The user a presence is addressed to (key, resource or None), or None if not a user of this
    app (an error is sent back where RFC 6121 asks for one)."""
    jid = JID.try_parse(el.get("to"))
    if jid is None:
        return None
    peer = await session.ctx.resolve_user(jid)
    if peer is None or session.app is None or peer[0].uuid != session.app.uuid:
        if jid.domain.lower() != session.ctx.muc_key:
            session.reply_error(el, "service-unavailable")
        return None
    return peer[1], jid.resource


async def on_directed(session: C2SSession, el: ET.Element) -> bool:
    jid = JID.try_parse(el.get("to"))
    if jid is not None and jid.domain.lower() == session.ctx.muc_key:
        return await muc.on_presence(session, el)
    found = await _target(session, el)
    if found is not None:
        app, user = session.app, session.user
        assert app is not None and user is not None
        event = _event(session, el, el.get("type") != "unavailable", directed=True)
        await session.ctx.node.presence.directed(app, user, event, found[0], found[1])
    return True


async def on_probe(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is not None and found[0] in await roster.load(session):
        app, user = session.app, session.user
        assert app is not None and user is not None
        for current in await session.ctx.node.presence.current(app, user, [found[0]]):
            if found[1] is None or current.resource == found[1]:
                _render(session, current)
    return True


async def on_subscription(session: C2SSession, el: ET.Element) -> bool:
    found = await _target(session, el)
    if found is None:
        return True
    key = found[0]
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None
    stype = el.get("type") or ""
    contacts = await roster.load(session)
    if stype == "subscribe" and key in contacts:
        # already mutual contacts: answer for the contact (RFC 6121 §3.1.3)
        attrs = {"type": "subscribed", "from": session.peer_jid(key), "to": session.full_jid}
        reply = ET.Element(CLIENT + "presence", attrs)
        session.send(reply)
        return True
    peer = await node.users.find(app, key)
    if peer is None:
        session.reply_error(el, "item-not-found", "No such user.")
        return True
    if key == user.key:
        return True
    status = el.findtext(_STATUS)
    contacts_service = node.contacts
    try:  # the contact service pushes the roster changes, tells the contact and shows presences
        if stype == "subscribe":
            await contacts_service.request(app, user, key, status)
        elif stype == "subscribed":
            if key not in contacts:  # (one that answers no request is ignored, RFC 6121 §3.1.5)
                await contacts_service.accept(app, user, key, status)
        elif key in contacts:  # unsubscribe / unsubscribed between contacts: the friendship ends
            await contacts_service.remove(app, user, key, (stype, status))
        elif stype == "unsubscribed":  # a declined request
            await contacts_service.decline(app, user, peer, status)
        else:  # unsubscribe: a request taken back
            await contacts_service.cancel(app, user, peer, status)
    except errors.HximError as exc:
        session.reply_error(el, exc.condition if exc.condition else "not-allowed")
    return True


@notices.renderer(NoticeKind.SUBSCRIPTION)
def _subscription(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A subscription presence (`subscribe`, `subscribed`, `unsubscribe`, `unsubscribed`)."""
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
