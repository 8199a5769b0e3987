"""XMPP over BOSH (XEP-0124 + XEP-0206) at `/http-bind/` on the HTTP port: the connection manager.

What ejabberd and Prosody offer, and what Easemob's Web IM SDK 1.x uses when its `url` is
`http(s)://host/http-bind/` (webim-xmpp.md §1.2, §3.9). One `BoshConnection` per BOSH session
(`sid`) is the `Transport` of one ordinary `C2SSession` in WebSocket framing (ARCHITECTURE.md
rule 2): each child of a request `<body/>` is fed to the session as one RFC 7395 frame, a
session creation or `xmpp:restart='true'` as `<open/>`, a `type='terminate'` as `<close/>`; what
the session writes goes out inside the response `<body/>` of a held request (the wire format is
`hxim.xmpp.bosh`). This module owns the HTTP side:

* **rid**: requests are processed in rid order; a request may run ahead of the next expected rid
  by at most `requests - 1` (it waits for the ones before it); a repeated rid is answered with
  the response kept for it (XEP-0124 §14.3, the last `requests` responses are kept, and a repeat
  of a request still held shares its answer); a rid outside the window, or an older one whose
  response is gone, ends the session with `item-not-found` (§14.2).
* **long polling**: a request is held until the session has something to send or `wait`
  seconds pass (the client's `wait`, capped by `xmpp_bosh_max_wait_seconds`); at most `hold`
  requests are held (`xmpp_bosh_max_hold`), the oldest being answered when a new one comes.
  While no request is held the transport reports itself `paused`, so output waits in the
  session's own bounded queue (`xmpp_queue_max`) and nothing is rendered for nobody.
* **inactivity**: with no request outstanding for `xmpp_bosh_inactivity_seconds` the session is
  over; the session treats that as a lost connection, so live messages it had queued go back
  offline (`C2SSession._salvage`, docs/routing.md).
* **limits and errors**: at most `xmpp_bosh_max_sessions` BOSH sessions per node and
  `xmpp_bosh_max_body_bytes` per request; errors are XEP-0124 §17 terminal conditions answered
  with HTTP 200 and `<body type='terminate' condition='…'/>` (§17.2), or the §17.1 HTTP status for
  a session whose client sent no `ver` (docs/DECISIONS.md).
* **CORS** headers on every response, and OPTIONS answered (webim-xmpp.md §1.6).
* **workers**: under `hxim serve --workers N` a request for a session another worker holds is
  passed to that worker (`bosh_relay.py`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from hxim.c2s.session import C2SSession
from hxim.xmpp.bosh import (
    BoshError,
    BoshRequest,
    classify_output,
    close_frame,
    legacy_status,
    open_frame,
    parse_body,
    render_body,
    render_terminate,
)

if TYPE_CHECKING:
    from hxim.c2s.bosh_relay import BoshRelay
    from hxim.c2s.context import C2S

__all__ = ["BOSH_VERSION", "BoshConnection", "BoshManager", "CORS_HEADERS"]

log = logging.getLogger("hxim.c2s")

BOSH_VERSION = (1, 11)  # XEP-0124 version 1.11
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Requested-With, Accept",
    "Access-Control-Max-Age": "86400",
}
_XML = "text/xml; charset=utf-8"


def _version(text: str | None) -> str:
    """The `ver` to answer: ours, or the client's if it is lower (XEP-0124 §7.2)."""
    ours = f"{BOSH_VERSION[0]}.{BOSH_VERSION[1]}"
    major, _, minor = (text or "").partition(".")
    if not (major.isdecimal() and minor.isdecimal()) or (int(major), int(minor)) >= BOSH_VERSION:
        return ours
    return f"{int(major)}.{int(minor)}"


