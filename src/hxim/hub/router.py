"""The router: the one way services reach sessions, whatever their protocol and wherever they run.

* `deliver` hands a message that is already stored to the available sessions of its recipients.
  Persist first, then route: by the time it is called the message and the offline entries of
  recipients without sessions are in storage; a recipient none of whose sessions takes the message
  (they ended meanwhile, or refuse it) gets its offline entry back from the caller
  (`MessageService.store_and_route`), so nothing is lost.
* `push` hands any other event (`hub.events`) to a user's sessions: the available ones by
  default, or every bound one, or one resource. The caller decides what to do when nobody took it
  (a notice is kept, `NoticeService.send`).
* `bind` registers a session and ends the one it replaces (same user and resource: `conflict`);
  `kick` ends a user's sessions. The `session_hooks` learn of each session that binds and goes
  (post-send login and logout callbacks).
* `online` and `resources` say who is connected, for REST `status` and for presence.

Routing never awaits a client. Sessions are found through a `Registry`; the memory one serves a
single node.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from hxim.hub.events import Event, Kick
from hxim.hub.registry import Registry, Session
from hxim.model import Message

__all__ = ["Router", "nowhere"]


def nowhere(topic: str, *args: object) -> None:
    """A `tell_nodes` that tells nobody: what a service holds before the node wires it."""


class Router:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        # Straight to the registry, without a wrapper call: both run for every message.
        # `online(app_uuid, keys)`: the subset of `keys` with at least one available session;
        # `sessions(app_uuid, key)`: the user's sessions, bound or available, to read (events go
        # through `push`).
        self.online: Callable[[uuid.UUID, Iterable[str]], set[str]] = registry.online
        self.sessions: Callable[[uuid.UUID, str], list[Session]] = registry.sessions
        # told when a session binds (`login`) and when it goes (`logout`, or `replaced`: ended by a
        # newer session of its resource or by the server), whatever its protocol
        self.session_hooks: list[Callable[[Session, str], None]] = []
        # what the services keep in memory, changed on another node of a cluster: by topic, the
        # hook that brings this node's copy up to date (`tell_nodes` on the node that changed it);
        # `reset_hooks` drop every copy, when changes may have been missed (Redis came back)
        self.change_hooks: dict[str, Callable[..., object]] = {}
        self.reset_hooks: list[Callable[[], object]] = []
        self._ending: dict[int, str] = {}  # id(session) -> why the hub ended it

    # --- who is connected -------------------------------------------------------------------------
    def bind(self, session: Session) -> None:
        """Register a session that bound its resource; the one it replaces is ended (`conflict`)."""
        old = self.registry.add(session)
        for hook in self.session_hooks:
            hook(session, "login")
        if old is not None:
            self._ending[id(old)] = "replaced"
            old.push(Kick("conflict"))

    def unbind(self, session: Session) -> None:
        self.registry.remove(session)
        reason = self._ending.pop(id(session), "logout")
        for hook in self.session_hooks:
            hook(session, reason)

    def resources(self, app_uuid: uuid.UUID, key: str, *, available: bool = True) -> list[Session]:
        """The user's sessions (the available ones by default), to read, not to write to: events go
        through `push`."""
        found = self.sessions(app_uuid, key)
        return [s for s in found if s.available] if available else found

    def count(self) -> int:
        return self.registry.count()

    def census(self) -> dict[str, tuple[int, int]]:
        """The sessions of this node by kind (`device`): how many, and the items waiting in their
        outbound queues (for /metrics: read at scrape time, never counted on the way)."""
        return self.registry.census()

    def reach(self, app_uuid: uuid.UUID, keys: list[str], resource: str | None = None) -> tuple[set[str], set[str]]:
        """Whom of `keys` a message reaches live: those with an available session here, and those
        with one anywhere (the same on a single node); with `resource`, also those with a session
        bound to that resource, available or not."""
        online = self.online(app_uuid, keys)
        if resource is not None:
            online |= {k for k in keys if any(s.resource == resource for s in self.sessions(app_uuid, k))}
        return online, online

    def tell_nodes(self, topic: str, *args: object) -> None:
        """Tell a cluster's other nodes that something kept in memory changed here (`topic` names
        it, `args` are plain values); nothing on a single node."""

    def changed(self, app_uuid: uuid.UUID, key: str, resource: str) -> None:
        """A session of this node became available, changed its presence or stopped being
        available (nothing to do on a single node: the registry holds the session itself)."""

    # --- delivery ---------------------------------------------------------------------------------
    def deliver(
        self, app_uuid: uuid.UUID, message: Message, recipient_keys: Iterable[str], resource: str | None = None,
        skip: str | None = None, kept: bool = False,
    ) -> int:
        """Queue `message` on every available session of the recipients, and on their session bound
        to `resource` (available or not), never on resource `skip`; returns how many. `kept`: the
        recipients' offline entries of it are stored (they matter to sessions on other nodes)."""
        queued = 0
        sessions = self.registry.sessions
        for key in recipient_keys:
            for session in sessions(app_uuid, key):
                if (
                    (session.available or session.resource == resource) and session.resource != skip
                    and session.deliver(message)
                ):
                    queued += 1
        return queued

    def push(
        self,
        app_uuid: uuid.UUID,
        key: str,
        event: Event,
        *,
        resource: str | None = None,
        available: bool = True,
        skip: str | None = None,
    ) -> int:
        """Hand `event` to the user's available sessions (every bound one with `available=False`),
        only to `resource` when given, never to resource `skip`; returns how many took it."""
        return self._push_here(app_uuid, key, event, resource, available, skip)

    def _push_here(
        self, app_uuid: uuid.UUID, key: str, event: Event, resource: str | None, available: bool, skip: str | None
    ) -> int:
        taken = 0
        for session in self.registry.sessions(app_uuid, key):
            if resource is not None and session.resource != resource:
                continue
            if session.resource == skip or (available and not session.available):
                continue
            if session.push(event):
                taken += 1
        return taken

    def kick(
        self, app_uuid: uuid.UUID, key: str, reason: str, text: str | None = None, *, resource: str | None = None,
        cause: str = "",
    ) -> int:
        """End every session of the user (only the one bound to `resource` when given); returns how
        many there were."""
        for session in self.registry.sessions(app_uuid, key):
            if resource is None or session.resource == resource:
                self._ending[id(session)] = "replaced"
        return self._push_here(app_uuid, key, Kick(reason, text, cause), resource, False, None)
