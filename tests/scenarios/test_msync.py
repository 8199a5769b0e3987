"""msync (Easemob's Web SDK 4.x wire protocol) against a real `hxim serve`, with a raw protobuf
client over a real WebSocket (`hxim.msync.client`): login and its refusals, live and offline
messages with server ids, groups and chat rooms, recall, receipts, contact and room events,
kicks, and conversations with XMPP users on the same server. The unmodified SDKs in Chromium are
tests/msync's."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import websockets
from xmpp_helpers import Client, XServer, run, start_xmpp_server, xserver

from conftest import Api, Server, stop_server, unique
from hxim.msync.client import MsyncClient, SendRefused
from hxim.msync.wire import pb

__all__ = ["xserver"]

MB = pb.MessageBody


def ws_url(api: Api) -> str:
    return api.server.base_url.replace("http://", "ws://") + "/websocket"


def appkey(api: Api) -> str:
    return f"{api.creds.org}#{api.creds.app}"


async def connect(api: Api, user: str, resource: str = "webim_web_1") -> MsyncClient:
    client = MsyncClient(ws_url(api), appkey(api), user, resource)
    answer = await client.login(api.user_token(user))
    assert answer.status.error_code == 0, answer.status
    assert answer.resource == resource
    return client


def test_login_and_its_refusals(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("ml"), unique("ml")
    api.register(a, b)

    async def scenario() -> None:
        alice = await connect(api, a)
        r = api.get(f"/users/{a}/status")
        assert r.json()["data"][a] == "online"
        await alice.close()
        # a token of another user, a forged token, an unknown app
        bad = MsyncClient(ws_url(api), appkey(api), a)
        answer = await bad.login(api.user_token(b))
        assert answer.status.error_code == pb.Status.FAIL
        assert answer.status.reason == "Sorry, token or password does not match login info"
        await bad.closed.wait()
        forged = MsyncClient(ws_url(api), appkey(api), a)
        answer = await forged.login("YWMtnot-a-token")
        assert answer.status.error_code == pb.Status.FAIL
        nobody = MsyncClient(ws_url(api), appkey(api), unique("nobody"))
        answer = await nobody.login(api.user_token(a))
        assert answer.status.reason == "Sorry, user not found"
        stranger = MsyncClient(ws_url(api), "no#such", a)
        answer = await stranger.login(api.user_token(a))
        assert answer.status.error_code == pb.Status.FAIL
        for c in (bad, forged, nobody, stranger):
            await c.close()

    run(scenario)


def test_live_messages_both_ways_with_server_ids(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("ma"), unique("mb")
    api.register(a, b)

    async def scenario() -> None:
        alice, bob = await connect(api, a), await connect(api, b)
        await alice.sync()
        await bob.sync()
        ack = await alice.send(b, "hello bob", ext={"n": 1, "ok": True, "obj": {"x": [1]}, "s": "t"})
        assert ack.server_id > 0 and ack.timestamp > 0
        got = (await bob.wait_for(1))[0]
        assert got.id == ack.server_id and got.text == "hello bob"
        assert got.body.type == MB.CHAT and got.body.from_.name == a and got.body.to.name == b
        assert got.queue == a
        ext = {kv.key: kv for kv in got.body.ext}
        assert ext["n"].varint_value == 1 and ext["ok"].type == pb.KeyValue.BOOL
        assert ext["obj"].string_value == '{"x":[1]}' and ext["s"].string_value == "t"
        back = await bob.send(a, "hi alice")
        assert (await alice.wait_for(1))[0].id == back.server_id
        # the REST history has both, as every protocol stores them
        r = api.get(f"/users/{a}/offline_msg_count")
        assert r.json()["data"][a] == 0
        # a burst arrives whole and in order
        sent = [(await alice.send(b, f"n{i}")).server_id for i in range(30)]
        got_all = await bob.wait_for(31)
        assert [m.id for m in got_all[1:]] == sent
        await alice.close()
        await bob.close()

    run(scenario)


def test_offline_messages_are_synced_at_login_and_acknowledged(xserver: XServer) -> None:
    api = xserver.api
    a, b, c = unique("oa"), unique("ob"), unique("oc")
    api.register(a, b, c)

    async def scenario() -> None:
        alice = await connect(api, a)
        await alice.sync()
        ids = [(await alice.send(b, f"while away {i}")).server_id for i in range(3)]
        r = api.post("/messages/users", json={"from": c, "to": [b], "type": "img",
                                              "body": {"url": "http://x/f", "filename": "f.png", "secret": "s",
                                                       "size": {"width": 3, "height": 2}}})
        img_id = int(r.json()["data"][b])
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 4
        bob = await connect(api, b)
        unread = await bob.sync()
        assert {(q.queue.name, q.n) for q in unread.unread} == {(a, 3), (c, 1)}
        got = await bob.wait_for(4)
        assert [m.id for m in got if m.queue == a] == ids
        img = next(m for m in got if m.queue == c)
        content = img.body.contents[0]
        assert img.id == img_id and content.type == MB.Content.IMAGE and content.remote_path == "http://x/f"
        assert content.display_name == "f.png" and content.size.width == 3
        # the last pages were acknowledged: nothing waits offline any more
        for _ in range(50):
            if api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 0:
                break
            await asyncio.sleep(0.1)
        assert api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 0
        await bob.close()
        again = await connect(api, b)
        assert not (await again.sync()).unread
        await again.close()
        await alice.close()

    run(scenario)


def test_unacknowledged_live_messages_go_back_offline(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("ua"), unique("ub")
    api.register(a, b)

    async def scenario() -> None:
        bob = await connect(api, b)
        await bob.sync()
        bob.received.clear()
        # bob's client reads the page but drops before it acknowledges it: the message waits
        # offline again once he is gone
        bob.acknowledging = False
        r = api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "kept"}})
        mid = int(r.json()["data"][b])
        assert [m.id for m in await bob.wait_for(1)] == [mid]
        await bob.close()
        for _ in range(50):
            if api.get(f"/users/{b}/offline_msg_count").json()["data"][b] == 1:
                break
            await asyncio.sleep(0.1)
        again = await connect(api, b)
        await again.sync()
        assert [m.id for m in await again.wait_for(1)] == [mid]
        await again.close()

    run(scenario)


def test_group_and_chat_room_messages(xserver: XServer) -> None:
    api = xserver.api
    a, b, c = unique("ga"), unique("gb"), unique("gc")
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b]}).json()["data"]["groupid"]
    rid = api.post("/chatrooms", json={"name": "r", "description": "d", "owner": a}).json()["data"]["id"]

    async def scenario() -> None:
        alice, bob, carol = await connect(api, a), await connect(api, b), await connect(api, c)
        for x in (alice, bob, carol):
            await x.sync()
        ack = await alice.send(gid, "to the group", chat_type=MB.GROUPCHAT)
        got = (await bob.wait_for(1))[0]
        assert got.id == ack.server_id and got.body.type == MB.GROUPCHAT and got.queue == gid
        assert got.body.to.name == gid and got.body.from_.name == a
        with pytest.raises(SendRefused) as refused:  # carol is not a member
            await carol.send(gid, "let me in", chat_type=MB.GROUPCHAT)
        assert refused.value.reason == "not in group or chatroom"
        with pytest.raises(SendRefused) as refused:
            await carol.send("123456789", "nowhere", chat_type=MB.GROUPCHAT)
        assert refused.value.reason == "group not found"
        # chat rooms: joined over msync, then messages; bob hears carol join
        await bob.muc(rid, pb.MUCBody.JOIN)
        bob.received.clear()
        await carol.muc(rid, pb.MUCBody.JOIN)
        joined = (await bob.wait_for(1))[0]
        assert joined.ns == pb.Meta.MUC and joined.body.operation == pb.MUCBody.PRESENCE
        assert joined.body.from_.name == c and joined.body.muc_id.name == rid and joined.body.is_chatroom
        bob.received.clear()
        ack = await carol.send(rid, "room hello", chat_type=MB.CHATROOM)
        got = (await bob.wait_for(1))[0]
        assert got.id == ack.server_id and got.body.type == MB.CHATROOM and got.body.to.name == rid
        bob.received.clear()
        await carol.muc(rid, pb.MUCBody.LEAVE)
        left = (await bob.wait_for(1))[0]
        assert left.body.operation == pb.MUCBody.ABSENCE and left.body.from_.name == c
        with pytest.raises(SendRefused):
            await carol.send(rid, "gone", chat_type=MB.CHATROOM)
        with pytest.raises(SendRefused) as refused:
            await carol.muc("987654321", pb.MUCBody.JOIN)
        assert "does not exist!" in refused.value.reason
        for x in (alice, bob, carol):
            await x.close()

    run(scenario)


def test_recall_receipts_and_muted_senders(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("ra"), unique("rb")
    api.register(a, b)

    async def scenario() -> None:
        alice, bob = await connect(api, a), await connect(api, b)
        await alice.sync()
        await bob.sync()
        ack = await alice.send(b, "oops")
        await bob.wait_for(1)
        await bob.send(a, kind=MB.READ_ACK, ack_id=ack.server_id)
        read = (await alice.wait_for(1))[0]
        assert read.body.type == MB.READ_ACK and read.body.ack_message_id == ack.server_id
        assert read.body.from_.name == b
        await alice.send(b, kind=MB.RECALL, ack_id=ack.server_id)
        recall = (await bob.wait_for(2))[1]
        assert recall.body.type == MB.RECALL and recall.body.ack_message_id == ack.server_id
        assert recall.body.from_.name == a
        with pytest.raises(SendRefused):  # not hers to recall
            await bob.send(a, kind=MB.RECALL, ack_id=ack.server_id)
        r = api.post("/mutes", json={"username": a, "chat": 100, "groupchat": 100, "chatroom": 100})
        assert r.status_code == 200, r.text
        with pytest.raises(SendRefused) as refused:
            await alice.send(b, "muted")
        assert refused.value.reason == "user is mute"
        await alice.close()
        await bob.close()

    run(scenario)


def test_contact_events_and_kicks(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("ca"), unique("cb")
    api.register(a, b)

    async def scenario() -> None:
        bob = await connect(api, b)
        await bob.sync()
        r = api.post(f"/users/{a}/contacts/users/{b}")
        assert r.status_code == 200, r.text
        added = (await bob.wait_for(1))[0]
        assert added.ns == pb.Meta.ROSTER and added.body.operation == pb.RosterBody.ACCEPT
        assert added.body.from_.name == a and added.body.to[0].name == b
        api.delete(f"/users/{a}/contacts/users/{b}")
        removed = (await bob.wait_for(2))[1]
        assert removed.body.operation == pb.RosterBody.REMOVE
        # a second login on the same resource replaces the first
        again = await connect(api, b)
        kicked = (await bob.wait_for(3))[2]
        assert kicked.ns == pb.Meta.STATISTIC
        assert kicked.body.operation == pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE
        await asyncio.wait_for(bob.closed.wait(), 5)
        # REST disconnect, then deactivation
        await again.sync()
        assert api.get(f"/users/{b}/disconnect").json()["data"]["result"] is True
        await asyncio.wait_for(again.closed.wait(), 5)
        assert again.received[-1].body.operation == pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE
        # a new password ends the sessions (msync and XMPP alike): their tokens are void too
        third = await connect(api, b)
        xmpp = Client(xserver, b)
        await xmpp.online()
        r = api.put(f"/users/{b}/password", json={"newpassword": "secret2"})
        assert r.status_code == 200, r.text
        await asyncio.wait_for(third.closed.wait(), 5)
        assert third.received[-1].body.operation == pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD
        await asyncio.wait_for(xmpp.gone.wait(), 5)
        assert xmpp.stream_errors == ["not-authorized"]
        fourth = MsyncClient(ws_url(api), appkey(api), b)
        answer = await fourth.login(api.user_token(b, "secret2"))
        assert answer.status.error_code == 0
        api.post(f"/users/{b}/deactivate")
        await asyncio.wait_for(fourth.closed.wait(), 5)
        assert fourth.received[-1].body.operation == pb.StatisticsBody.USER_REMOVED
        for x in (bob, again, third, fourth):
            await x.close()

    run(scenario)


def test_friend_requests_over_the_sdk_rest_calls(xserver: XServer) -> None:
    """The SDK's addContact (REST /contacts/apply) reaches the other user's msync session as a
    ROSTER ADD (onContactInvited); acceptContactInvite reaches the requester as REMOTE_ACCEPT
    (onContactAgreed), and both sides get ACCEPT (onContactAdded); a decline is REMOTE_DECLINE."""
    api = xserver.api
    a, b, c = unique("fa"), unique("fb"), unique("fc")
    api.register(a, b, c)
    tokens = {u: api.user_token(u) for u in (a, b, c)}

    def of(client: MsyncClient, op: int) -> list[Any]:
        return [r.body for r in client.received if r.ns == pb.Meta.ROSTER and r.body.operation == op]

    async def scenario() -> None:
        alice, bob = await connect(api, a), await connect(api, b)
        await alice.sync()
        await bob.sync()
        r = api.post(f"/users/{a}/contacts/apply?resource=webim_web_1", token=tokens[a],
                     json={"usernames": [b], "reason": "hello bob"})
        assert r.status_code == 200, r.text
        [invite] = [x.body for x in await bob.wait_for(1)]
        assert invite.operation == pb.RosterBody.ADD and invite.from_.name == a
        assert invite.to[0].name == b and invite.reason == "hello bob"
        r = api.post(f"/users/{b}/contacts/accept/users/{a}?resource=webim_web_1", token=tokens[b])
        assert r.status_code == 200, r.text
        await alice.wait_for(2)
        [agreed] = of(alice, pb.RosterBody.REMOTE_ACCEPT)
        assert agreed.from_.name == b and agreed.to[0].name == a
        assert [x.from_.name for x in of(alice, pb.RosterBody.ACCEPT)] == [b]
        await bob.wait_for(2)
        assert [x.from_.name for x in of(bob, pb.RosterBody.ACCEPT)] == [a]
        # c asks a, who is offline meanwhile: the request waits for a's next login; a declines
        await alice.close()
        r = api.post(f"/users/{c}/contacts/apply", token=tokens[c], json={"usernames": [a], "reason": "me too"})
        assert r.status_code == 200, r.text
        carol = await connect(api, c, "webim_web_2")
        await carol.sync()
        alice = await connect(api, a)
        await alice.sync()
        await alice.wait_for(1)
        [kept] = of(alice, pb.RosterBody.ADD)
        assert kept.from_.name == c and kept.reason == "me too"
        r = api.post(f"/users/{a}/contacts/decline/users/{c}", token=tokens[a])
        assert r.status_code == 200, r.text
        await carol.wait_for(1)
        [refused] = of(carol, pb.RosterBody.REMOTE_DECLINE)
        assert refused.from_.name == a
        for x in (alice, bob, carol):
            await x.close()

    run(scenario)


def test_a_conversation_between_msync_and_xmpp(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("xa"), unique("xb")
    api.register(a, b)

    async def scenario() -> None:
        alice = await connect(api, a)
        await alice.sync()
        bob = Client(xserver, b)
        await bob.online()
        ack = await alice.send(b, "from msync")
        got = await bob.next_message()
        assert got["body"] == "from msync" and got["id"] == str(ack.server_id)
        bob.send_message(mto=xserver.jid(a), mbody="from xmpp", mtype="chat")
        back = (await alice.wait_for(1))[0]
        assert back.text == "from xmpp" and back.body.from_.name == b and back.queue == b
        # receipts across: alice's read ack reaches bob as Easemob's <acked/>, bob's as a READ_ACK
        await alice.send(b, kind=MB.READ_ACK, ack_id=back.id)
        acked = await bob.next_message()
        assert acked.xml.find("{urn:xmpp:receipts}acked").get("id") == str(back.id)
        ack = (await alice.send(b, "read me")).server_id
        assert (await bob.next_message())["body"] == "read me"
        receipt = bob.make_message(mto=xserver.jid(a), mbody=str(ack), mtype="chat")
        receipt.append(ET.Element("{urn:xmpp:receipts}acked", {"id": str(ack)}))
        receipt.send()
        read = (await alice.wait_for(2))[1]
        assert read.body.type == MB.READ_ACK and read.body.ack_message_id == ack and read.body.from_.name == b
        await alice.close()
        await bob.close()

    run(scenario)


def test_room_news_and_a_disabled_group(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("na"), unique("nb")
    api.register(a, b)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b]}).json()["data"]["groupid"]

    async def scenario() -> None:
        bob = await connect(api, b)
        await bob.sync()
        r = api.post(f"/chatgroups/{gid}/announcement", json={"announcement": "read me"})
        assert r.status_code == 200, r.text
        news = (await bob.wait_for(1))[0]
        assert news.ns == pb.Meta.MUC and news.body.operation == pb.MUCBody.UPDATE_ANNOUNCEMENT
        assert news.body.reason == "read me" and news.body.muc_id.name == gid and news.body.from_.name == a
        r = api.post(f"/chatgroups/{gid}/disable")
        assert r.status_code == 200, r.text
        disabled = (await bob.wait_for(2))[1]
        assert disabled.body.operation == pb.MUCBody.DISABLE_GROUP
        with pytest.raises(SendRefused) as refused:
            await bob.send(gid, "anyone?", chat_type=MB.GROUPCHAT)
        assert refused.value.reason == "group is disabled"
        api.post(f"/chatgroups/{gid}/enable")
        assert (await bob.wait_for(3))[2].body.operation == pb.MUCBody.ABLE_GROUP
        await bob.send(gid, "back", chat_type=MB.GROUPCHAT)
        await bob.close()

    run(scenario)


def test_threads_reach_msync_members(xserver: XServer) -> None:
    api = xserver.api
    a, b, c = unique("ta"), unique("tb"), unique("tc")
    api.register(a, b, c)
    gid = api.post("/chatgroups", json={"groupname": "g", "desc": "d", "public": True, "owner": a,
                                        "members": [b, c]}).json()["data"]["groupid"]
    r = api.post("/messages/chatgroups", json={"from": a, "to": [gid], "type": "txt", "body": {"msg": "start"}})
    start = r.json()["data"][gid]

    async def scenario() -> None:
        bob, carol = await connect(api, b), await connect(api, c)
        await bob.sync()
        await carol.sync()
        bob.received.clear()
        carol.received.clear()
        r = api.post("/thread", json={"group_id": gid, "name": "topic", "owner": a, "msg_id": start})
        assert r.status_code == 200, r.text
        tid = str(r.json()["data"]["thread_id"])
        created = (await bob.wait_for(1))[0]  # the SDK's onChatThreadChange reads a NOTIFY
        assert created.ns == pb.Meta.NOTIFY and created.queue == gid
        doc = json.loads(created.body)
        assert doc["type"] == "thread" and doc["data"]["operation"] == "create"
        assert doc["data"]["id"] == tid and doc["data"]["muc_parent_id"] == gid and doc["data"]["name"] == "topic"
        assert doc["data"]["msg_parent_id"] == start and doc["data"]["from"] == a
        assert json.loads((await carol.wait_for(1))[0].body)["data"]["operation"] == "create"
        r = api.post(f"/thread/{tid}/users", json={"usernames": [b]})
        assert r.status_code == 200, r.text
        joined = (await bob.wait_for(2))[1]
        assert joined.ns == pb.Meta.MUC and joined.body.operation == pb.MUCBody.THREAD_JOIN and joined.body.is_thread
        assert joined.body.muc_id.name == tid and joined.body.muc_parent_id.name == gid
        bob.received.clear()
        carol.received.clear()
        ack = await bob.send(tid, "in the thread", chat_type=MB.GROUPCHAT)
        await asyncio.sleep(0.5)
        assert not [m for m in carol.received if m.ns == pb.Meta.CHAT]  # not a member of the thread
        r = api.get(f"/thread/{tid}/users")
        assert {m for m in r.json()["data"]["affiliations"]} >= {a, b}, r.text
        assert ack.server_id > 0
        for x in (bob, carol):
            await x.close()

    run(scenario)


def test_reactions_and_presence_reach_msync_users(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("pa"), unique("pb")
    api.register(a, b)

    async def scenario() -> None:
        alice, bob = await connect(api, a), await connect(api, b)
        await alice.sync()
        await bob.sync()
        ack = await alice.send(b, "react to me")
        await bob.wait_for(1)
        r = api.post(f"/reaction/user/{b}", json={"msgId": str(ack.server_id), "message": "thumbs"})
        assert r.status_code == 200, r.text
        got = (await alice.wait_for(1))[0]  # the SDK's onReactionChange
        doc = json.loads(got.body)
        assert got.ns == pb.Meta.NOTIFY and doc["type"] == "reaction" and got.queue == b
        (change,) = doc["data"]
        assert change["messageId"] == str(ack.server_id) and change["channel_type"] == "chat"
        assert change["reactions"][0]["reaction"] == "thumbs" and change["reactions"][0]["count"] == 1
        # Easemob presence: alice follows bob, who sets a custom status
        r = api.post(f"/users/{a}/presence/3600", json={"usernames": [b]})
        assert r.status_code == 200, r.text
        r = api.post(f"/users/{b}/presence/webim_web_1/2", json={"ext": "in a meeting"})
        assert r.status_code == 200, r.text
        status = json.loads((await alice.wait_for(2))[1].body)  # onPresenceStatusChange
        assert status["type"] == "presence"
        (value,) = status["data"]["values"]
        assert value["uid"] == b and value["ext"] == "in a meeting" and value["status"]["webim_web_1"] == "2"
        await alice.close()
        await bob.close()

    run(scenario)


def test_what_is_not_msync_ends_the_connection(xserver: XServer) -> None:
    """A text message, a binary message that is not an msync frame and one over the WebSocket
    limit each end the connection; pings are answered meanwhile."""
    url = ws_url(xserver.api)

    async def closed_after(message: str | bytes) -> int | None:
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            await asyncio.wait_for(await ws.ping(), 5)  # the WebSocket answers pings
            await ws.send(message)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return ws.close_code

    async def scenario() -> None:
        assert await closed_after("not msync") == 1000
        assert await closed_after(b"\xff\xfe not protobuf") == 1000
        assert await closed_after(b"\x00" * 20_000) == 1009  # xserver: 10,000-byte stanzas

    run(scenario)


def test_a_node_with_msync_off_refuses_the_handshake(server: Server, tmp_path_factory: pytest.TempPathFactory) -> None:
    """With msync disabled the WebSocket handshake at /websocket is refused (403). (Idle and
    flooding connections: tests/scenarios/test_msync_limits.py.)"""
    tmp = tmp_path_factory.mktemp("hxim-msync-off")
    off, pg_name = start_xmpp_server(tmp, server.backend, HXIM_MSYNC_ENABLED="false")
    try:
        with pytest.raises(websockets.InvalidStatus) as refused:
            run(lambda: websockets.connect(ws_url(off.api)))
        assert refused.value.response.status_code == 403
    finally:
        stop_server(off.server, pg_name)


def test_a_sent_message_reaches_the_senders_other_devices(xserver: XServer) -> None:
    api = xserver.api
    a, b = unique("da"), unique("db")
    api.register(a, b)

    async def scenario() -> None:
        phone, laptop = await connect(api, a, "webim_web_phone"), await connect(api, a, "webim_web_laptop")
        bob = await connect(api, b)
        for x in (phone, laptop, bob):
            await x.sync()
        ack = await phone.send(b, "from my phone")
        copy = (await laptop.wait_for(1))[0]
        assert copy.id == ack.server_id and copy.queue == b  # the conversation with bob
        assert copy.body.from_.name == a and copy.body.to.name == b
        assert (await bob.wait_for(1))[0].id == ack.server_id
        await asyncio.sleep(0.3)
        assert not phone.received  # never back to the device that sent it
        for x in (phone, laptop, bob):
            await x.close()

    run(scenario)
