"""Queries on offline push (tables `push_bindings`, `push_settings`, `push_preferences`,
`push_templates`, `push_counts`; docs/push.md).

A device id is bound to one user of an app at a time: binding it to a user removes the other
users' bindings of it. A notification setting is one row per (user, chat type, target); the
user-wide one is ("user", the user's own case-folded username). `PushContext` is everything the
push worker reads to decide and render the pushes of one message, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hxim.storage.tables import (
    contacts,
    push_bindings,
    push_counts,
    push_preferences,
    push_settings,
    push_templates,
    users,
)

__all__ = [
    "Binding",
    "PushContext",
    "Setting",
    "Template",
    "add_counts_txn",
    "bind_txn",
    "bindings_txn",
    "counts_txn",
    "delete_template_txn",
    "insert_template_txn",
    "preference_txn",
    "push_context_txn",
    "set_nicknames_txn",
    "set_preference_txn",
    "set_setting_txn",
    "setting_txn",
    "template_txn",
    "update_template_txn",
]

B, S, P, T = push_bindings, push_settings, push_preferences, push_templates

Binding = tuple[str, str, str]  # device_id, device_token, notifier_name


@dataclass(frozen=True, slots=True)
class Setting:
    type: str | None  # DEFAULT | ALL | AT | NONE; None: never set
    ignore_interval: str  # HH:MM-HH:MM or ""
    ignore_until: int  # ms; 0: none


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    title_pattern: str
    content_pattern: str
    created: int
    updated: int


# --- device bindings ------------------------------------------------------------------------------


def _device_rows(conn: Connection, user_id: int, device_id: str | None = None) -> list[Binding]:
    query = select(B.c.device_id, B.c.device_token, B.c.notifier_name).where(B.c.user_id == user_id)
    if device_id is not None:
        query = query.where(B.c.device_id == device_id)
    return [(d, t, n) for d, t, n in conn.execute(query.order_by(B.c.updated, B.c.device_id, B.c.notifier_name))]


def bind_txn(
    conn: Connection, app_uuid: str, user_id: int, device_id: str, token: str, notifier: str, now: int, most: int
) -> list[Binding] | None:
    """Bind (`token` and `notifier` given) or unbind (`token` empty: that certificate; `notifier`
    empty: every certificate of the device) the user's device; the device's bindings afterwards,
    or None when the user already has `most` bindings."""
    mine = and_(B.c.user_id == user_id, B.c.device_id == device_id)
    if not notifier:
        conn.execute(delete(B).where(mine))
    elif not token:
        conn.execute(delete(B).where(mine, B.c.notifier_name == notifier))
    else:
        held = conn.execute(
            select(func.count()).select_from(B).where(
                B.c.user_id == user_id, or_(B.c.device_id != device_id, B.c.notifier_name != notifier)
            )
        ).scalar_one()
        if held >= most:
            return None
        conn.execute(delete(B).where(B.c.app_uuid == app_uuid, B.c.device_id == device_id, B.c.user_id != user_id))
        conn.execute(delete(B).where(mine, B.c.notifier_name == notifier))
        conn.execute(insert(B).values(
            user_id=user_id, device_id=device_id, notifier_name=notifier, app_uuid=app_uuid, device_token=token,
            updated=now,
        ))
    return _device_rows(conn, user_id, device_id)


def bindings_txn(conn: Connection, user_id: int) -> list[Binding]:
    return _device_rows(conn, user_id)


# --- notification settings and preferences ----------------------------------------------------------


def setting_txn(conn: Connection, user_id: int, chat_type: str, target: str) -> Setting | None:
    row = conn.execute(
        select(S.c.type, S.c.ignore_interval, S.c.ignore_until).where(
            S.c.user_id == user_id, S.c.chat_type == chat_type, S.c.target == target
        )
    ).first()
    return None if row is None else Setting(row[0], row[1], row[2])


def set_setting_txn(
    conn: Connection, app_uuid: str, user_id: int, chat_type: str, target: str, values: dict[str, Any]
) -> Setting:
    """Change the given fields (`type`, `ignore_interval`, `ignore_until`) of the setting; the
    setting afterwards."""
    old = setting_txn(conn, user_id, chat_type, target)
    new: dict[str, Any] = {"type": None, "ignore_interval": "", "ignore_until": 0}
    if old is not None:
        new.update(type=old.type, ignore_interval=old.ignore_interval, ignore_until=old.ignore_until)
    new.update(values)
    key = and_(S.c.user_id == user_id, S.c.chat_type == chat_type, S.c.target == target)
    if old is None:
        conn.execute(insert(S).values(user_id=user_id, chat_type=chat_type, target=target, app_uuid=app_uuid, **new))
    else:
        conn.execute(update(S).where(key).values(**new))
    return Setting(new["type"], new["ignore_interval"], new["ignore_until"])


def preference_txn(conn: Connection, user_id: int) -> tuple[str, str]:
    """(language, template name) of the user; "" for what is not set."""
    row = conn.execute(select(P.c.language, P.c.template).where(P.c.user_id == user_id)).first()
    return ("", "") if row is None else (row[0], row[1])


def set_preference_txn(conn: Connection, app_uuid: str, user_id: int, values: dict[str, str]) -> None:
    """Set `language` and/or `template` of the user."""
    found = conn.execute(select(P.c.user_id).where(P.c.user_id == user_id)).first()
    if found is None:
        row = {"language": "", "template": "", **values}
        conn.execute(insert(P).values(user_id=user_id, app_uuid=app_uuid, **row))
    else:
        conn.execute(update(P).where(P.c.user_id == user_id).values(**values))


# --- templates ---------------------------------------------------------------------------------------

_TEMPLATE = (T.c.name, T.c.title_pattern, T.c.content_pattern, T.c.created, T.c.updated)


def template_txn(conn: Connection, app_uuid: str, name: str) -> Template | None:
    row = conn.execute(select(*_TEMPLATE).where(T.c.app_uuid == app_uuid, T.c.name == name)).first()
    return None if row is None else Template(*row)


def insert_template_txn(conn: Connection, app_uuid: str, template: Template, most: int) -> str:
    """"added", "exists" (a template of that name), or "full" (the app has `most`)."""
    if template_txn(conn, app_uuid, template.name) is not None:
        return "exists"
    held = conn.execute(select(func.count()).select_from(T).where(T.c.app_uuid == app_uuid)).scalar_one()
    if held >= most:
        return "full"
    conn.execute(insert(T).values(
        app_uuid=app_uuid, name=template.name, title_pattern=template.title_pattern,
        content_pattern=template.content_pattern, created=template.created, updated=template.updated,
    ))
    return "added"


def update_template_txn(
    conn: Connection, app_uuid: str, name: str, title: str, content: str, now: int
) -> Template | None:
    """Change the template's patterns; it afterwards, or None when there is none of that name."""
    found = template_txn(conn, app_uuid, name)
    if found is None:
        return None
    conn.execute(
        update(T).where(T.c.app_uuid == app_uuid, T.c.name == name).values(
            title_pattern=title, content_pattern=content, updated=now
        )
    )
    return Template(name, title, content, found.created, now)


