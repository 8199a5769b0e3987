"""threads: the link of a thread (a room of kind "thread") to its group and parent message

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-22 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_threads",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("msg_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_threads_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["rooms.id"], name=op.f("fk_room_threads_parent_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_threads")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_room_threads_msg_id")),
    )
    with op.batch_alter_table("room_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_threads_parent_id_room_id"), ["parent_id", "room_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_threads_parent_id_room_id"))
    op.drop_table("room_threads")
