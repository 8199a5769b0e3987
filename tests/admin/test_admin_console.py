"""The admin console at /admin, driven in Debian's headless Chromium (Playwright), against a real
`hxim serve` with XMPP clients (slixmpp) connected; and `hxim admin` on the command line.

What an administrator would check: the page says how to add an administrator while there is none;
a wrong password is refused; an app's secret is shown once and works; a user found by prefix,
deactivated (their live session is kicked, REST shows it), given a new password (it logs in);
a session kicked; a group member muted and unmuted, the group dissolved; a message from the app
reaches a connected client; the dashboard's session count moves when a client connects. A change
without the CSRF token, and a client outside `admin_allow_from`, are refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "webim"))
sys.path.insert(0, str(HERE.parent / "scenarios"))

from webim_browser import ARTIFACTS, Browser, TcpUser  # noqa: E402
from xmpp_helpers import XServer, start_xmpp_server  # noqa: E402

from conftest import BACKENDS, HXIM, stop_server, unique  # noqa: E402

PASSWORD = "correct horse battery"
TIMEOUT = 20.0


def hxim_admin(xs: XServer, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """`hxim admin ARGS` against the server's database, the password (if any) on stdin."""
    return subprocess.run(
        [*HXIM, "admin", *args], env=xs.server.env, input=password, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module", params=BACKENDS)
def xs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[XServer]:
    tmp = tmp_path_factory.mktemp(f"hxim-admin-{request.param}")
    xs, pg_name = start_xmpp_server(tmp, request.param, HXIM_ADMIN_BCRYPT_ROUNDS="4")
    try:
        yield xs
    finally:
        stop_server(xs.server, pg_name)


@pytest.fixture(scope="module")
def admin(xs: XServer) -> str:
    """An administrator `root` (added once per server)."""
    if "root" not in hxim_admin(xs, "list").stdout.split():
        r = hxim_admin(xs, "add", "root", "--password-stdin", password=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
    return "root"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


class Page:
    """One Chromium page on the console; every call waits for what it needs."""

    def __init__(self, browser: Browser, base: str, label: str) -> None:
        self.browser = browser
        self.base = base
        self.label = label
        self.context = browser.run(browser.browser.new_context(viewport={"width": 1200, "height": 900}))
        self.page = browser.run(self.context.new_page())

    def __call__(self, coro: Any) -> Any:
        return self.browser.run(coro, 60)

    def goto(self) -> None:
        self(self.page.goto(self.base + "/admin"))

    def click(self, selector: str) -> None:
        self(self.page.click(selector, timeout=TIMEOUT * 1000))

    def fill(self, selector: str, value: str) -> None:
        self(self.page.fill(selector, value, timeout=TIMEOUT * 1000))

    def text(self, selector: str) -> str:
        return str(self(self.page.locator(selector).first.inner_text(timeout=TIMEOUT * 1000)))

    def visible(self, selector: str) -> bool:
        return bool(self(self.page.locator(selector).first.is_visible()))

    def wait_text(self, selector: str, text: str) -> None:
        """Until the element shows `text`."""
        self(self.page.locator(selector, has_text=text).first.wait_for(timeout=TIMEOUT * 1000))

    def tab(self, name: str) -> None:
        self.click(f"nav button[data-tab={name}]")

    def pick_app(self, appkey: str) -> None:
        self(self.page.select_option("#app-select", appkey, timeout=TIMEOUT * 1000))

    def accept_dialogs(self) -> None:
        async def listen() -> None:  # on the browser's own loop: Playwright is not thread-safe
            self.page.on("dialog", lambda d: asyncio.get_running_loop().create_task(d.accept()))

        self(listen())

    def login(self, name: str, password: str) -> None:
        self.goto()
        self.fill("#login-name", name)
        self.fill("#login-password", password)
        self.click("#login-submit")

    def close(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            self(self.page.screenshot(path=str(ARTIFACTS / f"admin-{self.label}.png"), full_page=True))
        finally:
            self(self.context.close())


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, xs: XServer) -> Iterator[Page]:
    p = Page(browser, xs.server.base_url, f"{request.node.name}-{xs.server.backend}")
    try:
        yield p
    finally:
        p.close()


def until(check: Any, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


# --- the command line ------------------------------------------------------------------------------


def test_without_an_administrator_the_page_says_how_to_add_one_then_the_cli_manages_them(
    xs: XServer, page: Page
) -> None:
    if "root" not in hxim_admin(xs, "list").stdout.split():  # the module's first test: nobody yet
        page.goto()
        page.wait_text("#no-admins", "hxim admin add NAME")
        assert not page.visible("#login-form")

    name = unique("ops")
    r = hxim_admin(xs, "add", name, "--password-stdin", password="short\n")
    assert (r.returncode, r.stderr) == (1, "hxim: the password is too short: at least 10 characters\n")
    r = hxim_admin(xs, "add", name)  # no terminal to ask on, no --password-stdin
    assert r.returncode == 1 and "--password-stdin" in r.stderr
    r = hxim_admin(xs, "add", name, "--password-stdin", password=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert name in hxim_admin(xs, "list").stdout.split()
    r = hxim_admin(xs, "add", name, "--password-stdin", password=PASSWORD + "\n")
    assert (r.returncode, r.stderr.strip()) == (1, f"hxim: administrator {name} exists (hxim admin password "
                                                   f"{name} sets a new password)")
    r = hxim_admin(xs, "add", "bad name", "--password-stdin", password=PASSWORD + "\n")
    assert r.returncode == 1 and "is not legal" in r.stderr

    # a console session ends when the password changes, and the new password logs in
    http = httpx.Client(base_url=xs.server.base_url)
    assert http.post("/admin/login", json={"name": name, "password": PASSWORD}).status_code == 200
    assert http.get("/admin/api/apps").status_code == 200
    r = hxim_admin(xs, "password", name, "--password-stdin", password="a new long password\n")
    assert r.returncode == 0, r.stderr
    assert http.get("/admin/api/apps").status_code == 401
    assert http.post("/admin/login", json={"name": name, "password": PASSWORD}).status_code == 401
    assert http.post("/admin/login", json={"name": name, "password": "a new long password"}).status_code == 200

    r = hxim_admin(xs, "remove", name)
    assert r.returncode == 0, r.stderr
    assert http.get("/admin/api/apps").status_code == 401  # removed: the session is gone too
    r = hxim_admin(xs, "remove", name)
    assert r.returncode == 1 and f"no administrator {name}" in r.stderr


# --- the console in Chromium -------------------------------------------------------------------------


def test_log_in_create_an_app_whose_secret_is_shown_once(xs: XServer, admin: str, page: Page) -> None:
    page.login(admin, "not the password")
    page.wait_text("#login-error", "wrong name or password")
    assert not page.visible("#console")

    page.login(admin, PASSWORD)
    page.wait_text("#who", f"logged in as {admin}")
    page.tab("apps")
    name = unique("app")
    page.fill("#app-org", "console")
    page.fill("#app-name", name)
    page.click("#app-form button[type=submit]")
    page.wait_text("#secret-app", f"console#{name}")
    secret = page.text("#secret-value")
    assert secret.startswith("YXA6")
    page.wait_text("#apps-table", f"console#{name}")
    client_id = next(a["client_id"] for a in _apps(xs) if a["appkey"] == f"console#{name}")
    r = httpx.post(f"{xs.server.base_url}/console/{name}/token", json={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert r.status_code == 200, r.text

    page.click("#secret-dismiss")
    assert not page.visible("#secret-box")
    page.goto()  # once dismissed (or reloaded), the secret is nowhere on the page
    page.wait_text("#who", admin)
    assert secret not in str(page(page.page.content()))


def _apps(xs: XServer) -> list[dict[str, Any]]:
    http = httpx.Client(base_url=xs.server.base_url)
    assert http.post("/admin/login", json={"name": "root", "password": PASSWORD}).status_code == 200
    apps: list[dict[str, Any]] = http.get("/admin/api/apps").json()["apps"]
    return apps


def test_find_deactivate_reset_password_and_kick_a_user(xs: XServer, admin: str, page: Page) -> None:
    alice = unique("alice")
    xs.api.register(alice, unique("alicf"))
    client: TcpUser | None = TcpUser(xs, alice)
    try:
        page.login(admin, PASSWORD)
        page.pick_app(f"{xs.api.creds.org}#{xs.api.creds.app}")
        page.tab("users")
        page.fill("#user-prefix", alice[:8])
        page.click("#user-search button")
        page.click(f"#users-table tr:has-text('{alice}')")
        page.wait_text("#user-name", alice)
        page.wait_text("#sessions-of-user", "xmpp_tcp")
        assert "test" in page.text("#sessions-of-user tbody")

        # kick the one session: the client is disconnected
        page.click("#sessions-of-user tbody button")
        assert client is not None
        client.do(lambda c: _gone(c))
        client = _closed(client)

        # deactivate: the new live session is kicked, REST shows the user deactivated
        client = TcpUser(xs, alice)
        page.click("#user-search button")
        page.click(f"#users-table tr:has-text('{alice}')")
        page.wait_text("#sessions-of-user", "xmpp_tcp")
        page.wait_text("#user-toggle", "Deactivate")
        page.click("#user-toggle")
        page.wait_text("#user-state", "deactivated")
        assert client is not None
        client.do(lambda c: _gone(c))
        assert "not-authorized" in client.client.stream_errors
        client = _closed(client)
        entity = xs.api.get(f"/users/{alice}").json()["entities"][0]
        assert entity["activated"] is False
        page.click("#user-toggle")
        page.wait_text("#user-state", "active")
        assert xs.api.get(f"/users/{alice}").json()["entities"][0]["activated"] is True

        # a new password: it logs in, the old one no longer does
        page.fill("#user-password", "brand-new-1")
        page.click("#password-form button")
        page.wait_text("#status", "has a new password")
        assert xs.api.post("/token", token=None, json={
            "grant_type": "password", "username": alice, "password": "secret1"}).status_code != 200
        assert xs.api.user_token(alice, "brand-new-1")
    finally:
        _closed(client)


def _closed(client: TcpUser | None) -> None:
    if client is not None:
        client.close()


async def _gone(client: Any) -> None:
    await asyncio.wait_for(client.gone.wait(), TIMEOUT)


def test_mute_and_dissolve_a_group_and_send_a_message_a_client_receives(xs: XServer, admin: str, page: Page) -> None:
    owner, bob = unique("own"), unique("bob")
    xs.api.register(owner, bob)
    r = xs.api.post("/chatgroups", json={"groupname": "doomed", "desc": "d", "public": True, "owner": owner,
                                         "members": [bob]})
    assert r.status_code == 200, r.text
    gid = r.json()["data"]["groupid"]
    page.accept_dialogs()
    page.login(admin, PASSWORD)
    page.pick_app(f"{xs.api.creds.org}#{xs.api.creds.app}")
    page.tab("groups")
    page.click(f"table.rooms[data-kind=groups] tr:has-text('{gid}')")
    page.wait_text(".room-detail[data-kind=groups]", f"{bob} (member)")
    page.click(f".room-detail[data-kind=groups] li:has-text('{bob} (member)') button.mute")
    page.wait_text("#status", f"{bob} muted")
    muted = xs.api.get(f"/chatgroups/{gid}/mute").json()["data"]
    assert [m["user"] for m in muted] == [bob]
    page.wait_text(".room-detail[data-kind=groups]", "Muted (1)")
    page.click(".room-detail[data-kind=groups] button.unmute")
    page.wait_text("#status", f"{bob} unmuted")
    assert xs.api.get(f"/chatgroups/{gid}/mute").json()["data"] == []
    page.click(".room-detail[data-kind=groups] button.dissolve")
    page.wait_text("#status", f"{gid} dissolved")
    assert xs.api.get(f"/chatgroups/{gid}").status_code == 404

    client = TcpUser(xs, bob)
    try:
        page.tab("messages")
        page.fill("#message-to", bob)
        text = unique("hello from the console ")
        page.fill("#message-text", text)
        page.click("#message-form button")
        page.wait_text("#status", "sent")
        got = client.do(lambda c: c.next_message())
        assert text in got["body"]
    finally:
        client.close()


def test_the_dashboard_counts_a_client_that_connects(xs: XServer, admin: str, page: Page) -> None:
    page.login(admin, PASSWORD)
    page.wait_text("#sessions-table", "xmpp_tcp")
    before = int(page.text("#sessions-total"))
    name = unique("dash")
    xs.api.register(name)
    client = TcpUser(xs, name)
    try:
        until(lambda: int(page.text("#sessions-total")) == before + 1)
        assert "xmpp_tcp" in page.text("#sessions-table")
        points = page(page.page.locator("#chart-sessions polyline").get_attribute("points"))
        assert points and len(points.split()) >= 2
    finally:
        client.close()
    until(lambda: int(page.text("#sessions-total")) == before)


# --- the door ---------------------------------------------------------------------------------------------


def test_changes_need_the_csrf_token_and_an_allowed_address(xs: XServer, admin: str) -> None:
    http = httpx.Client(base_url=xs.server.base_url)
    r = http.post("/admin/login", json={"name": admin, "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
    csrf = r.json()["csrf"]
    body = {"org": "csrf", "app": unique("app")}
    r = http.post("/admin/api/apps", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = http.post("/admin/api/apps", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert body["app"] not in str(http.get("/admin/api/apps").json())
    r = http.post("/admin/api/apps", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["client_secret"].startswith("YXA6")
    # a login is JSON only: a form of another site cannot post one
    r = http.post("/admin/login", data={"name": admin, "password": PASSWORD})
    assert r.status_code == 415
    # logging out ends the session, even for a copy of its cookie
    kept = http.cookies["hxim_admin"]
    assert http.post("/admin/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert httpx.get(xs.server.base_url + "/admin/api/apps", cookies={"hxim_admin": kept}).status_code == 401

    # a client that is not on loopback (as a local proxy says with X-Forwarded-For) is refused
    r = httpx.get(xs.server.base_url + "/admin", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403 and "admin_allow_from" in r.text


def test_failed_logins_are_throttled(xs: XServer, admin: str) -> None:
    http = httpx.Client(base_url=xs.server.base_url)
    codes = [http.post("/admin/login", json={"name": "nobody-" + admin, "password": "wrong"}).status_code
             for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429, codes
    r = http.post("/admin/login", json={"name": "nobody-" + admin, "password": "wrong"})
    assert r.status_code == 429 and "try again in" in r.json()["error"] and int(r.headers["retry-after"]) > 0
