"""Notices as XMPP stanzas (webim-xmpp.md §9(d).4, §7.11): friend requests and answers, receipts
kept for later, recalls, room invitations and Easemob's group notifications.

What is told to whom, and what is kept for an offline user, is `NoticeService`'s; this module
renders a `hub.Notice` for one session. Feature modules register one renderer per kind
(`renderer`); `render` is the session's renderer for every notice; `replay` pushes the notices
kept for the session's user after its initial presence, oldest first, then removes them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hxim.hub import Notice

if TYPE_CHECKING:
    from hxim.c2s.session import C2SSession

__all__ = ["Renderer", "render", "renderer", "replay"]

# (the receiving session, the sender, the payload) -> the stanza for that session
Renderer = Callable[["C2SSession", str, dict[str, Any]], ET.Element]
_RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of one kind of notice."""

    def decorate(fn: Renderer) -> Renderer:
        _RENDERERS[kind] = fn
        return fn

    return decorate


def render(session: C2SSession, notice: Notice) -> None:
    """A notice to this session's client (one of a kind no renderer knows is dropped)."""
    fn = _RENDERERS.get(notice.kind)
    if fn is not None:
        session.send(fn(session, notice.sender, dict(notice.payload)))


async def replay(session: C2SSession) -> None:
    """Push the notices kept for the session's user, oldest first, and remove them."""
    user = session.user
    assert user is not None
    service = session.ctx.node.notices
    limit = session.ctx.settings.xmpp_offline_batch
    await service.settled()  # a notice kept just before the login is stored by now
    while not session.finished:
        batch = await service.pending(user, limit)
        if not batch:
            return
        for _, notice in batch:
            render(session, notice)
        await session.flush()
        if session.finished:
            return
        await service.remove(user, [ident for ident, _ in batch])
        if len(batch) < limit:
            return
