"""message reactions (message_reactions), text moderation lists and words (moderation_lists,
moderation_words)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_reactions",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("reaction", sa.String(length=128), nullable=False),
        sa.Column("user_id", ROW_ID, nullable=False),
        sa.Column("reaction_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_reactions_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_message_reactions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", "reaction", "user_id", name=op.f("pk_message_reactions")),
    )
    with op.batch_alter_table("message_reactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_reactions_message_id_reaction_id"), ["message_id", "reaction", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_reactions_user_id"), ["user_id"], unique=False)
    op.create_table(
        "moderation_lists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("app_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("tag_id", sa.String(length=128), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("full_match", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creator", sa.String(length=255), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_uuid"], ["apps.uuid"], name=op.f("fk_moderation_lists_app_uuid_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_lists")),
        sa.UniqueConstraint("app_uuid", "name", name=op.f("uq_moderation_lists_app_uuid_name")),
    )
    op.create_table(
        "moderation_words",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("word", sa.String(length=1024), nullable=False),
        sa.Column("creator", sa.String(length=255), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["moderation_lists.id"], name=op.f("fk_moderation_words_list_id_moderation_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_words")),
        sa.UniqueConstraint("list_id", "word", name=op.f("uq_moderation_words_list_id_word")),
    )


def downgrade() -> None:
    op.drop_table("moderation_words")
    op.drop_table("moderation_lists")
    with op.batch_alter_table("message_reactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_reactions_user_id"))
        batch_op.drop_index(batch_op.f("ix_message_reactions_message_id_reaction_id"))
    op.drop_table("message_reactions")
