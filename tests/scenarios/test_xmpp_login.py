"""XMPP over TCP with slixmpp: logging in (RFC 6120 §6, webim-xmpp.md §3.2)."""

from __future__ import annotations

from xmpp_helpers import DOMAIN, Client, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]


def test_login_each_mechanism(xserver: XServer) -> None:
    name = unique("login")
    xserver.api.register(name)

    async def scenario() -> None:
        for mech in ("PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"):
            c = Client(xserver, name, mech=mech, resource=mech)
            assert await c.login() == "ok", mech
            assert str(c.boundjid) == xserver.jid(name, mech)
            await c.close()

    run(scenario)


def test_login_with_token(xserver: XServer) -> None:
    name = unique("tok")
    xserver.api.register(name)
    token = xserver.api.user_token(name)

    async def scenario() -> None:
        c = Client(xserver, name, "$t$" + token, mech="PLAIN")
        assert await c.login() == "ok"
        await c.close()
        bad = Client(xserver, name, "$t$" + token[:-2] + "xx", mech="PLAIN")
        assert await bad.login() == "failed"

    run(scenario)


def test_wrong_password_and_unknown_user(xserver: XServer) -> None:
    name = unique("wrong")
    xserver.api.register(name)

    async def scenario() -> None:
        for mech in ("PLAIN", "SCRAM-SHA-256"):
            assert await Client(xserver, name, "nope", mech=mech).login() == "failed"
            assert await Client(xserver, unique("ghost"), mech=mech).login() == "failed"

    run(scenario)


def test_deactivated_user_is_refused_and_kicked(xserver: XServer) -> None:
    name = unique("deact")
    api = xserver.api
    api.register(name)

    async def scenario() -> None:
        c = Client(xserver, name)
        await c.online()
        assert api.post(f"/users/{name}/deactivate").status_code == 200
        await c.gone.wait()
        assert "not-authorized" in c.stream_errors
        for mech in ("PLAIN", "SCRAM-SHA-1"):
            assert await Client(xserver, name, mech=mech).login() == "failed"
        assert api.post(f"/users/{name}/activate").status_code == 200
        again = Client(xserver, name)
        assert await again.login() == "ok"
        await again.close()

    run(scenario)


def test_default_app_short_jid(xserver: XServer) -> None:
    """Users of the default app (the first created: `main` here) may log in as `{username}@domain`."""
    name = unique("short")
    xserver.api.register(name)

    async def scenario() -> None:
        c = Client(xserver, name, jid=f"{name}@{DOMAIN}/r1", mech="SCRAM-SHA-1")
        assert await c.login() == "ok"
        assert str(c.boundjid) == f"{name}@{DOMAIN}/r1"
        await c.close()

    run(scenario)
