"""The operator commands through typer's CliRunner, on a database configured the way a user
configures it (LEADSYNC_DATABASE_URL / LEADSYNC_DATA_DIR), starting empty: every command
migrates it first."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
import typer
from sqlalchemy import update
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner, Result

from leadsync.cli.apikey import apikey_app
from leadsync.cli.integration import integration_app
from leadsync.cli.queue import queue_app
from leadsync.cli.sync import sync_app
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.models import LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.security.crypto import generate_key
from leadsync.sync.queue import flags
from leadsync.sync.queue.repository import enqueue

API_KEY = "rk-live-9a8b7c6d5e4f3a2b1c0d-xy"
PARTNER_ID = "partner-77aa88bb99cc"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(integration_app, name="integration")
    app.add_typer(apikey_app, name="apikey")
    app.add_typer(queue_app, name="queue")
    app.add_typer(sync_app, name="sync")
    return app


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose commands use the empty test database (SQLite, then PostgreSQL)."""
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", db_url)
    if not db_url.startswith("sqlite"):
        monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", generate_key())
    get_settings.cache_clear()
    # The kill switch is read through a per-process cache; every test starts from a cold one.
    flags.reset_cache()
    return CliRunner()


def _run(cli: CliRunner, *args: str, input: str | None = None) -> Result:
    return cli.invoke(_app(), list(args), input=input)