def delete_template_txn(conn: Connection, app_uuid: str, name: str) -> Template | None:
    found = template_txn(conn, app_uuid, name)
    if found is not None:
        conn.execute(delete(T).where(T.c.app_uuid == app_uuid, T.c.name == name))
    return found


# --- what the push worker reads ---------------------------------------------------------------------------


@dataclass(slots=True)
class PushContext:
    """For the recipients (by user id) of one message: their username, nickname-independent
    profile, settings (user-wide and of the conversation), language and template, bindings, and
    remark on the sender; the sender's nickname; the app's templates named by any of them."""

    usernames: dict[int, str] = field(default_factory=dict)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    user_wide: dict[int, Setting] = field(default_factory=dict)
    conversation: dict[int, Setting] = field(default_factory=dict)
    preferences: dict[int, tuple[str, str]] = field(default_factory=dict)
    bindings: dict[int, list[Binding]] = field(default_factory=dict)
    remarks: dict[int, str] = field(default_factory=dict)
    sender_nickname: str | None = None
    templates: dict[str, Template] = field(default_factory=dict)


def push_context_txn(
    conn: Connection, app_uuid: str, user_ids: list[int], sender_key: str, chat_type: str, target: str | None,
    template_names: list[str],
) -> PushContext:
    """`target`: the conversation's key for every recipient (a group id), or None for 1:1 (each
    recipient's conversation is the sender's name)."""
    ctx = PushContext()
    for uid, name, profile in conn.execute(
        select(users.c.id, users.c.username, users.c.profile).where(users.c.id.in_(user_ids))
    ):
        ctx.usernames[uid] = name
        ctx.profiles[uid] = orjson.loads(profile) if profile not in ("{}", "", None) else {}
    conv_target = sender_key if target is None else target
    rows = conn.execute(
        select(S.c.user_id, S.c.chat_type, S.c.target, S.c.type, S.c.ignore_interval, S.c.ignore_until).where(
            S.c.user_id.in_(user_ids),
            or_(S.c.chat_type == "user", and_(S.c.chat_type == chat_type, S.c.target == conv_target)),
        )
    )
    for uid, ctype, tgt, kind, interval, until in rows:
        setting = Setting(kind, interval, until)
        if ctype == chat_type and tgt == conv_target:
            ctx.conversation[uid] = setting
        if ctype == "user" and tgt == ctx.usernames.get(uid, "").lower():
            ctx.user_wide[uid] = setting
    for uid, language, template in conn.execute(
        select(P.c.user_id, P.c.language, P.c.template).where(P.c.user_id.in_(user_ids))
    ):
        ctx.preferences[uid] = (language, template)
    for uid, device, token, notifier in conn.execute(
        select(B.c.user_id, B.c.device_id, B.c.device_token, B.c.notifier_name)
        .where(B.c.user_id.in_(user_ids)).order_by(B.c.updated)
    ):
        ctx.bindings.setdefault(uid, []).append((device, token, notifier))
    sender = conn.execute(
        select(users.c.id, users.c.nickname).where(users.c.app_uuid == app_uuid, users.c.username_key == sender_key)
    ).first()
    if sender is not None:
        ctx.sender_nickname = sender[1]
        for owner, remark in conn.execute(
            select(contacts.c.owner_id, contacts.c.remark).where(
                contacts.c.contact_id == sender[0], contacts.c.owner_id.in_(user_ids), contacts.c.remark.is_not(None)
            )
        ):
            ctx.remarks[owner] = remark
    names = set(template_names) | {t for _, t in ctx.preferences.values() if t}
    if names:
        for row in conn.execute(select(*_TEMPLATE).where(T.c.app_uuid == app_uuid, T.c.name.in_(names))):
            ctx.templates[row[0]] = Template(*row)
    return ctx


