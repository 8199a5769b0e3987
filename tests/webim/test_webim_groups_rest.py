"""Easemob Web IM SDK 1.8.4's REST group API (webim-xmpp.md §2.7) against hxim, in headless
Chromium: every call is made by the unmodified SDK with the logged-in user's token, and the XMPP
notices the calls cause (§7.6–§7.11) reach the other browser users' `onPresence` /
`onInviteMessage`. 1.4.6 has no REST group API, so only the 1.8.4 line runs here.

Screenshots and WebSocket frames of each page go to tests/webim/artifacts/ (see webim_browser.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from test_webim_sdk import browser, page_url, web
from webim_browser import XServer, xserver

from conftest import unique

__all__ = ["browser", "page_url", "web", "xserver"]


@pytest.fixture(params=["184"], ids=["websdk184"])
def sdk(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _ok(result: dict[str, Any]) -> Any:
    assert "success" in result, result
    return result["success"]


def _members(xs: XServer, gid: str) -> set[str]:
    data = xs.api.get(f"/chatgroups/{gid}/users").json()["data"]
    return {next(iter(m.values())) for m in data}


def test_group_life_cycle_through_the_sdk_rest_api(web: Any, xserver: XServer) -> None:
    """createGroupNew, getGroup, inviteToGroup, setAdmin/removeAdmin, mute/removeMute (the notice
    reaching the muted user's browser), joinGroup + agreeJoinGroup / rejectJoinGroup, quitGroup,
    modifyGroup, listGroupMember, dissolveGroup."""
    a, b, c, d = unique("wa"), unique("wb"), unique("wc"), unique("wd")
    xserver.api.register(a, b, c, d)
    alice, bob, carol, dave = web(a), web(b), web(c), web(d)
    for user in (alice, bob, carol, dave):
        user.online()

    created = _ok(alice.call("createGroupNew", {"data": {
        "groupname": "Readers", "desc": "books", "members": [b], "public": True, "approval": True,
        "allowinvites": False}}))
    gid = created["data"]["groupid"]
    assert alice.wait("onCreateGroup")["data"]["groupid"] == gid
    mine = _ok(bob.call("getGroup"))
    assert {"groupid": gid, "groupname": "Readers"} in mine["data"]
    info = _ok(bob.call("getGroupInfo", {"groupId": gid}))["data"][0]
    assert info["owner"] == a and info["membersonly"] is True and info["invite_need_confirm"] is False

    # inviteToGroup: createGroupNew asked for no confirmation, so carol is in at once
    invited = _ok(alice.call("inviteToGroup", {"groupId": gid, "users": [c]}))
    assert invited["data"]["invitees"] == [c]
    invite = carol.wait("onInviteMessage")
    assert invite["from"] == a and invite["roomid"] == gid
    joined = bob.wait("onPresence", {"info": {"type": "memberJoinPublicGroupSuccess", "mid": c}})
    assert joined["info"]["from"] == gid
    assert _members(xserver, gid) == {a, b, c}

    # admins: setAdmin / getGroupAdmin / removeAdmin, each told to bob
    _ok(alice.call("setAdmin", {"groupId": gid, "username": b}))
    made = bob.wait("onPresence", {"info": {"type": "addAdmin"}})
    assert made["info"]["gid"] == gid and made["info"]["owner"] == a
    assert _ok(carol.call("getGroupAdmin", {"groupId": gid}))["data"] == [b]

    # the admin mutes carol: her browser gets addMute from bob; then removeMute
    _ok(bob.call("mute", {"groupId": gid, "username": c, "muteDuration": 60000}))
    muted = carol.wait("onPresence", {"info": {"type": "addMute"}})
    assert muted["info"]["gid"] == gid and muted["info"]["owner"] == b
    assert [m["user"] for m in _ok(alice.call("getMuted", {"groupId": gid}))["data"]] == [c]
    _ok(bob.call("removeMute", {"groupId": gid, "username": c}))
    assert carol.wait("onPresence", {"info": {"type": "removeMute"}})["info"]["owner"] == b
    assert _ok(alice.call("getMuted", {"groupId": gid}))["data"] == []
    # a plain member may not mute: Easemob's error body reaches the SDK's error callback
    refused = carol.call("mute", {"groupId": gid, "username": b, "muteDuration": 60000})
    assert "error" in refused and "forbidden_op" in str(refused["error"]), refused
    _ok(alice.call("removeAdmin", {"groupId": gid, "username": b}))
    assert bob.wait("onPresence", {"info": {"type": "removeAdmin"}})["info"]["gid"] == gid

    # joinGroup + agreeJoinGroup: the owner is asked, dave admitted, the members told
    _ok(dave.call("joinGroup", {"groupId": gid}))
    asked = alice.wait("onPresence", {"info": {"type": "joinGroupNotifications", "from": d}})
    assert asked["info"]["gid"] == gid and asked["info"]["toNick"] == "Readers"
    _ok(alice.call("agreeJoinGroup", {"groupId": gid, "applicant": d}))
    assert dave.wait("onPresence", {"info": {"type": "joinPublicGroupSuccess"}})["info"]["from"] == gid
    bob.wait("onPresence", {"info": {"type": "memberJoinPublicGroupSuccess", "mid": d}})
    assert d in _members(xserver, gid)

    # quitGroup, then joinGroup + rejectJoinGroup: carol is declined
    _ok(carol.call("quitGroup", {"groupId": gid}))
    assert c not in _members(xserver, gid)
    _ok(carol.call("joinGroup", {"groupId": gid}))
    alice.wait("onPresence", {"info": {"type": "joinGroupNotifications", "from": c}})
    _ok(alice.call("rejectJoinGroup", {"groupId": gid, "applicant": c}))
    declined = carol.wait("onPresence", {"info": {"type": "joinPublicGroupDeclined"}})
    assert declined["info"]["gid"] == gid and declined["info"]["owner"] == a
    assert c not in _members(xserver, gid)

    # modifyGroup, listGroupMember
    _ok(alice.call("modifyGroup", {"groupId": gid, "groupName": "Readers 2", "description": "more books"}))
    listed = _ok(bob.call("listGroupMember", {"groupId": gid, "pageNum": 1, "pageSize": 20}))
    assert {next(iter(m.values())) for m in listed["data"]} == {a, b, d}
    assert xserver.api.get(f"/chatgroups/{gid}").json()["data"][0]["name"] == "Readers 2"

    # dissolveGroup: every member is told (deleteGroupChat)
    _ok(alice.call("dissolveGroup", {"groupId": gid}))
    for member in (bob, dave):
        gone = member.wait("onPresence", {"info": {"type": "deleteGroupChat"}})
        assert gone["info"]["from"] == gid
    assert xserver.api.get(f"/chatgroups/{gid}").status_code == 404
    for user in (alice, bob, carol, dave):
        assert user.pending(["onError"]) == []
