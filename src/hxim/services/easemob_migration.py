"""Copying an app from an Easemob REST API into this database: `hxim migrate-from-easemob`
(docs/migrating.md; the calls are those of easemob-rest.md §3, §4, §6, §7 and §9.2, which
Easemob's cloud serves as hxim does).

The source is read through `EasemobClient` (the app's admin token, retries of 429 and 5xx with
backoff, a pace of `migration_requests_per_second`) and written here through the services and
storage, never over HTTP, in five phases, each a walk over the source's pages:

1. `users`: each user (`GET /users?limit&cursor`) registered with a random password (Easemob never
   reveals passwords), its nickname, push fields and activation, and its attributes (`GET
   /metadata/user/{u}`);
2. `contacts`: each user's contacts and block list (`GET /users/{u}/contacts/users`, `…/blocks/users`),
   each direction as the source stores it;
3. `groups` and 4. `chatrooms`: each room (`GET /chatgroups?limit&cursor`, its details by the page
   `GET /chatgroups/{id,id,…}`, then its members by pages, admins, mutes, block list and
   announcement), written with its own id and creation time (`storage.room_copies`);
5. `messages`: the history files (`GET /chatmessages/{yyyyMMddHH}`, a link to one hour of
   messages as gzip'd JSON lines), each message imported with its own id and time
   (`ImportService`), delivered to nobody.

Resumable: a state file records each phase's progress (the source's cursor of the next page, the
next hour, what was counted) after every page, so that a run that stopped goes on where it
stopped; once every phase is done, the next run is a new pass. Idempotent: what is here already is
left as it is (a user, a contact, a member, a message of the same id), so a second pass writes
only what changed on the source since (new users, members, messages; a user's new nickname or
activation) and counts nothing new otherwise. It never deletes.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import orjson

from hxim.config import Settings
from hxim.easemob_client import EasemobClient, Reply, seg
from hxim.errors import HximError
from hxim.model import App, User, now_ms
from hxim.services.message_import import ImportMessage, ImportService
from hxim.services.room_common import MUTE_FOREVER
from hxim.services.user_metadata import UserMetadataService
from hxim.services.users import IGNORE_PREFIX, PROFILE_FIELDS, UserService
from hxim.storage import Database
from hxim.storage.groups import ADMIN, MEMBER, OWNER
from hxim.storage.room_copies import RoomCopy, copy_room_txn
from hxim.storage.social import copy_list_txn

__all__ = [
    "PHASES",
    "CHANGES",
    "EasemobMigration",
    "MigrationError",
    "MigrationState",
    "PhaseState",
    "Plan",
    "Progress",
]

PHASES = ("users", "contacts", "groups", "chatrooms", "messages")
# the counts of each phase, in the order they are shown; CHANGES: those that say something was written
COUNTS = {
    "users": ("read", "new", "updated", "skipped"),
    "contacts": ("users", "contacts", "blocks", "skipped"),
    "groups": ("read", "new", "members", "admins", "mutes", "blocks", "skipped"),
    "chatrooms": ("read", "new", "members", "admins", "mutes", "blocks", "skipped"),
    "messages": ("hours", "files", "read", "new", "present", "skipped"),
}
CHANGES = {
    "users": ("new", "updated"),
    "contacts": ("contacts", "blocks"),
    "groups": ("new", "members", "admins", "mutes", "blocks"),
    "chatrooms": ("new", "members", "admins", "mutes", "blocks"),
    "messages": ("new",),
}
_FORMAT = "hxim-easemob-migration"
_HOUR = "%Y%m%d%H"
_NO_FILE = "expired or unstored"  # Easemob's 400 for an hour whose history file is gone or not written yet
_MAX_ID = (1 << 63) - 1
T = TypeVar("T")
R = TypeVar("R")


class MigrationError(Exception):
    """The migration cannot go on; the message says why in one line. `resumable`: a run stopped
    on the way (run again, it goes on), not one refused before it began."""

    def __init__(self, text: str, resumable: bool = True) -> None:
        super().__init__(text)
        self.resumable = resumable


@dataclass(frozen=True, slots=True)
class Plan:
    """What to copy into: the app here, the page size of the source's lists, and the time zone
    the source names its history hours in (None: not known, so every zone's hours are asked for).
    The messages' time range is the state's (`MigrationState.since`, `until`)."""

    app: App
    page_size: int
    history_zone: ZoneInfo | None = None


@dataclass
class PhaseState:
    """One phase's progress: whether it is done, where it goes on (the source's cursor of the
    next page; for messages the next hour, `yyyyMMddHH`), what it counted, and the time it took."""

    name: str
    done: bool = False
    cursor: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.counts = {key: self.counts.get(key, 0) for key in COUNTS[self.name]}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    @property
    def changes(self) -> int:
        return sum(self.counts[k] for k in CHANGES[self.name])

    def record(self) -> dict[str, Any]:
        return {"done": self.done, "cursor": self.cursor, "counts": self.counts, "seconds": round(self.seconds, 3)}


class MigrationState:
    """The state file of one migration (JSON, replaced whole after every page): which source and
    app it is of, the pass's time range of messages, and each phase's progress."""

    def __init__(self, path: Path | None, source: str, target: str, since: int, until: int) -> None:
        self.path = path
        self.source = source
        self.target = target
        self.since = since
        self.until = until
        self.phases = {name: PhaseState(name) for name in PHASES}
        self.resumed = False

    @classmethod
    def open(cls, path: Path | None, source: str, target: str, since: int) -> MigrationState:
        """The state of `path` when it holds an unfinished migration of `source` into `target`
        (resumed: its own range of messages is kept), else a new pass (messages from `since`)."""
        fresh = cls(path, source, target, since, now_ms())
        if path is None or not path.exists():
            return fresh
        try:
            record = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            raise MigrationError(f"{path} is not a migration state file (not JSON); name another with --state") \
                from None
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            raise MigrationError(f"{path} is not a migration state file; name another with --state")
        if (record.get("source"), record.get("target")) != (source, target):
            raise MigrationError(
                f"{path} is the state of the migration of {record.get('source')} into {record.get('target')}; "
                "name another file with --state"
            )
        phases = record.get("phases")
        if not isinstance(phases, dict):
            raise MigrationError(f"{path} is not a migration state file; name another with --state")
        if all(isinstance(phases.get(name), dict) and phases[name].get("done") for name in PHASES):
            return fresh  # the last pass finished: this is a new one
        state = cls(path, source, target, int(record.get("since", since)), int(record.get("until", fresh.until)))
        for name in PHASES:
            found = phases.get(name)
            if isinstance(found, dict):
                counts = found.get("counts")
                state.phases[name] = PhaseState(
                    name,
                    bool(found.get("done")),
                    found.get("cursor") if isinstance(found.get("cursor"), str) else None,
                    {k: int(v) for k, v in counts.items() if isinstance(v, int)} if isinstance(counts, dict) else {},
                    float(found.get("seconds", 0.0)),
                )
        state.resumed = True
        return state

    def save(self) -> None:
        if self.path is None:
            return
        record = {
            "format": _FORMAT,
            "source": self.source,
            "target": self.target,
            "since": self.since,
            "until": self.until,
            "phases": {name: phase.record() for name, phase in self.phases.items()},
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
        os.replace(partial, self.path)

    @property
    def changes(self) -> int:
        return sum(p.changes for p in self.phases.values())


class Progress(Protocol):
    """Who is told how the migration goes (the CLI: lines on stderr)."""

    def phase(self, state: PhaseState, finished: bool) -> None:
        """A page of the phase is done (`finished`: the whole phase)."""

    def resumed(self, state: PhaseState) -> None:
        """The phase was done by the run this one resumes."""

    def warn(self, text: str) -> None:
        """Something left out, said in plain words."""


def _describe(reply: Reply) -> str:
    status, body = reply
    if isinstance(body, dict):
        text = body.get("error_description") or body.get("error")
        if isinstance(text, str) and text:
            return f"{status} ({text})"
    return str(status)


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _flag(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def _number(value: Any) -> int | None:
    if isinstance(value, str) and value.isdecimal() and len(value) < 20:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_ID:
        return value
    return None


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def history_hours(since: int, until: int, zone: ZoneInfo | None) -> tuple[str, str]:
    """The first and the last hour (`yyyyMMddHH`) to ask for, for messages from `since` to `until`
    (ms): in `zone`; without one, hours that cover [since, until] whatever the source's zone
    (from UTC-12 to UTC+14)."""
    start = datetime.fromtimestamp(since / 1000, UTC)
    end = datetime.fromtimestamp(until / 1000, UTC)
    if zone is not None:
        start, end = start.astimezone(zone), end.astimezone(zone)
    else:
        start, end = start - timedelta(hours=12), end + timedelta(hours=14)
    return start.strftime(_HOUR), end.strftime(_HOUR)


def _next_hour(name: str) -> str:
    return (datetime.strptime(name, _HOUR) + timedelta(hours=1)).strftime(_HOUR)


def history_records(raw: bytes) -> list[dict[str, Any]]:
    """The records of a history file: gzip'd (or not) JSON, one record a line or one array."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    records: list[Any] = []
    try:
        records = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        try:
            whole = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MigrationError("a history file of the source is not JSON lines") from None
        records = whole if isinstance(whole, list) else [whole]
    if len(records) == 1 and isinstance(records[0], list):
        records = records[0]
    return [r for r in records if isinstance(r, dict)]


