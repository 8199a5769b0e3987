"""BOSH sessions across the workers of `hxim serve --workers N` (workers.py).

A BOSH session lives in the worker that created it, but its client sends its requests over
whatever HTTP connections it has, and the kernel hands each new connection to any worker: a
request may reach a worker that does not hold its session. So, under workers, a session's `sid`
names the worker that holds it (`…​.2`: worker 2), every worker also listens on a private Unix
socket of its own (ports.py, `Peers`), and a worker that receives a request for another worker's
session passes it there, the body as it came, and answers with what the holder answered. The
holder sees an ordinary BOSH request: rid order, repeats and long polling are its own, as for any
request.

A holder that has gone (it died: its sessions went with it) answers nothing; the client gets
`item-not-found`, as for a session that ended. A relayed request waits for the holder at most
`xmpp_bosh_max_wait_seconds` (the longest it holds a request) plus `xmpp_bosh_inactivity_seconds`;
when the relaying worker stops, the requests it relays end with `system-shutdown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from hxim.config import Settings
from hxim.ports import Peers

__all__ = ["BoshRelay"]

log = logging.getLogger("hxim.c2s")


class BoshRelay:
    """Where this worker's sessions are named from, and the way to the other workers' sessions."""

    def __init__(self, settings: Settings, peers: Peers) -> None:
        self.peers = peers
        self.tag = f".{peers.number}"  # appended to the sids this worker makes
        self._timeout = httpx.Timeout(
            5.0, read=settings.xmpp_bosh_max_wait_seconds + settings.xmpp_bosh_inactivity_seconds
        )
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._stopping = asyncio.Event()

    def holder(self, sid: str) -> int | None:
        """The worker that holds session `sid`, when it is another one."""
        _, dot, number = sid.rpartition(".")
        if not dot or not number.isdecimal():
            return None
        n = int(number)
        return n if 1 <= n <= self.peers.count and n != self.peers.number else None

    async def forward(self, holder: int, body: bytes) -> tuple[int, bytes] | None:
        """Pass a request to worker `holder`: its HTTP status and body, or None when it cannot be
        reached (it has gone) or this worker stops (`stopping`)."""
        call = asyncio.ensure_future(self._post(holder, body))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({call, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not call.done():
            call.cancel()
            return None
        try:
            answer = call.result()
        except httpx.HTTPError as exc:
            log.debug("bosh: worker %d did not answer a relayed request: %s", holder, exc)
            return None
        return answer.status_code, answer.content

    async def _post(self, holder: int, body: bytes) -> httpx.Response:
        client = self._clients.get(holder)
        if client is None:
            transport = httpx.AsyncHTTPTransport(uds=self.peers.path(holder))
            client = self._clients[holder] = httpx.AsyncClient(transport=transport, timeout=self._timeout)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        try:
            return await client.post("http://worker/http-bind/", content=body, headers=headers)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            # a kept connection the holder had closed: once more on a new one (a BOSH request
            # sent again is answered as a repeat of its rid, never handled twice)
            return await client.post("http://worker/http-bind/", content=body, headers=headers)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """The node stops: the requests being relayed end now."""
        self._stopping.set()

    async def aclose(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self._clients.clear()
