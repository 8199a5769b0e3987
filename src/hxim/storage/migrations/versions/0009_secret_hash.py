"""client secrets kept as hashes: apps.client_secret becomes apps.secret_hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:30:00.000000
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column("client_secret", new_column_name="secret_hash", existing_type=sa.String(length=128))
    conn = op.get_bind()
    apps = sa.table("apps", sa.column("uuid", sa.String), sa.column("secret_hash", sa.String))
    for uuid, secret in conn.execute(sa.select(apps.c.uuid, apps.c.secret_hash)).all():
        if not secret.startswith("sha256$"):
            hashed = "sha256$" + hashlib.sha256(secret.encode()).hexdigest()
            conn.execute(sa.update(apps).where(apps.c.uuid == uuid).values(secret_hash=hashed))


def downgrade() -> None:
    # the secrets cannot come back: every app needs `hxim app rotate-secret` after a downgrade
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column("secret_hash", new_column_name="client_secret", existing_type=sa.String(length=128))
