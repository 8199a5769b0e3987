"""A stored message as the `<message>` stanza a client receives (webim-xmpp.md §4.3, §4.7, §4.8).

One renderer for every place a stored `model.Message` becomes XML: live delivery and offline
replay on a session (`C2SSession.render_message`), and the history the Web IM SDK roams over
REST (`POST /users/{u}/messageroaming`, §2.6), whose answer carries each message as a complete
stanza string that the SDK parses with `DOMParser` and runs through the same §4.7 code.

* 1:1 messages come `type='chat'` from the sender's bare JID; group and chat-room messages
  `type='groupchat'` from `{room}@conference.{domain}/{sender}`, chat rooms with Easemob's
  `<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>` (§4.3).
* The stanza `id` is the server's message id (§4.4); JIDs name users as the client does
  (`{org}#{app}_{user}` with an appkey prefix, the lower-cased name alone without one).
* `<body>` holds single-line Easemob JSON (`{"from","to","bodies","ext"}`, §4.1) for clients that
  speak it, or the text of a single `txt` body for plain XMPP clients.
* JSON keeps every character exact (control characters, U+FFFE and U+FFFF as `\\u` escapes);
  plain text shows what XML cannot carry as U+FFFD (`escape_text`).
* A message read from storage later than it was sent carries a XEP-0203 `<delay>` stamped in
  the `2016-12-20T08:00:00.000Z` form the SDK passes on (§4.12).

Pure functions: no I/O, no session state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson

from hxim.model import Message
from hxim.xmpp.jid import muc_domain, user_node
from hxim.xmpp.stanza import escape_attr, escape_text

__all__ = ["CORRECT_NS", "DELAY_NS", "RECEIPTS_NS", "ROOMTYPE_CHATROOM", "delay_stamp", "message_stanza"]

DELAY_NS = "urn:xmpp:delay"
RECEIPTS_NS = "urn:xmpp:receipts"
CORRECT_NS = "urn:xmpp:message-correct:0"  # XEP-0308, last message correction
ROOMTYPE_CHATROOM = "<roomtype xmlns='easemob:x:roomtype' type='chatroom'/>"


def delay_stamp(ms: int) -> str:
    """A millisecond epoch as a XEP-0082 stamp with milliseconds: `2016-12-20T08:00:00.000Z`."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def message_stanza(
    m: Message,
    *,
    prefix: str | None,
    domain: str,
    to: str,
    json_body: bool,
    xmlns_attr: str = "",
    delayed: bool = False,
    receipt_request: bool = False,
    correction: int = 0,
) -> str:
    """The stanza of stored message `m` addressed `to` (a full or bare JID).

    `prefix` is the appkey the client writes in JIDs (None: bare user names), `json_body` whether
    the client reads Easemob JSON, `xmlns_attr` `" xmlns='jabber:client'"` where the stanza stands
    alone (a WebSocket frame, a history string) or "" inside a TCP stream, `delayed` adds the
    XEP-0203 `<delay>`, `receipt_request` a XEP-0184 `<request/>`. `correction` (the message's
    edit count) makes it XEP-0308's correction of the message as first sent: an id of its own and
    `<replace id='…'/>` naming the original.
    """
    if m.chat_type == "chat":
        sender = f"{user_node(prefix, m.sender)}@{domain}"
        stype = "chat"
        extra = ""
    else:
        room = m.to if prefix is None else f"{prefix}_{m.to}"
        sender = f"{room}@{muc_domain(domain)}/{m.sender}"
        stype = "groupchat"
        extra = ROOMTYPE_CHATROOM if m.chat_type == "chatroom" else ""
    bodies = m.bodies
    if not json_body and len(bodies) == 1 and bodies[0].get("type") == "txt":
        text = str(bodies[0].get("msg", ""))
    else:
        doc = {"from": m.sender, "to": m.to, "bodies": bodies, "ext": m.ext if m.ext is not None else {}}
        try:
            text = orjson.dumps(doc).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, only in a str built in-process: U+FFFD
            text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        if "\ufffe" in text or "\uffff" in text:  # legal in JSON, not in XML: escaped, kept exact
            text = text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
    if m.xml and not json_body:  # what the sending XMPP client put beside the body
        extra += m.xml
    if receipt_request:
        extra += f"<request xmlns='{RECEIPTS_NS}'/>"
    if delayed:
        extra += f"<delay xmlns='{DELAY_NS}' from='{escape_attr(domain)}' stamp='{delay_stamp(m.timestamp)}'/>"
    ident = f"{m.id}"
    if correction:
        extra += f"<replace xmlns='{CORRECT_NS}' id='{m.id}'/>"
        ident = f"{m.id}-edit-{correction}"
    return (
        f"<message{xmlns_attr} type='{stype}' from='{escape_attr(sender)}' "
        f"to='{escape_attr(to)}' id='{ident}'><body>{escape_text(text)}</body>{extra}</message>"
    )
