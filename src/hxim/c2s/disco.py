"""Service discovery (XEP-0030) of the server and its room service, software version (XEP-0092)
and ping (XEP-0199). Replies put the request's `to` verbatim in `from` (webim-xmpp.md §3.4); the
Web IM SDK's unsolicited version result (§3.5; its version is noted) and every other IQ result
are consumed silently.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from hxim import __version__
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import iq_result

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["FEATURES", "register"]

INFO = "http://jabber.org/protocol/disco#info"
ITEMS = "http://jabber.org/protocol/disco#items"
VERSION = "jabber:iq:version"
PING = "urn:xmpp:ping"
FEATURES = (
    INFO,
    ITEMS,
    PING,
    VERSION,
    "jabber:iq:roster",
    "urn:xmpp:blocking",
    "jabber:iq:privacy",
    "urn:xmpp:receipts",
    "urn:xmpp:delay",
)


def _target(session: C2SSession, el: ET.Element) -> str | None:
    """ "server", "muc", or None when the IQ is addressed elsewhere."""
    jid = JID.try_parse(el.get("to"))
    ctx = session.ctx
    if ctx.is_server(jid, session):
        return "server"
    if jid is not None and jid.local is None and jid.resource is None and jid.domain.lower() == ctx.muc_key:
        return "muc"
    return None


async def on_info(session: C2SSession, el: ET.Element) -> bool:
    target = _target(session, el)
    if target is None or el[0].get("node"):
        return False
    query = ET.Element("{" + INFO + "}query")
    if target == "server":
        ET.SubElement(query, "{" + INFO + "}identity", {"category": "server", "type": "im", "name": "hxim"})
        for feature in FEATURES:
            ET.SubElement(query, "{" + INFO + "}feature", {"var": feature})
    else:
        ET.SubElement(query, "{" + INFO + "}identity", {"category": "conference", "type": "text", "name": "Rooms"})
        for feature in (INFO, ITEMS, "http://jabber.org/protocol/muc"):
            ET.SubElement(query, "{" + INFO + "}feature", {"var": feature})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_items(session: C2SSession, el: ET.Element) -> bool:
    target = _target(session, el)
    if target is None or el[0].get("node"):
        return False
    query = ET.Element("{" + ITEMS + "}query")
    if target == "server":
        ET.SubElement(query, "{" + ITEMS + "}item", {"jid": session.ctx.muc_domain, "name": "Rooms"})
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_version(session: C2SSession, el: ET.Element) -> bool:
    if _target(session, el) != "server":
        return False
    query = ET.Element("{" + VERSION + "}query")
    ET.SubElement(query, "{" + VERSION + "}name").text = "hxim"
    ET.SubElement(query, "{" + VERSION + "}version").text = __version__
    session.send(iq_result(el, query, from_=el.get("to")))
    return True


async def on_ping(session: C2SSession, el: ET.Element) -> bool:
    if _target(session, el) is None:
        return False
    session.send(iq_result(el, from_=el.get("to")))
    return True


async def _consume(session: C2SSession, el: ET.Element) -> bool:
    return True


async def on_version_notice(session: C2SSession, el: ET.Element) -> bool:
    """The Web IM SDK's unsolicited version result (§3.5): no answer; its version is kept, since
    the 1.4.6 SDK (`1.4.2`) breaks on error messages that carry a JSON body (§4.11, §4.12)."""
    if el[0].findtext("{" + VERSION + "}name") == "easemob":
        parts = (el[0].findtext("{" + VERSION + "}version") or "").split(".")
        if all(p.isdecimal() for p in parts):
            session.sdk_version = tuple(int(p) for p in parts)
    return True


def register(table: Dispatcher) -> None:
    table.register("iq", "get", INFO, on_info)
    table.register("iq", "get", ITEMS, on_items)
    table.register("iq", "get", VERSION, on_version)
    table.register("iq", "get", PING, on_ping)
    table.register("iq", "result", VERSION, on_version_notice)
    table.register("iq", "result", None, _consume)
    table.register("iq", "error", None, _consume)
