"""the outbox's (state, created) index holds failed callbacks only

A pending row is written with every message that has a post-send rule and deleted once its
callback is delivered; only failed rows are ever looked up by state and creation time.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-31 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_callback_outbox_state_created"
_FAILED = sa.text("state = 'failed'")


def upgrade() -> None:
    op.drop_index(_NAME, table_name="callback_outbox")
    op.create_index(
        _NAME, "callback_outbox", ["state", "created"], sqlite_where=_FAILED, postgresql_where=_FAILED
    )


def downgrade() -> None:
    op.drop_index(_NAME, table_name="callback_outbox")
    op.create_index(_NAME, "callback_outbox", ["state", "created"])
