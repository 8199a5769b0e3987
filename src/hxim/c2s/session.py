"""One client session, for both transports (ARCHITECTURE.md rule 2: only the framing differs).

A `C2SSession` drives a sans-I/O `C2SStream` with the bytes its transport reads
(`received()`), answers the stream's decisions (SASL against the user service, resource
binding in the hub's registry), hands stanzas to the dispatch table, and owns one bounded
outbound queue. It implements the hub's `Session` protocol: the router calls `deliver(message)`
without awaiting; when more than `xmpp_queue_max` stored messages wait to be written the session
is closed (`policy-violation`), and the messages stay in storage (ARCHITECTURE.md rule 3).

Output has no task of its own: whatever is queued during one turn of the event loop is rendered
and handed to the transport in one write at the end of that turn (`_write_out`, scheduled with
`call_soon`). While the transport says the peer is slow (`paused`), output waits in the queue
and goes out when the transport calls `resume_writing()`.

How a stored message is rendered (docs/routing.md): a session speaks *Easemob JSON* (the
`{"from","to","bodies","ext"}` object in `<body>`, webim-xmpp.md §4) when its resource starts
with `webim` (the Web IM SDK's resource) or once its client has sent such a body; otherwise a
single `txt` body is sent as plain text and anything else as the JSON.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hxim.c2s import login
from hxim.hub import Event, PresenceChanged
from hxim.model import App, Message, User
from hxim.ratelimit import FloodGate
from hxim.xmpp import namespaces as ns
from hxim.xmpp.errors import STANZA_CONDITIONS
from hxim.xmpp.events import (
    Authenticated,
    AuthFailed,
    AuthRequested,
    BindRequested,
    Bound,
    CredentialsRequested,
    StanzaReceived,
    StartTLS,
    StreamClosed,
)
from hxim.xmpp.jid import JID, user_node
from hxim.xmpp.messages import message_stanza
from hxim.xmpp.reader import Framing
from hxim.xmpp.stanza import error_reply, serialize
from hxim.xmpp.states import State
from hxim.xmpp.stream import C2SStream

if TYPE_CHECKING:
    from hxim.c2s.context import C2S

__all__ = ["C2SSession", "Transport", "CLIENT", "copy_to"]

log = logging.getLogger("hxim.c2s")
_CLOSED = State.CLOSED  # a stream in this state takes no more output

CLIENT = "{" + ns.CLIENT + "}"

_CLOSE_TEXT = {
    "conflict": "Replaced by new connection",
    "policy-violation": "The session was ended by the server.",
    "not-authorized": "The account is no longer allowed to log in.",
    "connection-timeout": "The connection was idle for too long.",
    "system-shutdown": "The server is shutting down.",
}


class Transport(Protocol):
    """Moves bytes for one connection: TCP writes them back to back, WebSocket one message each."""

    @property
    def paused(self) -> bool:
        """The peer reads slower than we write: hold output until `resume_writing()`."""

    def write(self, chunks: Sequence[bytes]) -> None:
        """Hand bytes over without waiting."""

    async def drain(self) -> None:
        """Wait until the transport takes more (returns at once unless `paused`)."""

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:
        """Stop reading, `flush()` what is queued (the `<proceed/>`), then run the handshake."""

    def close(self) -> None:
        """Close once what was written has gone out."""

    async def sent(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until what was written has gone out."""


_SALVAGING: set[asyncio.Task[None]] = set()  # restore_offline writes under way (kept referenced)


class _Delivery:
    __slots__ = ("message", "delayed")

    def __init__(self, message: Message, delayed: bool) -> None:
        self.message = message
        self.delayed = delayed


_END = object()


