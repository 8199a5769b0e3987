"""1:1 messages (RFC 6121 §5), offline replay (XEP-0203), receipts (XEP-0184).

A `<message>` with a `<body>` to a user of the same app is a `SendMessage` from a client for
`MessageService.send`, the path REST messages take: refused when the recipient does not exist or
blocks the sender (bounced, not stored), else stored (visible in `/chatmessages`, with an offline
entry when the recipient has no available session) and queued by the router on the recipient's
available resources, which render it (`C2SSession.render_message`). A body that is
Easemob JSON (`{"from","to","bodies","ext"}`, webim-xmpp.md §4.1) stores its `bodies` and `ext`;
any other body is stored as `[{"type":"txt","msg": text}]`. The sender's id becomes the server
id for recipients; a sender that speaks Easemob JSON gets the §4.4 server ack. A globally muted
sender's message is bounced with `<forbidden/>` and `<user-muted xmlns='easemob:x:mute'/>`, as in rooms.

Stanzas without a body, and receipts (`<received/>`, Easemob's `<delivery/>`/`<acked/>`), pass
through the router to the recipient's available resources (a `Relay`) without being stored; a `<received id=…/>` that
answers a server id is translated back to the sender's own id (`ReceiptMap`). Messages to the
domain (the Web IM SDK's acks, §4.5) are consumed; one that acknowledges a replayed offline
message removes its offline entry. Offline messages are replayed right after the initial
presence, oldest first, each with a `<delay/>` (`replay_offline`). Easemob delivery and read acks
(`<delivery/>`, `<acked/>` with the id in `<body>`, §4.6) are routed like receipts (kept as
notices while their addressee is offline) and acked to their sender as chat is.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors, json_input
from hxim.c2s import notices
from hxim.c2s.direct import relay
from hxim.c2s.session import CLIENT
from hxim.hub import Notice, Relay
from hxim.hub.events import Edited
from hxim.model import Message
from hxim.services.messages import SendMessage
from hxim.services.notices import NoticeKind
from hxim.xmpp.jid import JID
from hxim.xmpp.messages import RECEIPTS_NS
from hxim.xmpp.stanza import (
    error_reply,
    escape_attr,
    escape_text,
    local_name,
    namespace_of,
    render_attrs,
    serialize,
)

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["RENDERERS", "bounce", "extensions", "parse_body", "register", "replay_offline", "send_ack"]

_BODY = CLIENT + "body"
_USER_MUTED = "{easemob:x:mute}user-muted"  # a muted sender's refusal: the SDK's onMutedMessage (§4.9)
_REQUEST = "{" + RECEIPTS_NS + "}request"


def parse_body(text: str, max_depth: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None, bool]:
    """(bodies, ext, is Easemob JSON) for the text of a `<body>`; JSON nested too deep or holding
    U+0000 raises `JsonRejected` (any other text that is not JSON is a plain `txt` body)."""
    if text[:1] == "{":
        try:
            doc = json_input.loads(text, max_depth)
        except json_input.JsonRejected as exc:
            if exc.reason != "syntax":
                raise
            doc = None
        if isinstance(doc, dict):
            bodies = doc.get("bodies")
            if isinstance(bodies, list) and bodies and all(isinstance(b, dict) for b in bodies):
                ext = doc.get("ext")
                return bodies[:1], ext if isinstance(ext, dict) else None, True
    return [{"type": "txt", "msg": text}], None, False


def _is_receipt(el: ET.Element) -> bool:
    return any(namespace_of(c.tag) == RECEIPTS_NS and local_name(c.tag) != "request" for c in el)


def _easemob_ack(el: ET.Element) -> ET.Element | None:
    """The `<delivery/>` or `<acked/>` of an Easemob delivery or read ack (webim-xmpp.md §4.6)."""
    for c in el:
        if namespace_of(c.tag) == RECEIPTS_NS and local_name(c.tag) in ("delivery", "acked"):
            return c
    return None


@notices.renderer(NoticeKind.RECEIPT)
def _receipt(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    """A delivery or read ack kept while its addressee was offline; `<body>` always (§4.11)."""
    attrs = {"from": session.peer_jid(sender), "to": session.full_jid, "id": secrets.token_hex(8)}
    message = ET.Element(CLIENT + "message", attrs)
    ET.SubElement(message, CLIENT + "body").text = payload["body"]
    ET.SubElement(message, "{" + RECEIPTS_NS + "}" + payload["ack"], {"id": payload["mid"]})
    return message


async def _offline_acked(session: C2SSession, el: ET.Element) -> None:
    """A §4.5 receipt for a replayed offline message: its offline entry goes (§9(d).5)."""
    acked = el.find("{" + RECEIPTS_NS + "}received")
    ident = acked.get("id", "") if acked is not None else ""
    if ident.isdecimal() and int(ident) in session.offline_unacked:
        session.offline_unacked.discard(int(ident))
        assert session.user is not None
        await session.ctx.node.messages.mark_delivered(session.user, [int(ident)])


async def on_message(session: C2SSession, el: ET.Element) -> bool:
    to = JID.try_parse(el.get("to"))
    if to is None or to.local is None:
        # to the server (the Web IM acks of §4.5, or nothing): consumed, never routed or bounced
        if session.offline_unacked:
            await _offline_acked(session, el)
        return True
    ctx = session.ctx
    if to.domain.lower() == ctx.muc_key:
        bounce(session, el, "service-unavailable", "Send type='groupchat' to rooms.")
        return True
    peer = await ctx.resolve_user(to)
    app, user, node = session.app, session.user, ctx.node
    assert app is not None and user is not None
    if peer is None or peer[0].uuid != app.uuid:
        bounce(session, el, "service-unavailable", "No such user.")
        return True
    body = el.findtext(_BODY)
    if not body or (len(el) > 1 and _is_receipt(el)):
        ack = _easemob_ack(el) if body else None
        if not _relay(session, el, peer[1], to.resource) and ack is not None:
            # a delivery or read ack for a sender who is offline waits for their login (§4.12)
            sender = await node.users.find(app, peer[1])
            if sender is not None:
                payload = {"ack": local_name(ack.tag), "mid": ack.get("id", ""), "body": body}
                await node.notices.keep(sender, Notice(NoticeKind.RECEIPT, user.username, payload))
        if ack is not None:  # delivery and read acks are acked like chat (§9(a).17)
            if local_name(ack.tag) == "acked":  # a read ack: the app's post-send read_ack callbacks
                node.callbacks.read_ack(app, user.username, peer[1], ack.get("id", ""))
            send_ack(session, el, ctx.node.ids.next())
        return True
    try:
        bodies, ext, is_json = parse_body(body, ctx.settings.json_max_depth)
    except json_input.JsonRejected as exc:
        bounce(session, el, "bad-request", exc.description)
        return True
    if is_json:
        session.json_bodies = True
    command = SendMessage(
        "chat", (peer[1],), tuple(bodies), ext, user.username, True, to.resource, xml=extensions(el)
    )
    try:
        message = (await node.messages.send(app, command, user))[0][1]
    except errors.HximError as exc:
        if exc.error == "service_resource_not_found":
            bounce(session, el, "service-unavailable", "No such user.")
        elif exc.condition == "service-unavailable":
            bounce(session, el, "service-unavailable", "The recipient has blocked you.")  # XEP-0191 §3.5
        elif exc.condition == "not-acceptable":  # refused by a pre-send callback: its code as the text
            bounce(session, el, "not-acceptable", exc.description)
        elif exc.condition == "forbidden":  # a globally muted sender (services.mutes), marked as muc's are
            bounce(session, el, "forbidden", exc.description, ET.Element(_USER_MUTED))
        elif exc.condition == "policy-violation":  # refused by a keyword list (services.moderation)
            bounce(session, el, "policy-violation", exc.description)
        else:
            bounce(session, el, "bad-request", "The message body is not a valid Easemob message.")
        return True
    client_id = el.get("id")
    if client_id and len(el) > 1 and el.find(_REQUEST) is not None:
        ctx.receipts.remember(message.id, client_id)
    send_ack(session, el, message.id)
    return True


# what the server writes itself on a message it passes on (`message_stanza`), and what only a
# server may claim (XEP-0359 stanza ids): never copied from a client
_OWN_CHILDREN = frozenset({
    _BODY, _REQUEST, "{easemob:x:roomtype}roomtype", "{urn:xmpp:delay}delay", "{urn:xmpp:sid:0}stanza-id",
})


def extensions(el: ET.Element) -> str | None:
    """A client message's child elements but its body and what the server writes itself,
    serialised as they will stand inside a `<message>` in the jabber:client namespace (so that
    corrections, replies, encryption and the like reach XMPP recipients); None for a message
    that has nothing else."""
    if len(el) == 1:
        return None
    found = "".join(serialize(child).decode() for child in el if child.tag not in _OWN_CHILDREN)
    return found or None


_CODES = {"bad-request": "400", "forbidden": "403", "item-not-found": "404", "not-acceptable": "406",
          "policy-violation": "406", "service-unavailable": "503"}


def bounce(
    session: C2SSession, el: ET.Element, condition: str, text: str, app_condition: ET.Element | None = None
) -> None:
    """A refused message back to its sender in the form the Web IM SDK understands (§4.9, §4.11):
    the same id, `type='error'`, the original children (its `<body>`), and an `<error code=…>`
    that always has a `<text>`. The 1.4.6 SDK (version notice below 1.4.13) throws on error
    messages that carry a JSON body and loses its message handler (§4.11, §4.12): it gets the
    error without the original children."""
    if el.get("type") == "error":
        return
    legacy = session.sdk_version is not None and session.sdk_version < (1, 4, 13)
    reply = error_reply(el, condition, text, include_payload=not legacy, app_condition=app_condition)
    err = reply.find(CLIENT + "error")
    if err is not None:
        err.set("code", _CODES.get(condition, "403"))
    session.send(reply)


def send_ack(session: C2SSession, el: ET.Element, msg_id: int) -> None:
    """The Web IM SDK's server ack (webim-xmpp.md §4.4), for sessions that speak Easemob JSON."""
    client_id = el.get("id")
    if not session.json_bodies or not client_id:
        return
    cid = escape_text(client_id)
    session.send(
        f"<message{session.xmlns_attr} from='{escape_attr(session.ctx.domain)}' to='{escape_attr(session.full_jid)}' "
        f"id='{secrets.token_hex(8)}'><body>{cid}</body><received xmlns='{RECEIPTS_NS}' "
        f"id='{escape_attr(client_id)}' mid='{msg_id}'>{cid}</received></message>".encode()
    )


