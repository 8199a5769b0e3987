"""msync clients that misbehave: bytes that are not msync, text frames, frames before a login,
payloads that are not what their command carries, floods, silence and oversize frames each end
that connection only; a bystander's conversation goes on and nothing it sent is lost. Runs on a
server of its own with small limits (`EXTRA_ENV`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import websockets
from xmpp_helpers import run

from conftest import Api, Server, unique
from hxim.msync.client import MsyncClient, SendRefused
from hxim.msync.wire import pb

EXTRA_ENV = {
    "HXIM_MSYNC_IDLE_TIMEOUT_SECONDS": "2",
    "HXIM_MSYNC_FLOOD_RATE": "20",
    "HXIM_MSYNC_FLOOD_BURST": "40",
    "HXIM_XMPP_MAX_STANZA_BYTES": "2048",  # the WebSocket message limit of every client protocol
}


@pytest.fixture
def xapi(extra_server: Server) -> Iterator[Api]:
    yield Api(extra_server)


def ws_url(api: Api) -> str:
    return api.server.base_url.replace("http://", "ws://") + "/websocket"


async def login(api: Api, user: str, resource: str = "webim_web_1") -> MsyncClient:
    client = MsyncClient(ws_url(api), f"{api.creds.org}#{api.creds.app}", user, resource)
    answer = await client.login(api.user_token(user))
    assert answer.status.error_code == 0, answer.status
    await client.sync()
    return client


async def closed(ws: websockets.ClientConnection, timeout: float = 5) -> None:
    """The server ends the connection (whatever it sent before)."""
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()


def test_bad_input_ends_only_that_connection(xapi: Api) -> None:
    a, b = unique("la"), unique("lb")
    xapi.register(a, b)

    async def scenario() -> None:
        alice, bob = await login(xapi, a), await login(xapi, b)
        url = ws_url(xapi)
        frame_before_login = pb.MSync(command=pb.MSync.UNREAD).SerializeToString()
        bad_payload = pb.MSync(command=pb.MSync.SYNC, payload=b"\xff\xff").SerializeToString()
        oversize = b"\x00" * 8000  # past the WebSocket limit: closed with 1009 before it is read
        for data in (b"\xff\xff\xff\xff", "<stream:stream>", frame_before_login, bad_payload, b"\x00" * 4096, oversize):
            for x in (alice, bob):  # their heartbeat: the idle timeout of this server is short
                await x.sync()
            async with websockets.connect(url) as ws:
                await ws.send(data)
                await closed(ws)
            # the bystanders still talk, and the server answers
            seen = len(bob.received)
            ack = await alice.send(b, f"after {data[:4]!r}")
            assert (await bob.wait_for(seen + 1))[-1].id == ack.server_id
        # a payload that is not a MessageBody, from a logged-in client, ends that client only
        c = unique("lc")
        xapi.register(c)
        carol = await login(xapi, c)
        meta = pb.Meta(id=1, ns=pb.Meta.CHAT, payload=b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12")
        await carol._write(pb.MSync.SYNC, pb.CommSyncUL(meta=meta).SerializeToString())
        await asyncio.wait_for(carol.closed.wait(), 5)
        # a message of a kind hxim does not store is refused, and the connection stays
        combined = pb.MessageBody.Content(type=pb.MessageBody.Content.TEXT, sub_type=pb.MessageBody.Content.SUB_COMBINE)
        with pytest.raises(SendRefused):
            await alice.send(b, content=combined)
        await alice.send(b, "still here")
        for x in (alice, bob, carol):
            await x.close()

    run(scenario)


def test_floods_and_silence_end_the_connection(xapi: Api) -> None:
    a, b = unique("fa"), unique("fb")
    xapi.register(a, b)

    async def scenario() -> None:
        flooder = await login(xapi, a)
        for _ in range(200):  # far past the burst of 40 frames
            if flooder.closed.is_set():
                break
            await flooder.post(b, "flood")
        await asyncio.wait_for(flooder.closed.wait(), 5)
        # silence: a client that sends nothing for longer than the timeout is closed, one that
        # sends its heartbeat (UNREAD, as the SDK does every 30 s) is not
        quiet = await login(xapi, a, "webim_web_quiet")
        alive = await login(xapi, b)
        for _ in range(8):
            await alive.sync()
            await asyncio.sleep(0.5)
        assert quiet.closed.is_set() and not alive.closed.is_set()
        for x in (flooder, quiet, alive):
            await x.close()

    run(scenario)
