"""The group REST API called with an IM user's token, as the Web IM SDK 1.8 calls it
(webim-xmpp.md §2.7): Easemob's per-group authorization (`services/group_policy.py`), each rule
allowed and refused, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from test_groups import envelope, group_error, make_group, people

from conftest import Api, assert_error

FORBIDDEN = "ForbiddenOpException"


def _forbidden(r: Any, description: str) -> None:
    group_error(r, 403, "forbidden_op", description, FORBIDDEN)


def _members(api: Api, gid: str) -> list[str]:
    return [next(iter(m.values())) for m in envelope(api.get(f"/chatgroups/{gid}/users"), "get", count=True)]


def _with_admin(api: Api) -> tuple[str, str, str, str, str, dict[str, str]]:
    """owner, admin, member, second member, outsider; a public group; their tokens by name."""
    owner, admin, member, member2, outsider = people(api, 5)
    gid = make_group(api, owner, [admin, member, member2])
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}).status_code == 200
    tokens = {n: api.user_token(n) for n in (owner, admin, member, member2, outsider)}
    return gid, owner, admin, member, outsider, tokens


def test_create_a_group_owned_by_oneself(api: Api) -> None:
    """`createGroupNew`: `owner` is the token's user (or absent); anyone else is refused."""
    me, other = people(api, 2)
    token = api.user_token(me)
    body = {"groupname": "mine", "desc": "d", "public": True, "approval": False, "allowinvites": True,
            "owner": me.upper(), "invite_need_confirm": False}
    gid = envelope(api.post("/chatgroups", token=token, json=body), "post")["groupid"]
    [group] = envelope(api.get(f"/chatgroups/{gid}", token=token), "get", count=True)
    assert group["owner"] == me and group["invite_need_confirm"] is False and group["allowinvites"] is True
    del body["owner"]
    gid2 = envelope(api.post("/chatgroups", token=token, json=body), "post")["groupid"]
    assert envelope(api.get(f"/chatgroups/{gid2}"), "get", count=True)[0]["owner"] == me
    _forbidden(api.post("/chatgroups", token=token, json={**body, "owner": other}),
               f"user: {me} can not create a group owned by user: {other}")
    assert envelope(api.get(f"/users/{me}/joined_chatgroups", token=token), "get", count=True) == [
        {"groupid": gid, "groupname": "mine"}, {"groupid": gid2, "groupname": "mine"}]
    # chat rooms stay with the app (and super admins)
    assert_error(api.post("/chatrooms", token=token, json={"name": "r", "owner": me}), 401, "unauthorized")


def test_reading_needs_membership_or_a_public_group(api: Api) -> None:
    gid, owner, admin, member, outsider, tok = _with_admin(api)
    private = make_group(api, owner, [member], public=False)
    for path in ("", "/users", "/admin", "/mute", "/blocks/users", "/white/users"):
        assert api.get(f"/chatgroups/{gid}{path}", token=tok[member]).status_code == 200, path
    assert envelope(api.get(f"/chatgroups/{gid}/admin", token=tok[member]), "get", count=True) == [admin]
    # an outsider sees a public group's details, nothing else, and nothing of a private group
    assert envelope(api.get(f"/chatgroups/{gid}", token=tok[outsider]), "get", count=True)[0]["id"] == gid
    for path in ("/users", "/admin", "/mute", "/blocks/users"):
        _forbidden(api.get(f"/chatgroups/{gid}{path}", token=tok[outsider]),
                   f"user: {outsider} doesn't exist in group: {gid}")
    _forbidden(api.get(f"/chatgroups/{private}", token=tok[outsider]),
               f"user: {outsider} doesn't exist in group: {private}")
    _forbidden(api.get(f"/chatgroups/{gid},{private}", token=tok[outsider]),
               f"user: {outsider} doesn't exist in group: {private}")
    assert api.get(f"/chatgroups/{private}", token=tok[member]).status_code == 200
    # an unknown group is still Easemob's 404, whoever asks
    group_error(api.get("/chatgroups/1", token=tok[outsider]), 404, "service_resource_not_found",
                "do not find this group:1", "ServiceResourceNotFoundException")
    # every group with members stays with the app; chat rooms too (but their list)
    assert_error(api.get("/chatgroups", token=tok[member]), 401, "unauthorized")
    rid = envelope(api.post("/chatrooms", json={"name": "r", "description": "d", "owner": owner}), "post")["id"]
    assert_error(api.get(f"/chatrooms/{rid}", token=tok[owner]), 401, "unauthorized")
    assert api.get("/chatrooms", token=tok[owner]).status_code == 200


