"""The routing rules, run through a session kind that is neither XMPP nor REST.

An in-process node (a real SQLite file, no listener) and `Recorder` sessions bound to its router
record every event and stored message the hub hands them. Each row of the table is one action
through a service, as any surface would call it, and what each session must receive: proof that
the rules (who receives what, what is kept for later) live in the services and the hub, not in a
protocol.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hxim import errors
from hxim.app import Node
from hxim.config import Settings
from hxim.hub import BlockPush, Event, Kick, Notice, PresenceChanged, PresenceStatus, Relay, RosterPush
from hxim.model import App, Message, User
from hxim.services.messages import SendMessage
from hxim.services.rooms import NewRoom


class Recorder:
    """A session kind for tests: takes whatever the hub hands it and remembers it."""

    def __init__(self, node: Node, app: App, user: User, resource: str, available: bool) -> None:
        self.node = node
        self.app_uuid: uuid.UUID = app.uuid
        self.user_key = user.key
        self.resource = resource
        self.device = "recorder"
        self.user: User | None = user
        self.presence: PresenceChanged | None = PresenceChanged(user.username, resource, True) if available else None
        self._available = available
        self.got: list[str] = []
        self.ended = False
        self.queued = 0  # nothing waits: what it is handed is recorded at once

    @property
    def available(self) -> bool:
        return self._available and not self.ended

    def deliver(self, message: Message) -> bool:
        if self.ended:
            return False
        self.got.append(f"message {message.chat_type} {message.sender}>{message.to} {message.bodies[0].get('msg')}")
        return True

    def push(self, event: Event) -> bool:
        if self.ended:
            return False
        self.got.append(describe(event))
        if isinstance(event, Kick):
            self.ended = True
            self.node.router.unbind(self)
        return True


def describe(event: Event) -> str:
    if isinstance(event, Notice):
        details = ",".join(f"{k}={v}" for k, v in sorted(event.payload.items()) if k != "mid")
        return f"notice {event.kind} from {event.sender} {details}".rstrip()
    if isinstance(event, PresenceChanged):
        return f"presence {event.user}/{event.resource} {'available' if event.available else 'unavailable'}"
    if isinstance(event, PresenceStatus):
        return f"status {event.user}/{event.resource} {event.status} {event.ext}".rstrip()
    if isinstance(event, RosterPush):
        return f"roster {event.contact} {event.subscription}{' ask' if event.ask else ''}"
    if isinstance(event, BlockPush):
        return f"{'block' if event.blocked else 'unblock'} {','.join(event.users)}"
    if isinstance(event, Kick):
        return f"kick {event.reason}"
    assert isinstance(event, Relay)
    return f"relay {event.kind} from {event.sender}/{event.resource}"


@dataclass
class World:
    """alice (a1, available), bob (b1 available, b2 bound only), carol (offline), dave (d1)."""

    node: Node
    app: App
    users: dict[str, User]
    sessions: dict[str, Recorder] = field(default_factory=dict)

    async def send(self, sender: str, to: str, text: str, chat_type: str = "chat", **kw: Any) -> Message:
        cmd = SendMessage(chat_type, (to,), ({"type": "txt", "msg": text},), None, sender, **kw)
        return (await self.node.messages.send(self.app, cmd))[0][1]

    async def offline(self, name: str) -> int:
        return (await self.node.messages.offline_count(self.app, name))[1]

    async def kept(self, name: str) -> list[str]:
        return [describe(n) for _, n in await self.node.notices.pending(self.users[name], 100)]

    def clear(self) -> None:
        for s in self.sessions.values():
            s.got.clear()


async def _world(tmp: Path) -> World:
    node = Node(Settings(data_dir=tmp, sqlite_checkpoint_seconds=0, sqlite_commit_interval_ms=0))
    node.open()
    app = node.default_app
    assert app is not None
    names = ["alice", "bob", "carol", "dave"]
    users = {u.username: u for u in await node.users.register(app, [{"username": n, "password": "pw"} for n in names])}
    world = World(node, app, users)
    for name, resource, available in (("alice", "a1", True), ("bob", "b1", True), ("bob", "b2", False),
                                      ("dave", "d1", True)):
        session = Recorder(node, app, users[name], resource, available)
        node.router.bind(session)
        world.sessions[resource] = session
    return world


Step = Callable[[World], Awaitable[Any]]


async def _contacts(w: World) -> None:
    await w.node.contacts.add(w.app, w.users["alice"], "bob")


async def _block(w: World) -> None:
    await w.node.contacts.block(w.app, w.users["bob"], ["alice"])


async def _group(w: World) -> str:
    room = NewRoom(name="g", owner="alice", members=("bob", "carol"))
    return (await w.node.groups.rooms.create(w.app, room)).room_id


async def _recall_1to1(w: World) -> None:
    message = await w.send("alice", "bob", "oops")
    w.clear()
    await w.node.messages.recall(w.app, message, "alice", tell_sender=True)


async def _reaction_1to1(w: World) -> None:
    message = await w.send("alice", "bob", "nice")
    w.clear()
    await w.node.reactions.add(w.app, "bob", message.msg_id, "like")


async def _recall_in_group(w: World) -> None:
    rid = await _group(w)
    message = await w.send("alice", rid, "oops", "groupchat")
    w.clear()
    await w.node.messages.recall(w.app, message, "alice")


async def _group_message(w: World) -> None:
    rid = await _group(w)
    w.clear()
    await w.send("bob", rid, "hi all", "groupchat")


async def _thread_message(w: World) -> None:
    rid = await _group(w)
    parent = await w.send("alice", rid, "start here", "groupchat")
    body = {"group_id": rid, "name": "t", "msg_id": parent.id, "owner": "alice"}
    thread = await w.node.threads.create(w.app, body, None)
    await w.node.threads.add_members(w.app, thread.thread_id, ["bob"], None)
    w.clear()
    await w.send("alice", thread.thread_id, "in the thread", "groupchat")


async def _kick_from_group(w: World) -> None:
    rid = await _group(w)
    w.clear()
    await w.node.groups.members.remove_members(w.app, rid, ["bob", "carol"])


async def _presence(w: World) -> None:
    await _contacts(w)
    w.clear()
    event = PresenceChanged("alice", "a1", True, status="here")
    await w.node.presence.broadcast(w.app, w.users["alice"], event, ["bob"])


async def _presence_blocked(w: World) -> None:
    await _contacts(w)
    await _block(w)
    w.clear()
    event = PresenceChanged("alice", "a1", True, status="here")
    await w.node.presence.broadcast(w.app, w.users["alice"], event, ["bob"])


async def _follow_alice(w: World) -> None:
    for follower in ("bob", "dave"):
        await w.node.presence_subscriptions.subscribe(w.app, follower, ["alice"], 3600)


async def _alice_arrives(w: World) -> None:
    event = PresenceChanged("alice", "a1", True)
    await w.node.presence.broadcast(w.app, w.users["alice"], event, ["bob"], arrived=True)


async def _conflict(w: World) -> None:
    w.node.router.bind(Recorder(w.node, w.app, w.users["bob"], "b1", True))


ROWS: list[tuple[str, list[Step], Step, dict[str, list[str]], dict[str, Any]]] = [
    ("1:1 message: every available resource, nobody else",
     [], lambda w: w.send("alice", "bob", "hi"),
     {"b1": ["message chat alice>bob hi"]}, {"offline bob": 0}),
    ("1:1 message to an offline user: kept offline",
     [], lambda w: w.send("alice", "carol", "hi"),
     {}, {"offline carol": 1}),
    ("contacts added: both users' bound sessions get the item, available ones each other's presence",
     [], _contacts,
     {"a1": ["roster bob both", "presence bob/b1 available"],
      "b1": ["roster alice both", "presence alice/a1 available"], "b2": ["roster alice both"]}, {}),
    ("a friend request: the requester's sessions",
     [], lambda w: w.node.contacts.request(w.app, w.users["alice"], "carol"),
     {"a1": ["roster carol none ask"]}, {}),
    ("a block between contacts: the owner's sessions, and the two see each other go",
     [_contacts], _block,
     {"b1": ["block alice", "presence alice/a1 unavailable"], "b2": ["block alice"],
      "a1": ["presence bob/b1 unavailable"]}, {}),
    ("the app's message to a user who blocks the sender: stored, reaches nobody",
     [_block], lambda w: w.send("alice", "bob", "hi"),
     {}, {"offline bob": 0}),
    ("presence: to the contacts' available resources",
     [], _presence,
     {"b1": ["presence alice/a1 available"]}, {}),
    ("presence: never between users when one blocks the other",
     [], _presence_blocked,
     {}, {}),
    ("recall of a 1:1 message: the recipient, and the sender's other sessions when asked",
     [], _recall_1to1,
     {"b1": ["notice recall from alice"], "a1": ["notice recall from bob"]}, {"offline bob": 0}),
    ("a reaction on a 1:1 message: both sides' available sessions, never kept",
     [], _reaction_1to1,
     {"a1": ["notice reaction from bob chat_type=chat,count=1,from=alice,mine=['like'],op=add,reaction=like,to=bob"],
      "b1": ["notice reaction from bob chat_type=chat,count=1,from=alice,mine=['like'],op=add,reaction=like,to=bob"]},
     {"kept carol": []}),
    ("recall in a group: members who had it; offline members' copies just go",
     [], _recall_in_group,
     {"b1": ["notice recall from alice room=%ROOM%"]}, {"offline carol": 0, "kept carol": []}),
    ("group message: the other members' available resources, offline copies for the rest",
     [], _group_message,
     {"a1": ["message groupchat bob>%ROOM% hi all"]}, {"offline carol": 1}),
    ("thread message: the thread's members only, offline copies for them alone",
     [], _thread_message,
     {"b1": ["message groupchat alice>%THREAD% in the thread"]}, {"offline carol": 1}),
    ("members removed by the app: each told, offline ones at their next login",
     [], _kick_from_group,
     {"b1": ["notice room-removed from alice code=307,nick=bob,room=%ROOM%"]},
     {"kept carol": ["notice room-removed from alice code=307,nick=carol,room=%ROOM%"]}),
    ("a status set over REST: the followers' available resources and the user's own",
     [_follow_alice], lambda w: w.node.presence_subscriptions.set_status(w.app, "alice", "a1", "2", "busy"),
     {"a1": ["status alice/a1 2 busy"], "b1": ["status alice/a1 2 busy"], "d1": ["status alice/a1 2 busy"]}, {}),
    ("a followed resource arrives: followers told, contacts who follow once (the roster presence)",
     [_contacts, _follow_alice], _alice_arrives,
     {"b1": ["presence alice/a1 available"], "d1": ["status alice/a1 1"]}, {}),
    ("REST disconnect: every session of the user ends",
     [], lambda w: w.node.users.disconnect(w.app, "bob"),
     {"b1": ["kick policy-violation"], "b2": ["kick policy-violation"]}, {}),
    ("a second session on the same resource: the first ends with conflict",
     [], _conflict,
     {"b1": ["kick conflict"]}, {}),
]


@pytest.mark.parametrize(("setup", "action", "received", "state"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_routing(
    tmp_path: Path, setup: list[Step], action: Step, received: dict[str, list[str]], state: dict[str, Any]
) -> None:
    async def scenario() -> None:
        world = await _world(tmp_path)
        try:
            for step in setup:
                await step(world)
            world.clear()
            await action(world)
            await asyncio.sleep(0)  # (nothing is deferred, but let a turn pass as a surface would)
            rooms = [g for g, _ in await world.node.groups.rooms.joined(world.app, "alice")]
            room = rooms[0] if rooms else ""
            threads, _ = await world.node.threads.joined(world.app, "alice", None, None, None, False)
            thread = threads[0].thread_id if threads else ""
            for resource, session in world.sessions.items():
                expected = [line.replace("%ROOM%", room).replace("%THREAD%", thread)
                            for line in received.get(resource, [])]
                assert session.got == expected, resource
            for what, value in state.items():
                kind, name = what.split()
                if kind == "offline":
                    assert await world.offline(name) == value, what
                else:
                    assert await world.kept(name) == [v.replace("%ROOM%", room) for v in value], what
        finally:
            world.node.close()

    asyncio.run(scenario())


def test_a_clients_message_to_a_blocker_or_nobody_is_refused(tmp_path: Path) -> None:
    """The same rule for a client: refused (XEP-0191 §3.5), and not stored."""

    async def scenario() -> None:
        world = await _world(tmp_path)
        try:
            await _block(world)
            with pytest.raises(errors.HximError) as refused:
                await world.send("alice", "bob", "hi", from_client=True)
            assert refused.value.condition == "service-unavailable"
            with pytest.raises(errors.HximError) as unknown:
                await world.send("alice", "nobody", "hi", from_client=True)
            assert unknown.value.error == "service_resource_not_found"
            history, _ = await world.node.messages.history(world.app, [], False, 10, None)
            assert history == []
        finally:
            world.node.close()

    asyncio.run(scenario())


def test_recall_window_and_force(tmp_path: Path) -> None:
    """Past `message_recall_seconds` only the app's forced recall goes through."""

    async def scenario() -> None:
        world = await _world(tmp_path)
        world.node.settings.message_recall_seconds = 1
        try:
            message = await world.send("alice", "carol", "late")
            await asyncio.sleep(1.1)
            with pytest.raises(errors.HximError) as late:
                await world.node.messages.recall(world.app, message, "alice")
            assert late.value.error == "message_recall_error"
            assert await world.offline("carol") == 1
            await world.node.messages.recall(world.app, message, "admin", force=True)
            assert await world.offline("carol") == 0
        finally:
            world.node.close()

    asyncio.run(scenario())


def test_a_message_decided_offline_while_its_user_logs_in_is_replayed_now(tmp_path: Path) -> None:
    """The message finds carol offline, and while it is being written carol's session becomes
    available and reads her offline messages: `settled` makes that read see it (it is replayed
    in this session, not at the next login)."""

    async def scenario() -> None:
        world = await _world(tmp_path)
        node, carol = world.node, world.users["carol"]
        try:
            session = Recorder(node, world.app, carol, "c1", available=False)
            node.router.bind(session)
            sending = asyncio.create_task(world.send("alice", "carol", "just now"))
            await asyncio.sleep(0)  # decided: carol is offline; the write waits for its group commit
            session._available = True  # carol's initial presence
            await node.messages.settled()
            found = await node.messages.offline_messages(carol, 10)
            assert [m.bodies[0]["msg"] for m in found] == ["just now"]
            await sending
            assert session.got == []  # not also delivered live: it is the replay's
        finally:
            node.close()

    asyncio.run(scenario())
