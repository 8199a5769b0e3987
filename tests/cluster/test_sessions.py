"""Sessions across the nodes of a cluster: REST `status`, `batch/status` and `resources` answer
alike on every node, a login with the same full JID on another node ends the first session
(`conflict`), and REST `disconnect`, a new password and deactivation asked of one node end the
user's sessions on the other."""

from __future__ import annotations

import asyncio

from cluster_clients import appkey, metas, msync, msync_url, seen_offline, seen_online, status
from cluster_helpers import Cluster, cluster
from xmpp_helpers import Client, NodeClient, XServer, run, until

from conftest import unique
from hxim.msync.client import MsyncClient
from hxim.msync.wire import pb

__all__ = ["cluster"]

STAT = pb.StatisticsBody


def _devices(xs: XServer, name: str) -> list[tuple[str, str]]:
    r = xs.api.get(f"/users/{name}/resources")
    assert r.status_code == 200, r.text
    return sorted((d["res"], d["device_name"]) for d in r.json()["data"])


def _device_ids(xs: XServer, name: str) -> dict[str, str]:
    return {d["res"]: d["device_uuid"] for d in xs.api.get(f"/users/{name}/resources").json()["data"]}


def _batch(xs: XServer, *names: str) -> dict[str, str]:
    r = xs.api.post("/users/batch/status", json={"usernames": list(names)})
    assert r.status_code == 200, r.text
    return {k: v for entry in r.json()["data"] for k, v in entry.items()}


