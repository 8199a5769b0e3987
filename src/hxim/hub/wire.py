"""What crosses between the nodes of a cluster: events, stored messages and users as plain JSON
values, and back.

The hub's events are frozen dataclasses of plain values (`hub.events`); here each becomes a list,
its class name first and then its fields in order, and is rebuilt with the tuples its fields
declare (JSON has only lists). A stored message travels as `Message.to_doc` plus the XMPP
children its sender wrote; a user as its columns.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from typing import Any

from hxim.hub.events import BlockPush, Edited, Event, Kick, Notice, PresenceChanged, PresenceStatus, Relay, RosterPush
from hxim.model import Message, User

__all__ = ["event_doc", "event_of", "message_doc", "message_of", "user_doc", "user_of"]

_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Notice, PresenceChanged, PresenceStatus, RosterPush, BlockPush, Kick, Relay, Edited)
}
# per class: the indexes of its fields declared as tuples, and how deep the tuples go
_TUPLES: dict[str, tuple[tuple[int, int], ...]] = {
    name: tuple(
        (i, 2 if str(f.type).startswith("tuple[tuple") else 1)
        for i, f in enumerate(fields(cls))
        if str(f.type).startswith("tuple")
    )
    for name, cls in _TYPES.items()
}


def event_doc(event: Event) -> list[Any]:
    return [type(event).__name__, *(getattr(event, f.name) for f in fields(event))]


def event_of(doc: list[Any]) -> Event:
    name = doc[0]
    values = doc[1:]
    for i, depth in _TUPLES[name]:
        value = values[i]
        values[i] = tuple(tuple(v) for v in value) if depth == 2 else tuple(value)
    event: Event = _TYPES[name](*values)
    return event


def message_doc(message: Message) -> dict[str, Any]:
    doc = message.to_doc()
    if message.xml:
        doc["xml"] = message.xml
    return doc


def message_of(doc: dict[str, Any]) -> Message:
    message = Message.from_doc(doc)
    message.xml = doc.get("xml")
    return message


def user_doc(user: User) -> list[Any]:
    return [
        user.id,
        user.uuid.hex,
        user.app_uuid.hex,
        user.username,
        user.nickname,
        user.activated,
        user.created,
        user.modified,
        user.token_epoch,
        user.profile,
    ]


def user_of(doc: list[Any]) -> User:
    ident, uid, app, username, nickname, activated, created, modified, epoch, profile = doc
    return User(ident, uuid.UUID(uid), uuid.UUID(app), username, nickname, activated, created, modified, epoch, profile)
