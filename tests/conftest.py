"""Fixtures shared by the whole suite: an isolated environment for every test, and real
databases — a SQLite file, and PostgreSQL when LEADSYNC_TEST_POSTGRES_URL names a server —
fresh for every test.

- `db_url`: an empty database, once per backend (`sqlite`, `postgres`; the latter skips when
  no server is configured and carries the `postgres` marker).
- `migrated_db_url`: the same, at the newest migration (cloned from a per-run template).
- `engine`, `session_factory`, `session`: async SQLAlchemy objects on `migrated_db_url`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker, normalize_url
from leadsync.db.migrate import upgrade
from leadsync.sync.queue import flags
from leadsync.telemetry import logging as telemetry_logging

PG_URL_ENV = "LEADSYNC_TEST_POSTGRES_URL"
_PG_SKIP_REASON = (
    "PostgreSQL tests need LEADSYNC_TEST_POSTGRES_URL=postgresql://user@host:5432/db (CI sets it)"
)
# Test databases are named leadsync_t_<run>_<hex>. Each test run holds a PostgreSQL advisory
# lock on its <run> number for as long as it lives, so a later run can tell the databases of a
# crashed run (lock free) from those of a run still going on (lock held) and drop only those.
_PG_DB_PREFIX = "leadsync_t_"
_PG_LOCK_CLASS = 0x7E57  # advisory-lock namespace of test runs (two-key form)


# Hypothesis fails an example that takes over 200 ms by default: a timing assertion, false on
# a loaded machine. Property tests check properties; how fast is not one of them.
hypothesis.settings.register_profile("leadsync", deadline=None)
hypothesis.settings.load_profile("leadsync")

# Module loggers must follow `structlog.testing.capture_logs` whenever a test uses it, also
# after an in-process CLI command configured logging (see `CACHE_LOGGERS`).
telemetry_logging.CACHE_LOGGERS = False


# --- environment -------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Every test starts without LEADSYNC_* settings from the caller's shell and with its own
    (not yet created) data folder; returns that folder."""
    for name in list(os.environ):
        if name.startswith("LEADSYNC_") and name != PG_URL_ENV:
            monkeypatch.delenv(name)
    folder = tmp_path / "leadsync-data"
    monkeypatch.setenv("LEADSYNC_DATA_DIR", str(folder))
    get_settings.cache_clear()
    flags.reset_cache()
    yield folder
    get_settings.cache_clear()
    flags.reset_cache()


# --- SQLite ------------------------------------------------------------------------------
@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An async URL of a SQLite file that does not exist yet."""
    return f"sqlite+aiosqlite:///{(tmp_path / 'test.db').as_posix()}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    # upgrade() disposes its engine; closing the last connection checkpoints the WAL into the
    # main file, so that file alone is the whole database.
    upgrade(url=f"sqlite:///{path.as_posix()}")
    return path


# --- PostgreSQL --------------------------------------------------------------------------
def _libpq_url(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _admin_execute(server_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(statement)


def _create_database(server: _PgServer, *, template: str | None = None) -> str:
    name = f"{_PG_DB_PREFIX}{server.run:x}_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    _admin_execute(server.url, statement)
    return name


def _drop_database(server_url: str, name: str) -> None:
    _admin_execute(
        server_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def _drop_abandoned_databases(conn: psycopg.Connection[tuple[object, ...]], url: str) -> None:
    """Drop test databases whose run no longer holds its lock (the run died)."""
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (_PG_DB_PREFIX,)
    ).fetchall()
    for (name,) in rows:
        try:
            run = int(str(name).removeprefix(_PG_DB_PREFIX).split("_", 1)[0], 16)
        except ValueError:
            continue  # not ours to judge
        taken = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_PG_LOCK_CLASS, run))
        if taken.fetchone() == (True,):
            _drop_database(url, str(name))
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_PG_LOCK_CLASS, run))


@dataclass(frozen=True)
class _PgServer:
    url: str
    run: int


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_PgServer]:
    """The server named by LEADSYNC_TEST_POSTGRES_URL (skips when unset). Holds this run's
    advisory lock for the whole session and drops databases of runs that died."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(_PG_SKIP_REASON)
    run = secrets.randbits(31)
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (_PG_LOCK_CLASS, run))
        _drop_abandoned_databases(conn, url)
        yield _PgServer(url=url, run=run)


@pytest.fixture
def postgres_url(postgres_server: _PgServer) -> Iterator[str]:
    """An async URL of a new, empty PostgreSQL database, dropped after the test."""
    name = _create_database(postgres_server)
    try:
        yield normalize_url(_libpq_url(postgres_server.url, name))
    finally:
        _drop_database(postgres_server.url, name)


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: _PgServer) -> Iterator[str]:
    name = _create_database(postgres_server)
    try:
        upgrade(url=_libpq_url(postgres_server.url, name))
        yield name
    finally:
        _drop_database(postgres_server.url, name)


# --- either backend ----------------------------------------------------------------------
_BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(params=_BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest migration on each backend in turn, copied from a template
    migrated once per run (a clone takes milliseconds, a migration a few hundred)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "migrated.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target.as_posix()}"
        return
    server: _PgServer = request.getfixturevalue("postgres_server")
    name = _create_database(server, template=request.getfixturevalue("_postgres_template"))
    try:
        yield normalize_url(_libpq_url(server.url, name))
    finally:
        _drop_database(server.url, name)


@pytest.fixture
async def engine(migrated_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(migrated_db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session
