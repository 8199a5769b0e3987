"""Export and import of one app: `hxim export` writes everything an app holds to one file, and
`hxim import` recreates the app from it in this database (the format and the steps:
docs/backup.md; ejabberd's `export_piefxis`, XEP-0227, plays this part for XMPP servers).

The file is gzip'd JSON Lines: a `header` record, the `app` record, the records of each type in
the order of `storage.app_export.RECORDS`, and an `end` record with how many records of each type
came before it. An export reads the app page by page inside one snapshot of the database, so the
file is one consistent copy while the server goes on; an import writes one batch of records per
transaction. Neither holds the whole app in memory.

An import writes the app under a key no app can have (`~import#<app uuid>`) and gives it its key in
its last transaction, once the `end` record has been read and the counts agree: until that commit
no client or app server sees the app, and an import that fails removes what it wrote.

Passwords move as they are stored (SCRAM keys, bcrypt hashes, the hash of the client secret), so
users log in with the same passwords. A callback rule's secret is the exception: a server seals it
with its own key, so the file carries it in plain and the importing server seals it with its own.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from hxim import __version__
from hxim.config import Settings
from hxim.errors import HximError
from hxim.model import App, now_ms
from hxim.services.apps import check_names
from hxim.services.callbacks import CallbackService
from hxim.storage import Database
from hxim.storage.app_export import (
    KINDS,
    RECORDS,
    BadRecord,
    RecordKind,
    app_by_uuid_txn,
    delete_app_txn,
    insert_records_txn,
    page_txn,
    rename_app_txn,
    schema_revision_txn,
)
from hxim.storage.apps import get_app_txn
from hxim.storage.callbacks import rules_changed_txn

__all__ = ["AppExportService", "TransferError", "Transfer", "FORMAT", "VERSION", "IMPORTING_ORG"]

FORMAT = "hxim-app-export"
VERSION = 1
IMPORTING_ORG = "~import"  # the org of an app while it is imported (no app key can hold a "~")
SEALED = {"callback_rule": "secret"}  # fields the file holds in plain, sealed with the server's key


class TransferError(Exception):
    """An export or import that cannot be done, said in plain words."""


@dataclass
class Transfer:
    """What an export wrote or an import read: the app, the records of each type, and what was
    left out on the way (said in plain words)."""

    app: App
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{t} {n}" for t, n in self.counts.items() if n and t != "app")
        return f"{total} records ({parts})" if parts else f"{total} records"


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} in a record")


def _line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, default=_encode) + b"\n"


class AppExportService:
    def __init__(self, db: Database, settings: Settings, callbacks: CallbackService) -> None:
        self.db = db
        self.settings = settings
        self.callbacks = callbacks

    # --- export -----------------------------------------------------------------------------------
    def export_sync(self, app: App, path: Path) -> Transfer:
        """Write `app` to `path` (made whole or not at all: written beside it, then renamed)."""
        partial = path.with_name(path.name + ".partial")
        done = Transfer(app, {})
        try:
            with gzip.open(partial, "wb", compresslevel=6) as out, self.db.snapshot() as conn:
                header = {
                    "type": "header", "format": FORMAT, "version": VERSION, "hxim": __version__,
                    "schema": schema_revision_txn(conn), "app": app.appkey, "exported_at": now_ms(),
                }
                out.write(_line(header))
                for kind in RECORDS:
                    done.counts[kind.type] = self._export_kind(conn, out, kind, app, done.warnings)
                out.write(_line({"type": "end", "records": sum(done.counts.values()), "counts": done.counts}))
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return done

    def _export_kind(
        self, conn: Connection, out: gzip.GzipFile, kind: RecordKind, app: App, warnings: list[str]
    ) -> int:
        limit = self.settings.export_batch_rows
        if kind.type == "file":  # as many files as fit in the batch at their largest
            limit = max(1, min(limit, self.settings.export_batch_bytes // self.settings.chatfile_max_bytes))
        written = 0
        after: tuple[Any, ...] | None = None
        while True:
            records, after = page_txn(conn, kind, app.id, after, limit)
            for record in records:
                sealed = SEALED.get(kind.type)
                if sealed is not None:
                    try:
                        record[sealed] = self.callbacks.open_secret(record[sealed])
                    except ValueError:
                        warnings.append(f"callback rule {record['name']} left out: its secret was sealed with "
                                        "another server's key, and this server cannot read it (nor use it)")
                        continue
                out.write(_line({"type": kind.type, **record}))
                written += 1
            if after is None or len(records) < limit:
                return written

    # --- import -----------------------------------------------------------------------------------
    def import_sync(self, path: Path, key: str | None, replace: bool) -> Transfer:
        """Recreate the app of the file at `path` under `key` ("ORG#APP"; None: its own), replacing
        an app of that key only if `replace`."""
        lines = _read(path)
        _, header = next(lines, (0, None))
        _check_header(header)
        lineno, record = next(lines, (0, None))
        if record is None or record.get("type") != "app":
            raise TransferError(f"line {lineno or 2} should be the app record")
        app_record = self._decode(KINDS["app"], record, lineno)
        app_uuid = str(app_record.get("uuid", ""))
        try:
            uuid.UUID(app_uuid)
        except ValueError:
            raise TransferError(f"line {lineno}: the app record has no uuid") from None
        org, _, name = (key or f"{app_record.get('org')}#{app_record.get('name')}").partition("#")
        try:
            check_names(org, name)
        except HximError as exc:
            raise TransferError(exc.description) from None
        try:
            why = self.db.run_sync(_begin_txn, app_record, org, name, replace)
        except BadRecord as exc:
            raise TransferError(f"line {lineno}: {exc}") from None
        if why is not None:
            raise TransferError(why)
        try:
            counts = self._import_records(lines, app_uuid)
            why = self.db.run_sync(_finish_txn, app_uuid, org, name)
            if why is not None:
                raise TransferError(why)
        except BaseException:
            self.db.run_sync(delete_app_txn, app_uuid)
            raise
        app = self.db.run_sync(get_app_txn, org, name, write=False)
        assert app is not None
        return Transfer(app, counts)

    def _import_records(self, lines: Iterator[tuple[int, dict[str, Any]]], app_uuid: str) -> dict[str, int]:
        counts = {kind.type: 0 for kind in RECORDS}
        counts["app"] = 1
        batch: list[dict[str, Any]] = []
        batch_kind: RecordKind | None = None
        first = size = 0
        max_rows, max_bytes = self.settings.export_batch_rows, self.settings.export_batch_bytes
        end: dict[str, Any] | None = None
        for lineno, record in lines:
            if end is not None:
                raise TransferError(f"line {lineno}: records after the end record")
            if record.get("type") == "end":
                end = record
                continue
            kind = KINDS.get(str(record.get("type")))
            if kind is None or kind.type == "app":
                raise TransferError(f"line {lineno}: unknown record type {record.get('type')!r}")
            if batch and (kind is not batch_kind or len(batch) >= max_rows or size >= max_bytes):
                self._write(batch_kind, batch, app_uuid, first, lineno - 1)
                batch, size = [], 0
            if not batch:
                batch_kind, first = kind, lineno
            batch.append(self._decode(kind, record, lineno))
            size += record.pop("_size", 0)
            counts[kind.type] += 1
        if end is None:
            raise TransferError("the file stops before its end record: it is incomplete (was the export cut short?)")
        if batch:
            self._write(batch_kind, batch, app_uuid, first, first + len(batch) - 1)
        said = end.get("counts")
        said = said if isinstance(said, dict) else {}
        wrong = [f"{t} {said.get(t, 0)} said, {counts.get(t, 0)} read" for t in {**counts, **said}
                 if said.get(t, 0) != counts.get(t, 0)]
        if wrong:
            raise TransferError(f"the end record does not count what the file holds ({'; '.join(wrong)})")
        return counts

    def _decode(self, kind: RecordKind, record: dict[str, Any], lineno: int) -> dict[str, Any]:
        """A record as `insert_records_txn` takes it: without `type`, bytes decoded, secrets sealed."""
        out = {k: v for k, v in record.items() if k not in ("type", "_size")}
        sealed = SEALED.get(kind.type)
        for name in kind.binary:
            value = out.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TransferError(f"line {lineno}: {kind.type} field {name} should be a string")
            if name == sealed:
                out[name] = self.callbacks.seal_secret(value)
                continue
            try:
                out[name] = base64.b64decode(value, validate=True)
            except binascii.Error:
                raise TransferError(f"line {lineno}: {kind.type} field {name} is not base64") from None
        return out

    def _write(
        self, kind: RecordKind | None, batch: list[dict[str, Any]], app_uuid: str, first: int, last: int
    ) -> None:
        assert kind is not None
        try:
            self.db.run_sync(insert_records_txn, kind, app_uuid, batch)
        except BadRecord as exc:
            raise TransferError(f"lines {first}-{last}: {exc}") from None
        except (DBAPIError, HximError) as exc:
            reason = exc.description if isinstance(exc, HximError) else str(exc.orig).strip().splitlines()[0]
            raise TransferError(
                f"lines {first}-{last}: the {kind.type} records could not be written: {reason}"
            ) from None


def _read(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of the file with their line numbers (each with `_size`, its length in bytes)."""
    lineno = 0
    try:
        with gzip.open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise TransferError(f"line {lineno} is not JSON") from None
                if not isinstance(record, dict):
                    raise TransferError(f"line {lineno} is not a record (a JSON object)")
                record["_size"] = len(line)
                yield lineno, record
    except FileNotFoundError:
        raise TransferError(f"there is no file {path}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        where = f" after line {lineno}" if lineno else ""
        raise TransferError(f"{path} is not a whole gzip file{where} ({exc})") from None


def _check_header(header: dict[str, Any] | None) -> None:
    if header is None:
        raise TransferError("the file is empty")
    if header.get("type") != "header" or header.get("format") != FORMAT:
        raise TransferError(f"this is not an hxim app export: its first line is not a {FORMAT} header")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise TransferError(f"the file is in format version {version}, made by a newer hxim; "
                            f"this one ({__version__}) reads version {VERSION}")


def _begin_txn(conn: Connection, app_record: dict[str, Any], org: str, name: str, replace: bool) -> str | None:
    """Make room for the app and write it under its placeholder key; why not, if it cannot be."""
    app_uuid = str(app_record["uuid"])
    existing = get_app_txn(conn, org, name)
    if existing is not None and not replace:
        return (f"app {org}#{name} exists: import under another key (--app ORG#APP), "
                "or delete that app and import this one in its place (--replace)")
    holder = app_by_uuid_txn(conn, app_uuid)
    if holder is not None and holder[0] != IMPORTING_ORG and holder != (org, name):
        return (f"this database holds the app of this file already, as {holder[0]}#{holder[1]}; an app keeps its "
                f"ids, so it can be in a database once: replace it with --app {holder[0]}#{holder[1]} --replace")
    if existing is not None:
        delete_app_txn(conn, existing.id)
    delete_app_txn(conn, app_uuid)  # what an import that was stopped left, if any
    insert_records_txn(conn, KINDS["app"], app_uuid, [{**app_record, "org": IMPORTING_ORG, "name": app_uuid}])
    return None


def _finish_txn(conn: Connection, app_uuid: str, org: str, name: str) -> str | None:
    """The import's commit: the app takes its key (if nobody took it meanwhile); nodes reload
    callback rules."""
    if get_app_txn(conn, org, name) is not None:
        return f"app {org}#{name} was created while the import ran: nothing was imported"
    rename_app_txn(conn, app_uuid, org, name)
    rules_changed_txn(conn)
    return None
