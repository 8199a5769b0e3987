"""msync frames: one WebSocket binary message is one `MSync` envelope whose `payload` holds the
message its `command` names (docs/msync.md). Sans-I/O: bytes in, protobuf values out, and the
server's frames built as bytes.

Identity belongs to the socket: only PROVISION (and LOGOUT) carry `guid` and `auth`; every other
frame is read as coming from whoever logged in on the connection.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import DecodeError

from hxim.model import now_ms
from hxim.msync import easemob_pb2 as pb

__all__ = [
    "CHAT_DOMAIN", "ROOM_DOMAIN", "Frame", "FrameError", "SYNC", "UNREAD", "NOTICE", "PROVISION", "LOGOUT", "decode",
    "jid", "provision_answer", "unread_answer", "ack_answer", "batch_answer", "logout_answer", "pb",
]

# The domains the SDK writes: users at easemob.com, groups and chat rooms at conference.easemob.com
# (fixed by the SDK, whatever the server's XMPP domain).
CHAT_DOMAIN = "easemob.com"
ROOM_DOMAIN = "conference.easemob.com"

SYNC = pb.MSync.SYNC
UNREAD = pb.MSync.UNREAD
NOTICE = pb.MSync.NOTICE
PROVISION = pb.MSync.PROVISION
LOGOUT = pb.MSync.LOGOUT

Frame = pb.MSync


class FrameError(ValueError):
    """Bytes that are not an msync frame, or a payload that is not what its command carries."""


def decode(data: bytes) -> pb.MSync:
    frame = pb.MSync()
    try:
        frame.ParseFromString(data)
    except DecodeError as exc:
        raise FrameError("not an msync frame") from exc
    return frame


def payload_of(frame: pb.MSync, kind: type[pb.Provision] | type[pb.CommSyncUL] | type[pb.Logout]) -> object:
    out = kind()
    try:
        out.ParseFromString(frame.payload)
    except DecodeError as exc:
        raise FrameError(f"the payload is not a {kind.__name__}") from exc
    return out


def jid(app_key: str, name: str, domain: str = CHAT_DOMAIN) -> pb.JID:
    return pb.JID(app_key=app_key, name=name, domain=domain)


def _frame(command: int, payload: bytes) -> bytes:
    return pb.MSync(version=pb.MSync.MSYNC_V1, command=command, payload=payload).SerializeToString()  # type: ignore[arg-type]


def _status(code: int = 0, reason: str | None = None) -> pb.Status:
    status = pb.Status(error_code=code)  # type: ignore[arg-type]
    if reason:
        status.reason = reason
    return status


def provision_answer(code: int = 0, reason: str | None = None, *, resource: str = "", expires_ms: int = 0) -> bytes:
    """The answer to PROVISION: `status` always (without it `open()` never settles), the resource
    the SDK takes as its own, no compression (an empty `protocol_compress_type`)."""
    answer = pb.Provision(status=_status(code, reason))
    if resource:
        answer.resource = resource
    if expires_ms:
        answer.auth_token = f'{{"expires_in":{expires_ms}}}'
    return _frame(PROVISION, answer.SerializeToString())


def unread_answer(queues: Iterable[tuple[pb.JID, int]]) -> bytes:
    answer = pb.CommUnreadDL(status=_status(), timestamp=now_ms())
    for queue, n in queues:
        answer.unread.add(queue=queue, n=n)
    return _frame(UNREAD, answer.SerializeToString())


def ack_answer(meta_id: int, server_id: int = 0, timestamp: int = 0, code: int = 0, reason: str | None = None) -> bytes:
    """The answer to a meta the client sent (a message, an ack, a recall): without one within
    15 s the SDK fails the send and reconnects. `server_id` must be non-zero on success."""
    answer = pb.CommSyncDL(status=_status(code, reason), meta_id=meta_id, timestamp=timestamp or now_ms())
    if server_id:
        answer.server_id = server_id
    return _frame(SYNC, answer.SerializeToString())


def batch_answer(queue: pb.JID, metas: Iterable[bytes], next_key: int, is_last: bool) -> bytes:
    """One page of a queue the client pulls; `metas` already serialised (`Meta` bytes). Every
    page names its queue and carries a status (the SDK reads both unguarded)."""
    answer = pb.CommSyncDL(status=_status(), queue=queue, is_last=is_last, timestamp=now_ms())
    if next_key:
        answer.next_key = next_key
    data = answer.SerializeToString()
    # repeated field 4 (Meta), appended as length-delimited bytes: no parse of the stored metas
    extra = bytearray()
    for meta in metas:
        extra += b"\x22"
        _varint(extra, len(meta))
        extra += meta
    return _frame(SYNC, data + bytes(extra))


def logout_answer() -> bytes:
    return _frame(LOGOUT, pb.Logout(status=_status()).SerializeToString())


def _varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
