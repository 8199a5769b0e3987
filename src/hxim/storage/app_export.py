"""An app's rows as export records, table by table: which tables an export holds, the app's rows
read in pages, and records written back into another database (the format: docs/backup.md).

Every table that hangs on an app (by its `app_uuid`, or by a reference to a row that has one) is
either a record type of `RECORDS`, listed in the order an import writes them (what a row refers
to comes first), or in `LEFT_OUT` with the reason. A record is its table's row with three
changes, so that it means the same in another database:

- the app's id (`app_uuid`) is left out: the one `app` record of the file says which app;
- a key the database numbers itself (`users.id`, `callback_rules.id`) is left out: the other
  database numbers its own rows;
- a reference to a user (`owner_id`, `user_id`, `contact_id`, ...) becomes that user's
  case-folded username, in a field without the `_id` (`owner`, `user`, `contact`, ...).

Every other column keeps its name and its value: app, user, room, message and file ids stay
the same, so that clients and app servers keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, LargeBinary, Table, bindparam, delete, insert, select, text, tuple_

from hxim.storage.tables import (
    app_group_faces,
    app_users,
    apps,
    blocks,
    broadcasts,
    callback_outbox,
    callback_rules,
    chatfiles,
    contact_requests,
    contacts,
    jid_blocks,
    message_reactions,
    messages,
    moderation_lists,
    moderation_words,
    notices,
    offline,
    presence_status,
    presence_subscriptions,
    push_bindings,
    push_counts,
    push_preferences,
    push_settings,
    push_templates,
    roaming_cuts,
    roaming_deleted,
    room_applications,
    room_attributes,
    room_blocks,
    room_files,
    room_member_attributes,
    room_member_tags,
    room_members,
    room_mutes,
    room_super_admins,
    room_threads,
    room_whitelist,
    rooms,
    stream_messages,
    user_collections,
    user_metadata,
    user_mutes,
    users,
)

__all__ = [
    "RECORDS",
    "KINDS",
    "LEFT_OUT",
    "RecordKind",
    "BadRecord",
    "page_txn",
    "insert_records_txn",
    "app_by_uuid_txn",
    "delete_app_txn",
    "rename_app_txn",
    "schema_revision_txn",
]


class BadRecord(ValueError):
    """A record that does not fit its table (an unknown field, a missing one, an unknown user)."""


@dataclass(frozen=True)
class RecordKind:
    """One record type: its table, and how its rows and records correspond."""

    type: str
    table: Table
    fields: tuple[str, ...]  # the record's fields (besides `type`), in the table's column order
    users: dict[str, Column[Any]]  # field -> the column that refers to users.id
    binary: frozenset[str]  # fields whose values are bytes (base64 in the file)
    required: frozenset[str]  # fields a record must have (no null, no default)

    def column_of(self, field: str) -> str:
        col = self.users.get(field)
        return col.name if col is not None else field


def _refers_to_users(col: Column[Any]) -> bool:
    return any(fk.column.table is users and fk.column.name == "id" for fk in col.foreign_keys)


def _numbered(col: Column[Any]) -> bool:
    """A key the database numbers itself: not carried from one database to another."""
    return bool(col.primary_key and col.autoincrement is True)


def _kind(type_: str, table: Table) -> RecordKind:
    fields: list[str] = []
    refs: dict[str, Column[Any]] = {}
    binary: set[str] = set()
    required: set[str] = set()
    for col in table.columns:
        if col.name == "app_uuid" or _numbered(col):
            continue
        name = str(col.name)  # a plain str (SQLAlchemy's quoted_name is not a JSON key for orjson)
        if _refers_to_users(col):
            name = name.removesuffix("_id")
            refs[name] = col
        elif isinstance(col.type, LargeBinary):
            binary.add(name)
        assert name not in fields, f"{table.name}: two columns would be field {name}"
        fields.append(name)
        if not col.nullable and col.server_default is None:
            required.add(name)
    return RecordKind(type_, table, tuple(fields), refs, frozenset(binary), frozenset(required))


# The record types, in the order of the file and of an import.
RECORDS: tuple[RecordKind, ...] = tuple(
    _kind(t, table)
    for t, table in (
        ("app", apps),
        ("user", users),
        ("app_user", app_users),
        ("file", chatfiles),
        ("room", rooms),
        ("room_thread", room_threads),
        ("room_member", room_members),
        ("room_block", room_blocks),
        ("room_application", room_applications),
        ("room_mute", room_mutes),
        ("room_whitelist", room_whitelist),
        ("room_super_admin", room_super_admins),
        ("room_file", room_files),
        ("room_member_attribute", room_member_attributes),
        ("room_attribute", room_attributes),
        ("room_member_tag", room_member_tags),
        ("contact", contacts),
        ("block", blocks),
        ("jid_block", jid_blocks),
        ("contact_request", contact_requests),
        ("message", messages),
        ("offline", offline),
        ("notice", notices),
        ("roaming_deleted", roaming_deleted),
        ("roaming_cut", roaming_cuts),
        ("message_reaction", message_reactions),
        ("app_group_face", app_group_faces),
        ("user_metadata", user_metadata),
        ("presence_subscription", presence_subscriptions),
        ("presence_status", presence_status),
        ("user_mute", user_mutes),
        ("user_collection", user_collections),
        ("broadcast", broadcasts),
        ("moderation_list", moderation_lists),
        ("moderation_word", moderation_words),
        ("callback_rule", callback_rules),
        ("push_binding", push_bindings),
        ("push_setting", push_settings),
        ("push_preference", push_preferences),
        ("push_template", push_templates),
        ("push_count", push_counts),
    )
)
KINDS: dict[str, RecordKind] = {k.type: k for k in RECORDS}

# Tables of an app that an export leaves out, and why (docs/backup.md repeats these).
LEFT_OUT: dict[str, str] = {
    stream_messages.name: "the state of stream messages still arriving; a stream is one client's live "
    "request and cannot go on on another server (the text so far is in its `message` record)",
    callback_outbox.name: "post-send callbacks the old server had not delivered yet, or gave up on; "
    "the server that wrote them delivers them (an imported copy running beside it would call the "
    "app's server twice)",
}


_PAGE_QUERIES: dict[str, tuple[Any, int]] = {}


def _page_query(kind: RecordKind) -> tuple[Any, int]:
    """SELECT the record fields and the key of `kind`'s rows of one app (`:app`), in key order."""
    found = _PAGE_QUERIES.get(kind.type)
    if found is not None:
        return found
    table = kind.table
    source: Any = table
    columns: list[Any] = []
    whose: Any = apps.c.uuid if table is apps else table.c.get("app_uuid")  # the column naming the app
    for field in kind.fields:
        col = kind.users.get(field)
        if col is None:
            columns.append(table.c[field].label(field))
            continue
        who = users.alias(f"u_{col.name}")
        source = source.join(who, who.c.id == col, isouter=bool(col.nullable))
        columns.append(who.c.username_key.label(field))
        if whose is None and not col.nullable:
            whose = who.c.app_uuid
    if whose is None:  # through the row it refers to (a room, a message, a list, a file)
        fk = next(f for f in sorted(table.foreign_keys, key=lambda f: f.parent.name) if "app_uuid" in f.column.table.c)
        source = source.join(fk.column.table, fk.column == fk.parent)
        whose = fk.column.table.c.app_uuid
    key = list(table.primary_key.columns)
    columns += [c.label(f"_key{i}") for i, c in enumerate(key)]
    query = select(*columns).select_from(source).where(whose == bindparam("app")).order_by(*key)
    _PAGE_QUERIES[kind.type] = (query, len(key))
    return query, len(key)


