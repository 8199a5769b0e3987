"""The router: hands a message that is already stored to the live sessions of its recipients.

Persist first, then route: by the time `deliver` is called the message and the offline
entries of recipients without sessions are in storage; a recipient none of whose sessions takes
the message (they ended meanwhile, or refuse it) gets its offline entry from the caller
(`MessageService.store_and_route`), so nothing is lost. Routing never awaits a client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from hxim.hub.registry import Registry
from hxim.model import Message

__all__ = ["Router"]


class Router:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def deliver(self, app_uuid: uuid.UUID, message: Message, recipient_keys: Iterable[str]) -> int:
        """Queue `message` on every available session of the recipients; returns how many."""
        queued = 0
        for key in recipient_keys:
            for session in self.registry.sessions(app_uuid, key):
                if session.available and session.deliver(message):
                    queued += 1
        return queued