def test_status_and_devices_read_alike_on_both_nodes(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("sa"), unique("sb")
    n1.api.register(a, b)

    async def scenario() -> None:
        phone = Client(n1, a, resource="phone")
        assert await phone.login() == "ok"
        await until(lambda: all(_devices(xs, a) == [("phone", "xmpp")] for xs in nodes))
        assert status(n2, a) == "offline"  # bound, not yet available: offline everywhere
        phone.send_presence()
        await until(seen_online(nodes, a))
        web = NodeClient(n2, a, resource="web")
        try:
            await asyncio.to_thread(web.online)
            web.send("<presence xmlns='jabber:client'/>")
            want = [("phone", "xmpp"), ("web", "xmpp-websocket")]
            await until(lambda: all(_devices(xs, a) == want for xs in nodes))
            assert _device_ids(n1, a) == _device_ids(n2, a)  # the same device ids from either node
            assert _batch(n2, a, b) == {a: "online", b: "offline"}
            assert _batch(n1, a, b) == {a: "online", b: "offline"}
            await phone.close()
            await until(lambda: all(_devices(xs, a) == [("web", "xmpp-websocket")] for xs in nodes))
            assert seen_online(nodes, a)()  # the WebSocket session is available (it sent presence)
        finally:
            web.stop()
        await until(seen_offline(nodes, a))
        await until(lambda: all(_devices(xs, a) == [] for xs in nodes))

    run(scenario)


def test_a_login_on_the_other_node_with_the_same_resource_ends_the_first(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a, b = unique("ca"), unique("cb")
    n1.api.register(a, b)

    async def scenario() -> None:
        first = Client(n1, a, resource="same")
        await first.online()
        await until(seen_online(nodes, a))
        second = Client(n2, a, resource="same")
        await second.online()
        await asyncio.wait_for(first.gone.wait(), 5)
        assert first.stream_errors == ["conflict"]
        await until(lambda: all(_devices(xs, a) == [("same", "xmpp")] for xs in nodes))
        assert seen_online(nodes, a)()
        # the session that stays is the one on node 2: a message from node 1 reaches it
        other = Client(n1, b)
        await other.online()
        await until(seen_online(nodes, b))
        other.send_message(mto=n1.jid(a), mbody="who is there", mtype="chat")
        assert (await second.next_message())["body"] == "who is there"
        # a different resource on node 1 ends nothing
        third = Client(n1, a, resource="other")
        await third.online()
        await second.sync()
        assert not second.gone.is_set()
        for client in (second, third, other):
            await client.close()
        # msync: the same resource on the other node replaces the first, which is told so
        m1 = await msync(n1, b, "webim_web_9")
        await until(seen_online(nodes, b))
        m2 = await msync(n2, b, "webim_web_9")
        kicked = await metas(m1, pb.Meta.STATISTIC, 1)
        assert kicked and kicked[-1].body.operation == STAT.USER_LOGIN_ANOTHER_DEVICE
        await asyncio.wait_for(m1.closed.wait(), 5)
        await m2.sync()
        assert not m2.closed.is_set()
        await m1.close()
        await m2.close()

    run(scenario)


def test_rest_disconnect_on_one_node_ends_sessions_on_the_other(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a = unique("da")
    n1.api.register(a)

    async def scenario() -> None:
        phone, laptop = Client(n2, a, resource="phone"), Client(n2, a, resource="laptop")
        await phone.online()
        await laptop.online()
        await until(lambda: all(len(_devices(xs, a)) == 2 for xs in nodes))
        # one device, by its resource
        r = n1.api.delete(f"/users/{a}/disconnect/phone")
        assert r.status_code == 200 and r.json()["data"] == {"result": True}, r.text
        await asyncio.wait_for(phone.gone.wait(), 5)
        await until(lambda: all(_devices(xs, a) == [("laptop", "xmpp")] for xs in nodes))
        await laptop.sync()  # still served
        r = n1.api.delete(f"/users/{a}/disconnect/phone")
        assert r.status_code == 200 and r.json()["data"] == {"result": False}
        # every session: XMPP and msync
        web = await msync(n2, a)
        await until(lambda: all(len(_devices(xs, a)) == 2 for xs in nodes))
        r = n1.api.get(f"/users/{a}/disconnect")
        assert r.status_code == 200 and r.json()["data"]["result"] is True, r.text
        await asyncio.wait_for(laptop.gone.wait(), 5)
        assert laptop.stream_errors == ["policy-violation"]
        await asyncio.wait_for(web.closed.wait(), 5)
        assert web.received[-1].body.operation == STAT.USER_KICKED_BY_OTHER_DEVICE
        await until(seen_offline(nodes, a))
        assert n1.api.get(f"/users/{a}/disconnect").json()["data"]["result"] is False
        await web.close()

    run(scenario)


def test_deactivation_and_a_new_password_on_one_node_end_sessions_on_the_other(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    nodes = [n1, n2]
    a = unique("xa")
    n1.api.register(a)

    async def scenario() -> None:
        # a new password, set on node 1
        xmpp, web = Client(n2, a), await msync(n2, a)
        await xmpp.online()
        await until(lambda: all(len(_devices(xs, a)) == 2 for xs in nodes))
        r = n1.api.put(f"/users/{a}/password", json={"newpassword": "secret2"})
        assert r.status_code == 200, r.text
        await asyncio.wait_for(xmpp.gone.wait(), 5)
        assert xmpp.stream_errors == ["not-authorized"]
        await asyncio.wait_for(web.closed.wait(), 5)
        assert web.received[-1].body.operation == STAT.USER_KICKED_BY_CHANGE_PASSWORD
        # deactivated on node 1
        xmpp = Client(n2, a, "secret2")
        await xmpp.online()
        await until(seen_online(nodes, a))
        assert n1.api.post(f"/users/{a}/deactivate").status_code == 200
        await asyncio.wait_for(xmpp.gone.wait(), 5)
        assert "not-authorized" in xmpp.stream_errors
        await until(seen_offline(nodes, a))
        for xs in nodes:
            assert await Client(xs, a, "secret2").login() == "failed"
        # activated on node 2: node 1 lets the user in again
        assert n2.api.post(f"/users/{a}/activate").status_code == 200
        again = Client(n1, a, "secret2")
        assert await again.login() == "ok"
        await again.close()
        await web.close()

    run(scenario)


def test_a_token_issued_by_one_node_serves_on_the_other(cluster: Cluster) -> None:
    """A user token issued by node 1 logs in to msync and XMPP (`$t$`) on node 2 and calls REST
    there; a new password set on node 2 voids it on node 1 too."""
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    a = unique("ta")
    n1.api.register(a)
    token = n1.api.user_token(a)

    async def scenario() -> None:
        client = MsyncClient(msync_url(n2), appkey(n2), a, "webim_web_1")
        answer = await client.login(token)
        assert answer.status.error_code == 0, answer.status
        xmpp = Client(n2, a, "$t$" + token, mech="PLAIN", resource="tok")
        assert await xmpp.login() == "ok"
        await xmpp.close()
        await client.close()

    run(scenario)
    assert n2.api.get(f"/users/{a}", token=token).status_code == 200
    assert n2.api.put(f"/users/{a}/password", json={"newpassword": "secret2"}).status_code == 200
    r = n1.api.get(f"/users/{a}", token=token)
    assert r.status_code == 401, r.text
