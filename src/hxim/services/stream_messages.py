"""Stream messages: one text message sent in chunks as it is written (an AI's answer, say).

Easemob's message_stream_send_single and message_stream_send_group pages. The first chunk is
sent as any message of the app is (`MessageService.send`: stored, offline copies for recipients
without a session, handed to the online ones) and starts the stream; its id names the stream.
Each next chunk is appended to the stored message, so that the message is complete once the
last chunk (`finish`) is in, and is told at once to the recipients' online sessions as the
modified message (an `Edited` event: over XMPP a XEP-0308 correction carrying the text so far,
which replaces what the client shows). Whoever reads the message later (offline replay,
roaming, history) reads the text so far, or all of it.

The body is a `txt` body whose `stream` says the text format (`text`, `markdown`), the last
chunk's `seq` and whether the stream ended (with the sender's `finishReason`). Limits (settings
`stream_message_*`, Easemob's by default): 30 s at most between two chunks, 30 min for the
whole stream, 128 KB of text; a chunk past the first or the last ends the stream, refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hxim import errors
from hxim.config import Settings
from hxim.hub import Router
from hxim.hub.events import Edited
from hxim.model import App, Message, now_ms
from hxim.services.messages import MessageService, SendMessage
from hxim.storage import Database
from hxim.storage.messages import Stored
from hxim.storage.stream_messages import StreamLimits, append_stream_txn, start_stream_txn, stream_marker

__all__ = ["Chunk", "StreamService", "stream_error"]

# Easemob's words for a refused chunk, by outcome of `append_stream_txn`
_REFUSALS = {
    "missing": "can not find stream message by msgId",
    "finished": "stream message has already finished",
    "from": "stream message from user mismatch",
    "to": "stream message to user mismatch",
    "seq": "stream message chunk seq too small",
    "interval": "stream message chunk interval timeout",
    "total": "stream message total timeout",
    "length": "stream message total length exceeds limit",
}


def stream_error(description: str) -> errors.HximError:
    return errors.HximError(400, "message_send_error", description, "MessageSendException", "bad-request")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a stream message from `sender` to a user (`chat`) or a group (`groupchat`):
    its text and `seq`; `msg_id` None for the first chunk, which alone sets the text `format`
    and `ext`; `finish` for the last one (with the sender's `reason`)."""

    chat_type: str
    sender: str
    to: str
    text: str
    seq: int
    msg_id: int | None = None
    finish: bool = False
    reason: int | None = None
    format: str = "text"
    ext: dict[str, Any] | None = None


class StreamService:
    def __init__(self, db: Database, settings: Settings, messages: MessageService, router: Router) -> None:
        self.db = db
        self.settings = settings
        self.messages = messages
        self.router = router

    def _limits(self) -> StreamLimits:
        s = self.settings
        return StreamLimits(
            int(s.stream_message_chunk_interval_seconds * 1000),
            int(s.stream_message_total_seconds * 1000),
            s.stream_message_max_bytes,
        )

    async def send(self, app: App, chunk: Chunk) -> Message:
        """Start a stream with its first chunk, or append a next one; the message as stored now."""
        if chunk.msg_id is None:
            return await self._begin(app, chunk)
        return await self._append(app, chunk.msg_id, chunk)

    async def _begin(self, app: App, chunk: Chunk) -> Message:
        length = len(chunk.text.encode())
        limits = self._limits()
        if length > limits.max_bytes:
            raise stream_error(_REFUSALS["length"])
        now = now_ms()
        body = {"type": "txt", "msg": chunk.text, "stream": stream_marker(chunk.seq, chunk.format, chunk.finish,
                                                                         chunk.reason)}
        stale = now - 2 * max(limits.total_ms, limits.interval_ms)  # long over: forgotten

        async def store(batch: list[Stored]) -> None:
            await self.db.write(start_stream_txn, batch, chunk.seq, length, now, stale)

        cmd = SendMessage(chunk.chat_type, (chunk.to,), (body,), chunk.ext, chunk.sender)
        ((_, message),) = await self.messages.send(app, cmd, store=store)
        return message

    async def _append(self, app: App, ident: int, chunk: Chunk) -> Message:
        parts = (chunk.chat_type, chunk.sender, chunk.to, chunk.text, chunk.seq, chunk.finish, chunk.reason)
        outcome, message, count = await self.db.write(append_stream_txn, app.id, ident, parts, now_ms(),
                                                      self._limits())
        if message is not None:  # appended, or ended: the recipients' sessions show it as it is now
            doc = {**message.to_doc(), "edited": {"by": chunk.sender, "at": now_ms(), "count": count}}
            event = Edited(doc)
            for user in await self.messages.audience(app, message):
                self.router.push(app.uuid, user.key, event)
        if outcome != "ok":
            raise stream_error(_REFUSALS[outcome])
        assert message is not None
        return message
