"""groups and chat rooms: rooms, room_members, room_blocks, room_mutes, room_whitelist, room_super_admins

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:17:16.002994
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("public", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("membersonly", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("allowinvites", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("invite_need_confirm", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("maxusers", sa.Integer(), nullable=False),
        sa.Column("custom", sa.Text(), server_default="", nullable=False),
        sa.Column("mute_until", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("members_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_uuid"], ["apps.uuid"], name=op.f("fk_rooms_app_uuid_apps"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_rooms_owner_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rooms_app_uuid_kind_id"), ["app_uuid", "kind", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rooms_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "room_super_admins",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_room_super_admins_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_super_admins_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_room_super_admins")),
    )
    with op.batch_alter_table("room_super_admins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_room_super_admins_app_uuid_created"), ["app_uuid", "created"], unique=False
        )

    op.create_table(
        "room_blocks",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_blocks_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_blocks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_blocks")),
    )
    with op.batch_alter_table("room_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_blocks_user_id"), ["user_id"], unique=False)

    op.create_table(
        "room_members",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("joined", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_members_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_members")),
    )
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_members_user_id_room_id"), ["user_id", "room_id"], unique=False)

    op.create_table(
        "room_mutes",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expire", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_mutes_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_mutes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_mutes")),
    )
    with op.batch_alter_table("room_mutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_mutes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "room_whitelist",
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_whitelist_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_whitelist_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_whitelist")),
    )
    with op.batch_alter_table("room_whitelist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_whitelist_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room_whitelist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_whitelist_user_id"))

    op.drop_table("room_whitelist")
    with op.batch_alter_table("room_mutes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_mutes_user_id"))

    op.drop_table("room_mutes")
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_members_user_id_room_id"))

    op.drop_table("room_members")
    with op.batch_alter_table("room_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_blocks_user_id"))

    op.drop_table("room_blocks")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rooms_owner_id"))
        batch_op.drop_index(batch_op.f("ix_rooms_app_uuid_kind_id"))

    op.drop_table("rooms")
    with op.batch_alter_table("room_super_admins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_super_admins_app_uuid_created"))

    op.drop_table("room_super_admins")
