"""This node's part in a cluster: nodes sharing one PostgreSQL database route to each other's
sessions through Redis (docs/scaling.md).

`ClusterRouter` is the `Router` of a node with `redis_url` set. Its own sessions live in a
`MemoryRegistry` as on a single node; beside them it keeps a *mirror* of every other node's
sessions (`Peer`: user, resource, kind of client, availability, current presence), so that
who is online, whose presence to show and where a message goes are answered without a round
trip. A message or event for a user with sessions elsewhere is published to the node that holds
them, which hands it to its own sessions exactly as a single node would.

Redis holds, under the cluster's name (`cluster_name`, `hxim` by default):

* `hxim:nodes`: a hash, node name → its last heartbeat (ms). A node silent for
  `cluster_node_timeout_seconds` is taken for dead by the first node that notices: its sessions
  leave every mirror and Redis, so its users read `offline` everywhere.
* `hxim:sessions:{node}`: a hash, `app|user|resource` → the session as announced (what a node
  loads when it joins, or when it learns of a node it did not know).
* `hxim:number:{n}`: the lease of id number `n` (0–1023, which message ids embed), held by a node
  while it beats, unless `node_number` is set.
* channel `hxim:cluster`: sessions announced (`+`: bound or changed, `-`: gone), nodes re-synced
  or gone, apps changed; every node listens.
* channel `hxim:node:{node}`: what is addressed to that node's sessions: stored messages (`d`),
  events (`p`), kicks (`k`).

Everything a node publishes in one turn of its event loop leaves in one pipeline, in order, from
one writer. Redis only routes; the database stays the truth: a message for a user reached only
on other nodes is stored with that user's offline entry, which the receiving node removes once
one of the user's sessions took the message (`MessageService.delivered_here`). A message lost
with a node or with Redis is therefore replayed at the user's next login, never dropped; one that
was taken is not replayed to the session that took it. Events other than messages (presence,
notices, pushes) cross at most once.

A node that finds itself missing from `hxim:nodes` (Redis restarted, or it was taken for dead
after a long pause) writes its sessions again and says so (`sync`); the others reload them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hxim.hub.events import Event, PresenceChanged
from hxim.hub.registry import MemoryRegistry, Session
from hxim.hub.router import Router
from hxim.hub.wire import event_doc, event_of, message_doc, message_of, user_doc, user_of
from hxim.model import Message, User

__all__ = ["ClusterRouter", "ClusterUnavailable", "Peer", "default_node_name"]

log = logging.getLogger("hxim.cluster")

_NUMBERS = 1024
_LEAVE_SECONDS = 2.0  # the longest each step of leaving the cluster may take
# keep the lease of an id number while beating: an unconditional SET could take another's
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def default_node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ClusterUnavailable(Exception):
    """Redis cannot be reached when the node joins: `cannot reach Redis at redis://…: …`."""


class Peer:
    """A session on another node, as its announcements describe it."""

    __slots__ = ("node", "app_uuid", "user_key", "resource", "device", "user", "presence", "available")

    queued = 0

    def __init__(
        self,
        node: str,
        app_uuid: uuid.UUID,
        user_key: str,
        resource: str,
        device: str,
        available: bool,
        presence: PresenceChanged | None,
        user: User | None,
    ) -> None:
        self.node = node
        self.app_uuid = app_uuid
        self.user_key = user_key
        self.resource = resource
        self.device = device
        self.available = available
        self.presence = presence
        self.user = user

    def deliver(self, message: Message) -> bool:
        return False  # (the cluster router forwards to the node instead)

    def push(self, event: Event) -> bool:
        return False


def _field(app_hex: str, key: str, resource: str) -> str:
    return f"{app_hex}|{key}|{resource}"


class ClusterRouter(Router):
    def __init__(
        self,
        node: str,
        redis_url: str,
        *,
        heartbeat_seconds: float = 1.0,
        timeout_seconds: float = 5.0,
        name: str = "hxim",
    ) -> None:
        self.local = MemoryRegistry()  # this node's sessions
        super().__init__(self.local)
        self.node = node
        self.redis_url = redis_url
        # Redis names: every key and channel of the cluster starts with its name
        self._all = f"{name}:cluster"
        self._nodes = f"{name}:nodes"
        self._own = f"{name}:sessions:{node}"
        self._prefix = name
        self.heartbeat_seconds = heartbeat_seconds
        self.timeout_ms = int(timeout_seconds * 1000)
        self.number: int | None = None  # the id number messages' ids embed
        self._leased = False  # whether `number` is leased from Redis (not given by the settings)
        # (app uuid as an int, user key) -> (node, resource) -> peer
        self._peers: dict[tuple[int, str], dict[tuple[str, str], Peer]] = {}
        self._by_node: dict[str, set[tuple[int, str, str]]] = {}  # node -> (app int, key, resource)
        self.online = self._online
        self.sessions = self._sessions
        # told of messages their sessions here took for another node: (user id, message id)
        self.delivered_hook: Callable[[list[tuple[int, int]]], None] | None = None
        # told of a new id number, leased when the node lost its own (ids embed it)
        self.number_hooks: list[Callable[[int], None]] = []
        # told when an app changed on some node (org, name): caches drop it
        self.app_hooks: list[Callable[[str, str], None]] = []
        self._redis: aioredis.Redis | None = None
        self._out: dict[str, list[Any]] = {}  # channel -> items, for the writer
        self._sets: dict[str, bytes] = {}  # own sessions to write to Redis
        self._dels: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._synced = False  # Redis holds this node's sessions as they are
        self._down_since: float | None = None  # when Redis stopped answering (logged once)
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- who is connected, anywhere ------------------------------------------------------------------
    def _sessions(self, app_uuid: uuid.UUID, key: str) -> list[Session]:
        found = self.registry.sessions(app_uuid, key)
        slot = self._peers.get((app_uuid.int, key))
        if slot:
            found.extend(slot.values())
        return found

    def _online(self, app_uuid: uuid.UUID, keys: Iterable[str]) -> set[str]:
        keys = keys if isinstance(keys, (list, tuple, set, frozenset)) else list(keys)
        out = self.registry.online(app_uuid, keys)
        if self._peers:
            peers, app = self._peers, app_uuid.int
            for key in keys:
                if key not in out:
                    slot = peers.get((app, key))
                    if slot and any(p.available for p in slot.values()):
                        out.add(key)
        return out

    def reach(self, app_uuid: uuid.UUID, keys: list[str], resource: str | None = None) -> tuple[set[str], set[str]]:
        here = self.registry.online(app_uuid, keys)
        local = self.registry.sessions
        if resource is not None:
            here |= {k for k in keys if any(s.resource == resource for s in local(app_uuid, k))}
        if not self._peers:
            return here, here
        anywhere = set(here)
        peers, app = self._peers, app_uuid.int
        for key in keys:
            if key not in anywhere:
                slot = peers.get((app, key))
                if slot and any(p.available or p.resource == resource for p in slot.values()):
                    anywhere.add(key)
        return here, anywhere

    def peers(self) -> int:
        """Sessions of the other nodes this node knows of."""
        return sum(len(slot) for slot in self._peers.values())

    # --- sessions of this node --------------------------------------------------------------------
    def bind(self, session: Session) -> None:
        super().bind(session)
        slot = self._peers.get((session.app_uuid.int, session.user_key))
        if slot:  # the same full JID on another node: that session ends (`conflict`)
            for node, resource in list(slot):
                if resource == session.resource:
                    self._send(node, ["k", session.app_uuid.hex, session.user_key, "conflict", None, "", resource])
        self._announce(session)

    def unbind(self, session: Session) -> None:
        super().unbind(session)
        app_hex = session.app_uuid.hex
        if any(s.resource == session.resource for s in self.registry.sessions(session.app_uuid, session.user_key)):
            return  # (a newer session of the resource is announced already)
        name = _field(app_hex, session.user_key, session.resource)
        self._sets.pop(name, None)
        self._dels.add(name)
        self._queue(self._all, ["-", self.node, app_hex, session.user_key, session.resource])

    def changed(self, app_uuid: uuid.UUID, key: str, resource: str) -> None:
        for session in self.registry.sessions(app_uuid, key):
            if session.resource == resource:
                self._announce(session)

    def _announce(self, session: Session) -> None:
        item = self._item(session)
        self._sets[_field(item[2], item[3], item[4])] = orjson.dumps(item)
        self._queue(self._all, item)

    def _item(self, session: Session) -> list[Any]:
        presence = session.presence
        return [
            "+",
            self.node,
            session.app_uuid.hex,
            session.user_key,
            session.resource,
            session.device,
            session.available,
            event_doc(presence) if presence is not None else None,
            user_doc(session.user) if session.user is not None else None,
        ]

    def tell_nodes(self, topic: str, *args: object) -> None:
        self._queue(self._all, ["chg", self.node, topic, list(args)])

    def _changed_elsewhere(self, topic: str, args: list[Any]) -> None:
        hook = self.change_hooks.get(topic)
        if hook is not None:
            self._await(hook(*args))

    def _reset(self) -> None:
        """Changes published while this node could not hear may be lost: drop every copy."""
        for hook in self.reset_hooks:
            self._await(hook())

    def _await(self, result: object) -> None:
        if asyncio.iscoroutine(result):
            self._spawn(result)

    def app_changed(self, org: str, name: str) -> None:
        """An app was changed here (the serving node, or a command such as `hxim app
        rotate-secret`, which has not joined): the nodes forget their copy of it."""
        item = ["app", self.node, org, name]
        if self._redis is not None:
            self._queue(self._all, item)
            return
        try:
            with redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=5) as client:
                client.publish(self._all, orjson.dumps([item]))
        except (RedisError, OSError) as exc:
            log.warning(
                "the cluster could not be told that app %s#%s changed (%s): nodes see it within app_cache_seconds",
                org,
                name,
                exc,
            )

    # --- delivery -----------------------------------------------------------------------------------
    def deliver(
        self,
        app_uuid: uuid.UUID,
        message: Message,
        recipient_keys: Iterable[str],
        resource: str | None = None,
        skip: str | None = None,
        kept: bool = False,
    ) -> int:
        if not self._peers:
            return super().deliver(app_uuid, message, recipient_keys, resource, skip)
        keys = recipient_keys if isinstance(recipient_keys, (list, tuple)) else list(recipient_keys)
        queued = super().deliver(app_uuid, message, keys, resource, skip)
        peers, app, doc = self._peers, app_uuid.int, None
        for key in keys:
            slot = peers.get((app, key))
            if not slot:
                continue
            nodes = {p.node for p in slot.values() if (p.available or p.resource == resource) and p.resource != skip}
            for node in nodes:
                if doc is None:
                    doc = message_doc(message)
                self._send(node, ["d", app_uuid.hex, key, doc, resource, skip, kept])
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
        taken = self._push_here(app_uuid, key, event, resource, available, skip)
        nodes = self._holders(app_uuid, key, resource, available, skip)
        if nodes:
            doc = event_doc(event)
            for node, count in nodes.items():
                self._send(node, ["p", app_uuid.hex, key, doc, resource, available, skip])
                taken += count
        return taken

    def _holders(
        self, app_uuid: uuid.UUID, key: str, resource: str | None, available: bool, skip: str | None
    ) -> dict[str, int]:
        """The other nodes holding sessions of the user that `push` would reach there (the
        available ones, or every bound one; only `resource`; never `skip`), with how many each."""
        nodes: dict[str, int] = {}
        for p in self._peers.get((app_uuid.int, key), {}).values():
            if (resource is not None and p.resource != resource) or p.resource == skip:
                continue
            if available and not p.available:
                continue
            nodes[p.node] = nodes.get(p.node, 0) + 1
        return nodes

    def kick(
        self,
        app_uuid: uuid.UUID,
        key: str,
        reason: str,
        text: str | None = None,
        *,
        resource: str | None = None,
        cause: str = "",
    ) -> int:
        ended = super().kick(app_uuid, key, reason, text, resource=resource, cause=cause)
        for node, count in self._holders(app_uuid, key, resource, False, None).items():
            self._send(node, ["k", app_uuid.hex, key, reason, text, cause, resource])
            ended += count
        return ended

    # --- what arrives from the other nodes ------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        delivered: list[tuple[int, int]] = []
        for item in orjson.loads(data):
            try:
                kind = item[0]
                if kind == "d":
                    self._delivered(item, delivered)
                elif kind == "+":
                    self._add_peer(item)
                elif kind == "-":
                    self._remove_peer(item[1], item[2], item[3], item[4])
                elif kind == "p":
                    _, app_hex, key, doc, resource, available, skip = item
                    self._push_here(uuid.UUID(app_hex), key, event_of(doc), resource, available, skip)
                elif kind == "k":
                    _, app_hex, key, reason, text, cause, resource = item
                    Router.kick(self, uuid.UUID(app_hex), key, reason, text, resource=resource, cause=cause)
                elif kind == "chg":
                    if item[1] != self.node:
                        self._changed_elsewhere(item[2], item[3])
                elif kind == "app":
                    if item[1] != self.node:
                        for hook in self.app_hooks:
                            hook(item[2], item[3])
                elif kind == "sync":
                    if item[1] != self.node:
                        self._spawn(self._load(item[1]))
                elif kind == "gone" and item[1] != self.node:
                    self._drop(item[1])
            except Exception:  # one bad item must not stop the others, nor the listener
                log.exception("a cluster message could not be handled: %.200r", item)
        if delivered and self.delivered_hook is not None:
            self.delivered_hook(delivered)

    def _delivered(self, item: list[Any], delivered: list[tuple[int, int]]) -> None:
        _, app_hex, key, doc, resource, skip, kept = item
        app_uuid = uuid.UUID(app_hex)
        message = message_of(doc)
        if Router.deliver(self, app_uuid, message, (key,), resource, skip) and kept:
            for session in self.registry.sessions(app_uuid, key):
                if session.user is not None:
                    delivered.append((session.user.id, message.id))
                    break

    def _add_peer(self, item: list[Any]) -> None:
        _, node, app_hex, key, resource, device, available, presence, user = item
        if node == self.node:
            return
        app_uuid = uuid.UUID(app_hex)
        peer = Peer(
            node,
            app_uuid,
            key,
            resource,
            device,
            bool(available),
            event_of(presence) if presence is not None else None,  # type: ignore[arg-type]
            user_of(user) if user is not None else None,
        )
        self._peers.setdefault((app_uuid.int, key), {})[(node, resource)] = peer
        self._by_node.setdefault(node, set()).add((app_uuid.int, key, resource))

    def _remove_peer(self, node: str, app_hex: str, key: str, resource: str) -> None:
        app = uuid.UUID(app_hex).int
        slot = self._peers.get((app, key))
        if slot is not None and slot.pop((node, resource), None) is not None and not slot:
            del self._peers[(app, key)]
        held = self._by_node.get(node)
        if held is not None:
            held.discard((app, key, resource))

    def _drop(self, node: str) -> int:
        """Forget every session of `node`; returns how many there were."""
        held = self._by_node.pop(node, set())
        for app, key, resource in held:
            slot = self._peers.get((app, key))
            if slot is not None and slot.pop((node, resource), None) is not None and not slot:
                del self._peers[(app, key)]
        return len(held)

    # --- Redis ---------------------------------------------------------------------------------------
    def _send(self, node: str, item: list[Any]) -> None:
        self._queue(f"{self._prefix}:node:{node}", item)

    def _queue(self, channel: str, item: list[Any]) -> None:
        found = self._out.get(channel)
        if found is None:
            self._out[channel] = [item]
        else:
            found.append(item)
        self._wake.set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def join(self, number: int | None) -> int:
        """Connect to Redis, lease an id number unless `number` is given, write this node's
        sessions, load the others' and start listening; returns the id number."""
        self.loop = asyncio.get_running_loop()
        self._redis = aioredis.Redis.from_url(
            self.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=0
        )
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            await self._redis.aclose()
            raise ClusterUnavailable(f"cannot reach Redis at {_safe_url(self.redis_url)}: {exc}") from exc
        if number is None:
            number = await self._lease()
            self._leased = True
        self.number = number
        listening = asyncio.Event()
        self._spawn(self._listen(listening))
        await listening.wait()
        await self._sync()
        await self._load_all()
        for work in (self._write(), self._beat()):
            self._spawn(work)
        log.info(
            "hxim joined the cluster at %s as node %s (id number %d; %d sessions on other nodes)",
            _safe_url(self.redis_url),
            self.node,
            number,
            self.peers(),
            extra={"node": self.node, "node_number": number},
        )
        return number

    async def leave(self) -> None:
        """Leave the cluster: the other nodes forget this one's sessions at once."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # (bounded: a Redis connection closing mid-read must not hold the node's stop)
            await asyncio.wait(tasks, timeout=_LEAVE_SECONDS)
        if self._redis is None:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hdel(self._nodes, self.node)
            pipe.delete(self._own)
            pipe.publish(self._all, orjson.dumps([["gone", self.node]]))
            if self.number is not None and self._leased:
                pipe.eval(_RELEASE, 1, f"{self._prefix}:number:{self.number}", self.node)
            await asyncio.wait_for(pipe.execute(), _LEAVE_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("leaving the cluster: Redis did not answer (%s); the other nodes will time this node out",
                        exc or "no answer")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._redis.aclose(), _LEAVE_SECONDS)
            self._redis = None

    async def ping(self) -> None:
        """For GET /ready: Redis answers."""
        assert self._redis is not None
        await self._redis.ping()

    async def _lease(self) -> int:
        assert self._redis is not None
        lease = self._lease_ms()
        start = int.from_bytes(os.urandom(2), "big") % _NUMBERS
        for i in range(_NUMBERS):
            n = (start + i) % _NUMBERS
            if await self._redis.set(f"{self._prefix}:number:{n}", self.node, nx=True, px=lease):
                return n
        raise ClusterUnavailable("every id number (0-1023) is held by a node: the cluster has no room for another")

    async def _lease_again(self) -> None:
        """The lease of the id number is gone (Redis restarted, or this node was paused past it):
        take it again, or another one if a node holds it now (ids must not repeat)."""
        assert self._redis is not None and self.number is not None
        if await self._redis.set(f"{self._prefix}:number:{self.number}", self.node, nx=True, px=self._lease_ms()):
            return
        taken = self.number
        self.number = await self._lease()
        log.error("id number %d is held by another node now (was this node paused?): this node takes %d",
                  taken, self.number)
        for hook in self.number_hooks:
            hook(self.number)

    def _lease_ms(self) -> int:
        return max(self.timeout_ms * 3, 30_000)

    async def _write(self) -> None:
        """The one writer: what this node announces and sends, in order, one pipeline per turn."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            out, self._out = self._out, {}
            sets, self._sets = self._sets, {}
            dels, self._dels = self._dels, set()
            if not (out or sets or dels):
                continue
            assert self._redis is not None
            pipe = self._redis.pipeline(transaction=False)
            own = self._own
            if dels:
                pipe.hdel(own, *dels)
            if sets:
                pipe.hset(own, mapping=sets)  # type: ignore[arg-type]
            for channel, items in out.items():
                pipe.publish(channel, orjson.dumps(items))
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                # Messages sent meanwhile keep their offline entries; the node's sessions are written
                # again once Redis answers (the heartbeat finds this node missing, or not synced).
                self._synced = False
                self._unreachable(exc)

    def _unreachable(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Redis stopped answering (%s): routing to other nodes waits until it is back", exc)

    def _reachable(self) -> None:
        if self._down_since is not None:
            log.warning(
                "Redis answers again after %.1f s: routing to other nodes resumes", time.monotonic() - self._down_since
            )
            self._down_since = None

    async def _listen(self, listening: asyncio.Event) -> None:
        channels = (self._all, f"{self._prefix}:node:{self.node}")
        delay = 0.1
        first = True
        while True:
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                if first:
                    first = False
                    listening.set()
                else:  # what was published meanwhile is lost: load the others' sessions again
                    self._synced = False
                    await self._load_all()
                    self._reset()
                delay = 0.1
                while True:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is not None and msg["type"] == "message":
                        self._receive(msg["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._unreachable(exc)
                if not listening.is_set():
                    listening.set()
            finally:
                with contextlib.suppress(BaseException):
                    await pubsub.aclose()
                with contextlib.suppress(BaseException):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self._beat_once()
                self._reachable()
            except (RedisError, OSError) as exc:
                self._synced = False
                self._unreachable(exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the cluster heartbeat failed")

    async def _beat_once(self) -> None:
        assert self._redis is not None
        now = int(time.time() * 1000)
        beats = await self._redis.hgetall(self._nodes)
        if not self._synced or self.node.encode() not in beats:
            await self._sync()
        else:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(self._nodes, self.node, now)
            if self.number is not None and self._leased:
                pipe.eval(_RENEW, 1, f"{self._prefix}:number:{self.number}", self.node, self._lease_ms())
            results = await pipe.execute()
            if self.number is not None and self._leased and not results[-1]:
                await self._lease_again()
        for raw, beat in beats.items():
            node = _text(raw)
            if node == self.node:
                continue
            if now - int(beat) > self.timeout_ms:
                await self._bury(node)
            elif node not in self._by_node:
                await self._load(node)

    async def _bury(self, node: str) -> None:
        """A node stopped beating: its sessions are gone, here, in Redis and on every node."""
        assert self._redis is not None
        count = self._drop(node)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hdel(self._nodes, node)
        pipe.delete(f"{self._prefix}:sessions:{node}")
        pipe.publish(self._all, orjson.dumps([["gone", node]]))
        await pipe.execute()
        log.warning("node %s stopped answering: its %d sessions are offline", node, count, extra={"peer": node})

    async def _sync(self) -> None:
        """Write every session of this node to Redis again and tell the others to reload them."""
        assert self._redis is not None
        own = self._own
        mapping: dict[str, bytes] = {}
        for session in self.local.all():
            item = self._item(session)
            mapping[_field(item[2], item[3], item[4])] = orjson.dumps(item)
        self._sets.clear()
        self._dels.clear()
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(own)
        if mapping:
            pipe.hset(own, mapping=mapping)  # type: ignore[arg-type]
        pipe.hset(self._nodes, self.node, int(time.time() * 1000))
        pipe.publish(self._all, orjson.dumps([["sync", self.node]]))
        await pipe.execute()
        self._synced = True

    async def _load_all(self) -> None:
        assert self._redis is not None
        beats = await self._redis.hgetall(self._nodes)
        alive = {_text(raw) for raw in beats} - {self.node}
        for node in set(self._by_node) - alive:
            self._drop(node)
        for node in alive:
            await self._load(node)

    async def _load(self, node: str) -> None:
        assert self._redis is not None
        entries = await self._redis.hgetall(f"{self._prefix}:sessions:{node}")
        self._drop(node)
        self._by_node.setdefault(node, set())
        for raw in entries.values():
            self._add_peer(orjson.loads(raw))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _safe_url(url: str) -> str:
    """The URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.partition(":")[0]
    return f"{scheme}://{user + ':***' if user else '***'}@{tail}"