class C2SSession:
    """A client connection from its first byte to its close; a hub `Session` once bound."""

    def __init__(
        self,
        ctx: C2S,
        transport: Transport,
        *,
        framing: Framing,
        mechanisms: Sequence[str],
        starttls: bool = False,
        tls_required: bool = False,
        secure: bool = False,
        peer: str = "",
        device: str = "xmpp",
    ) -> None:
        s = ctx.settings
        self.ctx = ctx
        self.transport = transport
        self.framing: Framing = framing
        self.peer = peer
        self.device = device  # what kind of client this is, as the REST API lists a user's devices
        self.stream = C2SStream(
            ctx.domain,
            framing=framing,
            mechanisms=mechanisms,
            starttls=starttls,
            tls_required=tls_required,
            secure=secure,
            from_policy="stamp",  # webim-xmpp.md §3.10: the SDK stamps its own computed JID
            max_stanza_bytes=s.xmpp_max_stanza_bytes,
        )
        self.xmlns_attr = "" if framing == "tcp" else f" xmlns='{ns.CLIENT}'"
        # the hub's Session protocol
        self.app_uuid = uuid.UUID(int=0)
        self.user_key = ""
        self.resource = ""
        # identity, once authenticated
        self.app: App | None = None
        self.user: User | None = None
        self.prefix: str | None = None  # the appkey in this client's JIDs; None: `{username}@domain`
        self.jid: JID | None = None  # bare once authenticated, full once bound
        # presence
        self._available = False
        self.initial_presence_done = False
        self.priority = 0
        self.presence: PresenceChanged | None = None  # the last available presence, for probes
        # the roster (`roster.load`, then kept by the contact service's hooks): contacts and the
        # users asked to be friends, case-folded key → username as registered
        self.contacts: dict[str, str] | None = None
        self.asked: dict[str, str] = {}
        self.roster_changes = 0  # hook calls so far: a `load` that saw one meanwhile reads again
        self.blocklist_wanted = False  # asked for the XEP-0191 block list: gets its pushes (§3.2)
        self.privacy_wanted = False  # used the XEP-0016 list `special`: gets its pushes (§5b)
        self.json_bodies = False
        self.offline_unacked: set[int] = set()  # replayed offline message ids awaiting the §4.5 receipt
        self.sdk_version: tuple[int, ...] | None = None  # the Web IM SDK's, from its version notice (§3.5)
        # output
        self._queue: deque[Any] = deque()
        self._queued_messages = 0
        self._held: list[Message] | None = None  # live messages held back during the offline replay
        self._write_scheduled = False
        self._ended = False  # _END queued: nothing more is written
        self._output_closed = False  # _END written: the transport is closing
        self.registered = False
        self.login: tuple[str, str] | None = None  # (app id, user key) of the SASL attempt under way
        # flood limit (token bucket over stanzas received)
        self._flood = FloodGate(s.xmpp_flood_rate, s.xmpp_flood_burst)
        self._handshake: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # from start(): get_running_loop() costs a getpid()

    # --- the hub's Session protocol ---------------------------------------------------------------
    @property
    def available(self) -> bool:
        # nothing is written once the session ended, or its stream did (bad input ends the stream
        # with a stream error before the events read with it are handled)
        return self._available and not self._ended and self.stream.state is not _CLOSED

    @property
    def queued(self) -> int:
        """Stanzas and stored messages waiting to be written (live ones held behind the replay too)."""
        return len(self._queue) + len(self._held or ())

    def deliver(self, message: Message) -> bool:
        if self._ended or self.stream.state is _CLOSED:
            return False
        if self._held is not None:
            if len(self._held) >= self.ctx.settings.xmpp_queue_max:
                lost = self._take_deliveries()
                self.close("policy-violation", "Too many stanzas are waiting for this client.")
                self._salvage(lost)
                return False
            self._held.append(message)
            return True
        return self._enqueue_message(message, False)

    def push(self, event: Event) -> bool:
        """Render a hub event for this client (`C2S.renderers` holds each event type's renderer)."""
        if self._ended or self.stream.state is _CLOSED:
            return False
        self.ctx.renderers[type(event)](self, event)
        return True

    def close(self, reason: str | None = None, text: str | None = None) -> None:
        """End the session: a stream error `reason` (None: a normal close), then the connection."""
        if self._ended:
            return
        self.stream.close(reason, text or (_CLOSE_TEXT.get(reason) if reason else None))
        self._pull_stream()
        self._end()

    # --- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.ctx.open_sessions.add(self)
        timeout = self.ctx.settings.xmpp_handshake_timeout_seconds
        self._loop = loop = asyncio.get_running_loop()
        self._handshake = loop.call_later(timeout, self._handshake_expired)

    def _handshake_expired(self) -> None:
        if not self.registered:
            self.close("connection-timeout", "No resource was bound in time.")

    @property
    def finished(self) -> bool:
        return self._ended

    def connection_lost(self) -> None:
        """The transport is gone (peer gone, or we closed): forget the session."""
        if not self._ended:
            self.stream.connection_lost()
            self._ended = True
            self._output_closed = True
            lost = self._take_deliveries()
            self._queue.clear()
            self._teardown()
            self._salvage(lost)
            return
        self._teardown()

    def _end(self) -> None:
        self._ended = True
        held, self._held = self._held, None  # live messages still waiting behind the replay
        self._queue.append(_END)
        self._teardown()
        self._write_out()
        if held:
            self._salvage(held)

    def _teardown(self) -> None:
        self.ctx.open_sessions.discard(self)
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None
        was_available = self._available
        self._available = False
        if self.registered:
            self.registered = False
            self.ctx.node.router.unbind(self)
        if was_available:
            from hxim.c2s.presence import broadcast_unavailable

            broadcast_unavailable(self)

    # --- input ------------------------------------------------------------------------------------
    async def received(self, data: bytes | str) -> None:
        """Bytes read from the transport (TCP: a chunk; WebSocket: one text message)."""
        if self._ended:
            return
        self.stream.feed(data)
        await self._process()

    async def _process(self) -> None:
        while True:
            events = self.stream.events_received()
            if not events:
                break
            for ev in events:
                try:
                    await self._on_event(ev)
                except Exception:
                    log.exception("c2s: failure while handling %r from %s", type(ev).__name__, self.jid or self.peer)
                    self.ctx.node.counters.errors["xmpp"] += 1
                    self.close("internal-server-error", "The server failed to handle that.")
                if self._ended:
                    break
            if self._ended:
                break
        self._pull_stream()

    async def _on_event(self, ev: object) -> None:
        if isinstance(ev, StanzaReceived):
            if self._flood.flooding():
                self.close("policy-violation", "Too many stanzas in too short a time.")
                return
            self._pull_stream()
            if not await self.ctx.dispatch.dispatch(self, ev.kind, ev.element):
                self._unhandled(ev)
        elif isinstance(ev, AuthRequested):
            await login.plain(self, ev)
        elif isinstance(ev, CredentialsRequested):
            await login.scram(self, ev)
        elif isinstance(ev, (AuthFailed, Authenticated)):
            login.outcome(self, ev)
        elif isinstance(ev, BindRequested):
            self._bind(ev)
        elif isinstance(ev, Bound):
            if self._handshake is not None:
                self._handshake.cancel()
                self._handshake = None
        elif isinstance(ev, StartTLS):
            self._pull_stream()
            try:
                await self.transport.start_tls(self.flush)
            except Exception as exc:  # a failed handshake ends the connection
                log.info("c2s: TLS handshake with %s failed: %s", self.peer, exc)
                self.stream.connection_lost()
                self._end()
                return
            self.stream.tls_established()
        elif isinstance(ev, StreamClosed):
            self._pull_stream()
            self._end()

    def _unhandled(self, ev: StanzaReceived) -> None:
        """RFC 6120 §8.4: an IQ get/set nobody serves gets `service-unavailable`; other stanzas
        nobody takes are dropped."""
        if ev.kind == "iq" and ev.type in ("get", "set"):
            self.reply_error(ev.element, "service-unavailable")

    # --- authentication ---------------------------------------------------------------------------
    def authenticated(self, app: App, user: User, prefix: str | None) -> JID:
        """The session's identity, once its credentials are checked (`login`); its bare JID."""
        self.app, self.user, self.prefix = app, user, prefix
        self.app_uuid = app.uuid
        self.user_key = user.key
        return JID(user_node(prefix, user.username), self.ctx.domain)

    def _bind(self, ev: BindRequested) -> None:
        self.resource = ev.resource
        self.jid = ev.jid
        if ev.resource.lower().startswith("webim"):
            self.json_bodies = True
        self.ctx.node.router.bind(self)  # (a session bound to the same resource ends: `conflict`)
        self.registered = True
        self.stream.bind_ok()

    # --- addressing helpers -----------------------------------------------------------------------
    def peer_jid(self, username: str) -> str:
        """A user of this session's app as this client addresses users."""
        return f"{user_node(self.prefix, username)}@{self.ctx.domain}"

    def room_jid(self, room_id: str) -> str:
        node = room_id if self.prefix is None else f"{self.prefix}_{room_id}"
        return f"{node}@{self.ctx.muc_domain}"

    @property
    def full_jid(self) -> str:
        return str(self.jid) if self.jid is not None else ""

    # --- output -----------------------------------------------------------------------------------
    def _pull_stream(self) -> None:
        out = self.stream.data_to_send()
        if out and not self._ended:
            self._queue.extend(out)
            self._schedule_write()

    def send(self, stanza: ET.Element | bytes) -> None:
        """Queue a stanza for this client (an element, or bytes framed for this session). Past
        `xmpp_queue_max` stanzas other than stored messages waiting for a slow client, the
        session is closed: nothing of them is kept elsewhere, and the client is too far behind."""
        if self._ended or self.stream.state is _CLOSED:
            self._pull_stream()  # the stream's own end, if it is still to be written
            return
        self._pull_stream()
        queue = self._queue
        if len(queue) - self._queued_messages >= self.ctx.settings.xmpp_queue_max:
            lost = self._take_deliveries()
            self.close("policy-violation", "Too many stanzas are waiting for this client.")
            self._salvage(lost)
            return
        queue.append(stanza if isinstance(stanza, bytes) else self.serialize(stanza))
        self._schedule_write()

    def serialize(self, el: ET.Element) -> bytes:
        return serialize(el, ns.CLIENT if self.framing == "tcp" else None)

    def reply_error(self, el: ET.Element, condition: str, text: str | None = None) -> None:
        """A stanza error in reply to `el` (never to an error, RFC 6120 §8.3.1)."""
        if el.get("type") != "error":
            if condition not in STANZA_CONDITIONS:
                condition = "undefined-condition"
            self.send(error_reply(el, condition, text))

    def _enqueue_message(self, message: Message, delayed: bool) -> bool:
        if self._queued_messages >= self.ctx.settings.xmpp_queue_max:
            # a client this far behind will not read what waits: it goes back offline
            lost = self._take_deliveries()
            self.close("policy-violation", "Too many stanzas are waiting for this client.")
            self._salvage(lost)
            return False
        self._queued_messages += 1
        self._queue.append(_Delivery(message, delayed))
        self._schedule_write()
        return True

    def hold_deliveries(self) -> None:
        """Until `release_deliveries`, live messages wait behind the offline replay."""
        self._held = []

    def release_deliveries(self) -> None:
        held, self._held = self._held, None
        for i, message in enumerate(held or ()):
            if not self._enqueue_message(message, False):
                self._salvage((held or [])[i:])
                break

    def enqueue_offline(self, message: Message) -> bool:
        return self._enqueue_message(message, True)

    async def flush(self) -> None:
        """Write out what is queued and wait until the transport takes more."""
        self._write_out()
        if not self._output_closed:
            await self.transport.drain()

    def resume_writing(self) -> None:
        """The transport takes bytes again (see `Transport.paused`)."""
        self._write_out()

    def _schedule_write(self) -> None:
        if not self._write_scheduled:
            self._write_scheduled = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._write_out)

    def _write_out(self) -> None:
        """Render and write everything queued, in one write; close the transport after `_END`."""
        self._write_scheduled = False
        queue = self._queue
        if not queue or self._output_closed or (self.transport.paused and not self._ended):
            return
        chunks: list[bytes] = []
        live: list[Message] = []  # what goes back offline if this write fails
        end = False
        while queue:
            item = queue.popleft()
            if type(item) is bytes:
                chunks.append(item)
            elif item is _END:
                end = True
                break
            else:
                self._queued_messages -= 1
                chunks.append(self.render_message(item.message, item.delayed))
                if not item.delayed:
                    live.append(item.message)
        transport = self.transport
        try:
            if chunks:
                transport.write(chunks)
            if end:
                self._output_closed = True
                queue.clear()
                transport.close()
        except Exception as exc:  # the connection broke: the transport reports it lost
            log.debug("c2s: write to %s failed: %s", self.peer, exc)
            self._output_closed = True
            live += self._take_deliveries()
            queue.clear()
            self._salvage(live)

    def _take_deliveries(self) -> list[Message]:
        """Take the live messages out of the queue (and those held behind the offline replay).
        Replayed offline messages stay in storage until written, so they need no rescue."""
        queue = self._queue
        taken = [item.message for item in queue if type(item) is _Delivery and not item.delayed]
        if taken:
            kept = [item for item in queue if type(item) is not _Delivery or item.delayed]
            self._queued_messages -= len(taken)
            queue.clear()
            queue.extend(kept)
        held, self._held = self._held, None
        return taken + (held or [])

    def _salvage(self, lost: Sequence[Message]) -> None:
        """Persist first, then route: a message this session took but never wrote waits offline
        again for its user (chat-room messages excepted: rooms keep no offline copies), unless
        another of the user's sessions is available and had it too."""
        user, app = self.user, self.app
        if user is None or app is None:
            return
        entries = [(user.id, m.id) for m in lost if m.chat_type != "chatroom"]
        if not entries or self.ctx.node.router.online(app.uuid, (user.key,)):
            return
        task = asyncio.get_running_loop().create_task(self.ctx.node.messages.restore_offline(entries))
        _SALVAGING.add(task)
        task.add_done_callback(_SALVAGING.discard)

    # --- rendering stored messages ----------------------------------------------------------------
    def render_message(self, m: Message, delayed: bool = False, correction: int = 0) -> bytes:
        """A stored message as this client expects it (module docstring, docs/routing.md);
        `correction`: as the XEP-0308 correction of its first form."""
        return message_stanza(
            m,
            prefix=self.prefix,
            domain=self.ctx.domain,
            to=self.full_jid,
            json_body=self.json_bodies,
            xmlns_attr=self.xmlns_attr,
            delayed=delayed,
            receipt_request=self.ctx.receipts.wants(m.id) and not correction,
            correction=correction,
        ).encode()


def copy_to(el: ET.Element, sender: C2SSession, target: C2SSession, *, type: str | None = "") -> ET.Element:
    """`el` addressed from `sender`'s full JID (as `target` writes JIDs) to `target`."""
    assert sender.user is not None
    attrs = {k: v for k, v in el.attrib.items() if k not in ("from", "to", "id", "type")}
    if el.get("id"):
        attrs["id"] = el.get("id", "")
    stype = el.get("type") if type == "" else type
    if stype:
        attrs["type"] = stype
    attrs["from"] = f"{target.peer_jid(sender.user.username)}/{sender.resource}"
    attrs["to"] = target.full_jid
    out = ET.Element(el.tag, attrs)
    out.extend(list(el))
    return out
