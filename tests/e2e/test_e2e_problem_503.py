"""The database away under a request (a restart, a cut connection, a full disk) is a clean 503
problem+json with Retry-After, never a 500 (found by tests/chaos); any other database error
stays a 500 with a correlation id (test_e2e_problem_500.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.exc import OperationalError

from e2e.problem_kit import answer_to

PII = {"email": "maria.gomez@gmail.com"}


async def test_a_lost_database_connection_is_a_503_problem(
    migrated_db_url: str, data_dir: Path
) -> None:
    lost = OperationalError(
        "SELECT ... FROM contact", PII, Exception("terminating connection due to admin")
    )
    response, _ = await answer_to(
        lost, path="/gone", database_url=migrated_db_url, data_dir=data_dir
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert (body["status"], body["title"], body["instance"]) == (
        503,
        "Database unavailable",
        "/gone",
    )
    assert "gmail" not in response.text


def _sqlite_full() -> sqlite3.OperationalError:
    """A real SQLITE_FULL from SQLite itself (a database capped at three pages)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE t (x)")
        db.execute("PRAGMA max_page_count = 3")
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("SQLite stored a blob past its page cap")


async def test_a_full_disk_is_a_503_problem_that_says_so(
    migrated_db_url: str, data_dir: Path
) -> None:
    error = OperationalError("INSERT INTO contact ...", PII, _sqlite_full())
    response, logs = await answer_to(
        error, path="/full", database_url=migrated_db_url, data_dir=data_dir
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert "disk full" in response.json()["detail"]
    assert "gmail" not in response.text
    assert [e["event"] for e in logs if e.get("path") == "/full"] == [
        "database full: no room to write"
    ]
