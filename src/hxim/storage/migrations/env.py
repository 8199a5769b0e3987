"""Alembic environment: runs migrations on the engine the caller handed over.

On PostgreSQL the migrations run under a transaction-level advisory lock
(`database.MIGRATION_LOCK`), taken before the current revision is read: nodes of a cluster that
start at once on a new database take turns, and the ones after the first find the schema at its
newest revision and do nothing. Without it the second node's `CREATE TABLE` collided with the
first's and the node stopped.
"""

from alembic import context

from hxim.storage.database import MIGRATION_LOCK
from hxim.storage.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: build one from the ini's URL
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # held until this transaction ends; the revision is read after it (READ COMMITTED)
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
    connection.commit()
