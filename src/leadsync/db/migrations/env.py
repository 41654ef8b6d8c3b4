"""Alembic environment: migrations run synchronously on the connection `leadsync.db.migrate`
hands over, or (the `alembic` CLI, for developers writing migrations) on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from leadsync.db.models import Base

# Any constant works; it only has to be the same for every leadsync instance.
_MIGRATION_LOCK_ID = 0x1EAD5
_config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite ALTERs become copy-and-swap
        transactional_ddl=True,  # also on SQLite (the engine emits real BEGINs): all or nothing
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several instances starting together: one migrates, the others wait and then
            # find nothing left to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({row[0] for row in broken})
                raise RuntimeError(f"migration left broken foreign keys in {tables}")


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported")
    connection = _config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from leadsync.config import get_settings
    from leadsync.db.engine import create_sync_engine_for

    engine = create_sync_engine_for(
        get_settings().effective_database_url, sqlite_foreign_keys=False
    )
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


_main()
