"""Unit tests of the c2s pieces that need no server: the dispatch table, body parsing, the
receipt map and how a session renders a stored message."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

from hxim.c2s.context import ReceiptMap
from hxim.c2s.dispatch import Dispatcher
from hxim.c2s.messaging import parse_body
from hxim.c2s.session import C2SSession
from hxim.config import Settings
from hxim.model import Message


def test_dispatch_most_specific_key_then_priority() -> None:
    table = Dispatcher()
    calls: list[str] = []

    def handler(name: str, result: bool) -> Any:
        async def run(session: Any, el: ET.Element) -> bool:
            calls.append(name)
            return result

        return run

    table.register("iq", "get", "urn:a", handler("a-low", True), priority=0)
    table.register("iq", "get", "urn:a", handler("a-policy", False), priority=10)
    table.register("iq", "get", None, handler("any-get", True))
    table.register("presence", "available", None, handler("available", True))
    iq = ET.fromstring("<iq xmlns='jabber:client' type='get' id='1'><q xmlns='urn:a'/></iq>")
    assert asyncio.run(table.dispatch(None, "iq", iq))  # type: ignore[arg-type]
    assert calls == ["a-policy", "a-low"]
    calls.clear()
    other = ET.fromstring("<iq xmlns='jabber:client' type='get' id='1'><q xmlns='urn:b'/></iq>")
    assert asyncio.run(table.dispatch(None, "iq", other))  # type: ignore[arg-type]
    assert calls == ["any-get"]
    presence = ET.fromstring("<presence xmlns='jabber:client'/>")
    assert asyncio.run(table.dispatch(None, "presence", presence))  # type: ignore[arg-type]
    assert not asyncio.run(table.dispatch(None, "message", presence))  # type: ignore[arg-type]


def test_parse_body() -> None:
    assert parse_body("hello", 64) == ([{"type": "txt", "msg": "hello"}], None, False)
    assert parse_body("{not json", 64) == ([{"type": "txt", "msg": "{not json"}], None, False)
    assert parse_body('{"a": 1}', 64) == ([{"type": "txt", "msg": '{"a": 1}'}], None, False)
    doc = '{"from":"a","to":"b","bodies":[{"type":"cmd","action":"x"},{"type":"txt","msg":"y"}],"ext":{"k":1}}'
    assert parse_body(doc, 64) == ([{"type": "cmd", "action": "x"}], {"k": 1}, True)


def test_receipt_map_is_bounded() -> None:
    receipts = ReceiptMap(size=2)
    for i in range(3):
        receipts.remember(i, f"c{i}")
    assert not receipts.wants(0) and receipts.wants(2)
    assert receipts.client_id("2") == "c2" and receipts.client_id("x") is None


def _session(framing: str, resource: str = "phone", prefix: str | None = "o#a") -> C2SSession:
    ctx = SimpleNamespace(settings=Settings(), domain="easemob.com", muc_domain="conference.easemob.com",
                          receipts=ReceiptMap())
    session = C2SSession(ctx, None, framing=framing, mechanisms=["PLAIN"])  # type: ignore[arg-type]
    session.prefix = prefix
    from hxim.xmpp.jid import JID

    session.jid = JID(f"{prefix}_bob" if prefix else "bob", "easemob.com", resource)
    session.json_bodies = resource.startswith("webim")
    return session


def test_render_plain_json_group_and_delay() -> None:
    m = Message(42, uuid.uuid4(), "chat", "Alice", "bob", 1_600_000_000_123, [{"type": "txt", "msg": "a<b"}], None)
    tcp = _session("tcp").render_message(m)
    assert tcp == (b"<message type='chat' from='o#a_alice@easemob.com' to='o#a_bob@easemob.com/phone' id='42'>"
                   b"<body>a&lt;b</body></message>")
    web = _session("websocket", "webim").render_message(m, delayed=True).decode()
    assert web.startswith("<message xmlns='jabber:client' type='chat'")
    assert '<body>{"from":"Alice","to":"bob","bodies":[{"type":"txt","msg":"a&lt;b"}],"ext":{}}</body>' in web
    assert "<delay xmlns='urn:xmpp:delay' from='easemob.com' stamp='2020-09-13T12:26:40.123Z'/>" in web
    g = Message(43, uuid.uuid4(), "chatroom", "alice", "99", 0, [{"type": "img", "url": "u"}], {"x": 1})
    room = _session("tcp", prefix=None).render_message(g).decode()
    assert "type='groupchat' from='99@conference.easemob.com/alice'" in room
    assert "<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>" in room
    assert '"bodies":[{"type":"img","url":"u"}]' in room  # not a txt body: the JSON even for plain clients
