"""The admin console's JSON calls under /admin/api/ (docs/admin.md): apps, users and their live
sessions, groups and chat rooms, messages and broadcasts from the app, the dashboard's numbers.

Each call parses its request, calls the service function the Easemob REST API calls for the same
thing (so a user deactivated here is kicked and refused exactly as over REST) and logs the change
with the administrator's name (`Console.did`). The door (login, CSRF, allowed addresses) is
`admin.py`'s.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Route

from hxim.counters import PROTOCOLS, by_protocol
from hxim.http.admin import Console, Refusal, action
from hxim.model import App, User
from hxim.services.broadcasts import ONLINE_USERS, StartBroadcast
from hxim.services.messages import ADMIN, SendMessage

__all__ = ["routes"]

APP = "/apps/{org}/{app}"
CHAT_TYPES = ("chat", "groupchat", "chatroom")


def _app_json(app: App, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "org": app.org, "app": app.name, "appkey": app.appkey, "client_id": app.client_id,
        "open_registration": app.open_registration, "created": app.created,
    }
    if secret is not None:
        out["client_secret"] = secret  # kept as a hash: shown this once
    return out


def _user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username, "uuid": str(user.uuid), "activated": user.activated,
        "nickname": user.nickname, "created": user.created,
    }


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise Refusal(400, f"{field} is required")
    return value


def _limit(console: Console) -> int:
    most = console.node.settings.admin_page_max
    raw = console.query("limit", "50")
    if not raw.isdecimal() or not 1 <= int(raw) <= most:
        raise Refusal(400, f"limit must be a number from 1 to {most}")
    return int(raw)


# --- apps ----------------------------------------------------------------------------------------


async def list_apps(c: Console) -> Any:
    return {"apps": [_app_json(a) for a in await c.node.apps.list()]}


async def create_app(c: Console) -> Any:
    body = await c.body()
    opened = body.get("open_registration", False)
    if not isinstance(opened, bool):
        raise Refusal(400, "open_registration must be true or false")
    app, secret = await c.node.apps.create(_text(body, "org"), _text(body, "app"), opened)
    c.did(f"created app {app.appkey}")
    return _app_json(app, secret)


async def rotate_secret(c: Console) -> Any:
    app, secret = await c.node.apps.rotate_secret(await c.app())
    c.did(f"gave app {app.appkey} a new client secret")
    return _app_json(app, secret)


# --- users ----------------------------------------------------------------------------------------


async def search_users(c: Console) -> Any:
    found, after = await c.node.users.search(await c.app(), c.query("prefix"), _limit(c), c.query("after") or None)
    return {"users": [_user_json(u) for u in found], "after": after}


async def create_user(c: Console) -> Any:
    app = await c.app()
    body = await c.body()
    created = await c.node.users.register(app, [{"username": body.get("username"), "password": body.get("password")}])
    c.did(f"created user {created[0].username} of {app.appkey}")
    return _user_json(created[0])


async def user(c: Console) -> Any:
    user, devices = await c.node.users.devices(await c.app(), c.arg("username"))
    sessions = [{"resource": r, "protocol": PROTOCOLS.get(d, d)} for r, d in devices]
    return {**_user_json(user), "sessions": sessions}


async def set_activated(c: Console) -> Any:
    app = await c.app()
    activated = (await c.body()).get("activated")
    if not isinstance(activated, bool):
        raise Refusal(400, "activated must be true or false")
    user = await c.node.users.set_activated(app, c.arg("username"), activated)
    c.did(f"{'reactivated' if activated else 'deactivated'} user {user.username} of {app.appkey}")
    return _user_json(user)


async def reset_password(c: Console) -> Any:
    app = await c.app()
    await c.node.users.reset_password(app, c.arg("username"), (await c.body()).get("password"))
    c.did(f"set a new password for user {c.arg('username')} of {app.appkey}")
    return {"done": True}


async def kick(c: Console) -> Any:
    """End one session of the user (`resource`) or all of them."""
    app = await c.app()
    resource = (await c.body()).get("resource")
    if resource is not None and (not isinstance(resource, str) or not resource):
        raise Refusal(400, "resource must be a resource name, or absent for every session")
    ended = await c.node.users.disconnect(app, c.arg("username"), resource)
    which = f"session {resource}" if resource else "sessions"
    c.did(f"kicked the {which} of user {c.arg('username')} of {app.appkey}")
    return {"kicked": ended}


# --- groups and chat rooms --------------------------------------------------------------------------


def _room_calls(kind: str) -> list[Route]:
    def rooms_of(c: Console) -> Any:
        return c.node.groups if kind == "groups" else c.node.chatrooms

    async def list_rooms(c: Console) -> Any:
        found, cursor = await rooms_of(c).rooms.page(await c.app(), _limit(c), c.query("cursor") or None)
        rows = [{"id": r.room_id, "name": r.name, "owner": r.owner, "members": r.members} for r in found]
        return {"rooms": rows, "cursor": cursor}

    async def room(c: Console) -> Any:
        app, rid = await c.app(), c.arg("id")
        services = rooms_of(c)
        found = await services.rooms.get(app, rid)
        members = await services.rooms.members(app, rid)
        return {
            "id": found.room_id, "name": found.name, "owner": found.owner, "description": found.description,
            "created": found.created, "members": [{"user": n, "role": r} for n, r in members],
            "admins": await services.moderation.admins(app, rid),
            "mutes": [{"user": n, "expire": e} for n, e in await services.moderation.mutes(app, rid)],
        }

    async def dissolve(c: Console) -> Any:
        app = await c.app()
        found = await rooms_of(c).rooms.delete(app, c.arg("id"))
        c.did(f"dissolved {kind[:-1]} {found.room_id} ({found.name}) of {app.appkey}")
        return {"dissolved": found.room_id}

    async def mute(c: Console) -> Any:
        """Mute a member for `minutes` (-1: until lifted), as the REST call does (members are told)."""
        app, body = await c.app(), await c.body()
        user, minutes = _text(body, "user"), body.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not (minutes > 0 or minutes == -1):
            raise Refusal(400, "minutes must be a positive whole number, or -1 until lifted")
        done = await rooms_of(c).moderation.mute(app, c.arg("id"), [user], -1 if minutes == -1 else minutes * 60_000)
        c.did(f"muted {user} in {kind[:-1]} {c.arg('id')} of {app.appkey} for {minutes} min")
        return {"muted": user, "expire": done[0].expire if done else None}

    async def unmute(c: Console) -> Any:
        app, user = await c.app(), _text(await c.body(), "user")
        await rooms_of(c).moderation.unmute(app, c.arg("id"), [user])
        c.did(f"lifted the mute of {user} in {kind[:-1]} {c.arg('id')} of {app.appkey}")
        return {"unmuted": user}

    for fn in (list_rooms, room, dissolve, mute, unmute):
        fn.__name__ = f"{fn.__name__}_{kind}"
    path = f"{APP}/{kind}"
    return [
        action("GET", path, list_rooms),
        action("GET", path + "/{id}", room),
        action("POST", path + "/{id}/dissolve", dissolve),
        action("POST", path + "/{id}/mute", mute),
        action("POST", path + "/{id}/unmute", unmute),
    ]


# --- messages -----------------------------------------------------------------------------------------


async def send_message(c: Console) -> Any:
    """A text message from the app (`admin`) to a user, a group or a chat room."""
    app = await c.app()
    body = await c.body(c.node.settings.message_max_body_bytes)
    chat_type = body.get("chat_type")
    if chat_type not in CHAT_TYPES:
        raise Refusal(400, f"chat_type must be one of {', '.join(CHAT_TYPES)}")
    to, text = _text(body, "to"), _text(body, "text")
    sent = await c.node.messages.send(app, SendMessage(chat_type, (to,), ({"type": "txt", "msg": text},), None, ADMIN))
    c.did(f"sent message {sent[0][1].id} to {chat_type} {to} of {app.appkey}")
    return {"id": str(sent[0][1].id)}


async def broadcast(c: Console) -> Any:
    """A text message from the app to every user of it online now."""
    app = await c.app()
    text = _text(await c.body(c.node.settings.message_max_body_bytes), "text")
    command = StartBroadcast(ONLINE_USERS, ADMIN, {"type": "txt", "msg": text})
    job = await c.node.broadcasts.start_broadcast(app, command)
    c.did(f"broadcast {job.id} to the online users of {app.appkey}")
    return {"id": str(job.id)}


# --- the dashboard ----------------------------------------------------------------------------------------


async def stats(c: Console) -> Any:
    """The live numbers the dashboard draws: sessions by protocol now, and the running totals of
    logins and stored messages that /metrics exposes (`hxim.counters`; the page turns two readings
    into rates)."""
    counted = c.node.counters
    sessions, _ = by_protocol(c.node.router.census())
    return {
        "time": time.time(),
        "sessions": sessions,
        "logins": sum(n for (_, result), n in counted.logins.items() if result == "ok"),
        "failed_logins": sum(n for (_, result), n in counted.logins.items() if result == "failed"),
        "messages": sum(counted.stored.values()),
    }


routes = [
    action("GET", "/apps", list_apps),
    action("POST", "/apps", create_app),
    action("POST", APP + "/secret", rotate_secret),
    action("GET", APP + "/users", search_users),
    action("POST", APP + "/users", create_user),
    action("GET", APP + "/users/{username}", user),
    action("POST", APP + "/users/{username}/activated", set_activated),
    action("POST", APP + "/users/{username}/password", reset_password),
    action("POST", APP + "/users/{username}/kick", kick),
    *_room_calls("groups"),
    *_room_calls("chatrooms"),
    action("POST", APP + "/messages", send_message),
    action("POST", APP + "/broadcast", broadcast),
    action("GET", "/stats", stats),
]
