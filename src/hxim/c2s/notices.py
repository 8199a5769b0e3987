"""Stanzas other than messages for users who may be offline (webim-xmpp.md §9(d).4, §7.11):
friend requests and answers, room invitations, Easemob's group notifications.

`deliver` sends a notice to every available resource of the user, rendered for each (JIDs are
written the way each client logged in), or keeps it with the `NoticeService` when none is
available; `replay` pushes the kept ones after the initial presence, oldest first, then removes
them. Feature modules register one renderer per kind (`renderer`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hxim.model import App, User

if TYPE_CHECKING:
    from hxim.c2s.context import C2S
    from hxim.c2s.session import C2SSession

__all__ = ["Renderer", "deliver", "renderer", "replay"]

# (the receiving session, the sender, the payload) -> the stanza for that session
Renderer = Callable[["C2SSession", str, dict[str, Any]], ET.Element]
_RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of one kind of notice."""

    def decorate(fn: Renderer) -> Renderer:
        _RENDERERS[kind] = fn
        return fn

    return decorate


async def deliver(
    ctx: C2S,
    app: App,
    user: User,
    kind: str,
    sender: str,
    payload: dict[str, Any],
    *,
    replace: bool = False,
    keep: bool = True,
) -> None:
    """Send the notice to the user's available resources, or (unless `keep` is False: chat rooms
    keep nothing) keep it for the next login."""
    sessions = ctx.available(app, user.key)
    if not sessions:
        if keep:
            await ctx.node.notices.keep(user, kind, sender, payload, replace=replace)
        return
    render = _RENDERERS[kind]
    for s in sessions:
        s.send(render(s, sender, payload))


async def replay(session: C2SSession) -> None:
    """Push the notices kept for the session's user, oldest first, and remove them."""
    user = session.user
    assert user is not None
    service = session.ctx.node.notices
    limit = session.ctx.settings.xmpp_offline_batch
    while not session.finished:
        batch = await service.pending(user, limit)
        if not batch:
            return
        for _, kind, sender, payload in batch:
            render = _RENDERERS.get(kind)
            if render is not None:
                session.send(render(session, sender, payload))
        await session.flush()
        if session.finished:
            return
        await service.remove(user, [ident for ident, *_ in batch])
        if len(batch) < limit:
            return
