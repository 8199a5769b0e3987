"""What every client session of a node shares: settings, services, the dispatch table, addressing.

`C2S` is built once per node (`Node.c2s`). It knows the XMPP domain, turns JID nodes into
(app, username) pairs (Easemob's `{org}#{app}_{username}`, or a bare `{username}` for the
default app, webim-xmpp.md §1.3), finds the live client sessions of a user, and keeps the small
map that lets XEP-0184 receipts pass through although recipients see the server's message id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hxim.c2s import notices
from hxim.c2s.dispatch import Dispatcher
from hxim.c2s.session import C2SSession
from hxim.hub import Kick, Notice
from hxim.model import App
from hxim.xmpp.jid import JID, muc_domain

if TYPE_CHECKING:
    from hxim.app import Node

__all__ = ["C2S", "Peer", "ReceiptMap"]

log = logging.getLogger("hxim.c2s")

Peer = tuple[App, str]  # the app and the (lower-cased) username a JID names


class ReceiptMap:
    """Recent messages whose sender asked for a XEP-0184 receipt: server id → the sender's own
    stanza id. Recipients see the server id (webim-xmpp.md §4.4), so a `<received id=…/>` coming
    back is translated to the id the sender knows. Bounded; forgotten on restart."""

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self._ids: OrderedDict[int, str] = OrderedDict()

    def remember(self, msg_id: int, client_id: str) -> None:
        self._ids[msg_id] = client_id
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def wants(self, msg_id: int) -> bool:
        return msg_id in self._ids

    def client_id(self, server_id: str) -> str | None:
        return self._ids.get(int(server_id)) if server_id.isdecimal() else None


def _kick(session: C2SSession, event: Kick) -> None:
    session.close(event.reason, event.text)


class C2S:
    def __init__(self, node: Node) -> None:
        from hxim.c2s import (
            blocking,
            direct,
            disco,
            messaging,
            muc,
            muc_admin,
            presence,
            reactions,
            recall,
            room_news,  # noqa: F401  (renders room notices: importing registers them)
            roster,
            thread_news,  # noqa: F401  (renders thread notices)
        )

        self.node = node
        self.settings = node.settings
        self.domain = node.settings.xmpp_domain
        self.domain_key = self.domain.lower().rstrip(".")
        self.muc_domain = muc_domain(self.domain)
        self.muc_key = self.muc_domain.lower()
        self.receipts = ReceiptMap()
        self.dispatch = Dispatcher()
        # how each hub event becomes stanzas for one session (`C2SSession.push`)
        self.renderers: dict[type, Callable[[C2SSession, Any], None]] = {Notice: notices.render, Kick: _kick}
        for module in (roster, presence, messaging, muc, muc_admin, recall, reactions, blocking, disco, direct):
            module.register(self.dispatch)
        for module in (roster, presence, messaging, blocking):
            self.renderers.update(module.RENDERERS)
        self.tcp_server: object | None = None
        self.open_sessions: set[C2SSession] = set()

    # --- identities -------------------------------------------------------------------------------
    async def resolve_node(self, node: str) -> tuple[App, str, str | None] | None:
        """(app, username, appkey prefix or None) for a JID node or SASL username: the longest
        known appkey before an `_` wins (the rule of `hxim.xmpp.jid.split_node`, with the app
        lookup asynchronous); a node without `#` is a user of the default app."""
        apps = self.node.apps
        hash_at = node.find("#")
        if hash_at < 0:
            default = self.node.default_app
            if default is None or not node:
                return None
            app = apps.cached(default.org, default.name) or await apps.find(default.org, default.name)
            return (app, node.lower(), None) if app is not None else None
        if hash_at == 0 or node.find("#", hash_at + 1) >= 0:
            return None
        cut = len(node)
        while True:
            cut = node.rfind("_", hash_at + 2, cut)
            if cut < 0:
                return None
            if cut < len(node) - 1:
                org, _, name = node[:cut].partition("#")
                app = apps.cached(org, name) or await apps.find(org, name)
                if app is not None:
                    return app, node[cut + 1 :].lower(), node[:cut]

    async def resolve_user(self, jid: JID) -> Peer | None:
        """The user a JID on our domain names, or None."""
        if jid.local is None or jid.domain.lower() != self.domain_key:
            return None
        found = await self.resolve_node(jid.local)
        return (found[0], found[1]) if found is not None else None

    def is_server(self, jid: JID | None, session: C2SSession) -> bool:
        """Addressed to the server on the client's behalf: no `to`, the domain, or the client's own bare JID."""
        if jid is None:
            return True
        if jid.local is None:
            return jid.domain.lower() == self.domain_key and jid.resource is None
        return jid.resource is None and session.jid is not None and jid == session.jid.bare

    # --- sessions ---------------------------------------------------------------------------------
    def sessions(self, app: App, key: str) -> list[C2SSession]:
        """The user's XMPP sessions on this node (bound or not)."""
        found = self.node.router.resources(app.uuid, key, available=False)
        return [s for s in found if isinstance(s, C2SSession)]

    def available(self, app: App, key: str) -> list[C2SSession]:
        return [s for s in self.sessions(app, key) if s.available]

    def live(self) -> list[C2SSession]:
        """Every open client session of this node (bound or not)."""
        return list(self.open_sessions)

    async def end_all(self, condition: str) -> None:
        """End every open session, then wait (at most `xmpp_shutdown_seconds`) until each has
        sent its last bytes. TCP streams end with the stream error `condition`; WebSocket ones
        with a bare `<close/>`: the Web IM SDK takes any stream error on an open connection for
        a kick and does not reconnect, while after `<close/>` it does (webim-xmpp.md §3.7-3.8)."""
        sessions = self.live()
        for session in sessions:
            session.close(None if session.framing == "websocket" else condition)
        if sessions:
            within = self.settings.xmpp_shutdown_seconds
            await asyncio.gather(*(s.transport.sent(within) for s in sessions), return_exceptions=True)
