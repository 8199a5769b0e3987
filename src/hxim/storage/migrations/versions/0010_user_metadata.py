"""user attributes (Easemob's /metadata/user/…): user_metadata

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_metadata",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_metadata_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_user_metadata_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_user_metadata")),
    )
    with op.batch_alter_table("user_metadata", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_metadata_app_uuid_size"), ["app_uuid", "size"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_metadata", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_metadata_app_uuid_size"))
    op.drop_table("user_metadata")
