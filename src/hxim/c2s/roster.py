"""The roster (RFC 6121 §2) is the contact list of the REST API (easemob-rest.md §4), plus the
user's own friend requests still unanswered.

Every contact is an item with `subscription='both'` (Easemob friendships are mutual); a request
the user sent (`subscribe`, see `presence`) is an item with `subscription='none'` and
`ask='subscribe'` until it is answered (RFC 6121 §3.1.2, webim-xmpp.md §5.1 "keep `ask` while a
request is pending"). A roster get lists both; a roster set adds the contact (both sides at once)
and a set with `subscription='remove'` removes it, through the same `ContactService` calls as
REST. Every change, REST ones included, comes from the service as a `RosterPush` to every bound
resource of the users concerned, and is pushed to the client (`_pushed`): a friendship to *both*,
a request to the requester (the `ask` item, then `remove` if it is declined or withdrawn; an
accepted one becomes `both`). A deleted user leaves their contacts' rosters the same way.

Each session reads its roster once (`load`, one query, with the initial presence or the first
roster get) and the same pushes keep it current, so a login's roster get and presence broadcast
share that one read (docs/DECISIONS.md).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim import errors
from hxim.hub import RosterPush
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import iq_result

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["NS", "RENDERERS", "load", "push", "register"]

NS = "jabber:iq:roster"
_Q = "{" + NS + "}"
_IQ = "{jabber:client}iq"


def _item(session: C2SSession, username: str, subscription: str, ask: bool = False) -> ET.Element:
    attrs = {"jid": session.peer_jid(username), "subscription": subscription}
    if subscription != "remove":
        attrs["name"] = username
    if ask:
        attrs["ask"] = "subscribe"
    return ET.Element(_Q + "item", attrs)


def push(session: C2SSession, username: str, subscription: str, ask: bool = False) -> None:
    query = ET.Element(_Q + "query")
    query.append(_item(session, username, subscription, ask))
    iq = ET.Element(_IQ, {"type": "set", "id": "push" + secrets.token_hex(6), "to": session.full_jid})
    iq.append(query)
    session.send(iq)


async def load(session: C2SSession) -> dict[str, str]:
    """The session's contacts, read with its pending requests on first use."""
    while session.contacts is None:
        assert session.user is not None
        seen = session.roster_changes
        names, asked = await session.ctx.node.contacts.roster(session.user)
        if session.roster_changes == seen:  # else a change came meanwhile: read again
            session.contacts = {n.lower(): n for n in names}
            session.asked = {n.lower(): n for n in asked}
    return session.contacts


def _pushed(session: C2SSession, event: RosterPush) -> None:
    """A change of the user's contacts or requests, however it was made (the `ContactService`
    tells every bound session): keep the session's roster current and push the item (RFC 6121
    §2.1.6, webim-xmpp.md §5.1)."""
    session.roster_changes += 1
    key = event.contact.lower()
    if session.contacts is not None:
        if event.subscription == "both":
            session.asked.pop(key, None)  # a friendship answers the requests between them
            session.contacts[key] = event.contact
        elif event.subscription == "remove":
            session.asked.pop(key, None)
            session.contacts.pop(key, None)
        elif event.ask:
            session.asked[key] = event.contact
    push(session, event.contact, event.subscription, event.ask)


RENDERERS = {RosterPush: _pushed}


async def on_get(session: C2SSession, el: ET.Element) -> bool:
    if not session.ctx.is_server(JID.try_parse(el.get("to")), session):
        return False
    contacts = await load(session)
    query = ET.Element(_Q + "query")
    query.extend(_item(session, name, "both") for name in contacts.values())
    query.extend(_item(session, name, "none", ask=True) for key, name in session.asked.items() if key not in contacts)
    session.send(iq_result(el, query))
    return True


async def on_set(session: C2SSession, el: ET.Element) -> bool:
    if not session.ctx.is_server(JID.try_parse(el.get("to")), session):
        return False
    items = el[0].findall(_Q + "item")
    if len(items) != 1:
        session.reply_error(el, "bad-request", "A roster set carries exactly one item.")
        return True
    item = items[0]
    jid = JID.try_parse(item.get("jid"))
    peer = await session.ctx.resolve_user(jid) if jid is not None else None
    app, user, node = session.app, session.user, session.ctx.node
    assert app is not None and user is not None
    if peer is None or peer[0].uuid != app.uuid:
        session.reply_error(el, "item-not-found", "No such user.")
        return True
    try:
        if item.get("subscription") == "remove":
            await node.contacts.remove(app, user, peer[1])  # the service's hook pushes the change
        else:
            await node.contacts.add(app, user, peer[1])
        session.send(iq_result(el))
    except errors.HximError as exc:
        session.reply_error(el, exc.condition or "not-acceptable")
    return True


def register(table: Dispatcher) -> None:
    table.register("iq", "get", NS, on_get)
    table.register("iq", "set", NS, on_set)
