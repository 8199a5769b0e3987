"""app users and group faces for the /api/v2/easemob app API: app_users, app_group_faces

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:43:29.123692
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_users",
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("sex", sa.Integer(), server_default="0", nullable=False),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("bg", sa.Text(), nullable=True),
        sa.Column("verified", sa.Text(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("certification", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_uuid"], ["apps.uuid"], name=op.f("fk_app_users_app_uuid_apps"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_uuid", "id", name=op.f("pk_app_users")),
    )
    op.create_table(
        "app_group_faces",
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("face", sa.String(length=2048), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_app_group_faces_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_uuid", "group_id", name=op.f("pk_app_group_faces")),
    )


def downgrade() -> None:
    op.drop_table("app_group_faces")
    op.drop_table("app_users")
