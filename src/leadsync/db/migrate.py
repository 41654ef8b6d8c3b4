"""Run the schema migrations from code (`leadsync db upgrade`, tests, start-up).

The Alembic config is built here, so no alembic.ini is needed at run time. The functions are
synchronous (Alembic is); from async code call them through `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from leadsync.db.engine import create_sync_engine_for

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"


def _config(connection: Connection) -> Config:
    config = Config()
    # ConfigParser interpolation: a literal % in the install path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _run(url: str, action: Callable[[Config], None]) -> None:
    # Foreign keys off on SQLite: its ALTER (batch mode) drops and recreates tables, which
    # would cascade with enforcement on; env.py runs PRAGMA foreign_key_check instead.
    engine = create_sync_engine_for(url, sqlite_foreign_keys=False)
    try:
        with engine.connect() as connection:
            action(_config(connection))
    finally:
        engine.dispose()


def upgrade(*, url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (all the way by default)."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(*, url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` ("base" drops every table)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current(*, url: str) -> str | None:
    """The revision the database at `url` is at; None when it was never migrated."""
    engine = create_sync_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision shipped with this version of leadsync."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
