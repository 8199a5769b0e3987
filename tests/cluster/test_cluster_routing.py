"""Two nodes, one cluster: what one node accepts reaches users connected to the other, and what
one node knows of who is connected, every node knows."""

from __future__ import annotations

from cluster_clients import wait_until
from cluster_helpers import Cluster, cluster
from xmpp_helpers import Client, XServer, run, until

from conftest import unique

__all__ = ["cluster"]


def _status(xs: XServer, name: str) -> str:
    return xs.api.get(f"/users/{name}/status").json()["data"][name]


def test_a_message_crosses_nodes_both_ways(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    alice, bob = unique("alice"), unique("bob")
    n1.api.register(alice, bob)

    async def scenario() -> None:
        a, b = Client(n1, alice), Client(n2, bob)
        await a.online()
        await b.online()
        await until(lambda: _status(n1, bob) == "online" and _status(n2, alice) == "online")
        a.send_message(mto=n1.jid(bob), mbody="over there", mtype="chat")
        got = await b.next_message()
        assert got["body"] == "over there"
        b.send_message(mto=n2.jid(alice), mbody="and back", mtype="chat")
        assert (await a.next_message())["body"] == "and back"
        a.disconnect()
        b.disconnect()
        await until(lambda: _status(n1, bob) == "offline")

    run(scenario)
    # nothing waits offline: each message reached its session, and the node that took it removed
    # the offline entry the sending node kept
    for name, xs in ((bob, n1), (alice, n2)):
        wait_until(lambda name=name, xs=xs: xs.api.get(f"/users/{name}/offline_msg_count").json()["data"][name] == 0)


def test_a_rest_message_reaches_a_session_on_the_other_node(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    carol = unique("carol")
    n1.api.register(carol)

    async def scenario() -> None:
        c = Client(n2, carol)
        await c.online()
        await until(lambda: _status(n1, carol) == "online")
        r = n1.api.post(
            "/messages",
            json={
                "target_type": "users",
                "target": [carol],
                "msg": {"type": "txt", "msg": "from the app"},
                "from": "admin",
            },
        )
        assert r.status_code == 200, r.text
        assert (await c.next_message())["body"] == "from the app"
        c.disconnect()

    run(scenario)
