"""`leadsync report`, `doctor` and `reconcile` on a real database: text and JSON output, exit
codes, refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from factories import make_conversation, make_integration, make_property
from leadsync.cli import app
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.migrate import upgrade
from leadsync.db.models import LeadLink, LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.security.crypto import generate_key


async def _seed(url: str) -> None:
    """Two chatbot leads pushed in 2 s and 40 s, one walk-in typed in ResMan."""
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            prop = await make_property(session)
            integration = await make_integration(session, property_id=prop.id)
            now = utcnow()
            for n, seconds in enumerate((2, 40)):
                conv = await make_conversation(session, property_id=prop.id)
                session.add(
                    LeadLink(
                        conversation_id=conv.id,
                        integration_id=integration.id,
                        resman_prospect_id=f"P-{n}",
                        base={},
                    )
                )
                session.add(
                    LeadSyncQueue(
                        integration_id=integration.id,
                        conversation_id=conv.id,
                        lead_key=str(conv.id),
                        sync_operation="push",
                        state="succeeded",
                        created_at=now - timedelta(seconds=seconds + 60),
                        updated_at=now - timedelta(seconds=60),
                    )
                )
            walk_in = await make_conversation(session, property_id=prop.id)
            walk_in.source = "resman"
    finally:
        await engine.dispose()


@pytest.fixture
def seeded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", generate_key())
    get_settings.cache_clear()
    upgrade(url=db_url)
    asyncio.run(_seed(db_url))


@pytest.mark.usefixtures("seeded")
def test_report_text_and_json() -> None:
    text = CliRunner().invoke(app, ["report", "--since", "1d"])
    assert text.exit_code == 0, text.output
    assert "PASS  sync success rate to_resman" in text.output
    assert "FAIL  sync latency to_resman p99" in text.output  # 40 s > 30 s
    assert "FAIL  manual entry avoided" in text.output
    assert text.output.strip().endswith("overall: FAIL")
    as_json = CliRunner().invoke(app, ["report", "--json"])
    assert as_json.exit_code == 0, as_json.output
    found = {c["name"]: c for c in json.loads(as_json.stdout)["criteria"]}
    assert found["sync latency to_resman p50"]["value"] == pytest.approx(40, abs=1)
    assert found["sync latency to_resman p99"]["value"] == pytest.approx(40, abs=1)
    assert found["manual entry avoided"]["value"] == pytest.approx(200 / 3)
    assert found["sync success rate from_resman"]["verdict"] == "n/a"


@pytest.mark.usefixtures("seeded")
def test_a_bad_period_is_refused() -> None:
    result = CliRunner().invoke(app, ["report", "--since", "soon"])
    assert result.exit_code == 1
    assert "since: 'soon' is not a period" in result.output


@pytest.mark.usefixtures("seeded")
def test_reconcile_refuses_an_unknown_integration() -> None:
    result = CliRunner().invoke(
        app, ["reconcile", "--integration", "9b2e6c9e-0000-4000-8000-000000000000"]
    )
    assert result.exit_code == 1
    assert "no integration 9b2e6c9e-0000-4000-8000-000000000000" in result.output


def test_doctor_exits_1_when_an_item_fails(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", generate_key())
    get_settings.cache_clear()
    refused = CliRunner().invoke(app, ["doctor"])
    assert refused.exit_code == 1
    assert "run leadsync db upgrade" in refused.output
    upgrade(url=db_url)
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1, "no alert route is configured"
    items = {c["item"]: c for c in json.loads(result.stdout)}
    assert items["monitoring configured"]["passed"] is False
    assert items["rollback flag (pause/resume)"]["passed"] is True


@pytest.mark.usefixtures("seeded")
def test_a_configuration_problem_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", "not-a-fernet-key")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output
