"""Personal data at rest and on the network: the SQLite files are owner-only, and `serve`
listens on loopback unless told otherwise."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "leadsync.db"
    engine = create_engine_for(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _mode(database) == 0o600
        assert _mode(database.parent) == 0o700
        wal = database.with_name("leadsync.db-wal")
        if wal.exists():  # WAL mode: SQLite copies the database file's permissions
            assert _mode(wal) == 0o600
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    engine = create_engine_for(f"sqlite+aiosqlite:///{database}")
    await engine.dispose()
    assert _mode(database) == 0o600


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "127.0.0.1"),
        (["--host", "0.0.0.0"], {}, "0.0.0.0"),  # noqa: S104 - told to
        ([], {"LEADSYNC_HOST": "::1"}, "::1"),
    ],
)
def test_serve_binds_loopback_unless_told(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], expected: str
) -> None:
    seen: dict[str, Any] = {}

    def run(_app: object, **kwargs: Any) -> None:
        seen.update(kwargs)  # uvicorn itself is not under test: only what we ask of it

    monkeypatch.setattr("uvicorn.run", run)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen["host"] == expected
