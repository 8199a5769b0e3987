"""Every table that holds an app's data is exported or left out on purpose, and docs/backup.md
describes every record type, every field and every table left out."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Table

from hxim.storage.app_export import LEFT_OUT, RECORDS
from hxim.storage.tables import apps, metadata

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup.md"


def app_tables() -> set[str]:
    """The tables whose rows belong to an app: apps itself, and every table that refers to one of
    those (directly or through another)."""
    found: set[Table] = {apps}
    grown = True
    while grown:
        grown = False
        for table in metadata.sorted_tables:
            if table not in found and any(fk.column.table in found for fk in table.foreign_keys):
                found.add(table)
                grown = True
    return {t.name for t in found}


def test_every_table_of_an_app_is_exported_or_left_out_on_purpose() -> None:
    exported = {kind.table.name for kind in RECORDS}
    assert not exported & set(LEFT_OUT)
    missing = app_tables() - exported - set(LEFT_OUT)
    assert not missing, (
        f"tables of an app that `hxim export` neither writes nor leaves out on purpose: {sorted(missing)}; add "
        "each to RECORDS or LEFT_OUT in src/hxim/storage/app_export.py, and to docs/backup.md"
    )
    assert exported | set(LEFT_OUT) <= app_tables()


def test_records_come_after_what_they_refer_to() -> None:
    seen: set[str] = set()
    for kind in RECORDS:
        for fk in kind.table.foreign_keys:
            parent = fk.column.table.name
            assert parent in seen or parent == kind.table.name, f"{kind.type} comes before the {parent} it refers to"
        seen.add(kind.table.name)


def test_the_doc_describes_every_record_type_and_field() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for kind in RECORDS:
        rows = [line for line in doc.splitlines() if line.startswith(f"| `{kind.type}` |")]
        assert len(rows) == 1, f"docs/backup.md has no row for record type {kind.type}"
        described = set(re.findall(r"`([a-z_0-9]+)`", rows[0].split("|", 3)[3]))
        assert set(kind.fields) <= described, (kind.type, sorted(set(kind.fields) - described))
        assert f"`{kind.table.name}`" in rows[0]
    for table in LEFT_OUT:
        assert f"`{table}`" in doc, f"docs/backup.md does not say that {table} is left out"
