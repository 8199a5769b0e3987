"""What changes in what a group or chat room holds, as XMPP stanzas: announcements, a group
disabled or enabled, shared files, member and room attributes (the notices of
`services.room_content` and `services.room_attributes`, told to the room's online members).

The Web IM SDK 1.x has no event for any of these (webim-xmpp.md §7.9 lists all it knows), so
none is rendered as one of its group notifications:

* an announcement is the room's subject (XEP-0045 §8.1): `<message type='groupchat'
  from='{room}/{who changed it}'><subject>…</subject></message>`, no `<body/>` (with `<roomtype/>`
  in a chat room). Standard clients show it; the SDK hands a body-less message to `onPresence`
  with the type `groupchat`, which no app reads as anything;
* the others are `<message type='headline' from='{room}'>` holding
  `<x xmlns='urn:hxim:room' event='…' from='{JID of who acted}'/>` with the notice's payload:
  `disabled`/`enabled`; `file-added`/`file-removed` with `<file id name owner size created/>`;
  `member-attributes` (`user`) and `attributes-set`/`attributes-removed` (`user`) with one
  `<attribute name value/>` per attribute (`value` absent when removed, empty when a member
  attribute was cleared). A headline has no body and no status, so the SDK (1.4 included) does
  not take it for a presence of its own kinds.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim.c2s import notices
from hxim.c2s.session import CLIENT
from hxim.services.notices import NoticeKind

if TYPE_CHECKING:
    from hxim.c2s.session import C2SSession

__all__ = ["ROOM_NS", "headline"]

ROOM_NS = "urn:hxim:room"
_R = "{" + ROOM_NS + "}"


@notices.renderer(NoticeKind.ROOM_ANNOUNCEMENT)
def _announcement(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    room = session.room_jid(payload["room"])
    attrs = {"type": "groupchat", "from": f"{room}/{sender}", "to": session.full_jid, "id": secrets.token_hex(8)}
    message = ET.Element(CLIENT + "message", attrs)
    ET.SubElement(message, CLIENT + "subject").text = payload.get("announcement") or ""
    if payload.get("chatroom"):
        ET.SubElement(message, "{easemob:x:roomtype}roomtype", {"type": "chatroom"})
    return message


def headline(session: C2SSession, sender: str, payload: dict[str, Any], event: str) -> tuple[ET.Element, ET.Element]:
    room = session.room_jid(payload["room"])
    attrs = {"type": "headline", "from": room, "to": session.full_jid, "id": secrets.token_hex(8)}
    message = ET.Element(CLIENT + "message", attrs)
    x = ET.SubElement(message, _R + "x", {"event": event, "from": session.peer_jid(sender)})
    if "user" in payload:
        x.set("user", payload["user"])
    return message, x


@notices.renderer(NoticeKind.ROOM_DISABLED)
def _disabled(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    return headline(session, sender, payload, "disabled" if payload.get("disabled") else "enabled")[0]


@notices.renderer(NoticeKind.ROOM_FILE)
def _file(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    message, x = headline(session, sender, payload, f"file-{payload['event']}")
    ET.SubElement(
        x,
        _R + "file",
        {
            "id": payload["file_id"],
            "name": payload["file_name"],
            "owner": payload["file_owner"],
            "size": str(payload["file_size"]),
            "created": str(payload["created"]),
        },
    )
    return message


@notices.renderer(NoticeKind.ROOM_MEMBER_ATTRIBUTES)
def _member_attributes(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    message, x = headline(session, sender, payload, "member-attributes")
    for name, value in payload.get("attributes", {}).items():
        ET.SubElement(x, _R + "attribute", {"name": name, "value": value})
    return message


@notices.renderer(NoticeKind.ROOM_ATTRIBUTES)
def _attributes(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    message, x = headline(session, sender, payload, f"attributes-{payload['event']}")
    for name, value in payload.get("attributes", {}).items():
        ET.SubElement(x, _R + "attribute", {"name": name, "value": value})
    for name in payload.get("keys", []):
        ET.SubElement(x, _R + "attribute", {"name": name})
    return message
