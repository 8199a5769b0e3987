"""The states of a client-to-server stream and the moves between them (RFC 6120 §4–§7)."""

from __future__ import annotations

from enum import Enum
from typing import Final

__all__ = ["TRANSITIONS", "State"]


class State(Enum):
    AWAIT_OPEN = "await-open"  # waiting for the client's stream header (first, or after a restart)
    NEGOTIATING = "negotiating"  # pre-authentication features sent: STARTTLS or SASL expected
    TLS_PENDING = "tls-pending"  # <proceed/> sent: the transport runs the TLS handshake
    AUTHENTICATING = "authenticating"  # a SASL exchange is under way
    BINDING = "binding"  # authenticated, restarted: the bind IQ expected
    ESTABLISHED = "established"  # resource bound: stanzas flow
    CLOSED = "closed"  # over; the transport writes what is left and closes the connection


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.AWAIT_OPEN: frozenset({State.NEGOTIATING, State.BINDING, State.CLOSED}),
    State.NEGOTIATING: frozenset({State.TLS_PENDING, State.AUTHENTICATING, State.CLOSED}),
    State.TLS_PENDING: frozenset({State.AWAIT_OPEN, State.CLOSED}),
    State.AUTHENTICATING: frozenset({State.NEGOTIATING, State.AWAIT_OPEN, State.CLOSED}),
    State.BINDING: frozenset({State.ESTABLISHED, State.CLOSED}),
    State.ESTABLISHED: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
