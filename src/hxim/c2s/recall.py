"""Message recall as the Web IM SDK 1.8 sends it (webim-xmpp.md §4.10).

`<message type='chat|groupchat' to='{peer or room}' id='{new id}'><recall xmlns='urn:xmpp:recall'
id='{server id}'/></message>` from the message's sender, within `message_recall_seconds`,
withdraws the message through `MessageService.recall`, the rule REST `msg_recall` uses too (it
leaves the history and the offline queues, and each recipient who had received it is told), and
acks `{new id}` in the §4.4 form. The `recall` notice is rendered here:
`<message from='{sender or room}'><recall xmlns='urn:xmpp:recall' id='{server id}'/></message>`. A refusal comes back
as `type='error'` with the `<recall/>` and an `<error code=…>` whose `<text>` is never empty.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.c2s import notices
from hxim.c2s.messaging import send_ack
from hxim.c2s.session import CLIENT
from hxim.services.notices import NoticeKind
from hxim.services.room_common import parse_room_id
from hxim.xmpp.stanza import error_reply

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["NS", "register"]

NS = "urn:xmpp:recall"
_RECALL = "{" + NS + "}recall"


@notices.renderer(NoticeKind.RECALL)
def _render(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    room = payload.get("room")
    source = session.room_jid(room) if room else session.peer_jid(sender)
    message = ET.Element(CLIENT + "message", {"from": source, "to": session.full_jid, "id": secrets.token_hex(8)})
    ET.SubElement(message, _RECALL, {"id": str(payload["mid"])})
    return message


def _refuse(session: C2SSession, el: ET.Element, text: str) -> None:
    reply = error_reply(el, "not-allowed", text, type="cancel", include_payload=True)
    err = reply.find(CLIENT + "error")
    if err is not None:
        err.set("code", "403")
    session.send(reply)


async def on_recall(session: C2SSession, el: ET.Element) -> bool:
    recall = el.find(_RECALL)
    if recall is None:
        return False
    ctx, app, user = session.ctx, session.app, session.user
    assert app is not None and user is not None
    ident = parse_room_id(recall.get("id", ""))  # message ids are numbers of the same range
    message = await ctx.node.messages.find(app, ident) if ident is not None else None
    if message is None:
        _refuse(session, el, "No such message.")
        return True
    try:
        await ctx.node.messages.recall(app, message, user.username)
    except errors.HximError as exc:
        _refuse(session, el, exc.description)
        return True
    send_ack(session, el, message.id)
    return True


def register(table: Dispatcher) -> None:
    table.register("message", None, None, on_recall, priority=20)
    table.register("message", "groupchat", None, on_recall, priority=20)
