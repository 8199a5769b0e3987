"""group and chat-room features: disabled, announcement, shared files, attributes, tags

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-11 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "room_attributes",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("auto_delete", sa.Boolean(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_room_attributes_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_attributes_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "name", name=op.f("pk_room_attributes")),
    )
    with op.batch_alter_table("room_attributes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_attributes_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "room_files",
        sa.Column("file_uuid", sa.String(length=36), nullable=False),
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_uuid"], ["chatfiles.uuid"], name=op.f("fk_room_files_file_uuid_chatfiles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_files_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("file_uuid", name=op.f("pk_room_files")),
    )
    with op.batch_alter_table("room_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_files_room_id_created"), ["room_id", "created"], unique=False)

    op.create_table(
        "room_member_attributes",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_member_attributes_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_member_attributes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", "name", name=op.f("pk_room_member_attributes")),
    )
    with op.batch_alter_table("room_member_attributes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_member_attributes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "room_member_tags",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("expire", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_member_tags_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_member_tags_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", "tag", name=op.f("pk_room_member_tags")),
    )
    with op.batch_alter_table("room_member_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_member_tags_room_id_tag"), ["room_id", "tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_member_tags_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("announcement", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:

    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_column("announcement")
        batch_op.drop_column("disabled")

    with op.batch_alter_table("room_member_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_member_tags_user_id"))
        batch_op.drop_index(batch_op.f("ix_room_member_tags_room_id_tag"))

    op.drop_table("room_member_tags")
    with op.batch_alter_table("room_member_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_member_attributes_user_id"))

    op.drop_table("room_member_attributes")
    with op.batch_alter_table("room_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_files_room_id_created"))

    op.drop_table("room_files")
    with op.batch_alter_table("room_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_attributes_owner_id"))

    op.drop_table("room_attributes")
