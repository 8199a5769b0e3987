"""Drive the real Easemob Web IM SDK (npm `easemob-websdk` 1.4.6 and 1.8.4) in headless Chromium.

Debian's `/usr/bin/chromium` is driven by Playwright's async API on an event loop of its own
thread (`LoopThread`), so the tests stay plain synchronous functions and can run slixmpp (TCP)
clients on another loop beside it. Each browser user is one page of `page.html` (one SDK
connection per page), served from this directory by a small HTTP server on another port than
hxim's, so every REST call the SDK makes is a real cross-origin request.

`WebUser` wraps a page: `login`, `send`, `call` (connection methods with callbacks), `wait` (the
next callback the SDK fired, matched on its data). Every page is screenshotted at the end of its
test, and the WebSocket frames it exchanged are written beside the screenshot, under
`tests/webim/artifacts/` (or `$HXIM_WEBIM_ARTIFACTS`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))

from xmpp_helpers import Client, XServer, xserver

from conftest import AppCreds

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("HXIM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("HXIM_WEBIM_ARTIFACTS", HERE / "artifacts"))
TIMEOUT = 20.0  # seconds to wait for a callback: generous, the machine may be shared
SDK_LINES = ["146", "184"]  # easemob-websdk 1.4.6 and 1.8.4 (package.json: npm aliases websdk146, websdk184)

__all__ = ["SDK_LINES", "WebUser", "TcpUser", "Browser", "xserver", "XServer", "TIMEOUT"]


class LoopThread:
    """An asyncio loop running forever on a daemon thread; `run` a coroutine there and wait."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 60) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(_as_coro(coro), self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), 10)
        # Not closed: callbacks a client library scheduled may still run (and must not fail) later.
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _as_coro(aw: Awaitable[T]) -> T:
    return await aw


# --- the static server for page.html ----------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


WEBIM_PACKAGES = ("websdk146", "websdk184", "crypto-js", "underscore")


def ensure_sdk(directory: Path = HERE, packages: Iterable[str] = WEBIM_PACKAGES) -> None:
    """Install the test page's npm packages (pinned in its package-lock.json) on first use."""
    if all((directory / "node_modules" / dep).is_dir() for dep in packages):
        return
    if shutil.which("npm") is None:
        pytest.fail(f"the browser tests of {directory.name} need npm to install {', '.join(packages)}")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=directory, check=True, capture_output=True,
                   timeout=300)


@contextlib.contextmanager
def static_server(directory: Path = HERE, packages: Iterable[str] = WEBIM_PACKAGES) -> Iterator[str]:
    """`directory` (a test page and its node_modules) over HTTP on a port of its own."""
    ensure_sdk(directory, packages)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the browser ----------------------------------------------------------------------------------------


class Browser:
    """One headless Chromium (Playwright) for the whole worker."""

    def __init__(self) -> None:
        if not Path(CHROMIUM).exists():
            pytest.fail(f"the Web IM SDK tests need Chromium at {CHROMIUM} (apt-get install chromium)")
        from playwright.async_api import async_playwright

        self.lt = LoopThread("chromium")

        async def start() -> tuple[Any, Any]:
            pw = await async_playwright().start()
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
            )
            return pw, browser

        self.pw, self.browser = self.lt.run(start())

    def run(self, coro: Awaitable[T], timeout: float = 60) -> T:
        return self.lt.run(coro, timeout)

    def close(self) -> None:
        async def stop() -> None:
            await self.browser.close()
            await self.pw.stop()

        with contextlib.suppress(Exception):
            self.lt.run(stop(), 30)
        self.lt.stop()


