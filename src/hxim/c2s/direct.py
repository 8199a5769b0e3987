"""IQs from one client to another's full JID (RFC 6120 §10.5.4, RFC 6121 §8.5.3): routed.

An `<iq>` addressed to `{user}@{domain}/{resource}` of the session's app is not the server's to
answer: it goes to that resource if it is bound (available or not), as a hub `Relay`, whatever its
namespace (disco, version, last activity, in-band bytestreams, Jingle…), and the answer comes back
the same way. A `get` or `set` to a resource that is not bound, or to a user who blocks the sender
(XEP-0191 §3.5), is answered `service-unavailable`; a `result` or `error` is dropped. IQs to a bare
JID, to the domain or to the conference service stay the server's (the dispatch table).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim.hub import Relay
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import serialize

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["register", "relay"]


def relay(session: C2SSession, el: ET.Element, kind: str) -> Relay:
    """`el` as a relay from this session's full JID: its attributes but `from`/`to`, its children."""
    assert session.user is not None
    attrs = tuple((k, v) for k, v in el.attrib.items() if k not in ("from", "to"))
    return Relay(session.user.username, session.resource, kind, attrs, "".join(serialize(c).decode() for c in el))


async def route_iq(session: C2SSession, el: ET.Element) -> bool:
    jid = JID.try_parse(el.get("to"))
    if jid is None or jid.local is None or jid.resource is None:
        return False
    ctx, app, user = session.ctx, session.app, session.user
    assert app is not None and user is not None
    peer = await ctx.resolve_user(jid)
    if peer is None or peer[0].uuid != app.uuid:
        return False  # not a user of this app (a room, another domain): the table answers
    key, resource = peer[1], jid.resource
    asks = el.get("type") in ("get", "set")
    node = ctx.node
    target = next((s.user for s in node.router.sessions(app.uuid, key) if s.resource == resource), None)
    taken = 0
    if target is not None and not (target.id != user.id and await node.blocks.blockers_of(user, [target])):
        taken = node.router.push(app.uuid, key, relay(session, el, "iq"), resource=resource, available=False)
    if not taken and asks:
        session.reply_error(el, "service-unavailable")
    return True


def register(table: Dispatcher) -> None:
    table.register_first("iq", route_iq)