def _ok(cli: CliRunner, *args: str) -> Any:
    result = _run(cli, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _add_integration(cli: CliRunner, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = _ok(
        cli,
        "integration",
        "add",
        "--account-id",
        "400",
        "--resman-property-id",
        "rp-1",
        "--partner-id",
        PARTNER_ID,
        "--api-key",
        API_KEY,
        "--base-url",
        "http://127.0.0.1:8765",
        *extra,
    )
    return data


def test_every_command_explains_itself() -> None:
    for sub_app in (integration_app, apikey_app, queue_app, sync_app):
        group = get_command(sub_app)
        assert isinstance(group, TyperGroup)
        assert group.help
        for name, command in group.commands.items():
            assert command.help, f"{name} has no --help text"


def test_integration_add_list_show_disable_enable(cli: CliRunner) -> None:
    prop = str(uuid.uuid4())
    added = _add_integration(cli, "--property", prop, "--property-name", "Maple Court")
    assert added["property_id"] == prop
    assert added["api_key"] == "***" + API_KEY[-2:]

    listing = _run(cli, "integration", "list", "--json")
    assert listing.exit_code == 0, listing.output
    assert API_KEY not in listing.output
    assert PARTNER_ID not in listing.output
    [shown] = json.loads(listing.stdout)
    assert shown["id"] == added["id"]
    assert shown["base_url"] == "http://127.0.0.1:8765"
    assert shown["partner_id"] == "***" + PARTNER_ID[-2:]
    assert shown["sync_enabled"] is True

    text_listing = _run(cli, "integration", "list")
    assert added["id"] in text_listing.stdout
    assert API_KEY not in text_listing.stdout

    assert _ok(cli, "integration", "disable", added["id"])["sync_enabled"] is False
    assert _ok(cli, "integration", "show", added["id"])["sync_enabled"] is False
    assert _ok(cli, "integration", "enable", added["id"])["sync_enabled"] is True


def test_integration_add_generates_a_property_and_prompts_for_secrets(cli: CliRunner) -> None:
    result = _run(
        cli,
        "integration",
        "add",
        "--account-id",
        "7",
        "--resman-property-id",
        "rp-2",
        "--json",
        input=f"{PARTNER_ID}\n{API_KEY}\n",
    )
    assert result.exit_code == 0, result.output
    assert API_KEY not in result.output  # hidden input is not echoed
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert uuid.UUID(data["property_id"])
    assert data["base_url"] == get_settings().resman_base_url


def test_integration_refusals_exit_1_with_one_line(cli: CliRunner) -> None:
    added = _add_integration(cli)
    _refused(
        _run(
            cli,
            "integration",
            "add",
            "--property",
            added["property_id"],
            "--account-id",
            "1",
            "--resman-property-id",
            "rp",
            "--partner-id",
            "p",
            "--api-key",
            "k",
        ),
        "already has a ResMan integration",
    )
    _refused(_run(cli, "integration", "show", "not-a-uuid"), "is not a valid UUID")
    _refused(_run(cli, "integration", "disable", "1234"), "is not a valid UUID")
    unknown = str(uuid.uuid4())
    _refused(_run(cli, "integration", "show", unknown), f"no integration with id {unknown}")
    bad_account = _run(
        cli,
        "integration",
        "add",
        "--account-id",
        "0",
        "--resman-property-id",
        "rp",
        "--partner-id",
        "p",
        "--api-key",
        API_KEY,
    )
    _refused(bad_account, "account_id")
    assert API_KEY not in bad_account.output
    assert len(_ok(cli, "integration", "list")) == 1


def test_apikey_is_printed_once(cli: CliRunner) -> None:
    prop = _add_integration(cli)["property_id"]
    created = _run(cli, "apikey", "create", "--name", "domiq", "--property", prop)
    assert created.exit_code == 0, created.output
    keys = re.findall(r"lsk_[0-9a-f]{8}_\S+", created.stdout)
    assert len(keys) == 1
    key_id = re.search(r"created API key (\S+)", created.stdout)
    assert key_id is not None

    listing = _run(cli, "apikey", "list")
    assert key_id.group(1) in listing.stdout
    assert keys[0] not in listing.stdout
    [listed] = _ok(cli, "apikey", "list")
    assert listed["property_ids"] == [prop]
    assert listed["revoked_at"] is None

    assert _ok(cli, "apikey", "revoke", key_id.group(1))["revoked_at"] is not None
    [listed] = _ok(cli, "apikey", "list")
    assert listed["revoked_at"] is not None


def test_apikey_refusals(cli: CliRunner) -> None:
    unknown = str(uuid.uuid4())
    _refused(
        _run(cli, "apikey", "create", "--name", "k", "--property", unknown),
        f"no property with id {unknown}",
    )
    _refused(
        _run(cli, "apikey", "create", "--name", "k", "--property", "prop-1"), "not a valid UUID"
    )
    _refused(_run(cli, "apikey", "revoke", unknown), "no API key with id")
    assert _ok(cli, "apikey", "list") == []


async def _bury_a_job(url: str, integration_id: uuid.UUID) -> uuid.UUID:
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            job_id = await enqueue(
                session,
                integration_id=integration_id,
                conversation_id=uuid.uuid4(),
                lead_key="lead-1",
                operation="push",
                data={},
            )
            await session.execute(
                update(LeadSyncQueue)
                .where(LeadSyncQueue.id == job_id)
                .values(state="dead", last_error="validation failed", dead_at=utcnow())
            )
            await session.commit()
            return job_id
    finally:
        await engine.dispose()


def test_queue_list_retry_and_stats(cli: CliRunner, db_url: str) -> None:
    integration_id = uuid.UUID(_add_integration(cli)["id"])
    job_id = str(asyncio.run(_bury_a_job(db_url, integration_id)))

    [dead] = _ok(cli, "queue", "list", "--state", "dead")
    assert dead["id"] == job_id
    assert _ok(cli, "queue", "stats")["dead"] == 1
    assert "validation failed" in _run(cli, "queue", "list").stdout

    _refused(_run(cli, "queue", "retry"), "--all")
    _refused(_run(cli, "queue", "retry", job_id, "--all"), "--all")
    _refused(_run(cli, "queue", "retry", "nope"), "not a valid UUID")
    _refused(_run(cli, "queue", "retry", str(uuid.uuid4())), "no queue job")
    _refused(_run(cli, "queue", "list", "--state", "lost"), "state must be one of")

    assert _ok(cli, "queue", "retry", job_id) == {"replayed": [job_id]}
    assert _ok(cli, "queue", "list", "--state", "dead") == []
    [queued] = _ok(cli, "queue", "list", "--state", "queued", "--limit", "5")
    assert queued["id"] == job_id
    _refused(_run(cli, "queue", "retry", job_id), "is queued, not dead")
    assert _ok(cli, "queue", "retry", "--all") == {"replayed": []}


def test_sync_pause_status_resume(cli: CliRunner) -> None:
    assert _ok(cli, "sync", "status")["push_paused"] is False

    paused = _run(cli, "sync", "pause")
    assert paused.exit_code == 0, paused.output
    status = _ok(cli, "sync", "status")
    assert status["push_paused"] is True
    assert status["queue"]["total"] == 0
    assert "PAUSED" in _run(cli, "sync", "status").stdout

    assert _run(cli, "sync", "resume").exit_code == 0
    assert _ok(cli, "sync", "status")["push_paused"] is False


def test_integration_configure_sets_rules_as_data(cli: CliRunner) -> None:
    added = _add_integration(cli)
    configured = _ok(
        cli,
        "integration",
        "configure",
        added["id"],
        "--strategy",
        "resman_wins",
        "--rule",
        "phone=always_resman",
        "--no-status-by-priority",
        "--feed",
        "--transcript",
        "prospect_only",
    )
    assert configured["conflict_strategy"] == "resman_wins"
    assert configured["sync_settings"] == {
        "field_rules": {"phone": "always_resman"},
        "status_by_priority": False,
        "feed": True,
        "transcript": "prospect_only",
    }
    shown = _ok(cli, "integration", "show", added["id"])
    assert shown["sync_settings"]["field_rules"] == {"phone": "always_resman"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "phone=sometimes"], "field rule"),
        (["--rule", "shoe_size=two_way"], "shoe_size"),
        (["--rule", "phone"], "FIELD=RULE"),
        (["--strategy", "coin_flip"], "coin_flip"),
        (["--feed-url", "ftp://x"], "feed_url"),
        (["--transcript", "everything"], "transcript"),
    ],
)
def test_integration_configure_refuses_bad_rules(
    cli: CliRunner, args: list[str], message: str
) -> None:
    added = _add_integration(cli)
    _refused(_run(cli, "integration", "configure", added["id"], *args), message)
    assert _ok(cli, "integration", "show", added["id"])["sync_settings"] == {}
