"""Running a node: open storage, print where it listens, serve HTTP with uvicorn."""

from __future__ import annotations

import asyncio
import gc
import logging

import uvicorn
import uvloop

from hxim.app import Node
from hxim.c2s.bosh import BoshManager
from hxim.c2s.listener import start_tcp_listener
from hxim.cli import _print_app
from hxim.config import Settings
from hxim.http.app import build_http_app

__all__ = ["serve"]

log = logging.getLogger("hxim")


def serve(settings: Settings) -> int:
    node = Node(settings)
    created = node.open()
    for app in created:
        print("created the default app; keep these credentials, they are printed only once:", flush=True)
        _print_app(app, False)
    http_app = build_http_app(node)
    config = uvicorn.Config(
        http_app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        backlog=2048,
        timeout_keep_alive=30,
        ws_max_size=settings.xmpp_max_stanza_bytes + 4096,  # RFC 7395: one stanza per message
        ws_per_message_deflate=settings.xmpp_ws_deflate,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        xmpp = await start_tcp_listener(node.c2s)  # same loop as uvicorn (issue 5)
        if xmpp is not None:
            addrs = ", ".join(f"{a[0]}:{a[1]}" for a in (sock.getsockname() for sock in xmpp.sockets))
            print(f"hxim XMPP listening on {addrs} (domain {settings.xmpp_domain})", flush=True)
        # What the node loaded before serving lives as long as the process: keep it out of the
        # cyclic collector's passes.
        gc.collect()
        gc.freeze()
        # Stanzas in flight live for milliseconds; with CPython's default of 700 allocations
        # between young collections many of them get promoted, and the old generation's full
        # collections then walk every session's objects (100+ ms pauses at 5,000 sessions).
        _, middle, old = gc.get_threshold()
        gc.set_threshold(settings.gc_young_threshold, middle, old)
        task = asyncio.create_task(server.serve())
        bosh_stop = asyncio.create_task(_end_bosh_on_exit(server, http_app.state.bosh))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            apps = ", ".join(a.appkey for a in node.apps.list_sync())
            default = node.default_app.appkey if node.default_app else "none"
            print(
                f"hxim listening on http://{settings.http_host}:{settings.http_port} "
                f"(database {node.db.engine.url.render_as_string(hide_password=True)}); "
                f"apps: {apps}; default app: {default}",
                flush=True,
            )
        try:
            await task
        finally:
            bosh_stop.cancel()
            if xmpp is not None:
                xmpp.close()
                for session in list(node.c2s.live()):
                    session.close("system-shutdown")

    try:
        # uvloop for the whole node: HTTP, WebSocket and the XMPP listener share this loop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())
    finally:
        node.close()
    return 0


async def _end_bosh_on_exit(server: uvicorn.Server, bosh: BoshManager) -> None:
    """Answer held BOSH requests with `system-shutdown` as soon as the server is asked to stop:
    uvicorn waits for requests in flight before it finishes, and a held one lasts up to `wait`."""
    while not server.should_exit:
        await asyncio.sleep(0.25)
    bosh.shutdown()
