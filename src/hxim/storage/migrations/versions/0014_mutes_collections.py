"""global mutes (user_mutes), user collections (user_collections), chat-file lifetimes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_mutes",
        sa.Column("user_id", ROW_ID, nullable=False),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("expire", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_mutes_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_user_mutes_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "chat_type", name=op.f("pk_user_mutes")),
    )
    with op.batch_alter_table("user_mutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_mutes_app_uuid_user_id"), ["app_uuid", "user_id"], unique=False)
    op.create_table(
        "user_collections",
        sa.Column("user_id", ROW_ID, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ext", sa.Text(), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_collections_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_user_collections")),
    )
    with op.batch_alter_table("user_collections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_collections_user_id_created_id"), ["user_id", "created", "id"], unique=False
        )
    with op.batch_alter_table("chatfiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forever", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("refreshed", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chatfiles", schema=None) as batch_op:
        batch_op.drop_column("refreshed")
        batch_op.drop_column("forever")
    with op.batch_alter_table("user_collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_collections_user_id_created_id"))
    op.drop_table("user_collections")
    with op.batch_alter_table("user_mutes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_mutes_app_uuid_user_id"))
    op.drop_table("user_mutes")
