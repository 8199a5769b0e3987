"""what a user no longer reads back of their conversations: roaming_deleted, roaming_cuts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "roaming_deleted",
        sa.Column("user_id", ROW_ID, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_roaming_deleted_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "message_id", name=op.f("pk_roaming_deleted")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "roaming_cuts",
        sa.Column("user_id", ROW_ID, nullable=False),
        sa.Column("conversation", sa.String(length=300), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_roaming_cuts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "conversation", name=op.f("pk_roaming_cuts")),
    )


def downgrade() -> None:
    op.drop_table("roaming_cuts")
    op.drop_table("roaming_deleted")
