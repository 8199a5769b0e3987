"""A user's devices over REST: `GET /users/{u}/resources` lists every live session (TCP and
WebSocket alike) and `DELETE /users/{u}/disconnect/{resource}` ends one of them, the others
staying (Easemob's account_online_device_obtain and account_offline_device_single pages)."""

from __future__ import annotations

import asyncio
import time
import uuid

from xmpp_helpers import Client, NodeClient, XServer, run, xserver

from conftest import assert_error, unique

__all__ = ["xserver"]


def _devices(xs: XServer, name: str) -> list[dict[str, str]]:
    r = xs.api.get(f"/users/{name}/resources")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "get" and body["entities"] == [] and body["path"] == f"/users/{name}/resources"
    return sorted(body["data"], key=lambda d: d["res"])


def test_list_and_disconnect_one_device(xserver: XServer) -> None:
    xs = xserver
    a = unique("dev")
    xs.api.register(a)
    assert _devices(xs, a) == []

    async def scenario() -> None:
        phone, laptop = Client(xs, a, resource="phone"), Client(xs, a, resource="laptop")
        await phone.online()
        await laptop.online()
        web = NodeClient(xs, a, resource="web")
        try:
            await asyncio.to_thread(web.online)
            found = _devices(xs, a)
            assert [d["res"] for d in found] == ["laptop", "phone", "web"]
            assert {d["res"]: d["device_name"] for d in found} == {
                "laptop": "xmpp", "phone": "xmpp", "web": "xmpp-websocket"}
            assert all(uuid.UUID(d["device_uuid"]) for d in found)
            assert _devices(xs, a) == found  # the same ids every time
            r = xs.api.delete(f"/users/{a}/disconnect/phone")
            assert r.status_code == 200 and r.json()["data"] == {"result": True}, r.text
            await asyncio.wait_for(phone.gone.wait(), 10)
            deadline = time.monotonic() + 5
            while [d["res"] for d in _devices(xs, a)] != ["laptop", "web"]:
                assert time.monotonic() < deadline, _devices(xs, a)
                await asyncio.sleep(0.05)
            await laptop.sync()  # still served
            r = xs.api.delete(f"/users/{a}/disconnect/phone")  # nothing bound there any more
            assert r.status_code == 200 and r.json()["data"] == {"result": False}
        finally:
            web.stop()
            await laptop.close()

    run(scenario)


def test_devices_need_the_admin_token(xserver: XServer) -> None:
    xs = xserver
    a = unique("dev")
    xs.api.register(a)
    token = xs.api.user_token(a)
    assert xs.api.get(f"/users/{a}/resources", token=token).status_code == 401
    assert xs.api.delete(f"/users/{a}/disconnect/x", token=token).status_code == 401
    assert_error(xs.api.get(f"/users/{unique('nobody')}/resources"), 404, "service_resource_not_found")
