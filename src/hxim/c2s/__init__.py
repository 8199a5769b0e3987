"""XMPP clients: the asyncio TCP listener and the WebSocket endpoint, one session
class for both (`session`), the dispatch table (`dispatch`) and one module per feature:
`roster`, `presence`, `messaging`, `blocking`, `disco`. The protocol itself lives in the
sans-I/O `hxim.xmpp`; the rules live in the services. docs/routing.md has the routing table.
"""

from hxim.c2s.context import C2S

__all__ = ["C2S"]
