"""Storage: SQLAlchemy Core tables, named transaction functions, engines and migrations.

Only services import from here. Every query lives in a `*_txn` function that takes a
connection first; `Database.read`/`Database.write` run one such function in one transaction.
"""

from hxim.storage.database import Database

__all__ = ["Database"]
