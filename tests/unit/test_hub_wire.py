"""What crosses between a cluster's nodes comes back as it left: every event kind, a stored
message with its XMPP children, a user."""

from __future__ import annotations

import uuid

import orjson

from hxim.hub.events import BlockPush, Edited, Kick, Notice, PresenceChanged, PresenceStatus, Relay, RosterPush
from hxim.hub.wire import event_doc, event_of, message_doc, message_of, user_doc, user_of
from hxim.model import Message, User


def _through_json(value: object) -> object:
    return orjson.loads(orjson.dumps(value))


def test_every_event_kind_survives_the_trip() -> None:
    events = [
        Notice("friend_request", "alice", {"reason": "hi", "nested": {"a": [1, 2]}}),
        PresenceChanged("bob", "phone", True, 5, "away", "out", "<show xmlns='jabber:client'>away</show>", True),
        PresenceStatus("carol", "web", "1", "busy", 1_700_000_000, (("web", "1"), ("phone", "0"))),
        RosterPush("dave", "none", True),
        BlockPush(("eve", "frank"), True, ("x@other.example",)),
        Kick("conflict", "replaced", "password"),
        Relay("gina", "pc", "message", (("type", "chat"), ("id", "r1")), "<composing xmlns='x'/>"),
        Edited({"id": 1, "bodies": [{"type": "txt", "msg": "new"}]}),
    ]
    for event in events:
        back = event_of(_through_json(event_doc(event)))  # type: ignore[arg-type]
        assert back == event, event
        assert type(back) is type(event)


def test_a_message_keeps_its_xmpp_children_and_a_user_its_fields() -> None:
    app = uuid.uuid4()
    message = Message(42, app, "chat", "alice", "bob", 1_700_000_000_000, [{"type": "txt", "msg": "hi"}],
                      {"k": "v"}, xml="<reply xmlns='urn:xmpp:reply:0' id='1'/>")
    back = message_of(_through_json(message_doc(message)))  # type: ignore[arg-type]
    assert (back.id, back.app_uuid, back.chat_type, back.sender, back.to, back.timestamp) == (
        42, app, "chat", "alice", "bob", 1_700_000_000_000)
    assert back.bodies == message.bodies and back.ext == message.ext and back.xml == message.xml
    user = User(7, uuid.uuid4(), app, "Alice", "Ali", True, 1, 2, 3, {"city": "x"})
    assert user_of(_through_json(user_doc(user))) == user  # type: ignore[arg-type]
