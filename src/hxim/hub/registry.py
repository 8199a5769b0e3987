"""The session registry: which users have live sessions, on which resources.

A user is *online* while at least one of their sessions is available (has sent initial
presence, for XMPP). REST `status`, offline storage decisions and routing all ask the
registry. `Registry` is the interface; `MemoryRegistry` serves a single node.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from hxim.model import Message

__all__ = ["Session", "Registry", "MemoryRegistry"]


class Session(Protocol):
    """What the hub needs of a live client session (the c2s layer implements it)."""

    app_uuid: uuid.UUID
    user_key: str
    resource: str

    @property
    def available(self) -> bool: ...

    def deliver(self, message: Message) -> bool:
        """Queue `message` for the client without waiting; False when it could not be queued."""

    def close(self, reason: str) -> None:
        """End the session (`reason` is an XMPP stream-error condition)."""


class Registry(Protocol):
    def add(self, session: Session) -> Session | None: ...

    def remove(self, session: Session) -> None: ...

    def sessions(self, app_uuid: uuid.UUID, user_key: str) -> list[Session]: ...

    def online(self, app_uuid: uuid.UUID, keys: Iterable[str]) -> set[str]: ...

    def disconnect(self, app_uuid: uuid.UUID, user_key: str, reason: str) -> int: ...


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

    def disconnect(self, app_uuid: uuid.UUID, user_key: str, reason: str) -> int:
        victims = self.sessions(app_uuid, user_key)
        for session in victims:
            session.close(reason)
            self.remove(session)
        return len(victims)

    def count(self) -> int:
        return sum(len(slot) for slot in self._by_user.values())
