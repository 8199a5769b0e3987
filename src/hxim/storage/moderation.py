"""Queries on text moderation (tables `moderation_lists`, `moderation_words`): an app's keyword
lists and their words.

A list's name is unique in its app, a word in its list; words go with their list, lists with
their app (ON DELETE CASCADE). Every function takes the app, so that no call reaches another
app's lists. Limits are checked inside the write that would pass them, with the app's row locked
(PostgreSQL; SQLite writes one at a time), so that concurrent writes are checked against each
other's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, delete, func, insert, select, update

from hxim.storage.tables import apps, moderation_lists, moderation_words

__all__ = [
    "APP_FULL",
    "LIST_FULL",
    "LISTS_FULL",
    "NAME_TAKEN",
    "NO_LIST",
    "NO_WORD",
    "WORD_TAKEN",
    "KeywordList",
    "Word",
    "active_lists_txn",
    "add_words_txn",
    "create_list_txn",
    "delete_list_txn",
    "delete_words_txn",
    "list_txn",
    "list_words_txn",
    "lists_page_txn",
    "update_list_txn",
    "update_word_txn",
    "words_page_txn",
]

L, W = moderation_lists, moderation_words
NAME_TAKEN, LISTS_FULL, LIST_FULL, APP_FULL, NO_LIST, NO_WORD, WORD_TAKEN = (
    "name taken", "lists full", "list full", "app full", "no list", "no word", "word taken",
)


@dataclass(frozen=True, slots=True)
class KeywordList:
    id: str
    name: str
    scope: str
    tag_id: str | None
    disposition: str
    full_match: bool
    status: str
    creator: str | None
    created: int
    updated: int
    quantity: int = 0  # its words


@dataclass(frozen=True, slots=True)
class Word:
    id: str
    list_id: str
    word: str
    creator: str | None
    created: int
    updated: int


_QUANTITY = select(func.count()).where(W.c.list_id == L.c.id).correlate(L).scalar_subquery()
_LIST_COLUMNS = (L.c.id, L.c.name, L.c.scope, L.c.tag_id, L.c.disposition, L.c.full_match, L.c.status, L.c.creator,
                 L.c.created, L.c.updated, _QUANTITY)
_WORD_COLUMNS = (W.c.id, W.c.list_id, W.c.word, W.c.creator, W.c.created, W.c.updated)


def _list(row: object) -> KeywordList:
    return KeywordList(*row)  # type: ignore[misc]


def _word(row: object) -> Word:
    return Word(*row)  # type: ignore[misc]


def _lock_app(conn: Connection, app_uuid: str) -> None:
    conn.execute(select(apps.c.uuid).where(apps.c.uuid == app_uuid).with_for_update())


def _app_words(conn: Connection, app_uuid: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(W.join(L, L.c.id == W.c.list_id)).where(L.c.app_uuid == app_uuid)
        ).scalar_one()
    )


def _name_taken(conn: Connection, app_uuid: str, name: str, other_than: str | None = None) -> bool:
    query = select(L.c.id).where(L.c.app_uuid == app_uuid, L.c.name == name)
    if other_than is not None:
        query = query.where(L.c.id != other_than)
    return conn.execute(query).first() is not None


def list_txn(conn: Connection, app_uuid: str, list_id: str) -> KeywordList | None:
    row = conn.execute(select(*_LIST_COLUMNS).where(L.c.app_uuid == app_uuid, L.c.id == list_id)).first()
    return _list(row) if row is not None else None


def create_list_txn(
    conn: Connection, app_uuid: str, new: KeywordList, words: list[Word], most_lists: int, most_app_words: int
) -> str | None:
    """Create a list with its words; None, or why not (NAME_TAKEN, LISTS_FULL, APP_FULL)."""
    _lock_app(conn, app_uuid)
    if _name_taken(conn, app_uuid, new.name):
        return NAME_TAKEN
    held = conn.execute(select(func.count()).select_from(L).where(L.c.app_uuid == app_uuid)).scalar_one()
    if held >= most_lists:
        return LISTS_FULL
    if words and _app_words(conn, app_uuid) + len(words) > most_app_words:
        return APP_FULL
    conn.execute(insert(L).values(
        id=new.id, app_uuid=app_uuid, name=new.name, scope=new.scope, tag_id=new.tag_id,
        disposition=new.disposition, full_match=new.full_match, status=new.status, creator=new.creator,
        created=new.created, updated=new.updated,
    ))
    _insert_words(conn, words)
    return None


def _insert_words(conn: Connection, words: list[Word]) -> None:
    if words:
        conn.execute(insert(W), [
            {"id": w.id, "list_id": w.list_id, "word": w.word, "creator": w.creator, "created": w.created,
             "updated": w.updated}
            for w in words
        ])


def update_list_txn(conn: Connection, app_uuid: str, changed: KeywordList) -> KeywordList | str:
    """Change a list's settings (all but its id, creation time and words); the list as it is
    now, or why not (NO_LIST, NAME_TAKEN)."""
    if list_txn(conn, app_uuid, changed.id) is None:
        return NO_LIST
    if _name_taken(conn, app_uuid, changed.name, other_than=changed.id):
        return NAME_TAKEN
    conn.execute(update(L).where(L.c.id == changed.id).values(
        name=changed.name, scope=changed.scope, tag_id=changed.tag_id, disposition=changed.disposition,
        full_match=changed.full_match, creator=changed.creator, updated=changed.updated,
    ))
    found = list_txn(conn, app_uuid, changed.id)
    assert found is not None
    return found


def delete_list_txn(conn: Connection, app_uuid: str, list_id: str) -> bool:
    """Delete a list and its words; False when the app has no such list."""
    found = conn.execute(select(L.c.id).where(L.c.app_uuid == app_uuid, L.c.id == list_id)).first()
    if found is None:
        return False
    conn.execute(delete(W).where(W.c.list_id == list_id))
    conn.execute(delete(L).where(L.c.id == list_id))
    return True


def lists_page_txn(
    conn: Connection, app_uuid: str, name: str | None, tag_id: str | None, offset: int, limit: int
) -> tuple[list[KeywordList], int]:
    """A page of the app's lists in the order they were created (named `name`, of tag `tag_id`,
    when given), and how many there are in all."""
    where = [L.c.app_uuid == app_uuid]
    if name is not None:
        where.append(L.c.name == name)
    if tag_id is not None:
        where.append(L.c.tag_id == tag_id)
    total = conn.execute(select(func.count()).select_from(L).where(*where)).scalar_one()
    rows = conn.execute(select(*_LIST_COLUMNS).where(*where).order_by(L.c.created, L.c.id).offset(offset).limit(limit))
    return [_list(r) for r in rows], int(total)


def add_words_txn(
    conn: Connection, app_uuid: str, list_id: str, words: list[Word], most_list: int, most_app: int
) -> KeywordList | str:
    """Add words to a list, all or none; the list as it is now, or why not (NO_LIST,
    WORD_TAKEN: one is in the list already, LIST_FULL, APP_FULL)."""
    _lock_app(conn, app_uuid)
    found = list_txn(conn, app_uuid, list_id)
    if found is None:
        return NO_LIST
    taken = conn.execute(
        select(W.c.id).where(W.c.list_id == list_id, W.c.word.in_([w.word for w in words]))
    ).first()
    if taken is not None:
        return WORD_TAKEN
    if found.quantity + len(words) > most_list:
        return LIST_FULL
    if _app_words(conn, app_uuid) + len(words) > most_app:
        return APP_FULL
    _insert_words(conn, words)
    return replace(found, quantity=found.quantity + len(words))


def update_word_txn(
    conn: Connection, app_uuid: str, list_id: str, word_id: str, word: str, creator: str | None, now: int
) -> Word | str:
    """Change one word of a list; the word as it is now, or why not (NO_LIST, NO_WORD,
    WORD_TAKEN)."""
    if list_txn(conn, app_uuid, list_id) is None:
        return NO_LIST
    if conn.execute(select(W.c.id).where(W.c.list_id == list_id, W.c.id == word_id)).first() is None:
        return NO_WORD
    if conn.execute(select(W.c.id).where(W.c.list_id == list_id, W.c.word == word, W.c.id != word_id)).first():
        return WORD_TAKEN
    conn.execute(update(W).where(W.c.id == word_id).values(word=word, creator=creator, updated=now))
    row = conn.execute(select(*_WORD_COLUMNS).where(W.c.id == word_id)).one()
    return _word(row)


def words_page_txn(
    conn: Connection, app_uuid: str, list_id: str, containing: str, offset: int, limit: int
) -> tuple[list[Word], int] | None:
    """A page of a list's words that contain `containing` (any case), in the order they were
    added, and how many there are in all; None when the app has no such list."""
    if list_txn(conn, app_uuid, list_id) is None:
        return None
    escaped = containing.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    where = (W.c.list_id == list_id, func.lower(W.c.word).like(f"%{escaped}%", escape="\\"))
    total = conn.execute(select(func.count()).select_from(W).where(*where)).scalar_one()
    rows = conn.execute(select(*_WORD_COLUMNS).where(*where).order_by(W.c.created, W.c.id).offset(offset).limit(limit))
    return [_word(r) for r in rows], int(total)


def delete_words_txn(conn: Connection, app_uuid: str, list_id: str, word_ids: list[str]) -> int | None:
    """Delete these words of a list (ids it does not hold are passed over); how many went, or
    None when the app has no such list."""
    if list_txn(conn, app_uuid, list_id) is None:
        return None
    return int(conn.execute(delete(W).where(W.c.list_id == list_id, W.c.id.in_(word_ids))).rowcount)


def list_words_txn(conn: Connection, list_id: str) -> list[str]:
    """Every word of one list."""
    return list(conn.execute(select(W.c.word).where(W.c.list_id == list_id)).scalars())


def active_lists_txn(conn: Connection) -> list[tuple[str, KeywordList, list[str]]]:
    """Every list in force (ACTIVE) of every app, with its words: (app uuid, list, words)."""
    rows = conn.execute(select(L.c.app_uuid, *_LIST_COLUMNS).where(L.c.status == "ACTIVE")).all()
    out = []
    for row in rows:
        found = _list(row[1:])
        out.append((row[0], found, list_words_txn(conn, found.id)))
    return out