def page_txn(
    conn: Connection, kind: RecordKind, app_uuid: str, after: tuple[Any, ...] | None, limit: int
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """One page of the app's rows of `kind` as records (without `type`), in key order, after the
    key `after` (None: from the first); with the key of its last row (None: no rows were left)."""
    query, width = _page_query(kind)
    if after is not None:
        key = list(kind.table.primary_key.columns)
        query = query.where(tuple_(*key) > tuple_(*after))
    rows = conn.execute(query.limit(limit), {"app": app_uuid}).all()
    if not rows:
        return [], None
    n = len(kind.fields)
    records = [dict(zip(kind.fields, row[:n], strict=True)) for row in rows]
    return records, tuple(rows[-1][n : n + width])


def _user_ids(conn: Connection, app_uuid: str, names: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    listed = sorted(names)
    for i in range(0, len(listed), 500):
        query = select(users.c.username_key, users.c.id).where(
            users.c.app_uuid == app_uuid, users.c.username_key.in_(listed[i : i + 500])
        )
        found.update((name, uid) for name, uid in conn.execute(query))
    return found


def insert_records_txn(conn: Connection, kind: RecordKind, app_uuid: str, records: Iterable[dict[str, Any]]) -> None:
    """Write records of `kind` (without `type`; bytes already decoded) as rows of the app
    `app_uuid`, their usernames turned into the ids of the app's users. A record that does not
    fit raises `BadRecord`."""
    records = list(records)
    known = set(kind.fields)
    names: set[str] = set()
    for record in records:
        unknown = set(record) - known
        if unknown:
            raise BadRecord(f"a {kind.type} record has no field {', '.join(sorted(unknown))} "
                            "(was the file made by a newer hxim?)")
        missing = kind.required - set(record)
        if missing:
            raise BadRecord(f"a {kind.type} record lacks {', '.join(sorted(missing))}")
        names.update(v for f in kind.users if (v := record.get(f)) is not None)
    ids = _user_ids(conn, app_uuid, names) if names else {}
    if len(ids) < len(names):
        raise BadRecord(f"{kind.type} records name users that no user record holds: "
                        f"{', '.join(sorted(names - set(ids))[:5])}")
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    with_app = "app_uuid" in kind.table.c
    for record in records:
        row = {kind.column_of(f): (ids[v] if f in kind.users and v is not None else v) for f, v in record.items()}
        if with_app:
            row["app_uuid"] = app_uuid
        by_fields.setdefault(tuple(row), []).append(row)
    for rows in by_fields.values():
        conn.execute(insert(kind.table), rows)


def app_by_uuid_txn(conn: Connection, app_uuid: str) -> tuple[str, str] | None:
    """(org, name) of the app with this id, if the database holds it."""
    row = conn.execute(select(apps.c.org, apps.c.name).where(apps.c.uuid == app_uuid)).first()
    return (row.org, row.name) if row else None


def delete_app_txn(conn: Connection, app_uuid: str) -> None:
    """Delete an app and everything of it (every table hangs on it by ON DELETE CASCADE)."""
    conn.execute(delete(apps).where(apps.c.uuid == app_uuid))


def rename_app_txn(conn: Connection, app_uuid: str, org: str, name: str) -> None:
    conn.execute(apps.update().where(apps.c.uuid == app_uuid).values(org=org, name=name))


def schema_revision_txn(conn: Connection) -> str:
    """The newest migration applied to this database."""
    return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar() or "")
