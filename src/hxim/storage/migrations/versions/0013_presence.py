"""Easemob presence (the presence_* REST pages): presence_subscriptions, presence_status

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "presence_subscriptions",
        sa.Column("subscriber_id", _ROW_ID, nullable=False),
        sa.Column("target_id", _ROW_ID, nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["users.id"], name=op.f("fk_presence_subscriptions_subscriber_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["users.id"], name=op.f("fk_presence_subscriptions_target_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_presence_subscriptions_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "target_id", name=op.f("pk_presence_subscriptions")),
    )
    with op.batch_alter_table("presence_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_presence_subscriptions_target_id_expiry"), ["target_id", "expiry"], unique=False
        )
    op.create_table(
        "presence_status",
        sa.Column("user_id", _ROW_ID, nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("ext", sa.Text(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_presence_status_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_presence_status_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "resource", name=op.f("pk_presence_status")),
    )


def downgrade() -> None:
    op.drop_table("presence_status")
    with op.batch_alter_table("presence_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_subscriptions_target_id_expiry"))
    op.drop_table("presence_subscriptions")
