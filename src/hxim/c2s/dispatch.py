"""The stanza dispatch table: handlers keyed by (kind, type, payload namespace), with priorities.

Feature modules register what they own (`roster.register(table)` …). For a stanza the table
tries the most specific key first: (kind, type, namespace), then (kind, type, None), then
(kind, None, None). Within a key handlers run from the highest priority down, so policy (blocks,
limits) can run before delivery; a handler that returns True ends the stanza's handling.
The namespace of an IQ is its payload child's; messages and presences are keyed by type
(a presence without a type is `available`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hxim.xmpp.stanza import namespace_of

if TYPE_CHECKING:
    from hxim.c2s.session import C2SSession

__all__ = ["Dispatcher", "Handler", "payload_namespace"]

Handler = Callable[["C2SSession", ET.Element], Awaitable[bool | None]]
Key = tuple[str, str | None, str | None]


def payload_namespace(kind: str, el: ET.Element) -> str | None:
    if kind == "iq" and len(el):
        return namespace_of(el[0].tag)
    return None


class Dispatcher:
    def __init__(self) -> None:
        self._table: dict[Key, list[tuple[int, Handler]]] = {}
        self._handlers: dict[Key, list[Handler]] = {}  # the same, highest priority first, without priorities
        self._first: dict[str, list[Handler]] = {}  # by kind: run before the table (routing to other clients)

    def register_first(self, kind: str, handler: Handler) -> None:
        """A handler that sees every stanza of `kind` before the table does (a stanza it takes
        is not the server's to answer: it is routed to another client)."""
        self._first.setdefault(kind, []).append(handler)

    def register(self, kind: str, type: str | None, ns: str | None, handler: Handler, priority: int = 0) -> None:
        key = (kind, type, ns)
        entries = self._table.setdefault(key, [])
        entries.append((priority, handler))
        entries.sort(key=lambda e: -e[0])
        self._handlers[key] = [h for _, h in entries]

    def handlers(self, kind: str, type: str | None, ns: str | None) -> list[Handler]:
        table = self._handlers
        if ns is not None:
            found = table.get((kind, type, ns))
            if found:
                return found
        return table.get((kind, type, None)) or table.get((kind, None, None)) or []

    async def dispatch(self, session: C2SSession, kind: str, el: ET.Element) -> bool:
        """Run the handlers of a stanza; False when no handler took it."""
        for first in self._first.get(kind, ()):
            if await first(session, el):
                return True
        stype = el.get("type")
        if kind == "presence" and stype is None:
            stype = "available"
        for handler in self.handlers(kind, stype, payload_namespace(kind, el)):
            if await handler(session, el):
                return True
        return False
