"""The hub: who is connected (registry) and how a stored message reaches them (router).

The memory implementations serve one node. A multi-node deployment swaps in
implementations backed by Redis behind the same interfaces.
"""

from hxim.hub.registry import MemoryRegistry, Registry, Session
from hxim.hub.router import Router

__all__ = ["Registry", "MemoryRegistry", "Session", "Router"]
