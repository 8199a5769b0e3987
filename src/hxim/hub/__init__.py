"""The hub: typed events (`events`), who is connected (`registry`) and how events and stored
messages reach the sessions (`router`).

Services hand the router events addressed to users; each session kind renders them. The memory
registry serves one node; a deployment of several nodes swaps in one that reaches the others,
behind the same interfaces.
"""

from hxim.hub.events import BlockPush, Event, Kick, Notice, PresenceChanged, PresenceStatus, Relay, RosterPush
from hxim.hub.registry import MemoryRegistry, Registry, Session
from hxim.hub.router import Router

__all__ = [
    "BlockPush",
    "Event",
    "Kick",
    "MemoryRegistry",
    "Notice",
    "PresenceChanged",
    "PresenceStatus",
    "Registry",
    "Relay",
    "RosterPush",
    "Router",
    "Session",
]