class EasemobMigration:
    """Copies an app from a source Easemob REST API into an app here (`run`)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        users: UserService,
        metadata: UserMetadataService,
        imports: ImportService,
    ) -> None:
        self.db = db
        self.settings = settings
        self.users = users
        self.metadata = metadata
        self.imports = imports

    @staticmethod
    async def check_source(source: EasemobClient) -> None:
        """The source answers, and gives an admin token for the client id and secret."""
        status, body = await source.token()
        if status == 200:
            return
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, str) and error.startswith("upstream_"):  # no answer: said as the client says it
            raise MigrationError(str(body.get("error_description")), resumable=False)
        raise MigrationError(
            f"the source refused the client id and secret: {_describe((status, body))}", resumable=False
        )

    async def run(self, source: EasemobClient, plan: Plan, state: MigrationState, progress: Progress) -> None:
        """Every phase not done yet, in order; the state is saved after every page."""
        await self.check_source(source)
        run = _Run(self, source, plan, state, progress)
        steps: dict[str, Callable[[PhaseState], Awaitable[None]]] = {
            "users": run.users,
            "contacts": run.contacts,
            "groups": lambda p: run.rooms(p, "chatgroups", "group"),
            "chatrooms": lambda p: run.rooms(p, "chatrooms", "chatroom"),
            "messages": run.messages,
        }
        for name in PHASES:
            phase = state.phases[name]
            if phase.done:
                progress.resumed(phase)
                continue
            began = time.monotonic() - phase.seconds
            run.began = began
            await steps[name](phase)
            phase.done = True
            phase.cursor = None
            phase.seconds = time.monotonic() - began
            state.save()
            progress.phase(phase, True)


class _Run:
    """One run of a migration: the source, the plan, and where it stands."""

    def __init__(
        self, owner: EasemobMigration, source: EasemobClient, plan: Plan, state: MigrationState, progress: Progress
    ) -> None:
        self.m = owner
        self.source = source
        self.plan = plan
        self.app = plan.app
        self.state = state
        self.progress = progress
        self.began = time.monotonic()
        self._slots = asyncio.Semaphore(owner.settings.migration_concurrency)
        self._next_history = 0.0  # monotonic time the next history file may be asked for

    # --- the source -------------------------------------------------------------------------------
    async def get(self, path: str, params: dict[str, str] | None = None, missing_ok: bool = False) -> Any:
        """The JSON answer of `GET {path}`; None for a 404 when `missing_ok`."""
        async with self._slots:
            reply = await self.source.call("GET", path, params=params)
        if reply[0] == 200:
            return reply[1]
        if missing_ok and reply[0] == 404:
            return None
        raise MigrationError(f"the source answered GET {path} with {_describe(reply)}")

    async def each(self, items: Iterable[T], fn: Callable[[T], Awaitable[R]]) -> list[R]:
        """`fn` of every item, `migration_concurrency` source calls at a time (`get` holds a slot)."""
        return list(await asyncio.gather(*(fn(item) for item in items)))

    async def pages(self, phase: PhaseState, path: str, key: str) -> AsyncIterator[list[dict[str, Any]]]:
        """The pages of a list the source pages with `limit` and `cursor` (`key`: the answer's list,
        `entities` or `data`), from the phase's cursor; the phase's cursor moves (and the state is
        saved) once the caller is done with a page."""
        while True:
            params = {"limit": str(self.plan.page_size)}
            if phase.cursor:
                params["cursor"] = phase.cursor
            body = await self.get(path, params)
            found = body.get(key) if isinstance(body, dict) else None
            if isinstance(found, dict):  # a list of one, as some Easemob pages show it
                found = [found]
            yield [item for item in found or [] if isinstance(item, dict)]
            cursor = body.get("cursor") if isinstance(body, dict) else None
            if not isinstance(cursor, str) or not cursor or not found or cursor == phase.cursor:
                return
            phase.cursor = cursor
            self.page_done(phase)

    def page_done(self, phase: PhaseState) -> None:
        phase.seconds = time.monotonic() - self.began
        self.state.save()
        self.progress.phase(phase, False)

    # --- 1. users ---------------------------------------------------------------------------------
    async def users(self, phase: PhaseState) -> None:
        async for page in self.pages(phase, "/users", "entities"):
            await self._user_page(phase, page)

    async def _user_page(self, phase: PhaseState, entities: list[dict[str, Any]]) -> None:
        m, app, s = self.m, self.app, self.m.settings
        wanted: dict[str, dict[str, Any]] = {}
        for entity in entities:
            name = entity.get("username")
            phase.add("read")
            problem = m.users.username_problem(name) if isinstance(name, str) else "a user without a username"
            if problem is not None or not isinstance(name, str):
                phase.add("skipped")
                self.progress.warn(f"user skipped: {problem}")
                continue
            wanted.setdefault(name.lower(), entity)
        present = {u.key: u for u in await m.users.get_many(app, list(wanted))}
        new = [
            {"username": e["username"], "password": self._random_password(), "nickname": self._nickname(e)}
            for key, e in wanted.items()
            if key not in present
        ]
        for i in range(0, len(new), s.register_batch_max):
            for user in await m.users.register(app, new[i : i + s.register_batch_max]):
                present[user.key] = user
        phase.add("new", len(new))
        fresh = {n["username"].lower() for n in new}

        async def settle(key: str) -> None:
            entity, user = wanted[key], present.get(key)
            if user is None:
                return
            changed = await self._user_fields(entity, user)
            changed = await self._attributes(user) or changed
            if changed and key not in fresh:
                phase.add("updated")

        await self.each(list(wanted), settle)

    def _random_password(self) -> str:
        """A password nobody knows (Easemob never gives out the user's own)."""
        return secrets.token_urlsafe(32)[: min(32, self.m.settings.password_max_length)]

    def _nickname(self, entity: dict[str, Any]) -> str | None:
        nick = entity.get("nickname")
        if not isinstance(nick, str) or not nick:
            return None
        if len(nick) > self.m.settings.nickname_max_length:
            self.progress.warn(
                f"user {entity['username']}: nickname left out (longer than {self.m.settings.nickname_max_length})"
            )
            return None
        return nick

    async def _user_fields(self, entity: dict[str, Any], user: User) -> bool:
        """The user's nickname, push fields and activation as the source has them; whether any changed."""
        users, app = self.m.users, self.app
        fields: dict[str, Any] = {}
        nick = self._nickname(entity)
        if nick is not None and nick != user.nickname:
            fields["nickname"] = nick
        for name, value in entity.items():
            if name in PROFILE_FIELDS or name.startswith(IGNORE_PREFIX):
                types = PROFILE_FIELDS.get(name, (bool,))
                fits = isinstance(value, types) and (not isinstance(value, bool) or bool in types)
                if fits and user.profile.get(name) != value:
                    fields[name] = value
        if fields:
            await users.update(app, user.username, fields)
        activated = _flag(entity.get("activated"), True)
        if activated != user.activated:
            await users.set_activated(app, user.username, activated)
        return bool(fields) or activated != user.activated

    async def _attributes(self, user: User) -> bool:
        """The user's attributes (user metadata) as the source has them; whether any changed."""
        body = await self.get(f"/metadata/user/{seg(user.username)}", missing_ok=True)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data:
            return False
        pairs = {k: v if isinstance(v, str) else str(v) for k, v in data.items() if v is not None}
        have = await self.m.metadata.get(self.app, user.username)
        if not pairs or all(have.get(k) == v for k, v in pairs.items()):
            return False
        try:
            await self.m.metadata.set(self.app, None, user.username, pairs)
        except HximError as exc:
            self.progress.warn(f"user {user.username}: attributes left out ({exc.description})")
            return False
        return True

    # --- 2. contacts and blocks -------------------------------------------------------------------
    async def contacts(self, phase: PhaseState) -> None:
        async for page in self.pages(phase, "/users", "entities"):
            names = [e["username"] for e in page if isinstance(e.get("username"), str) and e["username"]]
            await self.each(names, lambda name: self._lists_of(phase, name))

    async def _lists_of(self, phase: PhaseState, name: str) -> None:
        phase.add("users")
        for which, path in (("contacts", "contacts"), ("blocks", "blocks")):
            body = await self.get(f"/users/{seg(name)}/{path}/users", missing_ok=True)
            listed = _names(body.get("data")) if isinstance(body, dict) else []
            if not listed:
                continue
            done = await self.m.db.write(copy_list_txn, self.app.id, name, listed, which, now_ms())
            if done is None:  # a user left out in the users phase
                return
            added, unknown = done
            phase.add(which, added)
            if unknown:
                phase.add("skipped", len(unknown))
                self.progress.warn(f"user {name}: {which} left out, no such users here: {', '.join(unknown[:5])}")

    # --- 3, 4. groups and chat rooms --------------------------------------------------------------
    async def rooms(self, phase: PhaseState, family: str, kind: str) -> None:
        async for page in self.pages(phase, f"/{family}", "data"):
            ids = [str(r.get("groupid") or r.get("id") or "") for r in page]
            ids = [i for i in ids if i]
            phase.add("read", len(ids))
            if not ids:
                continue
            body = await self.get(f"/{family}/{','.join(seg(i) for i in ids)}", missing_ok=True)
            details = body.get("data") if isinstance(body, dict) else None
            if isinstance(details, dict):
                details = [details]
            found = {
                str(d.get("id") or d.get("groupid")): d
                for d in details or []
                if isinstance(d, dict) and "error" not in d
            }
            await self.each([(rid, found.get(rid)) for rid in ids], lambda it: self._room(phase, family, kind, *it))

    async def _room(self, phase: PhaseState, family: str, kind: str, rid: str, details: dict[str, Any] | None) -> None:
        what = "group" if kind == "group" else "chat room"
        ident = _number(rid)
        if ident is None or ident == 0:
            phase.add("skipped")
            self.progress.warn(f"{what} {rid} skipped: hxim keeps numeric room ids only")
            return
        if details is None:
            phase.add("skipped")
            self.progress.warn(f"{what} {rid} skipped: the source no longer has it")
            return
        base = f"/{family}/{seg(rid)}"
        members = await self._members(base)
        admins, mutes, blocks, notice = await asyncio.gather(
            self.get(base + "/admin", missing_ok=True),
            self.get(base + "/mute", missing_ok=True),
            self.get(base + "/blocks/users", missing_ok=True),
            self.get(base + "/announcement", missing_ok=True),
        )
        if members is None or admins is None or mutes is None:
            phase.add("skipped")
            self.progress.warn(f"{what} {rid} skipped: the source no longer has it")
            return
        admin_names = {n.lower() for n in _names(admins.get("data") if isinstance(admins, dict) else None)}
        owner = _text(details.get("owner")) or next((n for n, r in members if r == OWNER), "")
        muted = mutes.get("data") if isinstance(mutes, dict) else None
        text = notice.get("data") if isinstance(notice, dict) else None
        group = kind == "group"
        copy = RoomCopy(
            id=ident,
            kind=kind,
            name=_text(details.get("name")),
            owner=owner,
            created=_number(details.get("created")) or now_ms(),
            description=_text(details.get("description")),
            public=_flag(details.get("public"), True) if group else True,
            membersonly=_flag(details.get("membersonly"), False) if group else False,
            allowinvites=_flag(details.get("allowinvites"), False) if group else False,
            invite_need_confirm=_flag(details.get("invite_need_confirm"), True) if group else False,
            maxusers=_number(details.get("maxusers")) or 200,
            custom=_text(details.get("custom")),
            mute_until=MUTE_FOREVER if _flag(details.get("mute"), False) else 0,
            disabled=_flag(details.get("disabled"), False),
            announcement=_text(text.get("announcement")) if isinstance(text, dict) else "",
            members=tuple(
                (n, ADMIN if n.lower() in admin_names else MEMBER) for n, role in members if role != OWNER
            ),
            mutes=tuple(
                (m["user"], _number(m.get("expire")) or MUTE_FOREVER)
                for m in (muted if isinstance(muted, list) else [])
                if isinstance(m, dict) and isinstance(m.get("user"), str)
            ),
            blocks=tuple(_names(blocks.get("data") if isinstance(blocks, dict) else None)),
        )
        copied = await self.m.db.write(copy_room_txn, self.app.id, copy, now_ms())
        if copied.refused is not None:
            phase.add("skipped")
            self.progress.warn(f"{what} {rid} skipped: {copied.refused}")
            return
        phase.add("new", int(copied.created))
        for key in ("members", "admins", "mutes", "blocks"):
            phase.add(key, getattr(copied, key))
        if copied.unknown:
            self.progress.warn(f"{what} {rid}: no such users here, left out: {', '.join(copied.unknown[:5])}")

    async def _members(self, base: str) -> list[tuple[str, str]] | None:
        """(username, role) of a room's members, page by page (`pagenum`, `pagesize`); None when
        the source no longer has the room."""
        size = self.plan.page_size
        out: dict[str, tuple[str, str]] = {}
        number = 1
        while True:
            body = await self.get(base + "/users", {"pagenum": str(number), "pagesize": str(size)}, missing_ok=True)
            if body is None:
                return None
            page = body.get("data") if isinstance(body, dict) else None
            entries = [e for e in page if isinstance(e, dict)] if isinstance(page, list) else []
            before = len(out)
            for entry in entries:
                for role, name in entry.items():
                    if isinstance(name, str) and name:
                        out.setdefault(name.lower(), (name, OWNER if role == OWNER else MEMBER))
            if len(entries) < size or len(out) == before:  # the last page (or a source that ignores pagenum)
                return list(out.values())
            number += 1

    # --- 5. messages ------------------------------------------------------------------------------
    async def messages(self, phase: PhaseState) -> None:
        first, last = history_hours(self.state.since, self.state.until, self.plan.history_zone)
        hour = phase.cursor or first
        skipped: Counter[str] = Counter()
        while hour <= last:
            await self._hour(phase, hour, skipped)
            hour = _next_hour(hour)
            phase.cursor = hour
            self.page_done(phase)
        for reason, n in skipped.most_common(10):
            self.progress.warn(f"{n:,} message{'' if n == 1 else 's'} skipped: {reason}")
        if len(skipped) > 10:
            self.progress.warn(f"{sum(skipped.values()) - sum(n for _, n in skipped.most_common(10)):,} more "
                               "messages skipped for other reasons")

    async def _hour(self, phase: PhaseState, hour: str, skipped: Counter[str]) -> None:
        phase.add("hours")
        per_minute = self.m.settings.migration_history_requests_per_minute
        if per_minute > 0:  # Easemob answers 429 to more than 10 a minute: no use asking
            wait = self._next_history - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_history = time.monotonic() + 60.0 / per_minute
        async with self._slots:
            reply = await self.source.call("GET", f"/chatmessages/{hour}")
        status, body = reply
        if status == 404 or (status == 400 and _NO_FILE in _describe(reply)):
            return
        links = body.get("data") if status == 200 and isinstance(body, dict) else None
        if not isinstance(links, list):
            raise MigrationError(f"the source answered GET /chatmessages/{hour} with {_describe(reply)}")
        for link in links:
            url = link.get("url") if isinstance(link, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                continue
            async with self._slots:
                got, raw = await self.source.download(url)
            if got != 200 or not isinstance(raw, bytes):
                reason = _describe((got, raw))
                raise MigrationError(f"the history file of hour {hour} could not be downloaded: {reason}")
            phase.add("files")
            for record in history_records(raw):
                await self._message(phase, record, skipped)

    async def _message(self, phase: PhaseState, record: dict[str, Any], skipped: Counter[str]) -> None:
        stamp = _number(record.get("timestamp"))
        if stamp is None or not self.state.since <= stamp <= self.state.until:
            return  # outside the messages asked for
        phase.add("read")
        found = record.get("payload")
        payload: dict[str, Any] = found if isinstance(found, dict) else {}
        chat_type = record.get("chat_type")
        bodies = payload.get("bodies")
        ext = payload.get("ext")
        sender = _text(payload.get("from")) or _text(record.get("from"))
        target = _text(payload.get("to")) or _text(record.get("to"))
        msg_id = _number(record.get("msg_id"))
        why = None
        if chat_type not in ("chat", "groupchat", "chatroom"):
            why = f"a chat type hxim does not keep ({chat_type})"
        elif msg_id is None:
            why = "an id that is not a number"
        elif not sender or not target:
            why = "no sender or no recipient"
        elif not isinstance(bodies, list) or not bodies or not isinstance(bodies[0], dict):
            why = "no body"
        if why is not None:
            phase.add("skipped")
            skipped[why] += 1
            return
        assert isinstance(chat_type, str) and isinstance(bodies, list) and msg_id is not None
        cmd = ImportMessage(chat_type, sender, target, bodies[0], ext if isinstance(ext, dict) and ext else None,
                            stamp, msg_id)
        try:
            await self.m.imports.import_message(self.app, cmd)
        except HximError as exc:
            if exc.error != "duplicate_unique_property_exists":
                phase.add("skipped")
                skipped[exc.description] += 1
            elif await self.m.imports.messages.find(self.app, msg_id) is not None:
                phase.add("present")
            else:  # ids are unique across the database
                phase.add("skipped")
                skipped["its id is taken by a message of another app"] += 1
            return
        phase.add("new")
