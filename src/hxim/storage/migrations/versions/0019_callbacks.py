"""callbacks: rules per app, their version, and the outbox of post-send callbacks

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-20 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "callback_rules",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("chat_types", sa.Text(), nullable=False),
        sa.Column("msg_types", sa.Text(), nullable=False),
        sa.Column("on_failure", sa.String(length=8), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_callback_rules_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_rules")),
        sa.UniqueConstraint("app_uuid", "name", name=op.f("uq_callback_rules_app_uuid_name")),
    )
    op.create_table(
        "callback_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_version")),
    )
    op.create_table(
        "callback_outbox",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("rule_id", RowId, nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("target_url", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["callback_rules.id"], name=op.f("fk_callback_outbox_rule_id_callback_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_outbox")),
    )
    with op.batch_alter_table("callback_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_outbox_rule_id_state_due"), ["rule_id", "state", "due"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_callback_outbox_state_created"), ["state", "created"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_outbox_state_created"))
        batch_op.drop_index(batch_op.f("ix_callback_outbox_rule_id_state_due"))
    op.drop_table("callback_outbox")
    op.drop_table("callback_version")
    op.drop_table("callback_rules")