def _relay(session: C2SSession, el: ET.Element, key: str, resource: str | None) -> int:
    """Pass a stanza that is not stored (a receipt, a chat state) to the user's available
    resources, or to the one named if it is bound (RFC 6121 §8.5.3.1); returns how many took it."""
    app = session.app
    assert app is not None
    for child in el:
        if namespace_of(child.tag) == RECEIPTS_NS and local_name(child.tag) == "received":
            original = session.ctx.receipts.client_id(child.get("id", ""))
            if original is not None:
                child.set("id", original)
    event = relay(session, el, "message")
    return session.ctx.node.router.push(app.uuid, key, event, resource=resource, available=resource is None)


def _render_relay(session: C2SSession, relay: Relay) -> None:
    """A stanza another client sent this user, from its full JID as this client writes JIDs."""
    sender = escape_attr(f"{session.peer_jid(relay.sender)}/{relay.resource}")
    attrs = render_attrs(relay.attrs)
    head = f"<{relay.kind}{session.xmlns_attr} from='{sender}' to='{escape_attr(session.full_jid)}'{attrs}"
    tail = f">{relay.xml}</{relay.kind}>" if relay.xml else "/>"
    session.send((head + tail).encode())


def _render_edit(session: C2SSession, edit: Edited) -> None:
    """A stored message was modified: its new content, as the correction of the first."""
    message = Message.from_doc(edit.message)
    session.send(session.render_message(message, correction=int((message.edited or {}).get("count", 1))))


