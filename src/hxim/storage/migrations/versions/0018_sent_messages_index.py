"""what a user sent, by the case-folded sender: ix_messages_app_uuid_sender_key_id

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_app_uuid_sender_key_id", "messages", ["app_uuid", sa.text("lower(sender)"), "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_app_uuid_sender_key_id", table_name="messages")
