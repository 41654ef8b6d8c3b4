"""Database layer: engines and sessions, the ORM models, and migrations.

Models live in `leadsync.db.models`; run migrations with `leadsync.db.migrate`.
"""

from leadsync.db.engine import (
    backend_name,
    create_engine_for,
    create_sessionmaker,
    normalize_url,
    sync_url,
)

__all__ = ["backend_name", "create_engine_for", "create_sessionmaker", "normalize_url", "sync_url"]
