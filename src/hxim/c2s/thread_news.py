"""Threads of a group as XMPP stanzas: a thread created, renamed or destroyed, a member who joined,
left or was removed (the `NoticeKind.THREAD_*` notices of `services.threads`).

The Web IM SDK 1.x knows no threads, so they are rendered in the style of `room_news`: a
`<message type='headline' from='{group}'>` holding `<x xmlns='urn:hxim:room' event='thread-…'
from='{JID of who acted}'/>` (events `thread-created`, `thread-updated`, `thread-destroyed`,
`thread-joined`, `thread-left`, `thread-kicked`; `user` on the member events) with one
`<thread id name owner group msg_id created/>`. The thread itself is a room of the conference
service: its id is the node of its room JID, where its members send and receive its messages
as a group's (`type='groupchat'`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim.c2s import notices
from hxim.c2s.room_news import ROOM_NS, headline
from hxim.services.notices import NoticeKind

if TYPE_CHECKING:
    from hxim.c2s.session import C2SSession

__all__: list[str] = []

_EVENTS = {
    NoticeKind.THREAD_CREATED: "thread-created",
    NoticeKind.THREAD_UPDATED: "thread-updated",
    NoticeKind.THREAD_DESTROYED: "thread-destroyed",
    NoticeKind.THREAD_JOINED: "thread-joined",
    NoticeKind.THREAD_LEFT: "thread-left",
    NoticeKind.THREAD_KICKED: "thread-kicked",
}


def _render(event: str) -> notices.Renderer:
    def render(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
        message, x = headline(session, sender, {**payload, "room": payload["group"]}, event)
        ET.SubElement(
            x,
            "{" + ROOM_NS + "}thread",
            {
                "id": payload["thread"],
                "name": payload["name"],
                "owner": payload["owner"],
                "group": payload["group"],
                "msg_id": payload["msg_id"],
                "created": str(payload["created"]),
            },
        )
        return message

    return render


for _kind, _event in _EVENTS.items():
    notices.renderer(_kind)(_render(_event))
