"""Drive the modern Easemob SDKs (npm `easemob-websdk` 4.21.1 and `agora-chat` 1.4.0) in headless Chromium.

The browser plumbing is tests/webim's (`webim_browser.Browser`: Debian's `/usr/bin/chromium` driven by
Playwright's async API on a loop of its own thread). Each user is one page of `page.html` with one SDK
bundle loaded unmodified from `node_modules` (one connection per page), served by a small HTTP server
on another port than hxim's, so every REST call the SDK makes is a real cross-origin request. The SDK
is pointed at hxim with `url: ws://127.0.0.1:<port>/websocket`, `apiUrl`, `isHttpDNS: false`.

`MsyncUser` wraps a page: `login`, `send`, `call` (connection methods returning promises), `wait` (the
next event the SDK fired, matched on its data). Every page is screenshotted at the end of its test and
the msync frames it exchanged are written beside the screenshot (decoded to protobuf text when the
descriptor is importable), under `tests/msync/artifacts/` (or `$HXIM_MSYNC_ARTIFACTS`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "webim"))

from webim_browser import Browser, WebUser, XServer  # noqa: E402
from webim_browser import static_server as webim_static_server  # noqa: E402

ARTIFACTS = Path(os.environ.get("HXIM_MSYNC_ARTIFACTS", HERE / "artifacts"))
TIMEOUT = 20.0  # seconds to wait for an event: generous, the machine may be shared
SDKS = ["easemob", "agora"]  # easemob-websdk 4.21.1 and agora-chat 1.4.0 (package.json)
PACKAGES = {"easemob": "easemob-websdk", "agora": "agora-chat"}

__all__ = ["SDKS", "TIMEOUT", "Browser", "MsyncUser", "XServer", "static_server"]


@contextlib.contextmanager
def static_server() -> Iterator[str]:
    """This directory (page.html, harness.js, node_modules) over HTTP on a port of its own."""
    with webim_static_server(HERE, PACKAGES.values()) as url:
        yield url


# --- frames as text, for the artefacts -------------------------------------------------------------


def describe_frame(data: bytes, outgoing: bool) -> str:
    """An msync frame as protobuf text (envelope, payload, metas and their bodies); base64 if the
    descriptor is not importable or the frame does not parse."""
    try:
        from google.protobuf import text_format

        from hxim.msync import easemob_pb2 as pb

        frame = pb.MSync.FromString(data)
        parts = [text_format.MessageToString(frame, as_one_line=True, use_short_repeated_primitives=True)
                 .split(" payload:")[0]]
        kinds: dict[int, Any] = {
            0: pb.CommSyncUL if outgoing else pb.CommSyncDL,
            1: None if outgoing else pb.CommUnreadDL,
            2: pb.CommNotice,
            3: pb.Provision,
            4: pb.Logout,
        }
        kind = kinds.get(frame.command)
        if kind is not None and frame.payload:
            payload = kind.FromString(frame.payload)
            metas = [payload.meta] if outgoing and frame.command == 0 and payload.HasField("meta") else []
            if not outgoing and frame.command == 0:
                metas = list(payload.metas)
            parts.append("  " + text_format.MessageToString(payload, as_one_line=True))
            bodies = {0: pb.StatisticsBody, 1: pb.MessageBody, 2: pb.MUCBody, 3: pb.RosterBody}
            for meta in metas:
                body_kind = bodies.get(meta.ns)
                if body_kind is not None:
                    body = text_format.MessageToString(body_kind.FromString(meta.payload), as_one_line=True)
                    parts.append(f"    ns={meta.ns} body: {body}")
        return "\n".join(parts)
    except Exception:  # artefacts only: never fail a test over them
        return "base64:" + base64.b64encode(data).decode()


class MsyncUser(WebUser):
    """One page of page.html with one SDK bundle loaded: a user of the modern Easemob SDK (the page
    plumbing, `js`, `wait`, `pending` and `sockets`, is tests/webim's)."""

    def __init__(
        self, browser: Browser, context: Any, page_url: str, sdk: str, xs: XServer, name: str,
        label: str | None = None,
    ) -> None:
        self.browser = browser
        self.sdk = sdk
        self.xs = xs
        self.name = name
        self.label = label or name
        self.frames: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.app = xs.api.creds
        base = xs.server.base_url  # http://127.0.0.1:PORT
        self.api_url = base
        self.ws_url = base.replace("http://", "ws://") + "/websocket"

        async def open_page() -> Any:
            page = await context.new_page()
            page.on("websocket", self._on_websocket)
            page.on("pageerror", lambda e: self.errors.append(str(e)))
            page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"[:500]))
            await page.goto(f"{page_url}/page.html?sdk={sdk}")
            await page.evaluate(
                "cfg => H.configure(cfg)",
                {"url": self.ws_url, "apiUrl": self.api_url, "appKey": f"{self.app.org}#{self.app.app}",
                 "label": self.label},
            )
            return page

        self.page = browser.run(open_page())

    def _on_websocket(self, ws: Any) -> None:
        self.frames.append(f"-- websocket {ws.url}")

        def frame(prefix: str, outgoing: bool, payload: Any) -> None:
            if isinstance(payload, (bytes, bytearray)):
                self.frames.append(f"{prefix}: {describe_frame(bytes(payload), outgoing)}")
            else:
                self.frames.append(f"{prefix}: {payload}")

        ws.on("framesent", lambda p: frame("C", True, p))
        ws.on("framereceived", lambda p: frame("S", False, p))
        ws.on("close", lambda _: self.frames.append("-- closed"))

    def where(self) -> str:
        """The last frames and any page errors, for assertion messages."""
        tail = "\n".join(self.frames[-12:])
        errors = ("\npage errors: " + "; ".join(self.errors[-5:])) if self.errors else ""
        return f"{self.label} ({self.sdk}) last frames:\n{tail}{errors}"

    # --- the SDK ----------------------------------------------------------------------------------

    def login(self, password: str | None = "secret1", token: str | None = None, **options: Any) -> dict[str, Any]:
        """conn.open() with a password or an access token: {"ok": True, "value"} or {"ok": False, "error"}."""
        secret, by_token = (token, True) if token is not None else (password, False)
        return self.js("([u, s, t, o]) => H.login(u, s, t, o)", [self.name, secret, by_token, options])

    def online(self, password: str = "secret1", **options: Any) -> dict[str, Any]:
        """Log in with a password; assert it worked and that onConnected fired."""
        result = self.login(password, **options)
        assert result.get("ok") is True, (result, self.where())
        self.wait("onConnected")
        return result

    def send(self, **opt: Any) -> dict[str, Any]:
        """message.create(opt) + conn.send(): {"ok": True, "value": {localMsgId, serverMsgId, message}}."""
        return self.js("o => H.send(o)", opt)

    def text(self, to: str, msg: str, chat_type: str = "singleChat", **opt: Any) -> dict[str, Any]:
        return self.send(type="txt", chatType=chat_type, to=to, msg=msg, **opt)

    def call(self, method: str, *args: Any) -> dict[str, Any]:
        """conn.method(*args), its promise settled: {"ok": True, "value"} / {"ok": False, "error"}."""
        return self.js("([m, a]) => H.call(m, a)", [method, list(args)])

    def seen(self) -> list[str]:
        return self.js("() => H.seen()")

    def close(self) -> None:
        """conn.close() as an app's logout does."""
        self.js("() => H.conn && H.conn.close()")

    def save(self, stem: str) -> Path:
        """A screenshot of the page and its frames, as test artefacts (named after the test and the
        page's number in it, so that a new run replaces them)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:150]
        shot = ARTIFACTS / f"{safe}.png"
        with contextlib.suppress(Exception):
            self.browser.run(self.page.screenshot(path=str(shot), full_page=True), 30)
        extra = ""
        if self.errors:
            extra += "\n\npage errors:\n" + "\n".join(self.errors)
        if self.console:
            extra += "\n\nconsole:\n" + "\n".join(self.console[-200:])
        (ARTIFACTS / f"{safe}.frames.txt").write_text("\n".join(self.frames) + extra + "\n")
        return shot


def wait_until(check: Any, what: str, timeout: float = TIMEOUT) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")
