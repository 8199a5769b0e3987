"""offline push: device bindings, notification settings, preferences, templates, hourly counts

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-28 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE")


def _app_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["app_uuid"], ["apps.uuid"], name=op.f(f"fk_{table}_app_uuid_apps"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "push_bindings",
        sa.Column("user_id", RowId, nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("notifier_name", sa.String(length=255), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("device_token", sa.Text(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        _user_fk("push_bindings"),
        _app_fk("push_bindings"),
        sa.PrimaryKeyConstraint("user_id", "device_id", "notifier_name", name=op.f("pk_push_bindings")),
    )
    with op.batch_alter_table("push_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_bindings_app_uuid_device_id"), ["app_uuid", "device_id"], unique=False)
    op.create_table(
        "push_settings",
        sa.Column("user_id", RowId, nullable=False),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=True),
        sa.Column("ignore_interval", sa.String(length=16), nullable=False),
        sa.Column("ignore_until", sa.BigInteger(), nullable=False),
        _user_fk("push_settings"),
        _app_fk("push_settings"),
        sa.PrimaryKeyConstraint("user_id", "chat_type", "target", name=op.f("pk_push_settings")),
    )
    op.create_table(
        "push_preferences",
        sa.Column("user_id", RowId, nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=255), nullable=False),
        sa.Column("template", sa.String(length=255), nullable=False),
        _user_fk("push_preferences"),
        _app_fk("push_preferences"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_push_preferences")),
    )
    op.create_table(
        "push_templates",
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title_pattern", sa.Text(), nullable=False),
        sa.Column("content_pattern", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        _app_fk("push_templates"),
        sa.PrimaryKeyConstraint("app_uuid", "name", name=op.f("pk_push_templates")),
    )
    op.create_table(
        "push_counts",
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("attempted", sa.BigInteger(), nullable=False),
        sa.Column("succeeded", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        _app_fk("push_counts"),
        sa.PrimaryKeyConstraint("app_uuid", "hour", name=op.f("pk_push_counts")),
    )


def downgrade() -> None:
    op.drop_table("push_counts")
    op.drop_table("push_templates")
    op.drop_table("push_preferences")
    op.drop_table("push_settings")
    with op.batch_alter_table("push_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_bindings_app_uuid_device_id"))
    op.drop_table("push_bindings")
