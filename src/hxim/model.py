"""Protocol-neutral values shared by services, storage, the hub and every surface.

Nothing here does I/O. Identifiers follow easemob-rest.md §1.2 and §1.6: apps have a UUID
and a `client_id` of base64url("ap:" + UUID bytes); users have a time-based UUID; message,
group and chat-room ids are numeric strings, unique and ordered by creation time.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

__all__ = [
    "App",
    "User",
    "Message",
    "Recipients",
    "IdGenerator",
    "client_id_for",
    "INT64_MAX",
    "decimal_id",
    "now_ms",
    "USERNAME_RE",
    "b64url",
    "unb64url",
    "ScramKeys",
    "Credentials",
]

USERNAME_RE = re.compile(r"[A-Za-z0-9_\-.]+")


INT64_MAX = (1 << 63) - 1  # the largest id or time storage holds (a signed 64-bit integer)


def decimal_id(text: str) -> int | None:
    """A message id (or a time in ms) written in decimal digits, as the number storage can hold it;
    None for anything else, a number past `INT64_MAX` included (no stored thing has it)."""
    if not text.isdecimal() or len(text) > 19:
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def now_ms() -> int:
    return int(time.time() * 1000)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything else."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("not base64url") from exc
    if not re.fullmatch(rb"[A-Za-z0-9_\-]*", raw):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def client_id_for(app_uuid: uuid.UUID) -> str:
    """Usergrid's client id: base64url("ap:" + the 16 UUID bytes), unpadded; starts YXA6."""
    return b64url(b"ap:" + app_uuid.bytes)


@dataclass(frozen=True, slots=True)
class App:
    """A tenant: one org/app pair with its credentials."""

    uuid: UUID
    org: str
    name: str
    secret_hash: str  # of the client secret (`services.apps.hash_secret`): the secret is shown once
    token_epoch: int
    open_registration: bool
    created: int
    # the uuid as text, as storage keys rows by it (UUID.__str__ is Python code: kept, not redone per query)
    id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.uuid))

    @property
    def appkey(self) -> str:
        return f"{self.org}#{self.name}"

    @property
    def client_id(self) -> str:
        return client_id_for(self.uuid)


@dataclass(slots=True)
class User:
    """An IM user of one app. `username` keeps the case it was registered with."""

    id: int
    uuid: UUID
    app_uuid: UUID
    username: str
    nickname: str | None
    activated: bool
    created: int
    modified: int
    token_epoch: int
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The case-folded username that identifies the user within the app."""
        return self.username.lower()


@dataclass(slots=True)
class Message:
    """One stored message: a 1:1 chat, a group message or a chat-room message."""

    id: int
    app_uuid: UUID
    chat_type: str  # "chat" | "groupchat" | "chatroom"
    sender: str
    to: str
    timestamp: int
    bodies: list[dict[str, Any]]
    ext: dict[str, Any] | None = None
    # who sees it when reading the conversation back (roaming): a directed room message only its
    # recipients and its sender, and never the users it is hidden from (user keys, case-folded)
    only: tuple[str, ...] | None = None
    hidden: tuple[str, ...] = ()
    # set once it is modified: {"by": user or "admin", "at": ms, "count": edits so far}
    edited: dict[str, Any] | None = None
    # what an XMPP client sent beside the body (its other child elements, serialised in the
    # jabber:client namespace: XEP-0308 corrections, replies, OMEMO, …), passed on to XMPP readers
    xml: str | None = None

    @property
    def msg_id(self) -> str:
        return str(self.id)

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bodies": self.bodies}
        if self.ext is not None:
            out["ext"] = self.ext
        if self.edited is not None:
            out["edited"] = self.edited
        return out

    def to_doc(self) -> dict[str, Any]:
        """The message as plain JSON-ready values (what crosses the hub in an event)."""
        return {
            "id": self.id, "app": str(self.app_uuid), "chat_type": self.chat_type, "sender": self.sender,
            "to": self.to, "timestamp": self.timestamp, **self.payload(),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Message:
        return cls(
            doc["id"], UUID(doc["app"]), doc["chat_type"], doc["sender"], doc["to"], doc["timestamp"],
            list(doc["bodies"]), doc.get("ext"), edited=doc.get("edited"),
        )

    def roams_to(self, key: str) -> bool:
        """Whether user `key` reads this message back in its conversation."""
        if key in self.hidden:
            return False
        return self.only is None or key in self.only or key == self.sender.lower()


@dataclass(frozen=True, slots=True)
class ScramKeys:
    stored_key: bytes
    server_key: bytes


@dataclass(frozen=True, slots=True)
class Credentials:
    salt: bytes
    iterations: int
    sha1: ScramKeys
    sha256: ScramKeys

    def keys(self, hash_name: str) -> ScramKeys:
        return self.sha1 if hash_name == "sha1" else self.sha256


class IdGenerator:
    """Numeric ids ordered by creation time: 41 bits of ms since 2014, 10 of node, 12 of sequence.

    Unique across nodes as long as every node has its own number (`node_number`, leased from Redis in a cluster).
    """

    EPOCH_MS = 1_388_534_400_000  # 2014-01-01

    def __init__(self, node_id: int) -> None:
        if not 0 <= node_id < 1024:
            raise ValueError("node_id must be in 0..1023")
        self._node = node_id
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq_value = 0

    @property
    def node(self) -> int:
        return self._node

    @node.setter
    def node(self, node_id: int) -> None:
        """Take another node number (a cluster node leases its own from Redis before serving)."""
        if not 0 <= node_id < 1024:
            raise ValueError("node_id must be in 0..1023")
        with self._lock:
            self._node = node_id

    def next(self) -> int:
        with self._lock:
            ms = max(now_ms(), self._last_ms)
            if ms == self._last_ms:
                self._seq_value += 1
                if self._seq_value >= 4096:
                    ms += 1  # borrow from the next millisecond rather than repeat
                    self._seq_value = 0
            else:
                self._seq_value = 0
            self._last_ms = ms
            return ((ms - self.EPOCH_MS) << 22) | (self._node << 12) | self._seq_value

    def many(self, count: int) -> list[int]:
        return [self.next() for _ in range(count)]

    @classmethod
    def timestamp_of(cls, ident: int) -> int:
        return (ident >> 22) + cls.EPOCH_MS


class Recipients:
    """Whom a message to one target reaches: its chat type, the target as the answer names it,
    the users it is handed to, whether those without a session get offline copies, and the one
    resource the sender named, which gets it even before it is available (RFC 6121 §8.5.3.1)."""

    __slots__ = ("chat_type", "to", "users", "offline", "resource")

    def __init__(self, chat_type: str, to: str, users: list[User], offline: bool, resource: str | None = None) -> None:
        self.chat_type = chat_type
        self.to = to
        self.users = users
        self.offline = offline
        self.resource = resource
