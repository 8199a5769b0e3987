"""The msync side of a node: its open sessions, what a client's meta asks for (a message, an ack,
a recall, a chat-room join), and each hub event rendered as the metas the SDK reads
(docs/msync.md, "Events").

Everything a client asks goes through the services every other surface uses: sends through
`MessageService.send`, recalls through `MessageService.recall`, joins through the chat rooms'
`MembershipService`; refusals become the `Status` the SDK maps to its own error types.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from hxim import errors
from hxim.hub import Kick, Notice, PresenceStatus, Relay, RosterPush
from hxim.model import now_ms
from hxim.msync import bodies, wire
from hxim.msync.session import MsyncSession
from hxim.msync.wire import pb
from hxim.services.messages import ADMIN, SendMessage
from hxim.services.notices import NoticeKind

if TYPE_CHECKING:
    from hxim.app import Node

__all__ = ["Msync", "status_of"]

log = logging.getLogger("hxim.msync")

MB = pb.MessageBody
_ACK_KIND = {MB.READ_ACK: "acked", MB.DELIVER_ACK: "delivery", MB.CHANNEL_ACK: "channel"}
_ACK_TYPE = {v: k for k, v in _ACK_KIND.items()}
_KICKS = {  # a hub Kick's reason (and cause) → the StatisticsBody operation the SDK maps to its error
    "conflict": pb.StatisticsBody.USER_LOGIN_ANOTHER_DEVICE,
    "not-authorized": pb.StatisticsBody.USER_REMOVED,
    "password": pb.StatisticsBody.USER_KICKED_BY_CHANGE_PASSWORD,
}


def status_of(exc: errors.HximError) -> tuple[int, str]:
    """A refusal as the status whose reason the SDK turns into its error type (docs/msync.md)."""
    text = exc.description
    if "is muted" in text:
        return pb.Status.USER_MUTED, "you were muted"
    if text == "user is globally muted":
        return pb.Status.PERMISSION_DENIED, "user is mute"
    if exc.condition == "policy-violation" and "moderation" in text:
        return pb.Status.PERMISSION_DENIED, "sensitive words"  # a keyword list refused it
    if exc.condition == "not-acceptable":
        return pb.Status.PERMISSION_DENIED_EXTERNAL, text  # a pre-send callback refused it
    if "is disabled" in text:
        return pb.Status.FAIL, "group is disabled"
    if "blacklist" in text or (exc.condition == "service-unavailable" and "blocked" in text):
        return pb.Status.FAIL, "blocked"
    if "doesn't exist in group" in text or "not members of" in text:
        return pb.Status.FAIL, "not in group or chatroom"
    if (exc.error == "service_resource_not_found" and "group" in text) or exc.error == "resource_not_found":
        return pb.Status.FAIL, "group not found"
    if exc.error == "message_recall_error":
        return pb.Status.FAIL, "exceed recall time limit"
    if exc.condition == "item-not-found" or exc.error == "service_resource_not_found":
        return pb.Status.FAIL, "username doesn't exist!"
    if exc.status == 413:
        return pb.Status.PERMISSION_DENIED, "Sorry, data is too large"
    if exc.status == 429:
        return pb.Status.PERMISSION_DENIED, "traffic limit"
    return pb.Status.FAIL, text


class Msync:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.settings = node.settings
        self.open_sessions: set[MsyncSession] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.renderers: dict[type, Callable[[MsyncSession, Any], None]] = {
            Kick: _kick, Notice: self._notice, RosterPush: _roster_push, Relay: _relay,
            PresenceStatus: _presence_status,
        }

    def background(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def end_all(self) -> None:
        """Close every session (the SDK reconnects to the next node up) and let the last writes go."""
        for session in list(self.open_sessions):
            session.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.settings.xmpp_shutdown_seconds)

    # --- what a client's meta asks for ----------------------------------------------------------------
    async def handle_meta(self, session: MsyncSession, meta: pb.Meta) -> None:
        if meta.ns == pb.Meta.CHAT:
            body = MB()
            try:
                body.ParseFromString(meta.payload)
            except Exception as exc:
                raise wire.FrameError("the meta's payload is not a MessageBody") from exc
            kind = body.type
            if kind in bodies.CHAT_TYPE_OF:
                await self._send(session, meta, body)
            elif kind in _ACK_KIND:
                await self._receipt(session, meta, body)
            elif kind == MB.RECALL:
                await self._recall(session, meta, body)
            else:
                session.send(wire.ack_answer(meta.id, code=pb.Status.WRONG_PARAMETER, reason="not supported"))
        elif meta.ns == pb.Meta.MUC:
            await self._muc(session, meta)
        # STATISTIC (the client's own figures, after login and each UNREAD) and the rest: not routed

    async def _send(self, session: MsyncSession, meta: pb.Meta, body: pb.MessageBody) -> None:
        app, user = session.app, session.user
        assert app is not None and user is not None
        chat_type = bodies.CHAT_TYPE_OF[body.type]
        target = meta.to.name or body.to.name
        only = tuple(n.lower() for n in meta.directed_users) if meta.routetype == pb.Meta.ROUTE_DIRECT else None
        try:
            ext = bodies.ext_of(body.ext) or None
            command = SendMessage(
                chat_type, (target,), tuple(bodies.bodies_of(body)), ext, user.username, True,
                meta.to.client_resource or None, online_only=meta.routetype == pb.Meta.ROUTE_ONLINE,
                only=only if chat_type != "chat" else None,
                sync_device=True, origin=session.resource,  # the sender's other devices get a copy
            )
            sent = await self.node.messages.send(app, command, user)
        except errors.HximError as exc:
            code, reason = status_of(exc)
            session.send(wire.ack_answer(meta.id, code=code, reason=reason))
            return
        message = sent[0][1]
        session.send(wire.ack_answer(meta.id, message.id, message.timestamp))

    async def _receipt(self, session: MsyncSession, meta: pb.Meta, body: pb.MessageBody) -> None:
        """A read, delivery or conversation ack, passed to the peer (kept while they are away)."""
        app, user = session.app, session.user
        assert app is not None and user is not None
        node = self.node
        peer = await node.users.find(app, meta.to.name or body.to.name) if "conference" not in meta.to.domain else None
        if peer is not None and peer.id != user.id:
            payload = {"ack": _ACK_KIND[body.type], "mid": str(body.ack_message_id), "body": str(body.ack_message_id)}
            await node.notices.send(app, peer, Notice(NoticeKind.RECEIPT, user.username, payload),
                                    keep=body.type != MB.CHANNEL_ACK)
        session.send(wire.ack_answer(meta.id, node.ids.next()))

    async def _recall(self, session: MsyncSession, meta: pb.Meta, body: pb.MessageBody) -> None:
        app, user = session.app, session.user
        assert app is not None and user is not None
        messages = self.node.messages
        message = await messages.find(app, body.ack_message_id) if body.ack_message_id else None
        try:
            if message is None:
                raise errors.HximError(404, "message_recall_error", "message not found", None, "item-not-found")
            await messages.recall(app, message, user.username, tell_sender=True, skip=session.resource)
        except errors.HximError as exc:
            code, reason = status_of(exc)
            if exc.error == "message_recall_error" and exc.status == 404:
                reason = "message not found"
            session.send(wire.ack_answer(meta.id, code=code, reason=reason))
            return
        session.send(wire.ack_answer(meta.id, message.id))

    async def _muc(self, session: MsyncSession, meta: pb.Meta) -> None:
        """A chat-room join or leave (the SDK's joinChatRoom and leaveChatRoom)."""
        app, user = session.app, session.user
        assert app is not None and user is not None
        muc = pb.MUCBody()
        try:
            muc.ParseFromString(meta.payload)
        except Exception as exc:
            raise wire.FrameError("the meta's payload is not a MUCBody") from exc
        rid = muc.muc_id.name
        members = self.node.chatrooms.members
        try:
            if muc.operation == pb.MUCBody.JOIN:
                if not await self.node.chatrooms.rooms.is_member(app, rid, user):
                    await members.join(app, rid, user.username)
            elif muc.operation == pb.MUCBody.LEAVE:
                await members.remove_member(app, rid, user.username, user.username)
            else:
                session.send(wire.ack_answer(meta.id, code=pb.Status.WRONG_PARAMETER, reason="not supported"))
                return
        except errors.HximError as exc:
            code, reason = status_of(exc)
            if exc.condition == "item-not-found":
                reason = f"grpID {rid} does not exist!"
            session.send(wire.ack_answer(meta.id, code=code, reason=reason))
            return
        session.send(wire.ack_answer(meta.id, self.node.ids.next()))

    # --- hub events as metas --------------------------------------------------------------------------
    def render_kept(self, session: MsyncSession, notice_id: int, notice: Notice) -> None:
        """A notice kept while the user was away, into its queue (removed from storage once read)."""
        built = _NOTICES.get(notice.kind)
        if built is not None:
            out = built(session, notice.sender, notice.payload)
            if out is not None:
                key, name, meta = out
                session.add_meta(key, name, notice_id, meta, notice_id)

    def _notice(self, session: MsyncSession, notice: Notice) -> None:
        built = _NOTICES.get(notice.kind)
        if built is not None:
            out = built(session, notice.sender, notice.payload)
            if out is not None:
                key, name, meta = out
                session.add_meta(key, name, self.node.ids.next(), meta)


# --- renderers ------------------------------------------------------------------------------------
Built = tuple[tuple[bool, str], str, bytes] | None  # (queue key, queue name, Meta bytes)


def _meta(session: MsyncSession, ns: int, payload: bytes, sender: str, ident: int = 0, room: str = "") -> bytes:
    meta = pb.Meta(id=ident or session.ctx.node.ids.next(), timestamp=now_ms(), ns=ns, payload=payload)  # type: ignore[arg-type]
    meta.from_.CopyFrom(wire.jid(session.app_key, sender))
    domain = wire.ROOM_DOMAIN if room else wire.CHAT_DOMAIN
    meta.to.CopyFrom(wire.jid(session.app_key, room or session.user_key, domain))
    return meta.SerializeToString()


def _kick(session: MsyncSession, event: Kick) -> None:
    """The StatisticsBody the SDK takes for a kick, in a frame of its own; then the close (the
    SDK does not close by itself, and does not reconnect after a kick)."""
    op = _KICKS.get(event.cause) or _KICKS.get(event.reason, pb.StatisticsBody.USER_KICKED_BY_OTHER_DEVICE)
    payload = pb.StatisticsBody(operation=op).SerializeToString()
    meta = _meta(session, pb.Meta.STATISTIC, payload, session.user_key)
    session.send(wire.batch_answer(wire.jid(session.app_key, session.user_key), [meta], 0, True))
    session.close(event.reason)


def _receipt(session: MsyncSession, sender: str, payload: Any) -> Built:
    kind = _ACK_TYPE.get(payload.get("ack"))
    mid = str(payload.get("mid", ""))
    if kind is None or not mid.isdecimal():
        return None
    body = MB(type=kind, ack_message_id=int(mid))
    body.from_.name = sender
    body.to.name = session.user.username if session.user else session.user_key
    return (False, sender.lower()), sender, _meta(session, pb.Meta.CHAT, body.SerializeToString(), sender)


_XMPP_RECEIPTS = {  # an XMPP client's receipt (Easemob's, XEP-0184's) → the msync ack type
    "{urn:xmpp:receipts}acked": "acked",
    "{urn:xmpp:receipts}delivery": "delivery",
    "{urn:xmpp:receipts}received": "delivery",
}


def _relay(session: MsyncSession, relay: Relay) -> None:
    """What an XMPP client passed to this user without storing it: its receipts become acks
    (chat states and the rest have no msync form)."""
    if relay.kind != "message" or "urn:xmpp:receipts" not in relay.xml:
        return
    try:
        children = ET.fromstring(f"<x xmlns='jabber:client'>{relay.xml}</x>")
    except ET.ParseError:
        return
    for child in children:
        ack = _XMPP_RECEIPTS.get(child.tag)
        if ack is not None:
            built = _receipt(session, relay.sender, {"ack": ack, "mid": child.get("id", "")})
            if built is not None:
                session.add_meta(*built[:2], session.ctx.node.ids.next(), built[2])
            return


def _recall(session: MsyncSession, sender: str, payload: Any) -> Built:
    mid = payload.get("mid")
    if not isinstance(mid, int):
        return None
    room = payload.get("room")
    body = MB(type=MB.RECALL, ack_message_id=mid)
    body.from_.name = sender if sender != ADMIN else ""
    body.to.name = str(room) if room else (session.user.username if session.user else session.user_key)
    key = (True, str(room)) if room else (False, sender.lower())
    return key, str(room) if room else sender, _meta(session, pb.Meta.CHAT, body.SerializeToString(), sender,
                                                     room=str(room) if room else "")


_SUBSCRIPTIONS = {
    "subscribe": pb.RosterBody.ADD,
    "subscribed": pb.RosterBody.REMOTE_ACCEPT,
    "unsubscribed": pb.RosterBody.REMOTE_DECLINE,
}


def _roster(session: MsyncSession, op: int, other: str, reason: str | None = None) -> bytes:
    body = pb.RosterBody(operation=op)  # type: ignore[arg-type]
    body.from_.CopyFrom(wire.jid(session.app_key, other))
    body.to.append(wire.jid(session.app_key, session.user.username if session.user else session.user_key))
    if reason:
        body.reason = reason
    return _meta(session, pb.Meta.ROSTER, body.SerializeToString(), other)


def _subscription(session: MsyncSession, sender: str, payload: Any) -> Built:
    op = _SUBSCRIPTIONS.get(payload.get("type"))
    if op is None:
        return None
    status = payload.get("status")
    return (False, sender.lower()), sender, _roster(session, op, sender, status if isinstance(status, str) else None)


def _roster_push(session: MsyncSession, event: RosterPush) -> None:
    """A friendship made or ended: the SDK's onContactAdded and onContactDeleted."""
    if event.subscription == "both":
        op = pb.RosterBody.ACCEPT
    elif event.subscription == "remove":
        op = pb.RosterBody.REMOVE
    else:
        return
    if session.available:
        session.add_meta((False, event.contact.lower()), event.contact, session.ctx.node.ids.next(),
                         _roster(session, op, event.contact))


def _muc_body(
    session: MsyncSession, op: int, room: str, sender: str, payload: Any, event_ext: Any = None, **extra: Any
) -> bytes:
    """A room event as the SDK's group and chat-room handlers read it: the room, who acted, this
    user as `to`, and the event's details (`event_ext`: JSON the SDK parses from `eventInfo.ext`)."""
    body = pb.MUCBody(operation=op, is_chatroom=bool(payload.get("chatroom")))  # type: ignore[arg-type]
    body.muc_id.CopyFrom(wire.jid(session.app_key, room, wire.ROOM_DOMAIN))
    body.from_.CopyFrom(wire.jid(session.app_key, sender))
    body.to.append(wire.jid(session.app_key, session.user.username if session.user else session.user_key))
    for name, value in extra.items():
        if value:
            setattr(body, name, value)
    if event_ext is not None:
        body.event_info.ext = orjson.dumps(event_ext).decode()
    return _meta(session, pb.Meta.MUC, body.SerializeToString(), sender, room=room)


_ROLE_OPS = {
    "admin_added": pb.MUCBody.ADD_ADMIN,
    "admin_removed": pb.MUCBody.REMOVE_ADMIN,
    "muted": pb.MUCBody.ADD_MUTE,
    "unmuted": pb.MUCBody.REMOVE_MUTE,
}


def _room(op_of: Callable[[Any], int | None], *fields: str) -> Callable[[MsyncSession, str, Any], Built]:
    def build(session: MsyncSession, sender: str, payload: Any) -> Built:
        op = op_of(payload)
        room = str(payload.get("room", ""))
        if op is None or not room:
            return None
        extra = {f: str(payload.get(src, "")) for f, src in (x.split("=") for x in fields)}
        return (True, room), room, _muc_body(session, op, room, sender, payload, **extra)

    return build


def _room_news(session: MsyncSession, sender: str, payload: Any, kind: str) -> Built:
    """What a room holds changed (its announcement, a group disabled, shared files, attributes)."""
    room = str(payload.get("room", ""))
    if not room:
        return None
    if kind == NoticeKind.ROOM_ANNOUNCEMENT:
        text = str(payload.get("announcement") or "")
        op = pb.MUCBody.UPDATE_ANNOUNCEMENT if text else pb.MUCBody.DELETE_ANNOUNCEMENT
        meta = _muc_body(session, op, room, sender, payload, reason=text)
    elif kind == NoticeKind.ROOM_DISABLED:
        op = pb.MUCBody.DISABLE_GROUP if payload.get("disabled") else pb.MUCBody.ABLE_GROUP
        meta = _muc_body(session, op, room, sender, payload)
    elif kind == NoticeKind.ROOM_FILE:
        op = pb.MUCBody.UPLOAD_FILE if payload.get("event") == "added" else pb.MUCBody.DELETE_FILE
        detail = {k: payload.get(k) for k in ("file_id", "file_name", "file_owner", "file_size", "created")}
        meta = _muc_body(session, op, room, sender, payload, detail)
    elif kind == NoticeKind.ROOM_MEMBER_ATTRIBUTES:
        detail = {"username": payload.get("user"), "properties": payload.get("attributes") or {}}
        meta = _muc_body(session, pb.MUCBody.GROUP_MEMBER_METADATA_UPDATE, room, sender, payload, detail)
    else:  # ROOM_ATTRIBUTES: a chat room's
        removed = payload.get("event") == "removed"
        keys = list(payload.get("keys") or ()) if removed else list((payload.get("attributes") or {}).keys())
        detail = {"result": {"successKeys": keys}, "properties": {} if removed else payload.get("attributes") or {}}
        op = pb.MUCBody.DELETE_METADATA if removed else pb.MUCBody.SET_METADATA
        meta = _muc_body(session, op, room, str(payload.get("user") or sender), {"chatroom": True}, detail)
    return (True, room), room, meta


# --- NOTIFY metas: JSON the SDK reads by its `type` (presence, reaction, thread) ------------------
def _notify(session: MsyncSession, key: tuple[bool, str], name: str, doc: dict[str, Any], sender: str) -> Built:
    payload = orjson.dumps(doc)
    return key, name, _meta(session, pb.Meta.NOTIFY, payload, sender, room=name if key[0] else "")


def _presence_status(session: MsyncSession, event: PresenceStatus) -> None:
    """A followed user's Easemob presence (the SDK's onPresenceStatusChange)."""
    value = {"uid": event.user, "last_time": event.last_time, "expiry": 0, "ext": event.ext,
             "status": dict(event.devices)}
    built = _notify(session, (False, event.user.lower()), event.user,
                    {"type": "presence", "data": {"values": [value]}}, event.user)
    if built is not None and session.available:
        session.add_meta(*built[:2], session.ctx.node.ids.next(), built[2])


def _reaction(session: MsyncSession, sender: str, payload: Any) -> Built:
    """A reaction added or taken back (the SDK's onReactionChange), in the conversation's queue."""
    chat = payload.get("chat_type") == "chat"
    to, frm = str(payload.get("to", "")), str(payload.get("from", ""))
    if chat:  # the conversation's peer, seen from this user
        peer = to if frm.lower() == session.user_key else frm
        key, name = (False, peer.lower()), peer
    else:
        key, name = (True, to), to
    mine = payload.get("mine") or []
    reaction = {
        "reaction": payload.get("reaction"), "count": payload.get("count", 0),
        "isAddedBySelf": payload.get("reaction") in mine if sender.lower() == session.user_key else False,
        "userList": [sender], "op": [{"operator": sender, "reactionType": "create" if payload.get("op") == "add"
                                      else "delete"}],
    }
    data = [{"from": frm, "to": to, "channel_type": "chat" if chat else "groupchat",
             "messageId": str(payload.get("mid", "")), "reactions": [reaction], "ts": now_ms()}]
    return _notify(session, key, name, {"type": "reaction", "data": data}, sender)


_THREAD_NOTIFY = {
    NoticeKind.THREAD_CREATED: "create", NoticeKind.THREAD_UPDATED: "update", NoticeKind.THREAD_DESTROYED: "delete",
}


def _thread_notify(session: MsyncSession, sender: str, payload: Any, kind: str) -> Built:
    """A thread created, renamed or destroyed (the SDK's onChatThreadChange), in its group's queue."""
    group = str(payload.get("group", ""))
    if not group:
        return None
    data = {"id": str(payload.get("thread", "")), "name": payload.get("name") or "", "muc_parent_id": group,
            "msg_parent_id": str(payload.get("msg_id", "")), "timestamp": payload.get("created") or now_ms(),
            "from": sender, "operation": _THREAD_NOTIFY[kind], "message_count": 0}
    return _notify(session, (True, group), group, {"type": "thread", "data": data}, sender)


_THREAD_OPS = {
    NoticeKind.THREAD_CREATED: pb.MUCBody.THREAD_CREATE,
    NoticeKind.THREAD_UPDATED: pb.MUCBody.THREAD_UPDATE,
    NoticeKind.THREAD_DESTROYED: pb.MUCBody.THREAD_DESTROY,
    NoticeKind.THREAD_JOINED: pb.MUCBody.THREAD_JOIN,
    NoticeKind.THREAD_LEFT: pb.MUCBody.THREAD_LEAVE,
    NoticeKind.THREAD_KICKED: pb.MUCBody.THREAD_KICK,
}


def _thread(session: MsyncSession, sender: str, payload: Any, kind: str) -> Built:
    """A thread of a group created, renamed, destroyed, joined, left or a member removed: a MUC
    event marked as a thread's, naming the thread, its group and its name, in the group's queue."""
    thread, group = str(payload.get("thread", "")), str(payload.get("group", ""))
    if not thread or not group:
        return None
    body = pb.MUCBody(operation=_THREAD_OPS[kind], is_thread=True)
    body.muc_id.CopyFrom(wire.jid(session.app_key, thread, wire.ROOM_DOMAIN))
    body.muc_parent_id.CopyFrom(wire.jid(session.app_key, group, wire.ROOM_DOMAIN))
    body.muc_name = str(payload.get("name") or "")
    actor = str(payload.get("user") or sender)
    body.from_.CopyFrom(wire.jid(session.app_key, actor))
    body.to.append(wire.jid(session.app_key, session.user.username if session.user else session.user_key))
    body.ext = orjson.dumps({k: payload.get(k) for k in ("msg_id", "owner", "created")}).decode()
    return (True, group), group, _meta(session, pb.Meta.MUC, body.SerializeToString(), actor, room=group)


_NOTICES: dict[str, Callable[[MsyncSession, str, Any], Built]] = {
    NoticeKind.RECEIPT: _receipt,
    NoticeKind.RECALL: _recall,
    NoticeKind.SUBSCRIPTION: _subscription,
    NoticeKind.ROOM_REMOVED: _room(lambda p: pb.MUCBody.KICK if p.get("code") == "307" else pb.MUCBody.BAN),
    NoticeKind.ROOM_DESTROYED: _room(lambda p: pb.MUCBody.DESTROY, "reason=reason"),
    NoticeKind.ROOM_ROLE: _room(lambda p: _ROLE_OPS.get(p.get("event"))),
    NoticeKind.ROOM_APPLY: _room(lambda p: pb.MUCBody.APPLY, "reason=reason", "muc_name=name"),
    NoticeKind.ROOM_ACCEPT: _room(lambda p: pb.MUCBody.APPLY_ACCEPT),
    NoticeKind.ROOM_DECLINE: _room(lambda p: pb.MUCBody.APPLY_DECLINE, "reason=reason"),
    NoticeKind.ROOM_INVITE: _room(lambda p: pb.MUCBody.INVITE, "reason=reason"),
    NoticeKind.ROOM_JOIN: _room(lambda p: pb.MUCBody.PRESENCE),
    NoticeKind.ROOM_LEAVE: _room(lambda p: pb.MUCBody.ABSENCE),
    **{kind: partial(_thread, kind=kind) for kind in _THREAD_OPS},
    **{kind: partial(_thread_notify, kind=kind) for kind in _THREAD_NOTIFY},  # (over the MUC forms)
    NoticeKind.REACTION: _reaction,
    **{kind: partial(_room_news, kind=kind) for kind in (
        NoticeKind.ROOM_ANNOUNCEMENT, NoticeKind.ROOM_DISABLED, NoticeKind.ROOM_FILE,
        NoticeKind.ROOM_MEMBER_ATTRIBUTES, NoticeKind.ROOM_ATTRIBUTES,
    )},
}
