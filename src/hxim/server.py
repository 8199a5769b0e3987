"""Running a node: open storage, print where it listens, serve HTTP with uvicorn."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from hxim.app import Node
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
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
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
        await task

    try:
        asyncio.run(run())
    finally:
        node.close()
    return 0
