"""Blocking command (XEP-0191), and the Web IM SDK's XEP-0016 privacy list `special`
(webim-xmpp.md §5b), both over the REST block list (easemob-rest.md §4.5).

`<blocklist/>` lists the blocked users; `<block>` adds items, `<unblock>` removes them (all of
them when it carries no item), through `ContactService.block`/`unblock_many`. The privacy list
`special` is the same list: a get returns it as `deny` items, a set replaces it (an empty list
clears it). Only `special` exists; `active`/`default` are accepted and change nothing.

Every change, REST ones included, comes from the contact service as a `BlockPush` to each bound
session of the user (`_pushed`): a XEP-0191 push (`<block>`/`<unblock>` with the items) goes to
each resource of the user that has asked for its block list (XEP-0191 §3.2 "interested
resources"), the SDK's privacy push (`<list name='special'/>`, §5b) to each Web IM session and
each session that used the privacy list. What a block does to messages and presence (refused
messages, the `unavailable` between contacts of XEP-0191 §3.3) is the services' (`BlockIndex`,
`PresenceService`).
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim import errors
from hxim.c2s.session import CLIENT
from hxim.hub import BlockPush
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import iq_result, local_name

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["NS", "PRIVACY", "RENDERERS", "register"]

NS = "urn:xmpp:blocking"
_B = "{" + NS + "}"
PRIVACY = "jabber:iq:privacy"
_P = "{" + PRIVACY + "}"
SPECIAL = "special"


async def on_get(session: C2SSession, el: ET.Element) -> bool:
    if not session.ctx.is_server(JID.try_parse(el.get("to")), session) or local_name(el[0].tag) != "blocklist":
        return False
    assert session.user is not None
    session.blocklist_wanted = True  # from now on it gets the pushes (XEP-0191 §3.2)
    contacts = session.ctx.node.contacts
    out = ET.Element(_B + "blocklist")
    names = await contacts.blocked_names(session.user)
    out.extend(ET.Element(_B + "item", {"jid": session.peer_jid(n)}) for n in names)
    out.extend(ET.Element(_B + "item", {"jid": j}) for j in await contacts.blocked_jids(session.user))
    session.send(iq_result(el, out))
    return True


async def on_set(session: C2SSession, el: ET.Element) -> bool:
    """Block or unblock items: users of the app go to their block list (the REST one); any other
    address (another server's user, a name not registered here) is kept as written (XEP-0191
    lets a client block any JID)."""
    if not session.ctx.is_server(JID.try_parse(el.get("to")), session):
        return False
    command = local_name(el[0].tag)
    if command not in ("block", "unblock"):
        return False
    ctx, app, user = session.ctx, session.app, session.user
    assert app is not None and user is not None
    names: list[str] = []
    jids: list[str] = []
    for item in el[0].findall(_B + "item"):
        jid = JID.try_parse(item.get("jid"))
        if jid is None:
            session.reply_error(el, "jid-malformed", "An item's jid is not a JID.")
            return True
        peer = await ctx.resolve_user(jid) if jid.resource is None else None
        if peer is not None and peer[0].uuid == app.uuid and await ctx.node.users.find(app, peer[1]) is not None:
            names.append(peer[1])
        else:
            jids.append(str(jid))
    contacts = ctx.node.contacts
    try:  # the service tells every session of the user (`_pushed`)
        if command == "block":
            if not names and not jids:
                session.reply_error(el, "bad-request", "Name at least one address to block.")
                return True
            if names:
                await contacts.block(app, user, names)
            if jids:
                await contacts.block_jids(app, user, jids)
        elif names or jids:
            if names:
                await contacts.unblock_many(app, user, names)
            if jids:
                await contacts.unblock_jids(app, user, jids)
        else:  # no item: everything
            await contacts.unblock_many(app, user, await contacts.blocked_names(user))
            await contacts.unblock_jids(app, user, None)
    except errors.HximError as exc:
        session.reply_error(el, exc.condition or "not-acceptable")
        return True
    session.send(iq_result(el))
    return True


def _push_iq(s: C2SSession, payload: ET.Element) -> None:
    iq = ET.Element(CLIENT + "iq", {"type": "set", "id": "push" + secrets.token_hex(6), "to": s.full_jid})
    iq.append(payload)
    s.send(iq)


def _pushed(session: C2SSession, event: BlockPush) -> None:
    """The user's block list changed, however it was changed (the `ContactService` tells every
    bound session). One loop turn later, so that the IQ result of a change made over XMPP goes out
    before its pushes (XEP-0191 §3.3)."""
    asyncio.get_running_loop().call_soon(_push_change, session, event)


def _push_change(s: C2SSession, event: BlockPush) -> None:
    if s.blocklist_wanted:
        payload = ET.Element(_B + ("block" if event.blocked else "unblock"))
        payload.extend(ET.Element(_B + "item", {"jid": s.peer_jid(name)}) for name in event.users)
        payload.extend(ET.Element(_B + "item", {"jid": jid}) for jid in event.jids)
        _push_iq(s, payload)
    if event.users and (s.json_bodies or s.privacy_wanted):  # the SDK fetches the list again (§5b)
        query = ET.Element(_P + "query")
        ET.SubElement(query, _P + "list", {"name": SPECIAL})
        _push_iq(s, query)


RENDERERS = {BlockPush: _pushed}


async def on_privacy_get(session: C2SSession, el: ET.Element) -> bool:
    if not session.ctx.is_server(JID.try_parse(el.get("to")), session):
        return False
    assert session.user is not None
    session.privacy_wanted = True
    lists = el[0].findall(_P + "list")
    query = ET.Element(_P + "query")
    if not lists:
        ET.SubElement(query, _P + "active", {"name": SPECIAL})
        ET.SubElement(query, _P + "default", {"name": SPECIAL})
        ET.SubElement(query, _P + "list", {"name": SPECIAL})
    elif len(lists) == 1 and lists[0].get("name") == SPECIAL:
        out = ET.SubElement(query, _P + "list", {"name": SPECIAL})
        names = await session.ctx.node.contacts.blocked_names(session.user)
        for order, name in enumerate(names, start=2):
            attrs = {"action": "deny", "order": str(order), "type": "jid", "value": session.peer_jid(name)}
            item = ET.SubElement(out, _P + "item", attrs)
            ET.SubElement(item, _P + "message")
    else:
        session.reply_error(el, "item-not-found", "Only the list 'special' exists.")
        return True
    session.send(iq_result(el, query))
    return True


async def on_privacy_set(session: C2SSession, el: ET.Element) -> bool:
    ctx, app, user = session.ctx, session.app, session.user
    if not ctx.is_server(JID.try_parse(el.get("to")), session):
        return False
    assert app is not None and user is not None
    session.privacy_wanted = True
    lists = el[0].findall(_P + "list")
    if not lists:  # <active/> or <default/>: 'special' always is both
        session.send(iq_result(el))
        return True
    if len(lists) != 1 or lists[0].get("name") != SPECIAL:
        session.reply_error(el, "feature-not-implemented", "Only the list 'special' is kept.")
        return True
    wanted: dict[str, None] = {}
    for item in lists[0].findall(_P + "item"):
        if item.get("action") != "deny" or item.get("type") != "jid":
            continue
        jid = JID.try_parse(item.get("value"))
        peer = await ctx.resolve_user(jid) if jid is not None else None
        if peer is None or peer[0].uuid != app.uuid:
            session.reply_error(el, "item-not-found", "No such user.")
            return True
        wanted[peer[1]] = None
    contacts = ctx.node.contacts
    current = {n.lower() for n in await contacts.blocked_names(user)}
    try:  # the service tells every session of the user (`_pushed`)
        added = [n for n in wanted if n not in current]
        if added:
            await contacts.block(app, user, added)
        removed = [n for n in current if n not in wanted]
        if removed:
            await contacts.unblock_many(app, user, removed)
    except errors.HximError as exc:
        session.reply_error(el, exc.condition or "not-acceptable")
        return True
    session.send(iq_result(el))
    return True


def register(table: Dispatcher) -> None:
    table.register("iq", "get", NS, on_get)
    table.register("iq", "set", NS, on_set)
    table.register("iq", "get", PRIVACY, on_privacy_get)
    table.register("iq", "set", PRIVACY, on_privacy_set)
