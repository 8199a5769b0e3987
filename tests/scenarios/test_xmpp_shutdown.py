"""A node that stops ends every client stream itself: over TCP with the stream error
`system-shutdown` (RFC 6120 §4.9.3.22) and the closing tag, over WebSocket with `<close/>` and a
normal close (RFC 7395 §3.6; no stream error, which the Web IM SDK would take for a kick and not
reconnect after: webim-xmpp.md §3.7-3.8) rather than the WebSocket server's 1012, and over BOSH
by answering the held request with a `system-shutdown` terminate (XEP-0124 §17.2)."""

from __future__ import annotations

import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed
from xmpp_helpers import DOMAIN, Raw, start_xmpp_server

from conftest import stop_server


def test_stopping_ends_the_streams_of_every_transport(tmp_path: Path) -> None:
    xs, pg_name = start_xmpp_server(tmp_path, "sqlite")
    try:
        tcp = Raw(xs)
        assert "<mechanisms" in tcp.open()
        bosh = xs.server.base_url + "/http-bind/"
        ns = "xmlns='http://jabber.org/protocol/httpbind'"
        created = httpx.post(bosh, content=f"<body {ns} xmlns:xmpp='urn:xmpp:xbosh' rid='1000' to='{DOMAIN}' "
                             "wait='30' hold='1' ver='1.6' xmpp:version='1.0'/>", timeout=10).text
        found = re.search(r"sid=['\"]([^'\"]+)", created)
        assert found, created
        url = xs.server.base_url.replace("http://", "ws://") + "/ws/"
        with ws_client.connect(url, subprotocols=["xmpp"], open_timeout=5) as ws, ThreadPoolExecutor(1) as pool:
            ws.send(f"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{DOMAIN}' version='1.0'/>")
            assert ws.recv(5).startswith("<open ")
            assert ws.recv(5).startswith("<stream:features")
            # the features came with the session's creation or come now; the next poll is held
            held = pool.submit(lambda: httpx.post(bosh, content=f"<body {ns} rid='1001' sid='{found.group(1)}'/>",
                                                  timeout=40).text)
            if "<stream:features" not in created:
                assert "<stream:features" in held.result(10)
                held = pool.submit(lambda: httpx.post(bosh, content=f"<body {ns} rid='1002' sid='{found.group(1)}'/>",
                                                      timeout=40).text)
            time.sleep(0.5)  # for the poll to reach the server
            assert not held.done()
            xs.server.process.terminate()
            answer = held.result(10)
            assert "type='terminate'" in answer.replace('"', "'") and "system-shutdown" in answer, answer
            assert ws.recv(10) == "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
            # the listeners stopped first: a client reconnecting at once is refused, not let in
            for port in (int(xs.server.base_url.rsplit(":", 1)[1]), xs.port):
                with pytest.raises(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
            try:
                extra = ws.recv(5)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1000
            else:
                raise AssertionError(f"more after <close/>: {extra!r}")
        text, closed = tcp.read_all(timeout=10)
        assert "<system-shutdown " in text and text.endswith("</stream:stream>") and closed, text
        tcp.close()
        # uvicorn re-raises the signal once it has shut down: the usual end of a server on SIGTERM
        assert xs.server.process.wait(15) in (0, -signal.SIGTERM)
        assert "Traceback" not in (tmp_path / "server.log").read_text()
    finally:
        stop_server(xs.server, pg_name)
