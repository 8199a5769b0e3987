"""Callbacks: Easemob's pre-send and post-send webhooks, per app (docs/callbacks.md).

Easemob's callback_overview, callback_presending, callback_postsending,
callback_postsending_exception_storage, callback_login_logout, callback_message_recall,
callback_single_read_ack, callback_contact and callback_group_* pages give the bodies.

- **Rules** (`add_sync`, `remove_sync`, `rules_sync`: the CLI) live in storage; each node keeps
  them in memory per app (`post`, `pre`) and reloads them when the rules' version changes
  (`refresh`, called by the delivery worker every `callback_rules_reload_ms`). A rule's secret
  is needed in plain to sign, so it is sealed (AES-GCM) with the server key `callback-secret`
  rather than hashed; it is never shown after `add`.
- **Post-send**: a stored message's callbacks are outbox rows written in the message's own
  transaction (`message_rows`, called by `MessageService.store_and_route`); the other events
  (`session`, `recalled`, `read_ack`, `roster`, `room`) queue rows that the worker writes at once
  (`take_pending`). `services.callback_delivery` delivers them, in the node's delivery process
  (`services.callback_sender`) or on its own loop.
- **Pre-send** (`judge`): a client's message, before it is stored, is put to the app's pre-send
  rules that match it, one after the other; `valid: false` refuses it (`not-acceptable`, the
  answer's `code`), a `payload` replaces a text's `msg` (and `ext`); no answer in time, a non-200
  or a malformed answer applies the rule's `on_failure`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hxim import errors
from hxim.config import Settings
from hxim.model import App, IdGenerator, Message, now_ms
from hxim.services.callback_http import AnswerTooLong, CallbackHttp, HttpFailure
from hxim.storage import Database
from hxim.storage.apps import list_apps_txn
from hxim.storage.callbacks import (
    PENDING,
    RuleRow,
    add_rule_txn,
    callbacks_version_txn,
    failed_slots_txn,
    outbox_depth_txn,
    outbox_insert_txn,
    remove_rule_txn,
    replay_slot_txn,
    rules_txn,
)

if TYPE_CHECKING:
    from hxim.hub.registry import Session
    from hxim.model import Recipients

__all__ = [
    "EVENTS", "KINDS", "CallbackService", "Rule", "RuleError", "signature",
]

log = logging.getLogger(__name__)

KINDS = ("post", "pre")
# post-send events (a rule's --events); chat_offline is asked for by name, the others by default
EVENTS = ("chat", "chat_offline", "login", "logout", "recall", "read_ack", "roster", "group_op")
DEFAULT_EVENTS = frozenset(e for e in EVENTS if e != "chat_offline")
CHAT_TYPES = ("chat", "groupchat", "chatroom")
MSG_TYPES = ("txt", "img", "audio", "video", "file", "loc", "cmd", "custom")
ON_FAILURE = ("pass", "reject")
SECURITY_VERSION = "1.0.0"
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_SEAL_AAD = b"hxim callback secret"
_ROOM_TYPES = {"group": "GROUP", "chatroom": "CHATROOM"}
APP_OPERATOR = "@ppAdmin"  # Easemob's operator when the app itself acted


class RuleError(ValueError):
    """A rule refused: one plain line naming the value."""


_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))  # no two processes alike


def call_id(appkey: str) -> str:
    """A callback's `callId`: `{appkey}_{uuid}` with a random (version 4) UUID. Unique is all it
    must be (the signature is what a receiver trusts), so its bits come from a seeded generator:
    `uuid.uuid4()` asks the kernel each time and was a third of a message's callback row."""
    h = f"{_ids.getrandbits(128):032x}"
    return f"{appkey}_{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def signature(call_id: str, secret: str, stamp: int) -> str:
    """Easemob's `security`: md5(callId + secret + timestamp), lower-case hex."""
    return hashlib.md5(f"{call_id}{secret}{stamp}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    app_uuid: str
    name: str
    kind: str
    url: str
    secret: str
    events: frozenset[str]  # as asked; for a post-send rule, empty means DEFAULT_EVENTS
    chat_types: frozenset[str]  # empty: every chat type
    msg_types: frozenset[str]  # empty: every message type
    on_failure: str
    timeout_ms: int
    created: int

    @property
    def effective_events(self) -> frozenset[str]:
        return self.events or (DEFAULT_EVENTS if self.kind == "post" else frozenset())

    def wants_message(self, chat_type: str, msg_type: str | None) -> bool:
        return (not self.chat_types or chat_type in self.chat_types) and (
            not self.msg_types or msg_type in self.msg_types
        )

    def public(self) -> dict[str, Any]:
        """The rule as `hxim callback list --json` shows it (never its secret)."""
        return {
            "name": self.name, "kind": self.kind, "url": self.url, "events": sorted(self.effective_events),
            "chat_types": sorted(self.chat_types), "msg_types": sorted(self.msg_types),
            "on_failure": self.on_failure, "timeout_ms": self.timeout_ms, "created": self.created,
        }


def _listed(value: str | Iterable[str] | None, known: Sequence[str], what: str) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    out = set()
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item not in known:
            raise RuleError(f"unknown {what} [{item}]; known: {', '.join(known)}")
        out.add(item)
    return frozenset(out)


class _Sealer:
    """AES-GCM with the server key: a rule's secret is kept unreadable without that key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, secret: str) -> bytes:
        nonce = os.urandom(12)
        return b"\x01" + nonce + self._aead.encrypt(nonce, secret.encode(), _SEAL_AAD)

    def open(self, blob: bytes) -> str:
        if blob[:1] != b"\x01":
            raise ValueError("unknown sealing")
        return self._aead.decrypt(blob[1:13], blob[13:], _SEAL_AAD).decode()


class CallbackService:
    def __init__(self, db: Database, settings: Settings, ids: IdGenerator) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        self.host = f"hxim@{socket.gethostname()}"
        self.domain = settings.xmpp_domain
        # the rules in effect, per app id: read for every message (an empty dict: no app has any)
        self.post: dict[str, tuple[Rule, ...]] = {}
        self.pre: dict[str, tuple[Rule, ...]] = {}
        self.rules: dict[int, Rule] = {}
        self.appkeys: dict[str, str] = {}  # app id -> appkey, for events that know only the app's id
        self.version = -1
        self._sealer: _Sealer | None = None
        self._pending: list[dict[str, Any]] = []  # event callbacks the worker writes next
        self.http = CallbackHttp(settings.callback_concurrency_per_rule)  # kept connections per receiver
        self._gates: dict[int, asyncio.Semaphore] = {}  # pre-send: requests of one rule at once
        self.wake: Any = lambda: None  # set by the delivery worker (or process): new rows to deliver
        self.counters: dict[str, int] = {
            "presend_rejected": 0, "presend_failed_passed": 0, "presend_failed_rejected": 0,
        }
        self.failures: dict[int, int] = {}  # failed tries by rule id, pre-send and post-send (/metrics)

    # --- the rules --------------------------------------------------------------------------------
    def open_sync(self, key: bytes) -> None:
        """Take the sealing key and load the rules (the node opens)."""
        self._sealer = _Sealer(key)
        version, rows, apps = self.db.run_sync(_snapshot_txn, write=False)
        self._install(version, rows, apps)

    async def refresh(self) -> bool:
        """Reload the rules if they changed since they were loaded; whether they did."""
        if await self.db.read(callbacks_version_txn) == self.version:
            return False
        version, rows, apps = await self.db.read(_snapshot_txn)
        self._install(version, rows, apps)
        return True

    def _install(self, version: int, rows: list[RuleRow], apps: list[App]) -> None:
        assert self._sealer is not None
        rules: dict[int, Rule] = {}
        for r in rows:
            try:
                secret = self._sealer.open(r.secret)
            except (InvalidTag, ValueError):
                log.error("callbacks: rule %s of app %s cannot be unsealed (another server key?); left out",
                          r.name, r.app_uuid)
                continue
            rules[r.id] = Rule(
                r.id, r.app_uuid, r.name, r.kind, r.url, secret, _split(r.events), _split(r.chat_types),
                _split(r.msg_types), r.on_failure, r.timeout_ms, r.created,
            )
        post: dict[str, list[Rule]] = {}
        pre: dict[str, list[Rule]] = {}
        for rule in rules.values():
            (post if rule.kind == "post" else pre).setdefault(rule.app_uuid, []).append(rule)
        self.post = {k: tuple(v) for k, v in post.items()}
        self.pre = {k: tuple(v) for k, v in pre.items()}
        self.appkeys = {a.id: a.appkey for a in apps}
        for gone in set(self.rules) - set(rules):
            self._gates.pop(gone, None)
            self.failures.pop(gone, None)
        self.rules = rules
        self.version = version

    def validate(
        self,
        name: str,
        url: str,
        secret: str,
        kind: str = "post",
        events: str | Iterable[str] | None = None,
        chat_types: str | Iterable[str] | None = None,
        msg_types: str | Iterable[str] | None = None,
        on_failure: str = "pass",
        timeout_ms: int | None = None,
    ) -> dict[str, Any]:
        """A rule's values checked (RuleError names the first bad one), as storage keeps them
        (the secret still in plain)."""
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise RuleError(f"callback name [{name}] must be 1 to 64 letters, digits, '_', '-' or '.'")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
            raise RuleError(f"callback URL [{url}] is not an http:// or https:// URL")
        if not isinstance(secret, str) or not secret.strip():
            raise RuleError("callback secret must not be empty")
        if len(secret) > 256:
            raise RuleError("callback secret must be at most 256 characters")
        if kind not in KINDS:
            raise RuleError(f"callback kind [{kind}] must be post or pre")
        wanted = _listed(events, EVENTS, "callback event")
        if kind == "pre" and wanted:
            raise RuleError("a pre-send rule judges messages only: it takes no --events")
        if on_failure not in ON_FAILURE:
            raise RuleError(f"--on-failure [{on_failure}] must be pass or reject")
        timeout = self.settings.callback_presend_timeout_ms if timeout_ms is None else timeout_ms
        if not isinstance(timeout, int) or not 1 <= timeout <= 60_000:
            raise RuleError(f"--timeout-ms [{timeout_ms}] must be a number of milliseconds from 1 to 60000")
        return {
            "name": name, "kind": kind, "url": url, "secret": secret, "events": ",".join(sorted(wanted)),
            "chat_types": ",".join(sorted(_listed(chat_types, CHAT_TYPES, "chat type"))),
            "msg_types": ",".join(sorted(_listed(msg_types, MSG_TYPES, "message type"))),
            "on_failure": on_failure, "timeout_ms": timeout,
        }

    def add_sync(self, app: App, values: dict[str, Any]) -> None:
        """Store a rule checked by `validate`; its secret is sealed here."""
        assert self._sealer is not None
        row = {**values, "app_uuid": app.id, "secret": self._sealer.seal(values["secret"]), "created": now_ms()}
        why = self.db.run_sync(add_rule_txn, row, self.settings.callback_rules_per_app_max)
        if why == "exists":
            raise RuleError(f"app {app.appkey} already has a callback rule named [{values['name']}]")
        if why == "full":
            raise RuleError(f"app {app.appkey} already has {self.settings.callback_rules_per_app_max} callback rules")

    def seal_secret(self, secret: str) -> bytes:
        """A rule's secret as this server stores it (an imported rule's)."""
        assert self._sealer is not None
        return self._sealer.seal(secret)

    def open_secret(self, sealed: bytes) -> str:
        """A stored rule's secret in plain (an export carries it to a server with another key);
        ValueError when this server's key does not open it."""
        assert self._sealer is not None
        try:
            return self._sealer.open(sealed)
        except InvalidTag:
            raise ValueError("sealed with another server key") from None

    def remove_sync(self, app: App, name: str) -> None:
        if not self.db.run_sync(remove_rule_txn, app.id, name):
            raise RuleError(f"app {app.appkey} has no callback rule named [{name}]")

    def rules_sync(self, app: App) -> list[Rule]:
        """The app's rules as stored now, by name."""
        version, rows, apps = self.db.run_sync(_snapshot_txn, write=False)
        self._install(version, rows, apps)
        return sorted((r for r in self.rules.values() if r.app_uuid == app.id), key=lambda r: r.name)

    # --- post-send rows ---------------------------------------------------------------------------
    def _row(self, rule: Rule, body: dict[str, Any], now: int) -> dict[str, Any]:
        return {
            "rule_id": rule.id, "call_id": body["callId"], "stamp": body["timestamp"],
            "body": orjson.dumps(body).decode(), "created": now, "due": now, "state": PENDING,
        }

    def message_rows(
        self, app: App, rules: tuple[Rule, ...], message: Message, offline: bool
    ) -> tuple[dict[str, Any], ...]:
        """The outbox rows of a stored message for the app's post-send `rules` (`offline`: a 1:1
        message whose recipient had no session, for `chat_offline`)."""
        body = message.bodies[0] if message.bodies else {}
        mtype = body.get("type")
        rows = []
        now = now_ms()
        for rule in rules:
            if not rule.wants_message(message.chat_type, mtype):
                continue
            events = rule.effective_events
            if "chat" in events:
                rows.append(self._row(rule, self._message_body(app, message, "chat"), now))
            if offline and "chat_offline" in events and message.chat_type == "chat":
                rows.append(self._row(rule, self._message_body(app, message, "chat_offline"), now))
        return tuple(rows)

    def _message_body(self, app: App, message: Message, event_type: str | None) -> dict[str, Any]:
        """Easemob's callback body of a message (the payload as the history shows it); without
        `eventType` for a pre-send rule."""
        appkey = app.appkey
        body: dict[str, Any] = {"callId": call_id(appkey)}
        if event_type is not None:
            body["eventType"] = event_type
        body["timestamp"] = message.timestamp
        body["chat_type"] = chat_type = message.chat_type
        if chat_type != "chat":
            body["group_id"] = message.to
        body["from"] = message.sender
        body["to"] = message.to
        body["msg_id"] = message.msg_id
        body["payload"] = message.payload()
        body["appkey"] = appkey
        body["host"] = self.host
        return body

    # --- other post-send events -------------------------------------------------------------------
    def wants(self, app_id: str, event: str) -> tuple[Rule, ...]:
        """The app's post-send rules that take `event` (usually none: one dict lookup)."""
        rules = self.post.get(app_id)
        if not rules:
            return ()
        return tuple(r for r in rules if event in r.effective_events)

    def _emit(self, rules: Iterable[Rule], appkey: str, fields: dict[str, Any], chat_type: str | None = None) -> None:
        now = now_ms()
        fields.setdefault("timestamp", now)
        for rule in rules:
            if chat_type is not None and rule.chat_types and chat_type not in rule.chat_types:
                continue
            body = {"callId": call_id(appkey), **fields}
            body.setdefault("appkey", appkey)
            self._pending.append(self._row(rule, body, now))
        if self._pending:
            self.wake()

    def take_pending(self) -> list[dict[str, Any]]:
        rows, self._pending = self._pending, []
        return rows

    @property
    def pending(self) -> bool:
        """Whether event callbacks wait to be written."""
        return bool(self._pending)

    def put_back(self, rows: list[dict[str, Any]]) -> None:
        """Rows taken that could not be written: the next turn writes them."""
        if rows:
            self._pending[:0] = rows

    async def write_pending(self) -> None:
        """Write the event callbacks queued (kept for the next call if that fails)."""
        rows = self.take_pending()
        if rows:
            try:
                await self.db.write(outbox_insert_txn, rows)
            except BaseException:
                self.put_back(rows)
                raise

    def session(self, session: Session, reason: str) -> None:
        """A session bound (`login`), ended (`logout`), or was replaced or ended by the server
        (`replaced`): Easemob's userStatus callbacks (a `Router` hook, every protocol's sessions)."""
        app_id = str(session.app_uuid)
        rules = self.wants(app_id, "login" if reason == "login" else "logout")
        if not rules:
            return
        appkey = self.appkeys.get(app_id, "")
        user = session.user
        name = user.username if user is not None else session.user_key
        self._emit(rules, appkey, {
            "reason": reason, "os": session.device, "ip": str(getattr(session, "peer", "") or ""),
            "host": self.host, "appkey": appkey, "user": f"{appkey}_{name}@{self.domain}/{session.resource}",
            "version": "", "status": "online" if reason == "login" else "offline",
        })

    def recalled(self, app: App, message: Message, by: str) -> None:
        """A message was recalled (by its sender, or by the app: `admin`)."""
        rules = self.wants(app.id, "recall")
        if rules:
            fields: dict[str, Any] = {
                "chat_type": "recall", "payload": {"ext": {}, "ack_message_id": message.msg_id, "bodies": []},
                "host": self.host, "from": message.sender if by.lower() == message.sender.lower() else by,
                "recall_id": message.msg_id, "to": message.to, "eventType": "chat", "msg_id": str(self.ids.next()),
            }
            if message.chat_type != "chat":
                fields["group_id"] = message.to
            self._emit(rules, app.appkey, fields, message.chat_type)

    def read_ack(self, app: App, sender: str, to: str, message_id: str) -> None:
        """A client acknowledged reading a 1:1 message (`sender` read `message_id` from `to`)."""
        rules = self.wants(app.id, "read_ack")
        if rules:
            self._emit(rules, app.appkey, {
                "chat_type": "read_ack", "channel_channel": f"{app.appkey}_{to}@conference.{self.domain}",
                "payload": {"ext": {}, "ack_message_id": message_id, "bodies": []}, "host": self.host,
                "from": sender, "to": to, "eventType": "chat", "msg_id": str(self.ids.next()),
            }, "chat")

    def roster(self, app: App, actor: str, to: str, operation: str, **extra: Any) -> None:
        """A contact change (Easemob's roster operations: add, accept, remote_accept, decline,
        remote_decline, remove, ban, allow), done by `actor`, told as concerning `to`."""
        rules = self.wants(app.id, "roster")
        if rules:
            self._emit(rules, app.appkey, {
                "chat_type": "roster", "payload": {**extra, "operation": operation}, "host": self.host,
                "from": f"{app.appkey}_{actor}@{self.domain}", "to": to, "eventType": "chat",
                "msg_id": str(self.ids.next()),
            })

    def room(
        self, app: App, kind: str, rid: str, operation: str, operator: str | None, payload: dict[str, Any] | None
    ) -> None:
        """A group or chat-room operation (Easemob's group_op_event): `operator` None is the app."""
        rules = self.wants(app.id, "group_op")
        if rules:
            fields: dict[str, Any] = {}
            if payload is not None:
                fields["payload"] = payload
            fields.update({
                "appkey": app.appkey, "id": rid, "type": _ROOM_TYPES.get(kind, kind.upper()),
                "event": "group_op_event", "operation": operation, "operator": operator or APP_OPERATOR,
            })
            self._emit(rules, app.appkey, fields, "groupchat" if kind == "group" else "chatroom")

    def failed_try(self, rule: Rule) -> None:
        """A try of `rule` failed (no answer, not a 200, an answer not understood)."""
        self.failures[rule.id] = self.failures.get(rule.id, 0) + 1

    async def outbox_depth(self) -> dict[str, int]:
        """Post-send callbacks waiting in the outbox, `pending` and `failed` (given up)."""
        return await self.db.read(outbox_depth_txn)

    # --- failed callbacks (Easemob's callback exception storage) ------------------------------------
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.history_file_timezone)

    async def failed(self, app: App) -> list[dict[str, Any]]:
        """The app's failed post-send callbacks by ten-minute slice: `date` (yyyyMMddHHmm, the
        slice's start in `history_file_timezone`), `size`, `retry` (replays asked for so far)."""
        zone = self._zone()
        return [
            {"date": datetime.fromtimestamp(start / 1000, zone).strftime("%Y%m%d%H%M"), "size": size, "retry": retry}
            for start, size, retry in await self.db.read(failed_slots_txn, app.id)
        ]

    async def replay(self, app: App, date: str, target_url: str | None) -> int:
        """Try the failed callbacks of the slice `date` names once more (to `target_url` when
        given); how many there were."""
        try:
            if len(date) != 12 or not date.isdecimal() or int(date[-2:]) % 10:
                raise ValueError(date)
            start = datetime.strptime(date, "%Y%m%d%H%M").replace(tzinfo=self._zone())
        except ValueError:
            raise errors.illegal_argument(f"date [{date}] must be yyyyMMddHHmm, at a multiple of ten minutes") from None
        if target_url is not None:
            parts = urlsplit(target_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or len(target_url) > 2048:
                raise errors.illegal_argument(f"targetUrl [{target_url}] is not an http:// or https:// URL")
        count = await self.db.write(replay_slot_txn, app.id, int(start.timestamp() * 1000), target_url, now_ms())
        if count:
            self.wake()
        return int(count)

    # --- pre-send ---------------------------------------------------------------------------------
    async def judge(
        self, app: App, sender: str, chat_type: str, plans: list[Recipients], idents: list[int],
        bodies: tuple[dict[str, Any], ...], ext: dict[str, Any] | None,
    ) -> tuple[tuple[dict[str, Any], ...], dict[str, Any] | None]:
        """Put a client's message to the app's pre-send rules that match it, before it is stored:
        the bodies and ext to store (rewritten by a rule), or `errors.HximError` (not-acceptable)."""
        rules = self.pre.get(app.id, ())
        for rule in rules:
            mtype = bodies[0].get("type") if bodies else None
            if not rule.wants_message(chat_type, mtype):
                continue
            for plan, ident in zip(plans, idents, strict=True):
                bodies, ext = await self._ask(app, rule, sender, chat_type, plan.to, ident, bodies, ext)
        return bodies, ext

    async def _ask(
        self, app: App, rule: Rule, sender: str, chat_type: str, to: str, ident: int,
        bodies: tuple[dict[str, Any], ...], ext: dict[str, Any] | None,
    ) -> tuple[tuple[dict[str, Any], ...], dict[str, Any] | None]:
        stamp = IdGenerator.timestamp_of(ident)
        call = call_id(app.appkey)
        payload = dict(bodies[0]) if bodies else {}
        if ext is not None:
            payload["ext"] = ext
        body: dict[str, Any] = {"callId": call, "timestamp": stamp, "chat_type": chat_type}
        if chat_type != "chat":
            body["group_id"] = to
        body.update({
            "from": sender, "to": to, "msg_id": str(ident), "payload": payload, "appkey": app.appkey,
            "host": self.host, "securityVersion": SECURITY_VERSION, "security": signature(call, rule.secret, stamp),
        })
        answer: Any = None
        why = ""
        gate = self._gates.get(rule.id)
        if gate is None:
            gate = self._gates[rule.id] = asyncio.Semaphore(self.settings.callback_concurrency_per_rule)
        try:
            async with asyncio.timeout(rule.timeout_ms / 1000), gate:
                status, text = await self.http.post(
                    rule.url, orjson.dumps(body), rule.timeout_ms / 1000, self.settings.callback_answer_max_chars
                )
            if status != 200:
                why = f"HTTP {status}"
            else:
                answer = orjson.loads(text)
        except TimeoutError:
            why = "no answer in time"
        except AnswerTooLong:
            why = "answer too long"
        except (HttpFailure, OSError) as exc:
            why = type(exc).__name__
        except orjson.JSONDecodeError:
            why = "answer is not JSON"
        if not why and (not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool)):
            why = "answer has no boolean valid"
        if why:
            self.failed_try(rule)
            if rule.on_failure == "reject":
                self.counters["presend_failed_rejected"] += 1
                log.info("callbacks: pre-send rule %s failed (%s): message refused", rule.name, why)
                raise _rejected("custom internal error")
            self.counters["presend_failed_passed"] += 1
            log.info("callbacks: pre-send rule %s failed (%s): message passed", rule.name, why)
            return bodies, ext
        assert isinstance(answer, dict)
        if answer["valid"] is False:
            self.counters["presend_rejected"] += 1
            code = answer.get("code")
            if not isinstance(code, str):
                raise _rejected("custom logic denied" if "code" not in answer else "Message blocked by external logic")
            raise _rejected(code or "Message blocked by external logic")
        new = answer.get("payload")
        if isinstance(new, dict) and bodies and bodies[0].get("type") == "txt":
            if isinstance(new.get("msg"), str):
                bodies = ({**bodies[0], "msg": new["msg"]}, *bodies[1:])
            if isinstance(new.get("ext"), dict):
                ext = new["ext"]
        return bodies, ext

    def close(self) -> None:
        self.http.close()


def _rejected(code: str) -> errors.HximError:
    return errors.HximError(403, "message_rejected", code, None, "not-acceptable")


def _split(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)


def _snapshot_txn(conn: Any) -> tuple[int, list[RuleRow], list[App]]:
    return callbacks_version_txn(conn), rules_txn(conn), list_apps_txn(conn)
