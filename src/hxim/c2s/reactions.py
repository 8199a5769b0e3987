"""Message reactions as XMPP clients see them: XEP-0444 (Message Reactions).

A `reaction` notice (services.reactions: a reaction added or taken back over REST) reaches the
conversation's online users as the reacting user's current set of reactions on the message,
which is what XEP-0444 carries (an empty set: all taken back):

    <message type='chat' from='{reacting user}' to='{full JID}' id='…'>
      <reactions xmlns='urn:xmpp:reactions:0' id='{server msg id}'><reaction>…</reaction>…</reactions>
      <store xmlns='urn:xmpp:hints'/>
    </message>

In a group the message comes from `{room}/{reacting user}`, `type='groupchat'`. `id` names the
message by its server id, the id its recipients saw it with. Reactions a client sends this way
are passed on to their peer as other body-less messages are (docs/routing.md), not stored.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hxim.c2s import notices
from hxim.c2s.session import CLIENT
from hxim.services.notices import NoticeKind

if TYPE_CHECKING:
    from hxim.c2s.dispatch import Dispatcher
    from hxim.c2s.session import C2SSession

__all__ = ["NS", "register"]

NS = "urn:xmpp:reactions:0"


@notices.renderer(NoticeKind.REACTION)
def _render(session: C2SSession, sender: str, payload: dict[str, Any]) -> ET.Element:
    if payload.get("chat_type") == "groupchat":
        source, kind = f"{session.room_jid(str(payload['to']))}/{sender}", "groupchat"
    else:
        source, kind = session.peer_jid(sender), "chat"
    message = ET.Element(
        CLIENT + "message", {"from": source, "to": session.full_jid, "type": kind, "id": secrets.token_hex(8)}
    )
    reactions = ET.SubElement(message, "{" + NS + "}reactions", {"id": str(payload["mid"])})
    for reaction in payload.get("mine", ()):
        ET.SubElement(reactions, "{" + NS + "}reaction").text = str(reaction)
    ET.SubElement(message, "{urn:xmpp:hints}store")
    return message


def register(table: Dispatcher) -> None:
    """Nothing to dispatch: a client's own XEP-0444 message is passed on by `c2s.messaging`."""
