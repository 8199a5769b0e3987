"""core schema: apps, users, contacts, blocks, messages, offline, chatfiles

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:07:28.435700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "apps",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("org", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("client_secret", sa.String(length=128), nullable=False),
        sa.Column("token_epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("open_registration", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_apps")),
        sa.UniqueConstraint("org", "name", name=op.f("uq_apps_org_name")),
    )
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )
    op.create_table(
        "chatfiles",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("uploader", sa.String(length=255), nullable=True),
        sa.Column("filename", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("share_secret", sa.String(length=128), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_chatfiles_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_chatfiles")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_messages_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_app_uuid_timestamp_id"), ["app_uuid", "timestamp", "id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("username_key", sa.String(length=255), nullable=False),
        sa.Column("nickname", sa.String(length=1024), nullable=True),
        sa.Column("activated", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("token_epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("profile", sa.Text(), server_default="{}", nullable=False),
        sa.Column("scram_salt", sa.LargeBinary(), nullable=False),
        sa.Column("scram_iterations", sa.Integer(), nullable=False),
        sa.Column("sha1_stored_key", sa.LargeBinary(), nullable=False),
        sa.Column("sha1_server_key", sa.LargeBinary(), nullable=False),
        sa.Column("sha256_stored_key", sa.LargeBinary(), nullable=False),
        sa.Column("sha256_server_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["app_uuid"], ["apps.uuid"], name=op.f("fk_users_app_uuid_apps"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("app_uuid", "username_key", name=op.f("uq_users_app_uuid_username_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_app_uuid_created_id"), ["app_uuid", "created", "id"], unique=False)

    op.create_table(
        "blocks",
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("blocked_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_id"], ["users.id"], name=op.f("fk_blocks_blocked_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_blocks_owner_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "blocked_id", name=op.f("pk_blocks")),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blocks_blocked_id"), ["blocked_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["users.id"], name=op.f("fk_contacts_contact_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_contacts_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("owner_id", "contact_id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "offline",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_offline_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "message_id", name=op.f("pk_offline")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:

    op.drop_table("offline")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_contact_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocks_blocked_id"))

    op.drop_table("blocks")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_app_uuid_created_id"))

    op.drop_table("users")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_app_uuid_timestamp_id"))

    op.drop_table("messages")
    op.drop_table("chatfiles")
    op.drop_table("server_keys")
    op.drop_table("apps")