RENDERERS = {Relay: _render_relay, Edited: _render_edit}


async def replay_offline(session: C2SSession) -> None:
    """Push the stored offline messages, oldest first. A Web IM session (one that speaks Easemob
    JSON) keeps each until its §4.5 receipt arrives (`_offline_acked`), so what it never
    acknowledged comes again at its next login (§9(d).5); any other client never sends those
    receipts, so its messages are marked delivered once written (docs/DECISIONS.md)."""
    node = session.ctx.node
    user = session.user
    assert user is not None
    settings = session.ctx.settings
    # a batch must fit the session's queue, which also bounds what the replay may enqueue
    limit = max(1, min(settings.xmpp_offline_batch, settings.xmpp_queue_max // 2))
    after = 0
    try:
        await node.messages.settled()  # a message decided offline just before the login is stored by now
        while not session.finished:
            batch = await node.messages.offline_messages(user, limit, after)
            if not batch:
                break
            after = batch[-1].id
            if session.json_bodies:
                session.offline_unacked.update(m.id for m in batch)
            for message in batch:
                if not session.enqueue_offline(message):
                    return
            await session.flush()
            if session.finished:
                return
            if not session.json_bodies:
                await node.messages.mark_delivered(user, [m.id for m in batch])
            if len(batch) < limit:
                break
    finally:
        session.release_deliveries()


async def _drop(session: C2SSession, el: ET.Element) -> bool:
    return True


def register(table: Dispatcher) -> None:
    table.register("message", None, None, on_message)
    table.register("message", "error", None, _drop)