def test_owner_only_modify_transfer_admins_dissolve(api: Api) -> None:
    gid, owner, admin, member, outsider, tok = _with_admin(api)
    for name in (admin, member):
        _forbidden(api.put(f"/chatgroups/{gid}", token=tok[name], json={"groupname": "x"}),
                   f"user: {name} is not owner of group: {gid}")
        _forbidden(api.post(f"/chatgroups/{gid}/admin", token=tok[name], json={"newadmin": member}),
                   f"user: {name} is not owner of group: {gid}")
        _forbidden(api.delete(f"/chatgroups/{gid}?version=v3", token=tok[name]),
                   f"user: {name} is not owner of group: {gid}")
    _forbidden(api.put(f"/chatgroups/{gid}", token=tok[outsider], json={"groupname": "x"}),
               f"user: {outsider} doesn't exist in group: {gid}")
    # modifyGroup as the SDK sends it
    changed = envelope(api.put(f"/chatgroups/{gid}", token=tok[owner],
                               json={"groupname": "renamed", "description": "new"}), "put")
    assert changed == {"groupname": True, "description": True}
    assert envelope(api.post(f"/chatgroups/{gid}/admin", token=tok[owner], json={"newadmin": member}),
                    "post") == {"result": "success", "newadmin": member}
    assert envelope(api.delete(f"/chatgroups/{gid}/admin/{member}", token=tok[owner]), "delete") == {
        "result": "success", "oldadmin": member}
    # transfer: the old owner becomes a member and loses the owner's rights
    assert envelope(api.put(f"/chatgroups/{gid}", token=tok[owner], json={"newowner": admin}), "put") == {
        "newowner": True}
    _forbidden(api.delete(f"/chatgroups/{gid}?version=v3", token=tok[owner]),
               f"user: {owner} is not owner of group: {gid}")
    gone = envelope(api.delete(f"/chatgroups/{gid}?version=v3", token=tok[admin]), "delete")
    assert gone == {"success": True, "groupid": gid}
    assert api.get(f"/chatgroups/{gid}").status_code == 404


def test_admins_manage_plain_members_only(api: Api) -> None:
    gid, owner, admin, member, outsider, tok = _with_admin(api)
    # a plain member may not mute, block or remove
    _forbidden(api.post(f"/chatgroups/{gid}/mute", token=tok[member], json={"usernames": [admin],
                                                                          "mute_duration": 60000}),
               f"user: {member} is not admin or owner of group: {gid}")
    _forbidden(api.post(f"/chatgroups/{gid}/blocks/users/{outsider}", token=tok[member]),
               f"user: {member} is not admin or owner of group: {gid}")
    _forbidden(api.delete(f"/chatgroups/{gid}/users/{owner}", token=tok[member]),
               f"user: {member} is not admin or owner of group: {gid}")
    # an admin mutes and unmutes a member (the SDK's mute / removeMute / getMuted)
    muted = envelope(api.post(f"/chatgroups/{gid}/mute", token=tok[admin],
                              json={"usernames": [member], "mute_duration": 60000}), "post")
    assert [m["user"] for m in muted] == [member] and muted[0]["result"] is True
    assert [m["user"] for m in envelope(api.get(f"/chatgroups/{gid}/mute", token=tok[member]), "get",
                                        count=True)] == [member]
    assert envelope(api.delete(f"/chatgroups/{gid}/mute/{member}", token=tok[admin]), "delete") == [
        {"result": True, "user": member}]
    # but not the owner's peers: other admins and the owner
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": member}).status_code == 200
    _forbidden(api.post(f"/chatgroups/{gid}/mute", token=tok[admin], json={"usernames": [member],
                                                                         "mute_duration": 60000}),
               f"user: {member} is admin of group: {gid}, only the owner can do this")
    _forbidden(api.delete(f"/chatgroups/{gid}/users/{member}", token=tok[admin]),
               f"user: {member} is admin of group: {gid}, only the owner can do this")
    _forbidden(api.post(f"/chatgroups/{gid}/blocks/users", token=tok[admin], json={"usernames": [owner]}),
               f"user: {owner} is owner of group: {gid}, only the owner can do this")
    assert api.delete(f"/chatgroups/{gid}/admin/{member}").status_code == 200
    # block and unblock a member, remove a member
    blocked = envelope(api.post(f"/chatgroups/{gid}/blocks/users/{member}", token=tok[admin]), "post")
    assert blocked["result"] is True and blocked["user"] == member
    assert envelope(api.get(f"/chatgroups/{gid}/blocks/users", token=tok[admin]), "get", count=True) == [member]
    unblocked = envelope(api.delete(f"/chatgroups/{gid}/blocks/users/{member}", token=tok[admin]), "delete")
    assert unblocked["result"] is True
    assert api.post(f"/chatgroups/{gid}/users/{member}").status_code == 200
    removed = envelope(api.delete(f"/chatgroups/{gid}/users/{member}", token=tok[admin]), "delete")
    assert removed == {"result": True, "action": "remove_member", "groupid": gid, "user": member}
    assert member not in _members(api, gid)
    # the owner removes an admin
    assert envelope(api.delete(f"/chatgroups/{gid}/users/{admin}", token=tok[owner]), "delete")["result"] is True