class WebUser:
    """One page of page.html with one SDK line loaded: a browser user of the Web IM SDK."""

    def __init__(
        self, browser: Browser, context: Any, page_url: str, sdk: str, xs: XServer, name: str,
        app: AppCreds | None = None, label: str | None = None,
    ) -> None:
        self.browser = browser
        self.sdk = sdk
        self.xs = xs
        self.name = name
        self.label = label or name
        self.frames: list[str] = []
        self.errors: list[str] = []
        self.app = app or xs.api.creds
        base = xs.server.base_url  # http://127.0.0.1:PORT
        self.api_url = base
        # The demo config gives `xmppURL` as host[:port]: the SDK builds ws://{url}/ws/ itself (§1.2).
        self.xmpp_url = base.removeprefix("http://")

        async def open_page() -> Any:
            page = await context.new_page()
            page.on("websocket", self._on_websocket)
            page.on("pageerror", lambda e: self.errors.append(str(e)))
            await page.goto(f"{page_url}/page.html?sdk={sdk}")
            await page.evaluate(
                "cfg => H.configure(cfg)",
                {"xmppUrl": self.xmpp_url, "apiUrl": self.api_url, "appKey": f"{self.app.org}#{self.app.app}",
                 "label": self.label},
            )
            return page

        self.page = browser.run(open_page())

    def _on_websocket(self, ws: Any) -> None:
        self.frames.append(f"-- websocket {ws.url}")
        ws.on("framesent", lambda f: self.frames.append(f"C: {f}"))
        ws.on("framereceived", lambda f: self.frames.append(f"S: {f}"))
        ws.on("close", lambda _: self.frames.append("-- closed"))

    @property
    def sockets(self) -> int:
        """How many WebSocket connections the page has opened."""
        return sum(1 for f in self.frames if f.startswith("-- websocket"))

    def js(self, expr: str, arg: Any = None, timeout: float = 60) -> Any:
        try:
            return self.browser.run(self.page.evaluate(expr, arg), timeout)
        except Exception as exc:  # re-raised plainly: the browser thread keeps no traceback alive
            message = f"{self.label} ({self.sdk}): {type(exc).__name__}: {exc}"
        raise AssertionError(message)

    # --- the SDK ----------------------------------------------------------------------------------

    def login(self, password: str | None = "secret1", token: str | None = None, **options: Any) -> dict[str, Any]:
        """conn.open() with a password or an access token: {"opened": info} or {"error": info}."""
        secret, by_token = (token, True) if token is not None else (password, False)
        return self.js("([u, s, t, o]) => H.login(u, s, t, o)", [self.name, secret, by_token, options])

    def online(self, password: str = "secret1") -> dict[str, Any]:
        """Log in with a password and wait until the server has the session available."""
        result = self.login(password)
        assert "opened" in result, (result, self.frames[-12:])
        self.wait_online()
        return result["opened"]

    def wait_online(self, online: bool = True) -> None:
        want = "online" if online else "offline"
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r = self.xs.api.get(f"/users/{self.name}/status")
            if r.status_code == 200 and r.json()["data"].get(self.name) == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never {want}; frames: {self.frames[-10:]}")

    def send(self, mtype: str, **opt: Any) -> dict[str, Any]:
        """new WebIM.message(mtype) + set(opt) + conn.send(): the SDK's success(id, serverMsgId)."""
        return self.js("([t, o]) => H.send(t, o)", [mtype, opt])

    def send_file(self, mtype: str, content: bytes, filename: str, file_type: str, **opt: Any) -> dict[str, Any]:
        return self.send(mtype, fileBase64=base64.b64encode(content).decode(), filename=filename,
                         fileType=file_type, **opt)

    def call(self, method: str, options: dict[str, Any] | None = None, wait: bool = True) -> dict[str, Any]:
        return self.js("([m, o, w]) => H.call(m, o, w)", [method, options or {}, wait])

    def wait(self, cb: str | list[str], match: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> Any:
        """The next callback `cb` fired with data containing `match`: its data."""
        got = self.js("([c, m, t]) => H.wait(c, m, t)", [cb, match or {}, int(timeout * 1000)], timeout + 30)
        if "timeout" in got:  # the page lists what was seen instead
            raise AssertionError(f"{self.label} ({self.sdk}): {got['timeout']}\nlast frames:\n"
                                 + "\n".join(self.frames[-15:]))
        return got.get("data")

    def pending(self, cbs: list[str], ms: int = 0) -> list[dict[str, Any]]:
        """The callbacks among `cbs` fired and not yet waited for (after `ms`)."""
        return self.js("([c, ms]) => H.pending(c, ms)", [cbs, ms])

    def download(self, url: str, secret: str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.js("([u, s, h]) => H.download(u, s, h)", [url, secret, headers or {}])

    def close(self) -> None:
        """conn.close() as the demo's logout button does."""
        self.js("() => H.conn && H.conn.close('logout')")

    def save(self, stem: str) -> Path:
        """A screenshot of the page and the WebSocket frames, as test artefacts (named after the test
        and the page's number in it, so that a new run replaces them; the page shows the user)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:150]
        shot = ARTIFACTS / f"{safe}.png"
        with contextlib.suppress(Exception):
            self.browser.run(self.page.screenshot(path=str(shot), full_page=True), 30)
        (ARTIFACTS / f"{safe}.frames.txt").write_text(
            "\n".join(self.frames) + ("\n\npage errors:\n" + "\n".join(self.errors) if self.errors else "") + "\n"
        )
        return shot


# --- a plain XMPP (TCP) user beside the browsers -------------------------------------------------------


class TcpUser:
    """A slixmpp client (tests/scenarios/xmpp_helpers.Client) on a loop of its own thread."""

    def __init__(self, xs: XServer, name: str) -> None:
        self.lt = LoopThread(f"slixmpp-{name}")

        async def make() -> Client:
            client = Client(xs, name)
            await client.online()
            return client

        self.client = self.lt.run(make())

    def do(self, fn: Callable[[Client], Awaitable[T]], timeout: float = 30) -> T:
        return self.lt.run(fn(self.client), timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.lt.run(self.client.close(), 15)
        self.lt.stop()
