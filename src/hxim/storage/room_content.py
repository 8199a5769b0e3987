"""Transactions on what a group or chat room holds besides its members: whether a group is
disabled, the announcement, and a group's shared files (Easemob's group_ban, group_unban,
group_announcement_*, chatroom_announcement_*, group_shared_file_* pages).

A shared file is a chat file (`chatfiles`, written by the file service) listed in one group
(`room_files`); deleting it deletes the chat file too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from hxim.storage.groups import room_txn, update_room_txn
from hxim.storage.tables import chatfiles, room_files

__all__ = [
    "SharedFile",
    "add_room_file_txn",
    "delete_room_file_txn",
    "room_file_txn",
    "room_files_txn",
    "set_room_columns_txn",
]


@dataclass(frozen=True, slots=True)
class SharedFile:
    file_id: str
    file_name: str
    file_owner: str
    file_size: int
    created: int


def set_room_columns_txn(conn: Connection, app_uuid: str, kind: str, room_id: int, values: dict[str, object]) -> bool:
    """Set some of a room's own columns (`disabled`, `announcement`); False for no such room."""
    room = room_txn(conn, app_uuid, kind, room_id, lock=True)
    if room is None:
        return False
    update_room_txn(conn, room.id, values)
    return True


def add_room_file_txn(conn: Connection, room_id: int, file_uuid: str, owner: str, created: int) -> None:
    conn.execute(insert(room_files).values(file_uuid=file_uuid, room_id=room_id, owner=owner, created=created))


_FILES = select(
    room_files.c.file_uuid, chatfiles.c.filename, room_files.c.owner, chatfiles.c.size, room_files.c.created
).join(chatfiles, chatfiles.c.uuid == room_files.c.file_uuid)


def room_files_txn(conn: Connection, room_id: int, offset: int, limit: int) -> list[SharedFile]:
    """A page of a group's shared files, newest first."""
    rows = conn.execute(
        _FILES.where(room_files.c.room_id == room_id)
        .order_by(room_files.c.created.desc(), room_files.c.file_uuid)
        .offset(offset)
        .limit(limit)
    )
    return [SharedFile(*r) for r in rows]


def room_file_txn(conn: Connection, room_id: int, file_uuid: str) -> SharedFile | None:
    row = conn.execute(
        _FILES.where(room_files.c.room_id == room_id, room_files.c.file_uuid == file_uuid)
    ).first()
    return SharedFile(*row) if row else None


def delete_room_file_txn(conn: Connection, room_id: int, file_uuid: str) -> SharedFile | None:
    """Remove a shared file from its group and from the chat-file store; None when the group has
    no such file."""
    found = room_file_txn(conn, room_id, file_uuid)
    if found is not None:
        conn.execute(delete(room_files).where(room_files.c.file_uuid == file_uuid))
        conn.execute(delete(chatfiles).where(chatfiles.c.uuid == file_uuid))
    return found
