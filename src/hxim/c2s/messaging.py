"""1:1 messages (RFC 6121 §5), offline replay (XEP-0203), receipts (XEP-0184).

A `<message>` with a `<body>` to a user of the same app takes the REST path: the block list is
checked, then `MessageService.store_and_route` stores it (visible in `/chatmessages`, with an
offline entry when the recipient has no available session) and the router queues it on the
recipient's available resources, which render it (`C2SSession.render_message`). A body that is
Easemob JSON (`{"from","to","bodies","ext"}`, webim-xmpp.md §4.1) stores its `bodies` and `ext`;
any other body is stored as `[{"type":"txt","msg": text}]`. The sender's id becomes the server
id for recipients; a sender that speaks Easemob JSON gets the §4.4 server ack.

Stanzas without a body, and receipts (`<received/>`, Easemob's `<delivery/>`/`<acked/>`), pass
through to the recipient's available resources without being stored; a `<received id=…/>` that
answers a server id is translated back to the sender's own id (`ReceiptMap`). Messages to the
domain (the Web IM SDK's acks, §4.5) are consumed. Offline messages are replayed right after the
initial presence, oldest first, each with a `<delay/>`, and marked delivered once written.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import orjson

from hxim import errors
from hxim.c2s.session import CLIENT, RECEIPTS_NS, copy_to
from hxim.services.messages import Recipients
from hxim.xmpp.jid import JID
from hxim.xmpp.stanza import escape_attr, escape_text, local_name, namespace_of

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["parse_body", "register", "replay_offline", "send_ack"]

_BODY = CLIENT + "body"


def parse_body(text: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None, bool]:
    """(bodies, ext, is Easemob JSON) for the text of a `<body>`."""
    if text[:1] == "{":
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            bodies = doc.get("bodies")
            if isinstance(bodies, list) and bodies and all(isinstance(b, dict) for b in bodies):
                ext = doc.get("ext")
                return bodies[:1], ext if isinstance(ext, dict) else None, True
    return [{"type": "txt", "msg": text}], None, False


def _is_receipt(el: ET.Element) -> bool:
    return any(namespace_of(c.tag) == RECEIPTS_NS and local_name(c.tag) != "request" for c in el)


async def on_message(session: C2SSession, el: ET.Element) -> bool:
    to = JID.try_parse(el.get("to"))
    if to is None or to.local is None:
        return True  # to the server (the Web IM acks of §4.5, or nothing): consumed
    ctx = session.ctx
    if to.domain.lower() == ctx.muc_key:
        session.reply_error(el, "service-unavailable", "Send type='groupchat' to rooms.")
        return True
    peer = await ctx.resolve_user(to)
    app, user, node = session.app, session.user, ctx.node
    assert app is not None and user is not None
    if peer is None or peer[0].uuid != app.uuid:
        session.reply_error(el, "service-unavailable")
        return True
    body = el.findtext(_BODY)
    if not body or _is_receipt(el):
        _pass_through(session, el, peer[1], to.resource)
        return True
    bodies, ext, is_json = parse_body(body)
    if is_json:
        session.json_bodies = True
    try:
        for b in bodies:
            node.messages.check_body(b)
    except errors.HximError:
        session.reply_error(el, "bad-request", "The message body is not a valid Easemob message.")
        return True
    recipient = await node.users.find(app, peer[1])
    if recipient is None:
        session.reply_error(el, "service-unavailable")
        return True
    if recipient.id != user.id and await node.contacts.blockers_of(user, [recipient]):
        session.reply_error(el, "service-unavailable")  # XEP-0191 §3.5; not stored
        return True
    sent = await node.messages.store_and_route(
        app, user.username, [Recipients("chat", recipient.username, [recipient], True)], bodies, ext
    )
    message = sent[0][1]
    assert message is not None
    client_id = el.get("id")
    if client_id and el.find("{" + RECEIPTS_NS + "}request") is not None:
        ctx.receipts.remember(message.id, client_id)
    send_ack(session, el, message.id)
    return True


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


def _pass_through(session: C2SSession, el: ET.Element, key: str, resource: str | None) -> None:
    app = session.app
    assert app is not None
    for child in el:
        if namespace_of(child.tag) == RECEIPTS_NS and local_name(child.tag) == "received":
            original = session.ctx.receipts.client_id(child.get("id", ""))
            if original is not None:
                child.set("id", original)
    for target in session.ctx.available(app, key):
        if resource is None or target.resource == resource:
            target.send(copy_to(el, session, target))


async def replay_offline(session: C2SSession) -> None:
    """Push the stored offline messages, oldest first, then mark them delivered."""
    node = session.ctx.node
    user = session.user
    assert user is not None
    limit = session.ctx.settings.xmpp_offline_batch
    try:
        while not session.finished:
            batch = await node.messages.offline_messages(user, limit)
            if not batch:
                break
            for message in batch:
                if not session.enqueue_offline(message):
                    return
            await session.flush()
            if session.finished:
                return
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