def test_quit(api: Api) -> None:
    gid, owner, admin, member, _outsider, tok = _with_admin(api)
    left = envelope(api.delete(f"/chatgroups/{gid}/quit", token=tok[member]), "delete")
    assert left == {"result": True, "action": "quit", "groupid": gid, "user": member}
    assert member not in _members(api, gid)
    _forbidden(api.delete(f"/chatgroups/{gid}/quit", token=tok[member]),
               f"user: {member} doesn't exist in group: {gid}")
    _forbidden(api.delete(f"/chatgroups/{gid}/quit", token=tok[owner]), "forbidden operation on group owner!")
    assert envelope(api.delete(f"/chatgroups/{gid}/quit", token=tok[admin]), "delete")["user"] == admin
    assert admin not in _members(api, gid) and _members(api, gid)[0] == owner
    group_error(api.delete(f"/chatgroups/{gid}/quit"), 400, "invalid_parameter",
                "quit needs the token of the member who leaves", "InvalidParameterException")


def test_apply_and_verify(api: Api) -> None:
    owner, admin, member, ann, ben = people(api, 5)
    gid = make_group(api, owner, [admin, member], membersonly=True)
    assert api.post(f"/chatgroups/{gid}/admin", json={"newadmin": admin}).status_code == 200
    tok = {n: api.user_token(n) for n in (owner, admin, member, ann, ben)}
    # joinGroup: kept until answered
    asked = envelope(api.post(f"/chatgroups/{gid}/apply", token=tok[ann], json={"message": "join group"}), "post")
    assert asked == {"result": True, "action": "apply", "groupid": gid, "user": ann, "joined": False}
    assert ann not in _members(api, gid)
    _forbidden(api.post(f"/chatgroups/{gid}/apply", token=tok[member], json={"message": "again"}),
               f"can not join this group, reason:user: {member} already in group: {gid}\n")
    # only the owner and admins answer; only pending requests can be answered
    verdict = {"applicant": ann, "verifyResult": True, "reason": "no clue"}
    _forbidden(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[member], json=verdict),
               f"user: {member} is not admin or owner of group: {gid}")
    _forbidden(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[admin], json={**verdict, "applicant": ben}),
               f"user: {ben} has not applied to join group: {gid}")
    accepted = envelope(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[admin], json=verdict), "post")
    assert accepted == {"result": True, "action": "apply_verify", "groupid": gid, "user": ann, "verifyResult": True}
    assert ann in _members(api, gid)
    _forbidden(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[admin], json=verdict),
               f"user: {ann} has not applied to join group: {gid}")
    # declined: not a member; the app admin may answer too
    assert api.post(f"/chatgroups/{gid}/apply", token=tok[ben], json={"message": "me too"}).status_code == 200
    declined = envelope(api.post(f"/chatgroups/{gid}/apply_verify",
                                 json={"applicant": ben, "verifyResult": False, "reason": "no"}), "post")
    assert declined["verifyResult"] is False and ben not in _members(api, gid)
    # a request is answered by the membership however it comes: added by the app, nothing is left
    assert api.post(f"/chatgroups/{gid}/apply", token=tok[ben], json={"message": "once more"}).status_code == 200
    assert api.post(f"/chatgroups/{gid}/users/{ben}").status_code == 200
    _forbidden(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[admin], json={**verdict, "applicant": ben}),
               f"user: {ben} has not applied to join group: {gid}")
    assert api.delete(f"/chatgroups/{gid}/users/{ben}").status_code == 200
    group_error(api.post(f"/chatgroups/{gid}/apply_verify", token=tok[owner], json={"applicant": ben}),
                400, "invalid_parameter", "verifyResult must be true or false", "InvalidParameterException")
    # an open public group admits at once; a private one takes no requests
    open_gid = make_group(api, owner, membersonly=False)
    joined = envelope(api.post(f"/chatgroups/{open_gid}/apply", token=tok[ben], json={"message": "hi"}), "post")
    assert joined["joined"] is True and ben in _members(api, open_gid)
    private = make_group(api, owner, public=False)
    _forbidden(api.post(f"/chatgroups/{private}/apply", token=tok[ben], json={"message": "hi"}),
               f"group: {private} is not public, user: {ben} can not apply")
    # a blocked user may not apply
    assert api.post(f"/chatgroups/{open_gid}/blocks/users/{ben}").status_code == 200
    _forbidden(api.post(f"/chatgroups/{open_gid}/apply", token=tok[ben], json={"message": "hi"}),
               f"can not join this group, reason:user: {ben} is in the blacklist of group: {open_gid}\n")


