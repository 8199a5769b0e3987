"""XMPP over WebSocket (RFC 7395) at /ws/ with @xmpp/client under Node, and the Web IM SDK's
conventions (webim-xmpp.md §3, §4): Easemob JSON bodies, the server ack, conflict."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct

import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import InvalidStatus
from xmpp_helpers import DOMAIN, Client, NodeClient, XServer, run, xserver

from conftest import unique

__all__ = ["xserver"]


def _body(stanza: str) -> str:
    found = re.search(r"<body>(.*?)</body>", stanza, re.S)
    assert found, stanza
    return found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_login_and_chat_across_transports(xserver: XServer) -> None:
    a, b = unique("wa"), unique("wb")
    api = xserver.api
    api.register(a, b)

    async def scenario() -> None:
        web = NodeClient(xserver, a)
        try:
            assert await asyncio.to_thread(web.online) == xserver.jid(a, "node")
            web.send("<presence xmlns='jabber:client'/>")
            await asyncio.to_thread(lambda: _until_online(xserver, a))
            tcp = Client(xserver, b)
            await tcp.online()
            tcp.send_message(mto=xserver.jid(a), mbody="tcp -> ws", mtype="chat")
            got = await asyncio.to_thread(web.stanza, "tcp -&gt; ws")
            assert f"from=\"{xserver.jid(b)}\"" in got and "type=\"chat\"" in got
            web.send(f"<message xmlns='jabber:client' type='chat' to='{xserver.jid(b)}' id='w1'><body>ws -> tcp</body>"
                     "</message>")
            assert (await tcp.next_message())["body"] == "ws -> tcp"
            # ping over WebSocket
            web.send("<iq xmlns='jabber:client' type='get' id='ping1' to='easemob.com'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>")
            pong = await asyncio.to_thread(web.stanza, "ping1")
            assert "type=\"result\"" in pong and "from=\"easemob.com\"" in pong
            await tcp.close()
        finally:
            web.stop()

    run(scenario)


def _until_online(xs: XServer, name: str) -> None:
    import time

    for _ in range(100):
        if xs.api.get(f"/users/{name}/status").json()["data"][name] == "online":
            return
        time.sleep(0.05)
    raise AssertionError("never online")


def test_token_login_and_web_im_conventions(xserver: XServer) -> None:
    a, b = unique("wi"), unique("wj")
    api = xserver.api
    api.register(a, b)
    token = api.user_token(a)
    # an offline message waits for the Web IM client
    api.post("/messages", json={"target_type": "users", "target": [a], "msg": {"type": "txt", "msg": "while away"},
                                "from": b, "ext": {"x": 1}})
    web = NodeClient(xserver, a, "$t$" + token, resource="webim")
    try:
        assert web.online() == xserver.jid(a, "webim")
        web.send("<presence xmlns='jabber:client'/>")
        offline = web.stanza("while away")
        assert "urn:xmpp:delay" in offline
        assert json.loads(_body(offline)) == {"from": b, "to": a, "bodies": [{"type": "txt", "msg": "while away"}],
                                              "ext": {"x": 1}}
        doc = {"from": a, "to": b, "bodies": [{"type": "txt", "msg": "hi from the browser"}],
               "ext": {"weichat": {"originType": "webim"}}}
        text = json.dumps(doc).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        web.send(f"<message xmlns='jabber:client' type='chat' to='{xserver.jid(b)}' id='WEBIM_1'><body>{text}</body>"
                 "</message>")
        ack = web.stanza("urn:xmpp:receipts")
        mid = re.search(r"mid=\"(\d+)\"", ack)
        assert mid and "from=\"easemob.com\"" in ack and ">WEBIM_1</received>" in ack, ack
        count = api.get(f"/users/{b}/offline_msg_count").json()["data"][b]
        assert count == 1
        status = api.get(f"/users/{b}/offline_msg_status/{mid.group(1)}").json()["data"]
        assert status == {mid.group(1): "undelivered"}
        # the SDK's own ack to the domain (§4.5) is consumed, never routed or bounced
        web.send("<message xmlns='jabber:client' to='easemob.com' id='a1'><received xmlns='urn:xmpp:receipts' "
                 "id='1'/></message>")
        # the SDK's unsolicited version result (§3.5) gets no answer either; a ping still does
        web.send("<iq xmlns='jabber:client' type='result' to='easemob.com' id='v1'><query xmlns='jabber:iq:version'>"
                 "<name>easemob</name></query></iq>")
        web.send("<iq xmlns='jabber:client' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
        nxt = web.expect(lambda e: "stanza" in e)
        assert "p2" in nxt["stanza"], nxt
    finally:
        web.stop()


def test_conflict_over_websocket(xserver: XServer) -> None:
    a = unique("wc")
    xserver.api.register(a)
    first = NodeClient(xserver, a, resource="webim")
    second = None
    try:
        assert first.online()
        second = NodeClient(xserver, a, resource="webim")
        assert second.online()
        err = first.expect(lambda e: "error" in e or "offline" in e)
        assert err.get("condition") == "conflict", err
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_framing_and_subprotocol(xserver: XServer) -> None:
    url = xserver.server.base_url.replace("http://", "ws://") + "/ws/"
    with pytest.raises(InvalidStatus):
        ws_client.connect(url, open_timeout=5).close()
    with ws_client.connect(url, subprotocols=["xmpp"], open_timeout=5) as ws:
        assert ws.subprotocol == "xmpp"
        # the client offers permessage-deflate (as Chromium does); `xmpp_ws_deflate` is off by default
        assert "permessage-deflate" in (ws.request.headers.get("Sec-WebSocket-Extensions") or "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        ws.send(f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{DOMAIN}' version='1.0'/>")
        opened = ws.recv(5)
        assert opened.startswith("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'") and "version='1.0'" in opened
        features = ws.recv(5)
        assert features.startswith("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>")
        assert "<mechanism>PLAIN</mechanism></mechanisms>" in features and "SCRAM" not in features
        ws.send("<message xmlns='jabber:client' to='x@easemob.com'><body>early</body></message>")
        error = ws.recv(5)
        assert "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in error
        assert error.startswith("<stream:error xmlns:stream='http://etherx.jabber.org/streams'>")
        assert ws.recv(5) == "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"


def test_a_stanza_too_big_ends_the_stream_with_an_error(xserver: XServer) -> None:
    """Past the stanza limit (10,000 bytes on this server) the stream ends with policy-violation."""
    url = xserver.server.base_url.replace("http://", "ws://") + "/ws/"
    with ws_client.connect(url, subprotocols=["xmpp"], open_timeout=5) as ws:
        ws.send(f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{DOMAIN}' version='1.0'/>")
        ws.recv(5), ws.recv(5)  # <open/>, features
        ws.send("<message xmlns='jabber:client'><body>" + "x" * 12_000 + "</body></message>")
        assert "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in ws.recv(5)
        assert ws.recv(5) == "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"


def test_a_10mb_message_gets_a_stream_error_before_the_1009_close(xserver: XServer) -> None:
    """A message past the WebSocket limit is refused by its length, before it is read: the client
    reads the policy-violation stream error and <close/>, then the 1009 close frame."""
    host, port = xserver.server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws/ HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: xmpp\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        # a text frame that says it holds 10 MiB (mask all zeros), and its first 64 KiB
        sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 10 * 1024 * 1024) + b"\0" * 4 + b"x" * 65536)
        got = head.partition(b"\r\n\r\n")[2]
        while chunk := sock.recv(65536):
            got += chunk
            if b"\x88" in got.partition(b"<close ")[2]:
                break
    error, _, rest = got.partition(b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
    assert b"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation " in error, got
    assert rest[:1] == b"\x88" and struct.unpack("!H", rest[2:4]) == (1009,), got


def test_web_im_blacklist_is_the_block_list(xserver: XServer) -> None:
    """The SDK's XEP-0016 list `special` (webim-xmpp.md §5b) reads and replaces the REST block list."""
    a, b, c = unique("pa"), unique("pb"), unique("pc")
    api = xserver.api
    api.register(a, b, c)
    web = NodeClient(xserver, a, resource="webim")
    try:
        assert web.online()
        web.send("<iq xmlns='jabber:client' type='get' id='g1'><query xmlns='jabber:iq:privacy'>"
                 "<list name='special'/></query></iq>")
        assert "<list name=\"special\"/>" in web.stanza("g1")
        items = "".join(f"<item action='deny' order='{i}' type='jid' value='{xserver.jid(n)}'><message/></item>"
                        for i, n in enumerate((b, c), start=2))
        web.send(f"<iq xmlns='jabber:client' type='set' id='s1'><query xmlns='jabber:iq:privacy'>"
                 f"<list name='special'>{items}</list></query></iq>")
        assert "type=\"result\"" in web.stanza("s1")
        web.stanza("jabber:iq:privacy")  # the push the SDK re-fetches on
        assert sorted(api.get(f"/users/{a}/blocks/users").json()["data"]) == sorted([b, c])
        web.send("<iq xmlns='jabber:client' type='get' id='g2'><query xmlns='jabber:iq:privacy'>"
                 "<list name='special'/></query></iq>")
        listed = web.stanza("g2")
        assert xserver.jid(b) in listed and "action=\"deny\"" in listed
        web.send("<iq xmlns='jabber:client' type='set' id='s2'><query xmlns='jabber:iq:privacy'>"
                 "<list name='special'/></query></iq>")  # an empty list clears it
        assert "type=\"result\"" in web.stanza("s2")
        assert api.get(f"/users/{a}/blocks/users").json()["data"] == []
    finally:
        web.stop()
