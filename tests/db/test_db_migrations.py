"""Migrations on real SQLite and PostgreSQL: the full up/down cycle, models == migrations."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Identity, inspect, text

from leadsync.db.engine import backend_name, create_sync_engine_for
from leadsync.db.migrate import current, downgrade, head, upgrade
from leadsync.db.models import Base

ALEMBIC_TABLE = "alembic_version"


def _tables(url: str) -> set[str]:
    engine = create_sync_engine_for(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _schema_objects(url: str) -> set[str]:
    """Every table, index and sequence in the database (SQLite's internals excepted)."""
    if backend_name(url) == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    else:
        query = (
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema()"
        )
    engine = create_sync_engine_for(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text(query)).scalars())
    finally:
        engine.dispose()


def test_full_cycle_creates_and_drops_every_table(db_url: str) -> None:
    assert current(url=db_url) is None

    upgrade(url=db_url)
    assert current(url=db_url) == head()
    assert _tables(db_url) == set(Base.metadata.tables) | {ALEMBIC_TABLE}

    downgrade(url=db_url, revision="base")
    assert current(url=db_url) is None
    # Indexes, constraints and identity sequences went with their tables.
    leftovers = {name for name in _schema_objects(db_url) if not name.startswith(ALEMBIC_TABLE)}
    assert leftovers == set()

    upgrade(url=db_url)
    assert current(url=db_url) == head()
    assert _tables(db_url) == set(Base.metadata.tables) | {ALEMBIC_TABLE}


def test_upgrade_is_idempotent_at_head(db_url: str) -> None:
    upgrade(url=db_url)
    before = _schema_objects(db_url)
    upgrade(url=db_url)
    assert _schema_objects(db_url) == before
    assert current(url=db_url) == head()


def test_models_match_the_migrations(migrated_db_url: str) -> None:
    engine = create_sync_engine_for(migrated_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff: list[Any] = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    if engine.dialect.name == "sqlite":
        diff = [entry for entry in diff if not _is_identity_default(entry)]
    assert diff == []


def _is_identity_default(entry: Any) -> bool:
    # Column changes come as a list of tuples (op, schema, table, column, info, old, new).
    # SQLite has no identity columns; the models' Identity() is for PostgreSQL.
    return (
        isinstance(entry, list)
        and entry[0][0] == "modify_default"
        and isinstance(entry[0][-1], Identity)
    )


def test_instances_starting_together_migrate_once(db_url: str) -> None:
    # Several servers running `leadsync db upgrade` at the same moment must all succeed.
    # Separate processes, as in production (Alembic's context is process-global).
    script = "import sys; from leadsync.db.migrate import upgrade; upgrade(url=sys.argv[1])"
    instances = [
        subprocess.Popen([sys.executable, "-c", script, db_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for instance in instances:
        _, stderr = instance.communicate(timeout=90)
        assert instance.returncode == 0, stderr.decode(errors="replace")[-2000:]
    assert current(url=db_url) == head()
    assert _tables(db_url) == set(Base.metadata.tables) | {ALEMBIC_TABLE}


def test_sqlite_file_in_a_missing_folder_is_created_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"
    url = f"sqlite:///{(folder / 'leadsync.db').as_posix()}"
    upgrade(url=url)
    assert current(url=url) == head()
    assert folder.stat().st_mode & 0o777 == 0o700


def _execute(url: str, *statements: str, **params: str) -> list[Any]:
    """Run the statements in one transaction; the rows of the last one if it returns any."""
    engine = create_sync_engine_for(url)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(s), params) for s in statements]
            return list(results[-1].fetchall()) if results[-1].returns_rows else []
    finally:
        engine.dispose()


def test_returning_leads_migration_keeps_data_both_ways(db_url: str) -> None:
    # 0003 turns UNIQUE(integration_id, resman_prospect_id) into an index and widens
    # sync_conflict; existing rows survive the table rebuild (SQLite batch mode) both ways.
    upgrade(url=db_url, revision="2026_11_25_0002_app_setting")
    pid, cid, iid = "1" * 32, "2" * 32, "3" * 32
    if backend_name(db_url) == "postgresql":
        pid, cid, iid = (str(uuid.UUID(x)) for x in (pid, cid, iid))
    _execute(
        db_url,
        "INSERT INTO property (id, name) VALUES (:pid, 'Maple')",
        "INSERT INTO conversation (id, property_id) VALUES (:cid, :pid)",
        "INSERT INTO sync_conflict (id, conversation_id, field, status) "
        "VALUES (:iid, :cid, 'status', 'open')",
        pid=pid,
        cid=cid,
        iid=iid,
    )
    upgrade(url=db_url)
    rows = _execute(db_url, "SELECT field, conflict_type, status FROM sync_conflict")
    assert [tuple(r) for r in rows] == [("status", "status", "open")]
    _execute(db_url, "UPDATE sync_conflict SET status = 'dismissed'")

    downgrade(url=db_url, revision="2026_11_25_0002_app_setting")
    rows = _execute(db_url, "SELECT field, status, resolution FROM sync_conflict")
    assert [tuple(r) for r in rows] == [("status", "resolved", "dismissed")]
