"""1:1 messages across the nodes of a cluster, whatever carries them (XMPP over WebSocket, msync,
REST; XMPP over TCP is test_routing.py's), what waits offline for whom as every node counts it
(`offline_msg_count`), and recalls asked of one node for messages delivered on the other."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

import httpx
import pytest
from cluster_clients import counts, everywhere, msync, offline_count, seen_online, wait_until
from cluster_helpers import Cluster, cluster
from slixmpp.exceptions import IqError
from webim_raw import CLIENT, WebIm
from xmpp_helpers import Client, XServer, login_raw, run, until

from conftest import Api, assert_error, unique
from hxim.msync.wire import pb

__all__ = ["cluster"]

MB = pb.MessageBody
RECALL = "{urn:xmpp:recall}recall"
KEYWORDS = "/moderation/text/list"


def _text(el: ET.Element) -> str:
    """The text of a message the Web IM client got (its body is Easemob's JSON)."""
    body = el.findtext(CLIENT + "body")
    assert body is not None, ET.tostring(el)
    return str(json.loads(body)["bodies"][0]["msg"])


def _recall_of(mid: str) -> Callable[[ET.Element], bool]:
    def pred(el: ET.Element) -> bool:
        recall = el.find(RECALL)
        return recall is not None and recall.get("id") == mid

    return pred


def test_xmpp_websocket_messages_cross_both_ways(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("wa"), unique("wb")
    n1.api.register(a, b)
    alice, bob = WebIm(n1, a).login(), WebIm(n2, b).login()
    try:
        alice.ping()
        bob.ping()
        wait_until(seen_online(nodes, a, b))
        alice.chat(b, "WEBIM_x1", {"type": "txt", "msg": "ws to the other node"})
        mid = alice.server_ack("WEBIM_x1")
        got = bob.expect(lambda el: el.get("id") == mid)
        assert _text(got) == "ws to the other node" and got.get("from", "").startswith(bob.jid(a))
        bob.chat(a, "WEBIM_x2", {"type": "txt", "msg": "and back"})
        back = bob.server_ack("WEBIM_x2")
        assert _text(alice.expect(lambda el: el.get("id") == back)) == "and back"
    finally:
        alice.close()
        bob.close()
    # both taken live: nothing waits offline, whichever node is asked
    wait_until(counts(nodes, a, 0))
    wait_until(counts(nodes, b, 0))


def test_msync_messages_cross_both_ways_and_to_xmpp(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c = unique("ma"), unique("mb"), unique("mc")
    n1.api.register(a, b, c)

    async def scenario() -> None:
        alice, bob = await msync(n1, a), await msync(n2, b)
        carol = Client(n2, c)
        await carol.online()
        await until(seen_online(nodes, a, b, c))
        ack = await alice.send(b, "msync across")
        got = (await bob.wait_for(1))[0]
        assert got.id == ack.server_id and got.text == "msync across" and got.queue == a
        back = await bob.send(a, "msync back")
        assert [(m.id, m.text) for m in await alice.wait_for(1)] == [(back.server_id, "msync back")]
        # msync on node 1 to XMPP on node 2, and back
        ack = await alice.send(c, "to xmpp over there")
        seen = await carol.next_message()
        assert seen["body"] == "to xmpp over there" and seen["id"] == str(ack.server_id)
        carol.send_message(mto=n2.jid(a), mbody="from xmpp over there", mtype="chat")
        reply = (await alice.wait_for(2))[1]
        assert reply.text == "from xmpp over there" and reply.body.from_.name == c
        # a burst arrives whole and in order on the other node
        sent = [(await alice.send(b, f"n{i}")).server_id for i in range(20)]
        assert [m.id for m in (await bob.wait_for(21))[1:]] == sent
        # every message was taken (msync acknowledged its pages): nothing waits offline
        for name in (a, b, c):
            await until(counts(nodes, name, 0))
        await alice.close()
        await bob.close()
        await carol.close()

    run(scenario)


def test_rest_sends_reach_sessions_on_either_node(cluster: Cluster) -> None:
    """A REST send reaches the recipient's session wherever it is, and its `sync_device` copy the
    sender's own session on the other node."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("ra"), unique("rb")
    n1.api.register(a, b)

    async def scenario() -> None:
        alice, bob = Client(n1, a), await msync(n2, b)
        await alice.online()
        await until(seen_online(nodes, a, b))
        r = n2.api.post(
            "/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "copy"}, "sync_device": True}
        )
        assert r.status_code == 200, r.text
        mid = r.json()["data"][b]
        assert [(str(m.id), m.text) for m in await bob.wait_for(1)] == [(mid, "copy")]
        mine = await alice.next_message()
        assert mine["body"] == "copy" and mine["id"] == mid
        r = n1.api.post(
            "/messages",
            json={"target_type": "users", "target": [b], "from": a, "msg": {"type": "txt", "msg": "from node 1"}},
        )
        assert r.status_code == 200, r.text
        got = (await bob.wait_for(2))[1]
        assert got.text == "from node 1" and str(got.id) == r.json()["data"][b]
        await alice.quiet(0.3)  # no sync_device: no copy
        for name in (a, b):
            await until(counts(nodes, name, 0))
        await alice.close()
        await bob.close()

    run(scenario)


def test_offline_messages_are_counted_everywhere_and_replayed_on_either_node(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("oa"), unique("ob")
    n1.api.register(a, b)

    async def scenario() -> None:
        alice = Client(n1, a)
        await alice.online()
        for i in range(2):
            alice.send_message(mto=n1.jid(b), mbody=f"m{i}", mtype="chat")
        await alice.sync()
        r = n2.api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "rest"}})
        assert r.status_code == 200, r.text
        await until(counts(nodes, b, 3))
        # bob logs in on the other node: all three, in order, marked delayed; then none waits
        bob = Client(n2, b)
        await bob.online()
        got = [await bob.next_message() for _ in range(3)]
        assert [m["body"] for m in got] == ["m0", "m1", "rest"]
        assert all(m.xml.find("{urn:xmpp:delay}delay") is not None for m in got)
        await until(counts(nodes, b, 0))
        # now online there: node 1's next message comes live, and nothing is kept for it
        await until(seen_online(nodes, b))
        alice.send_message(mto=n1.jid(b), mbody="live", mtype="chat")
        live = await bob.next_message()
        assert live["body"] == "live" and live.xml.find("{urn:xmpp:delay}delay") is None
        await until(counts(nodes, b, 0))
        await bob.quiet(0.3)
        await bob.close()
        # offline again: node 2 counts what node 1 keeps
        alice.send_message(mto=n1.jid(b), mbody="later", mtype="chat")
        await alice.sync()
        await until(counts(nodes, b, 1))
        await alice.close()

    run(scenario)
    assert offline_count(n1, b) == 1


def test_xmpp_recall_on_one_node_reaches_the_other(cluster: Cluster) -> None:
    """The sender on node 1 recalls a chat message and a group message; bob, who got both on node
    2, is told; carol, offline, finds the group message gone from her queue on both nodes."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c = unique("xa"), unique("xb"), unique("xc")
    n1.api.register(a, b, c)
    gid = n1.api.post(
        "/chatgroups",
        json={"groupname": "g", "desc": "d", "public": True, "maxusers": 10, "owner": a, "members": [b, c]},
    ).json()["data"]["groupid"]
    alice, bob = WebIm(n1, a).login(), WebIm(n2, b).login()
    try:
        alice.ping()
        bob.ping()
        wait_until(seen_online(nodes, a, b))
        alice.chat(b, "WEBIM_r1", {"type": "txt", "msg": "oops"})
        mid = alice.server_ack("WEBIM_r1")
        bob.expect(lambda el: el.get("id") == mid)
        alice.send(
            f"<message from='{alice.full}' to='{alice.jid(b)}' id='WEBIM_r2' type='chat' "
            f"xmlns='jabber:client'><recall xmlns='urn:xmpp:recall' id='{mid}'/></message>"
        )
        assert alice.server_ack("WEBIM_r2") == mid
        told = bob.expect(lambda el: el.find(RECALL) is not None)
        assert told.get("from") == bob.jid(a) and told.find(RECALL).get("id") == mid  # type: ignore[union-attr]
        alice.chat(gid, "WEBIM_g1", {"type": "txt", "msg": "group oops"}, group=True)
        gmid = alice.server_ack("WEBIM_g1")
        bob.expect(lambda el: el.get("id") == gmid)
        wait_until(counts(nodes, c, 1))
        alice.send(
            f"<message from='{alice.full}' to='{alice.room(gid)}' id='WEBIM_g2' type='groupchat' "
            f"xmlns='jabber:client'><recall xmlns='urn:xmpp:recall' id='{gmid}'/></message>"
        )
        alice.server_ack("WEBIM_g2")
        told = bob.expect(lambda el: el.find(RECALL) is not None)
        assert told.get("from") == bob.room(gid) and told.find(RECALL).get("id") == gmid  # type: ignore[union-attr]
        wait_until(counts(nodes, c, 0))
    finally:
        alice.close()
        bob.close()


def test_a_recall_sent_right_after_its_message_reaches_the_other_node(cluster: Cluster) -> None:
    """alice sends a message and recalls it at once, before node 2 has removed the offline entry
    node 1 kept for bob (he is reached only on node 2): bob, who got the message, is told of the
    recall all the same, and nothing waits for him."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("qa"), unique("qb")
    n1.api.register(a, b)
    alice, bob = WebIm(n1, a).login(), WebIm(n2, b).login()
    try:
        alice.ping()
        bob.ping()
        wait_until(seen_online(nodes, a, b))
        for i in range(3):
            alice.chat(b, f"WEBIM_q{i}", {"type": "txt", "msg": f"oops {i}"})
            mid = alice.server_ack(f"WEBIM_q{i}")
            alice.send(
                f"<message from='{alice.full}' to='{alice.jid(b)}' id='WEBIM_q{i}r' type='chat' "
                f"xmlns='jabber:client'><recall xmlns='urn:xmpp:recall' id='{mid}'/></message>"
            )
            assert alice.server_ack(f"WEBIM_q{i}r") == mid
            got = bob.expect(lambda el, mid=mid: el.get("id") == mid)
            assert _text(got) == f"oops {i}"
            told = bob.expect(_recall_of(mid))
            assert told.get("from") == bob.jid(a)
        wait_until(counts(nodes, b, 0))
    finally:
        alice.close()
        bob.close()


def test_rest_recall_on_either_node_reaches_both_sessions(cluster: Cluster) -> None:
    """REST `msg_recall` asked of node 1, then of node 2: the recipient (msync, node 2) and the
    sender's own session (Web IM, node 1) are told, whichever node took the call."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("za"), unique("zb")
    n1.api.register(a, b)

    async def scenario() -> None:
        alice = WebIm(n1, a).login()
        bob = await msync(n2, b)
        try:
            alice.ping()
            await until(seen_online(nodes, a, b))
            for i, node in enumerate(nodes):
                cid = f"WEBIM_z{i}"
                alice.chat(b, cid, {"type": "txt", "msg": f"oops {i}"})
                mid = alice.server_ack(cid)
                got = await bob.wait_for(2 * i + 1)
                assert str(got[-1].id) == mid
                r = node.api.post(
                    "/messages/msg_recall",
                    json={"msg_id": mid, "to": b, "from": a, "chat_type": "chat", "force": False},
                )
                assert r.status_code == 200, r.text
                recall = (await bob.wait_for(2 * i + 2))[-1]
                assert recall.body.type == MB.RECALL and str(recall.body.ack_message_id) == mid
                assert recall.body.from_.name == a
                own = alice.expect(_recall_of(mid))
                assert own.get("from") == alice.jid(b)
        finally:
            alice.close()
            await bob.close()

    run(scenario)


MUTED = "user is globally muted"


def test_a_global_mute_set_on_one_node_holds_on_the_other(cluster: Cluster) -> None:
    """alice is muted for 1:1 chats over REST on node 1: her XMPP message on node 2 bounces and
    node 2 refuses her REST send too; unmuted on node 1, both pass on node 2 again."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c = unique("ga"), unique("gb"), unique("gc")
    n1.api.register(a, b, c)

    def mute(seconds: int) -> None:
        r = n1.api.post("/mutes", json={"username": a, "chat": seconds})
        assert r.status_code == 200, r.text

    def node2_answers(status: int) -> Callable[[], bool]:
        """Node 2 answers a REST send from alice to carol (never online: no stray messages) with `status`."""
        def check() -> bool:
            body = {"from": a, "to": [c], "type": "txt", "body": {"msg": "probe"}}
            return n2.api.post("/messages/users", json=body).status_code == status
        return check

    async def scenario() -> None:
        alice, bob = Client(n2, a), Client(n1, b)
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        mute(-1)
        await until(node2_answers(403))  # (node 2 hears of it through Redis, in milliseconds)
        alice.send_message(mto=n2.jid(b), mbody="muted?", mtype="chat")
        err = await asyncio.wait_for(alice.errors.get(), 5)
        assert err["error"]["condition"] == "forbidden" and err["error"]["text"] == MUTED
        r = n2.api.post("/messages/users", json={"from": a, "to": [b], "type": "txt", "body": {"msg": "rest"}})
        assert_error(r, 403, "forbidden_op", MUTED)
        await bob.quiet(0.3)
        mute(0)
        await until(node2_answers(200))
        alice.send_message(mto=n2.jid(b), mbody="free", mtype="chat")
        assert (await bob.next_message())["body"] == "free"
        await alice.close()
        await bob.close()

    run(scenario)


def test_keyword_lists_set_on_one_node_screen_sends_on_the_other(cluster: Cluster) -> None:
    """A refusing keyword list created over REST on node 1 (in the `other` app: a list screens
    every message of its app) refuses a REST send asked of node 2; a replacing one rewrites it;
    deleted on node 1, node 2 lets the word through again."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    on1, on2 = Api(n1.server, "other"), Api(n2.server, "other")
    a, b, c = unique("ka"), unique("kb"), unique("kc")
    on1.register(a, b, c)

    def send(api: Api, text: str, to: str = b) -> httpx.Response:
        return api.post("/messages/users", json={"from": a, "to": [to], "type": "txt", "body": {"msg": text}})

    def node2_answers(status: int) -> Callable[[], bool]:
        """Node 2 answers a send of the refused word (to carol, whose messages nobody reads) with `status`."""
        return lambda: send(on2, "forbidden", c).status_code == status

    def history_text(api: Api, msg_id: str) -> str:
        r = api.get("/chatmessages", params={"ql": "select * where timestamp>0", "limit": 100})
        [found] = [e for e in r.json()["entities"] if e["msg_id"] == msg_id]
        return str(found["payload"]["bodies"][0]["msg"])

    assert send(on2, "before the lists: darn, forbidden").status_code == 200  # node 2 reads the lists now
    made = []
    for words, disposition in ((["darn"], "EXCHANGE"), (["forbidden"], "REJECT")):
        r = on1.post(
            KEYWORDS, json={"name": unique("l"), "scope": "ALL", "disposition": disposition, "textContexts": words}
        )
        assert r.status_code == 200, r.text
        made.append(r.json()["entity"]["id"])
    wait_until(node2_answers(403))  # (node 2 hears of them through Redis and reads them, in milliseconds)
    assert_error(send(on1, "forbidden"), 403, "forbidden_op", "message is blocked by moderation")
    assert_error(send(on2, "forbidden"), 403, "forbidden_op", "message is blocked by moderation")
    r = send(on2, "oh darn")
    assert r.status_code == 200, r.text
    assert history_text(on2, r.json()["data"][b]) == "oh ***"
    for ident in made:
        assert on1.delete(f"{KEYWORDS}/{ident}").status_code == 200
    wait_until(node2_answers(200))
    r = send(on2, "forbidden darn")
    assert r.status_code == 200, r.text
    assert history_text(on2, r.json()["data"][b]) == "forbidden darn"


def test_iqs_and_full_jid_messages_reach_a_resource_on_the_other_node(cluster: Cluster) -> None:
    """An IQ to a full JID on the other node is answered from there (and refused for a resource
    bound nowhere); a message to the full JID of a resource bound on the other node, before its
    initial presence, reaches it, while one to the bare JID waits offline."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b, c = unique("ia"), unique("ib"), unique("ic")
    n1.api.register(a, b, c)
    raw = login_raw(n2, c, resource="fresh")  # bound on node 2, no initial presence yet

    def bound(xs: XServer) -> bool:
        return [d["res"] for d in xs.api.get(f"/users/{c}/resources").json()["data"]] == ["fresh"]

    async def scenario() -> None:
        alice, bob = Client(n1, a), Client(n2, b, resource="desk")
        await alice.online()
        await bob.online()
        await until(seen_online(nodes, a, b))
        bob_full = n1.jid(b, "desk")
        version = await alice.plugin["xep_0092"].get_version(bob_full, timeout=10)
        assert version["from"] == bob_full and version["software_version"]["name"]
        await alice.plugin["xep_0199"].ping(bob_full, timeout=10)
        with pytest.raises(IqError) as missing:
            await alice.plugin["xep_0030"].get_info(jid=n1.jid(b, "phone"), timeout=10)
        assert missing.value.iq["error"]["condition"] == "service-unavailable"
        await until(everywhere(nodes, bound))
        alice.send_message(mto=n1.jid(c, "fresh"), mbody="to the resource", mtype="chat")
        text = await asyncio.to_thread(raw.read_until, b"</message>")
        assert "to the resource" in text
        alice.send_message(mto=n1.jid(c), mbody="to the user", mtype="chat")
        await alice.sync()
        await until(counts(nodes, c, 1))
        await alice.close()
        await bob.close()

    try:
        run(scenario)
        raw.send("<presence/>")
        assert "to the user" in raw.read_until(b"to the user")
    finally:
        raw.close()
