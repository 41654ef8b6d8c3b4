"""Every HTTP 500 is a problem+json document with a correlation id that is also in the log."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import IntegrityError

from e2e.problem_kit import answer_to

PII = {"email": "maria.gomez@gmail.com", "last_name": "Gomez"}


async def test_an_unexpected_error_is_a_problem_document_with_a_correlation_id(
    migrated_db_url: str, data_dir: Path
) -> None:
    # A bug of the kind the fault run found: SQLAlchemy quotes the SQL parameters.
    error = IntegrityError("INSERT INTO lead_link ...", PII, Exception("UNIQUE failed"))
    response, logs = await answer_to(
        error, path="/boom", database_url=migrated_db_url, data_dir=data_dir
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    correlation_id = body["correlation_id"]
    assert response.headers["x-correlation-id"] == correlation_id
    assert correlation_id in body["detail"]
    assert (body["status"], body["title"], body["instance"]) == (500, "Internal error", "/boom")
    assert "gmail" not in response.text
    assert "Gomez" not in response.text
    [logged] = [e for e in logs if e["event"] == "unhandled error"]
    assert logged["correlation_id"] == correlation_id
    assert isinstance(logged["exc_info"], IntegrityError)
