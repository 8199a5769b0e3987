"""Events the client-to-server stream (`hxim.xmpp.stream.C2SStream`) hands to its driver.

Frozen dataclasses, read with `stream.events_received()`. Some of them ask the driver for a
decision, named in each docstring; until it calls that method the stream queues what the client
sends next (RFC 6120 has the client wait for the answer anyway).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

from hxim.xmpp.jid import JID

__all__ = [
    "AuthFailed",
    "AuthRequested",
    "Authenticated",
    "BindRequested",
    "Bound",
    "CredentialsRequested",
    "Event",
    "NonzaReceived",
    "StanzaKind",
    "StanzaReceived",
    "StartTLS",
    "StreamClosed",
    "StreamOpened",
]

StanzaKind = Literal["message", "presence", "iq"]


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """The client opened a stream (its header was valid and ours is queued). `restart` is True
    for the streams opened after STARTTLS or SASL."""

    domain: str
    stream_id: str
    lang: str | None
    restart: bool


@dataclass(frozen=True, slots=True)
class StartTLS:
    """`<proceed/>` is queued: write it, run the TLS server handshake on the connection, then call
    `stream.tls_established()`. Plain-text bytes received meanwhile must not be fed."""


@dataclass(frozen=True, slots=True)
class AuthRequested:
    """SASL PLAIN: check `password` for `username` (an access token if it starts with `$t$`) and
    `authzid` (None, or the identity to act as; the Web IM SDK sends its bare JID), then call
    `stream.accept(jid)` with the bare JID of the account, or `stream.reject(condition)`."""

    mechanism: str
    authzid: str | None
    username: str
    password: str

    def __repr__(self) -> str:
        return f"AuthRequested({self.mechanism!r}, authzid={self.authzid!r}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class CredentialsRequested:
    """SASL SCRAM: look the stored credentials of `username` up and call
    `stream.provide_credentials(creds, jid)` (creds None and jid None for an unknown user: the
    exchange goes on with simulated credentials and fails at the proof), or `stream.reject()`."""

    mechanism: str
    username: str
    authzid: str | None


@dataclass(frozen=True, slots=True)
class Authenticated:
    """SASL succeeded; `<success/>` is queued. The client will restart the stream."""

    jid: JID
    mechanism: str


@dataclass(frozen=True, slots=True)
class AuthFailed:
    """A SASL attempt failed with `condition` (`<failure/>` is queued). `attempts` counts the
    failures so far on this connection; the stream closes itself after the configured maximum."""

    mechanism: str | None
    username: str | None
    condition: str
    attempts: int


@dataclass(frozen=True, slots=True)
class BindRequested:
    """Resource binding (RFC 6120 §7): `resource` is the one the client asked for, or one the
    stream generated when it asked for none (`generated`). Call `stream.bind_ok()` (optionally
    with another full JID) or `stream.bind_error(condition)`. hxim's policy: a new session with
    the same full JID replaces the old one, which gets the `conflict` stream error."""

    jid: JID
    resource: str
    generated: bool


@dataclass(frozen=True, slots=True)
class Bound:
    """The resource is bound and the bind result queued; stanzas now flow."""

    jid: JID


@dataclass(frozen=True, slots=True)
class StanzaReceived:
    """A stanza from the bound client, with `from` stamped to its full JID (RFC 6120 §8.1.2.1)."""

    kind: StanzaKind
    element: ET.Element

    @property
    def to(self) -> str | None:
        return self.element.get("to")

    @property
    def type(self) -> str | None:
        return self.element.get("type")

    @property
    def id(self) -> str | None:
        return self.element.get("id")


@dataclass(frozen=True, slots=True)
class NonzaReceived:
    """A top-level element in one of the stream's `extra_namespaces` (stream management, CSI …)."""

    element: ET.Element


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The stream is over: the closing output (a stream error if `condition`, then the close tag)
    is queued. Write it and close the connection. `by_peer` is True when the client closed first."""

    condition: str | None
    by_peer: bool


Event = (
    StreamOpened
    | StartTLS
    | AuthRequested
    | CredentialsRequested
    | Authenticated
    | AuthFailed
    | BindRequested
    | Bound
    | StanzaReceived
    | NonzaReceived
    | StreamClosed
)