class BoshConnection:
    """One BOSH session: the held HTTP requests of one client, and its session's `Transport`."""

    def __init__(
        self, manager: BoshManager, sid: str, rid: int, *, wait: int, hold: int, inactivity: float, legacy: bool
    ) -> None:
        self.manager = manager
        self.sid = sid
        self.wait = wait
        self.hold = hold
        self.requests = hold + 1
        self.inactivity = inactivity
        self.legacy = legacy  # no `ver` at creation: errors as HTTP statuses (XEP-0124 §17.1)
        self.session: C2SSession | None = None
        self.creation_rid = rid
        self.creation_attrs: dict[str, str] = {}
        self.next_rid = rid  # the lowest rid not processed yet
        self.closed = False  # writes are refused
        self.finished = False  # the terminate went out (or the session was dropped): sid forgotten
        self._closing = False  # the session ended: a terminate body is due after what waits
        self._out: list[bytes] = []  # written by the session, not sent yet
        self._error: bytes | None = None  # the session's <stream:error>, for the terminate body
        self._condition: str | None = None  # why the BOSH layer ended the session, if it did
        self._responses: dict[int, asyncio.Future[bytes]] = {}
        self._waiters: deque[tuple[int, asyncio.Future[bytes]]] = deque()  # held requests, oldest first
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._gates: dict[int, asyncio.Future[None]] = {}  # requests waiting for an earlier rid
        self._busy = 0
        self._inactive: asyncio.TimerHandle | None = None

    # --- the session's Transport ------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        """No request is held: output waits in the session's queue until one comes."""
        return not self._waiters

    @property
    def holding(self) -> int:
        """How many requests are held now."""
        return len(self._waiters)

    def write(self, chunks: Sequence[bytes]) -> None:
        if self.closed:
            raise ConnectionError("the BOSH session is over")  # the session keeps what it can
        payload, error, _closed = classify_output(chunks)
        self._out.extend(payload)
        if error is not None:
            self._error = error
        self._answer()

    async def drain(self) -> None:
        return None

    async def sent(self, timeout: float) -> None:
        return None  # answered with the held requests

    async def start_tls(self, flush: Callable[[], Awaitable[None]]) -> None:  # pragma: no cover
        raise RuntimeError("no STARTTLS over BOSH")  # the stream never asks in WebSocket framing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._answer()

    # --- requests ---------------------------------------------------------------------------------
    async def handle(self, req: BoshRequest) -> bytes:
        """Process one request of this session and return its response body."""
        rid = req.rid
        known = self._responses.get(rid)
        if known is not None:  # a repeat (XEP-0124 §14.3): the same answer
            return await asyncio.shield(known)
        if self.finished:
            raise BoshError("item-not-found", "The session is over.")
        if not self.next_rid <= rid < self.next_rid + self.requests:
            self.kill("item-not-found")
            raise BoshError("item-not-found", "The rid is outside the window.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._responses[rid] = future
        for old in [r for r, f in self._responses.items() if r < rid - self.requests and f.done()]:
            del self._responses[old]
        self._busy += 1
        if self._inactive is not None:
            self._inactive.cancel()
            self._inactive = None
        try:
            if rid != self.next_rid:
                gate = self._gates[rid] = loop.create_future()
                try:
                    await asyncio.wait_for(gate, self.wait)
                except TimeoutError:
                    self.kill("item-not-found")  # an earlier request never came
                finally:
                    self._gates.pop(rid, None)
            if not self.finished:
                while len(self._waiters) >= max(self.hold, 1):  # a new request releases the oldest held
                    held_rid, held = self._waiters.popleft()
                    self._settle(held_rid, held, self._next_body(held_rid))
                await self._process(req)
                self.next_rid = rid + 1
                gate_next = self._gates.get(self.next_rid)
                if gate_next is not None and not gate_next.done():
                    gate_next.set_result(None)
            if not future.done():
                self._waiters.append((rid, future))
                if self._out or self._closing:
                    self._answer()
                elif self.session is not None:
                    self.session.resume_writing()  # what the session queued goes out now
                if not future.done():
                    if self.hold == 0:
                        self._release(rid, future)
                    else:
                        self._timers[rid] = loop.call_later(self.wait, self._release, rid, future)
            return await asyncio.shield(future)
        finally:
            self._busy -= 1
            if self._busy == 0 and not self.finished:
                self._inactive = loop.call_later(self.inactivity, self._expired)

    async def _process(self, req: BoshRequest) -> None:
        session = self.session
        assert session is not None
        if req.rid == self.creation_rid or req.restart:
            await session.received(open_frame(self.manager.ctx.domain, req.lang))
            if req.restart:
                return  # XEP-0206 §5: a restart request carries no payload
        for frame in req.frames():
            if session.finished:
                return
            await session.received(frame)
        if req.terminate:
            await session.received(close_frame())

    # --- responses --------------------------------------------------------------------------------
    def _answer(self) -> None:
        """Answer held requests, oldest first, while there is something to send."""
        while self._waiters and (self._out or self._closing):
            rid, future = self._waiters.popleft()
            self._settle(rid, future, self._next_body(rid))

    def _next_body(self, rid: int) -> bytes:
        """The response for request `rid`: what waits; else the terminate if the session ended
        (stanzas first: a client reads nothing else in a terminate body); else an empty body."""
        attrs = None
        if rid == self.creation_rid:
            attrs = dict(self.creation_attrs)
            if self.session is not None and self.session.stream.stream_id:
                attrs["authid"] = self.session.stream.stream_id
        if self._out:
            out, self._out = self._out, []
            return render_body(attrs, out)
        if self._closing:
            self._finish()
            if self._error is not None:
                return render_terminate("remote-stream-error", [self._error])
            return render_terminate(self._condition)
        return render_body(attrs)

    def _settle(self, rid: int, future: asyncio.Future[bytes], body: bytes) -> None:
        timer = self._timers.pop(rid, None)
        if timer is not None:
            timer.cancel()
        if not future.done():
            future.set_result(body)

    def _release(self, rid: int, future: asyncio.Future[bytes]) -> None:
        """`wait` passed (or `hold` is 0): answer request `rid` with what there is."""
        try:
            self._waiters.remove((rid, future))
        except ValueError:
            return
        self._settle(rid, future, self._next_body(rid))

    # --- the end ----------------------------------------------------------------------------------
    def kill(self, condition: str | None) -> None:
        """End the BOSH session now: held requests get the terminate, the session is dropped as a
        lost connection (its queued live messages go back offline)."""
        if self.finished:
            return
        self._condition = condition
        self._finish()
        body = render_terminate(condition)
        while self._waiters:
            rid, future = self._waiters.popleft()
            self._settle(rid, future, body)

    def _expired(self) -> None:
        self._inactive = None
        if not self.finished and self._busy == 0:
            log.debug("bosh: session %s inactive for %s s", self.sid, self.inactivity)
            self.kill(None)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.closed = True
        self._closing = True
        if self._inactive is not None:
            self._inactive.cancel()
            self._inactive = None
        for gate in self._gates.values():
            if not gate.done():
                gate.set_result(None)
        self.manager.forget(self)
        if self.session is not None:  # not from inside the session's own write
            asyncio.get_running_loop().call_soon(self.session.connection_lost)


class BoshManager:
    """The BOSH sessions of one node and the `/http-bind/` endpoint."""

    def __init__(self, ctx: C2S) -> None:
        self.ctx = ctx
        self.sessions: dict[str, BoshConnection] = {}
        self.relay: BoshRelay | None = None  # a worker of `hxim serve --workers N`: the others' sessions

    def forget(self, conn: BoshConnection) -> None:
        if self.sessions.get(conn.sid) is conn:
            del self.sessions[conn.sid]

    async def endpoint(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=200, headers=CORS_HEADERS)
        if request.method == "GET":
            return Response(
                "hxim: XMPP over BOSH (XEP-0124, XEP-0206). POST a <body/> here.\n",
                media_type="text/plain; charset=utf-8",
                headers=CORS_HEADERS,
            )
        legacy = False
        try:
            limit = self.ctx.settings.xmpp_bosh_max_body_bytes
            raw = await _read_body(request, limit)
            req = parse_body(raw, limit)
            sid = req.sid
            if sid is None:
                legacy = "ver" not in req.attrs
                body = await self.create(req, request)
            else:
                conn = self.sessions.get(sid)
                if conn is None and self.relay is not None and (holder := self.relay.holder(sid)) is not None:
                    answer = await self.relay.forward(holder, raw)
                    if answer is not None:
                        return Response(answer[1], status_code=answer[0], media_type=_XML, headers=CORS_HEADERS)
                    if self.relay.stopping:
                        raise BoshError("system-shutdown", "The server is stopping.")
                if conn is None:
                    raise BoshError("item-not-found", "No such BOSH session.")
                legacy = conn.legacy
                body = await conn.handle(req)
        except BoshError as exc:
            if legacy:
                return Response(status_code=legacy_status(exc.condition), headers=CORS_HEADERS)
            body = render_terminate(exc.condition)
        return Response(body, media_type=_XML, headers=CORS_HEADERS)

    async def create(self, req: BoshRequest, request: Request) -> bytes:
        """A session creation request (XEP-0124 §7.1, XEP-0206 §5): a new C2S session."""
        ctx = self.ctx
        s = ctx.settings
        if not s.xmpp_enabled:
            raise BoshError("remote-connection-failed", "XMPP is not served here.")
        to = req.attrs.get("to", "")
        if to.lower().rstrip(".") != ctx.domain_key:
            raise BoshError("host-unknown", "This server does not serve that domain.")
        if len(self.sessions) >= s.xmpp_bosh_max_sessions:
            raise BoshError("remote-connection-failed", "Too many BOSH sessions.")
        wait = min(req.number("wait", s.xmpp_bosh_max_wait_seconds), s.xmpp_bosh_max_wait_seconds)
        hold = min(req.number("hold", 1), s.xmpp_bosh_max_hold)
        sid = secrets.token_urlsafe(18) + (self.relay.tag if self.relay is not None else "")
        conn = BoshConnection(
            self, sid, req.rid, wait=wait, hold=hold, inactivity=s.xmpp_bosh_inactivity_seconds,
            legacy="ver" not in req.attrs,
        )
        conn.creation_attrs = {
            "sid": sid,
            "wait": str(wait),
            "hold": str(hold),
            "requests": str(conn.requests),
            "inactivity": str(max(1, round(s.xmpp_bosh_inactivity_seconds))),
            "polling": str(s.xmpp_bosh_polling_seconds),
            "ver": _version(req.attrs.get("ver")),
            "from": ctx.domain,
            "secure": "true",
            "xmpp:version": "1.0",
            "xmpp:restartlogic": "true",
        }
        client = request.client
        session = C2SSession(
            ctx,
            conn,
            framing="websocket",
            device="xmpp-bosh",
            mechanisms=s.xmpp_ws_mechanisms,
            secure=request.url.scheme == "https",
            peer=f"{client.host}:{client.port}" if client else "",
        )
        conn.session = session
        self.sessions[sid] = conn
        session.start()
        return await conn.handle(req)

    def shutdown(self) -> None:
        """The node stops: held requests get `system-shutdown` at once (queued live messages of
        sessions with no held request go back offline)."""
        if self.relay is not None:
            self.relay.stop()
        for conn in list(self.sessions.values()):
            if conn.holding and conn.session is not None:
                conn.session.close("system-shutdown")
            conn.kill("system-shutdown")


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdecimal() and int(length) > limit:
        raise BoshError("policy-violation", "The request body is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BoshError("policy-violation", "The request body is too large.")
        chunks.append(chunk)
    return b"".join(chunks)
