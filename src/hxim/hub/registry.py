"""The session registry: which users have live sessions, on which resources.

A user is *online* while at least one of their sessions is available (has sent initial
presence, for XMPP). `Registry` is the interface the `Router` finds sessions through;
`MemoryRegistry` holds the sessions of this process, the one registry of a single node.
Nothing outside the hub reaches the registry: services ask the router.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from hxim.hub.events import Event, PresenceChanged
from hxim.model import Message, User

__all__ = ["Session", "Registry", "MemoryRegistry"]


class Session(Protocol):
    """What the hub needs of a live client session, whatever its protocol (the XMPP one is
    `hxim.c2s.session.C2SSession`)."""

    app_uuid: uuid.UUID
    user_key: str
    resource: str
    device: str  # the kind of client (its protocol and transport), as a user's devices are listed
    user: User | None
    presence: PresenceChanged | None  # the last available presence, while available

    @property
    def available(self) -> bool: ...

    @property
    def queued(self) -> int:
        """Items waiting in the session's outbound queue (read at scrape time, for /metrics)."""

    def deliver(self, message: Message) -> bool:
        """Queue a stored message for the client without waiting; False when it could not be
        queued (the caller then keeps it offline)."""

    def push(self, event: Event) -> bool:
        """Render `event` for the client without waiting; False when the session is ending."""


class Registry(Protocol):
    def add(self, session: Session) -> Session | None: ...

    def remove(self, session: Session) -> None: ...

    def sessions(self, app_uuid: uuid.UUID, user_key: str) -> list[Session]: ...

    def online(self, app_uuid: uuid.UUID, keys: Iterable[str]) -> set[str]: ...

    def count(self) -> int: ...

    def census(self) -> dict[str, tuple[int, int]]: ...


class MemoryRegistry:
    """Sessions of this process, by app, user and resource."""

    def __init__(self) -> None:
        # by (app uuid as an int, user key): hashing a UUID runs Python code, hashing its int does not
        self._by_user: dict[tuple[int, str], dict[str, Session]] = {}

    def add(self, session: Session) -> Session | None:
        """Register `session`; returns the session it replaces (same full JID), if any."""
        slot = self._by_user.setdefault((session.app_uuid.int, session.user_key), {})
        old = slot.get(session.resource)
        slot[session.resource] = session
        return old if old is not session else None

    def remove(self, session: Session) -> None:
        key = (session.app_uuid.int, session.user_key)
        slot = self._by_user.get(key)
        if slot and slot.get(session.resource) is session:
            del slot[session.resource]
            if not slot:
                del self._by_user[key]

    def sessions(self, app_uuid: uuid.UUID, user_key: str) -> list[Session]:
        slot = self._by_user.get((app_uuid.int, user_key))
        return list(slot.values()) if slot else []

    def online(self, app_uuid: uuid.UUID, keys: Iterable[str]) -> set[str]:
        """The subset of `keys` with at least one available session."""
        out = set()
        by_user = self._by_user
        app = app_uuid.int
        for key in keys:
            slot = by_user.get((app, key))
            if slot:
                for session in slot.values():
                    if session.available:
                        out.add(key)
                        break
        return out

    def count(self) -> int:
        return sum(len(slot) for slot in self._by_user.values())

    def all(self) -> list[Session]:
        return [session for slot in self._by_user.values() for session in slot.values()]

    def census(self) -> dict[str, tuple[int, int]]:
        """By kind of session (`device`): how many, and the items waiting in their queues."""
        out: dict[str, tuple[int, int]] = {}
        for slot in self._by_user.values():
            for session in slot.values():
                sessions, queued = out.get(session.device, (0, 0))
                out[session.device] = (sessions + 1, queued + session.queued)
        return out
