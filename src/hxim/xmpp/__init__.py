"""The XMPP protocol core, sans-I/O: bytes in, events and bytes out (ARCHITECTURE.md rule 2).

Modules: `jid` (addresses, Easemob identities), `reader` (secure incremental XML stream
reading, TCP and RFC 7395 WebSocket framing), `sasl` (PLAIN, SCRAM-SHA-1/-256 server side),
`stream` (the client-to-server state machine), `states` (its states and transitions),
`frames` (stream headers, features, errors and closes as bytes), `events` (what the stream reports), `stanza`
(escaping, building, serialising), `messages` (a stored message as the
`<message>` clients receive: live, offline and roamed over REST), `errors` (conditions),
`namespaces`. No sockets, no asyncio, no database here.
"""

from hxim.xmpp.errors import InvalidState, SaslError, StanzaError, StreamError
from hxim.xmpp.jid import JID, InvalidJID
from hxim.xmpp.reader import StreamReader
from hxim.xmpp.states import State
from hxim.xmpp.stream import C2SStream

__all__ = [
    "JID",
    "C2SStream",
    "InvalidJID",
    "InvalidState",
    "SaslError",
    "StanzaError",
    "State",
    "StreamError",
    "StreamReader",
]