# --- counts ----------------------------------------------------------------------------------------------


def add_counts_txn(conn: Connection, rows: list[tuple[str, int, int, int, int]]) -> None:
    """Add (app uuid, hour, attempted, succeeded, failed) to the hourly counts."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for app_uuid, hour, attempted, succeeded, failed in rows:
        stmt = dialect_insert(push_counts).values(
            app_uuid=app_uuid, hour=hour, attempted=attempted, succeeded=succeeded, failed=failed
        )
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[push_counts.c.app_uuid, push_counts.c.hour],
            set_={
                "attempted": push_counts.c.attempted + stmt.excluded.attempted,
                "succeeded": push_counts.c.succeeded + stmt.excluded.succeeded,
                "failed": push_counts.c.failed + stmt.excluded.failed,
            },
        ))


def counts_txn(conn: Connection, app_uuid: str, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(hour, attempted, succeeded, failed) of the app's hours in [start, end)."""
    query = select(push_counts.c.hour, push_counts.c.attempted, push_counts.c.succeeded, push_counts.c.failed).where(
        push_counts.c.app_uuid == app_uuid, push_counts.c.hour >= start, push_counts.c.hour < end
    )
    return [(h, a, s, f) for h, a, s, f in conn.execute(query.order_by(push_counts.c.hour))]


def set_nicknames_txn(conn: Connection, app_uuid: str, pairs: list[tuple[str, str]], now: int) -> list[tuple[str, str]]:
    """Set the nickname of each (case-folded username, nickname) that names a user of the app;
    (username as registered, nickname) of those set, in the order given."""
    done = []
    for key, nickname in pairs:
        found = conn.execute(
            select(users.c.id, users.c.username).where(users.c.app_uuid == app_uuid, users.c.username_key == key)
        ).first()
        if found is not None:
            conn.execute(update(users).where(users.c.id == found[0]).values(nickname=nickname, modified=now))
            done.append((found[1], nickname))
    return done