def test_invite(api: Api) -> None:
    owner, member, ann, ben, cid = people(api, 5)
    token = {n: api.user_token(n) for n in (owner, member, ann)}
    # invite_need_confirm false (what createGroupNew sends): members at once
    direct = make_group(api, owner, [member], invite_need_confirm=False)
    invited = envelope(api.post(f"/chatgroups/{direct}/invite", token=token[owner],
                                json={"usernames": [ann, member]}), "post")
    assert invited == {"result": True, "action": "invite", "groupid": direct, "invitees": [ann]}
    assert ann in _members(api, direct)
    # a plain member may invite only where invites are allowed
    _forbidden(api.post(f"/chatgroups/{direct}/invite", token=token[member], json={"usernames": [ben]}),
               f"user: {member} is not admin or owner of group: {direct}")
    _forbidden(api.post(f"/chatgroups/{direct}/users/{ben}", token=token[member]),
               f"user: {member} is not admin or owner of group: {direct}")
    open_invites = make_group(api, owner, [member], public=False, allowinvites=True)
    got = envelope(api.post(f"/chatgroups/{open_invites}/invite", token=token[member],
                            json={"usernames": [ben]}), "post")
    assert got["invitees"] == [ben] and ben not in _members(api, open_invites)  # confirmation needed
    assert api.post(f"/chatgroups/{open_invites}/users/{cid}", token=token[member]).status_code == 200
    assert_error(api.post(f"/chatgroups/{direct}/invite", token=token[owner], json={"usernames": ["nobody-x"]}),
                 400, "illegal_argument", "group member nobody-x doesn't exist")


def test_block_group_notifications_is_a_user_field(api: Api) -> None:
    """`blockGroup`: PUT /users/{self} with Usergrid's `entities` wrapper stores
    `notification_ignore_{gid}`, shown on the user entity."""
    me, other = people(api, 2)
    gid = make_group(api, me)
    token = api.user_token(me)
    r = api.put(f"/users/{me}", token=token, json={"entities": [{f"notification_ignore_{gid}": True}]})
    assert r.status_code == 200, r.text
    assert r.json()["entities"][0][f"notification_ignore_{gid}"] is True
    shown = api.get(f"/users/{me}", token=token).json()["entities"][0]
    assert shown[f"notification_ignore_{gid}"] is True
    assert_error(api.put(f"/users/{other}", token=token, json={"entities": [{f"notification_ignore_{gid}": True}]}),
                 401, "unauthorized")
    assert_error(api.put(f"/users/{me}", token=token, json={"entities": [{}, {}]}), 400, "illegal_argument")
