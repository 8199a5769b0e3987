"""The events services hand the hub, addressed to users or to one of their resources.

Services decide who is told what; the hub finds the sessions (`Router`, through the registry);
each session kind renders each event in its own protocol (`C2SSession.push` writes XMPP
stanzas). Stored messages travel apart, on the router's hot path (`Router.deliver`), because a
session that cannot take one gives it back to offline storage.

Events are frozen and hold plain values only (strings, numbers, tuples, JSON-ready mappings), so
that a broker reaching other processes can carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BlockPush", "Edited", "Event", "Kick", "Notice", "PresenceChanged", "PresenceStatus", "Relay", "RosterPush",
]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a user is told besides a stored message: a friend request or its answer, a
    delivery or read receipt, a recall, an invitation, a room's news. `kind` names it (the
    `NoticeKind` values of `services.notices`), `sender` is the user it comes from (the acting
    user, or the room's owner when the app acted) and `payload` its details. A notice that finds
    no session may be kept and replayed at the user's next login (`NoticeService.send`)."""

    kind: str
    sender: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A user's resource became available (again, with new details) or went away.

    `xml` is the presence's children as the XMPP client sent them (its `<show/>`, `<status/>`,
    `<priority/>` and extensions, serialised in the `jabber:client` namespace), so that XMPP
    recipients see them unchanged; other kinds of session read `show`, `status` and `priority`.
    `directed` marks a presence sent to this user alone (RFC 6121 §4.6), not a broadcast."""

    user: str
    resource: str
    available: bool
    priority: int = 0
    show: str | None = None
    status: str | None = None
    xml: str = ""
    directed: bool = False


@dataclass(frozen=True, slots=True)
class PresenceStatus:
    """A user's presence as Easemob's presence API shows it changed, for the users who follow it
    (`presence_subscribe`) and the user's own sessions: device `resource` is now `status` (`0`
    offline, `1` online, other digits a custom status set over REST). `devices` is every device's
    status after the change, `ext` the user's custom text, `last_time` when they were last seen
    coming or going (Unix seconds)."""

    user: str
    resource: str
    status: str
    ext: str
    last_time: int
    devices: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RosterPush:
    """The user's contact list changed: `contact` became a contact (`both`), is asked to be one
    (`none` with `ask`: a request the user sent), or left the list (`remove`)."""

    contact: str
    subscription: str
    ask: bool = False


@dataclass(frozen=True, slots=True)
class BlockPush:
    """The user blocked (or unblocked) `users` of the app, and `jids`: addresses that name no
    user here (another server's, or not registered), as an XMPP client blocked them."""

    users: tuple[str, ...]
    blocked: bool
    jids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Kick:
    """End the session: `reason` is an XMPP stream-error condition (`conflict`, `not-authorized`,
    `policy-violation`); `cause` says why where one condition covers several (`password`: the
    user's password changed); other protocols map both to theirs."""

    reason: str
    text: str | None = None
    cause: str = ""


@dataclass(frozen=True, slots=True)
class Relay:
    """A stanza one XMPP client addressed to another that the server passes on without storing
    (receipts, chat states): its `kind` (`message`, `presence`, `iq`), its attributes other than
    `from` and `to`, and its children as the sender wrote them (`xml`, serialised in the
    `jabber:client` namespace). `sender` and `resource` say who sent it, so that the recipient's
    session can write the `from` its client expects."""

    sender: str
    resource: str
    kind: str
    attrs: tuple[tuple[str, str], ...]
    xml: str


@dataclass(frozen=True, slots=True)
class Edited:
    """A stored message was modified: its new content, as `Message.to_doc` writes it (id, chat
    type, sender, recipient, timestamp, bodies, ext and `edited`: who, when, how many times). The
    users it was for and its sender are told; later readers read the new content from storage."""

    message: Mapping[str, Any]


Event = Notice | PresenceChanged | PresenceStatus | RosterPush | BlockPush | Kick | Relay | Edited
