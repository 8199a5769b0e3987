"""Logging a client in: SASL PLAIN (a password, or an access token) and SCRAM against the user
service, for one session, with failed attempts throttled per account and address
(`LoginThrottle`: a throttled attempt is refused with `temporary-auth-failure`).

The sans-I/O stream asks (`AuthRequested`, `CredentialsRequested`) and is answered here
(`accept`/`reject`/`provide_credentials`); it reports how each attempt ended (`outcome`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hxim import errors
from hxim.xmpp.events import Authenticated, AuthFailed, AuthRequested, CredentialsRequested
from hxim.xmpp.jid import JID

if TYPE_CHECKING:
    from hxim.c2s.session import C2SSession

__all__ = ["address", "outcome", "plain", "scram"]


def address(session: C2SSession) -> str:
    """The peer's address without its port (what failed logins are counted by)."""
    return session.peer.rsplit(":", 1)[0]


def _throttled(session: C2SSession, app_id: str, key: str) -> bool:
    """Refuse an attempt while this address must wait for this account (`LoginThrottle`);
    else remember whose login this is, so that its failure is counted."""
    session.login = (app_id, key)
    wait = session.ctx.node.logins.wait(app_id, key, address(session))
    if wait:
        session.stream.reject("temporary-auth-failure", f"Too many failed logins: try again in {wait} seconds.")
        return True
    return False


def outcome(session: C2SSession, ev: AuthFailed | Authenticated) -> None:
    """A SASL attempt ended: a failure counts against the account and address (not a refusal
    of ours, `temporary-auth-failure`, nor one the client aborted), a success clears them. Every
    outcome but an abort is counted for /metrics."""
    if isinstance(ev, Authenticated) or ev.condition != "aborted":
        session.ctx.node.counters.login(session.device, isinstance(ev, Authenticated))
    attempt, session.login = session.login, None
    if attempt is None:
        return
    if isinstance(ev, Authenticated):
        session.ctx.node.logins.succeeded(*attempt, address(session))
    elif ev.condition not in ("temporary-auth-failure", "aborted"):
        session.ctx.node.logins.failed(*attempt, address(session))


async def plain(session: C2SSession, ev: AuthRequested) -> None:
    """SASL PLAIN: a password, or an access token (`$t$…`, the Web IM SDK's login)."""
    found = await session.ctx.resolve_node(ev.username)
    if found is None:
        if not _throttled(session, "", ev.username.lower()):
            session.stream.reject("not-authorized")
        return
    app, name, prefix = found
    if _throttled(session, app.id, name):
        return
    node = session.ctx.node
    try:
        user = await node.users.log_in(app, name, ev.password, node.tokens)
    except errors.HximError as exc:
        session.stream.reject("account-disabled" if exc.error == "unauthorized" else "not-authorized")
        return
    jid = session.authenticated(app, user, prefix)
    if ev.authzid and ev.authzid != ev.username and JID.try_parse(ev.authzid) != jid:
        session.stream.reject("invalid-authzid")
        return
    session.stream.accept(jid)


async def scram(session: C2SSession, ev: CredentialsRequested) -> None:
    """SASL SCRAM: the stored keys for the stream's exchange (none for an unknown user)."""
    found = await session.ctx.resolve_node(ev.username)
    if _throttled(session, found[0].id if found else "", found[1] if found else ev.username.lower()):
        return
    creds = None
    if found is not None:
        app, name, prefix = found
        stored = await session.ctx.node.users.credentials(app, name)
        if stored is not None and stored[0].activated:
            user, creds = stored
            jid = session.authenticated(app, user, prefix)
            if ev.authzid and JID.try_parse(ev.authzid) != jid and ev.authzid != ev.username:
                session.stream.reject("invalid-authzid")
                return
            session.stream.provide_credentials(creds, jid)
            return
    session.stream.provide_credentials(None, None)
