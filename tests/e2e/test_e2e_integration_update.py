"""`leadsync integration update` / `add --verify` against the real sandbox and the running
stack: credentials, base URL, TransactionSource and rules change in place, `--verify`
refuses bad credentials writing nothing, and jobs parked on refused credentials (or dead for
a missing TransactionSource) resume when the integration is fixed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

import stack_cli
from leadsync.admin.integration_changes import CredentialChange, update_integration
from leadsync.db.models import LeadSyncQueue, ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.sandbox.seed import SANDBOX_ACCOUNT_ID, SANDBOX_API_KEY, SANDBOX_PARTNER_ID
from leadsync.sandbox.webhooks import generate_secret
from leadsync.security.crypto import open_json
from stack import Stack, Tenant, create_synced_lead, lead_body, synced_prospect, wait_until
from stack_cli import answer, operator_cli
from webhook_kit import connect_webhook, deliver, event, staff_status, wait_for_status


@pytest.fixture
def cli(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    return operator_cli(stack, monkeypatch)


async def invoke(cli: CliRunner, *args: str) -> Result:
    return await stack_cli.invoke(cli, "integration", *args)


async def stored_credentials(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    async with read_session(stack.runtime.sessionmaker) as session:
        row = await session.get(ResmanIntegration, tenant.integration_id)
        assert row is not None
        plain: dict[str, Any] = open_json(row.api_credentials, keys=stack.runtime.keys)
        return plain


async def jobs_of(stack: Stack, conversation_id: uuid.UUID) -> list[LeadSyncQueue]:
    async with read_session(stack.runtime.sessionmaker) as session:
        rows = await session.scalars(
            select(LeadSyncQueue).where(LeadSyncQueue.conversation_id == conversation_id)
        )
        return list(rows.all())


async def break_credentials(stack: Stack, tenant: Tenant) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await update_integration(
            session,
            keys=stack.runtime.keys,
            integration_id=tenant.integration_id,
            credentials=CredentialChange(api_key="an-old-revoked-key"),
        )


async def post_lead(stack: Stack, tenant: Tenant) -> uuid.UUID:
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(tenant.property_id), headers=stack.auth(tenant)
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["conversation_id"])


async def test_jobs_parked_on_refused_credentials_resume_when_they_are_fixed(
    stack: Stack, cli: CliRunner
) -> None:
    await break_credentials(stack, stack.a)
    conversation_id = await post_lead(stack, stack.a)

    async def parked() -> bool:
        jobs = await jobs_of(stack, conversation_id)
        return any(j.state == "queued" and j.error_category == "authentication" for j in jobs)

    await wait_until(parked)
    async with read_session(stack.runtime.sessionmaker) as session:
        row = await session.get(ResmanIntegration, stack.a.integration_id)
        assert row is not None
        assert row.circuit_open_until is not None
        # Refused credentials rest the integration for minutes, not seconds: retrying them
        # every few seconds only hammers ResMan with a key it refuses.
        assert (row.circuit_open_until - utcnow()).total_seconds() > 60
    [job] = await jobs_of(stack, conversation_id)
    assert job.retry_count == 0, "waiting on credentials spends no retry"

    fixed = await invoke(
        cli, "update", str(stack.a.integration_id), "--api-key", SANDBOX_API_KEY, "--verify"
    )
    assert fixed.exit_code == 0, fixed.output
    assert "api_key" in fixed.stdout
    assert "(verified with ResMan)" in fixed.stdout
    assert "jobs resumed: 1" in fixed.stdout
    # The parked push goes through now, long before the 5-minute rest would have ended.
    await synced_prospect(stack, conversation_id)
    assert (await stored_credentials(stack, stack.a))["api_key"] == SANDBOX_API_KEY


async def test_verify_refuses_bad_credentials_and_writes_nothing(
    stack: Stack, cli: CliRunner
) -> None:
    before = await stored_credentials(stack, stack.a)
    refused = await invoke(
        cli, "update", str(stack.a.integration_id), "--api-key", "wrong-key", "--verify"
    )
    assert refused.exit_code == 1, refused.output
    assert "refused the credentials" in refused.stderr
    assert "nothing was saved" in refused.stderr
    assert "wrong-key" not in refused.output
    unreachable = await invoke(
        cli, "update", str(stack.a.integration_id), "--base-url", "http://127.0.0.1:9", "--verify"
    )
    assert unreachable.exit_code == 1, unreachable.output
    assert "could not verify the credentials" in unreachable.stderr
    assert await stored_credentials(stack, stack.a) == before

    async with read_session(stack.runtime.sessionmaker) as session:
        count_before = await session.scalar(select(func.count()).select_from(ResmanIntegration))
    add_args = [
        "--account-id",
        str(SANDBOX_ACCOUNT_ID),
        "--resman-property-id",
        stack.a.resman_property_id,
        "--base-url",
        str(stack.sandbox.base_url).rstrip("/"),
        "--partner-id",
        SANDBOX_PARTNER_ID,
    ]
    added_bad = await invoke(cli, "add", *add_args, "--api-key", "wrong-key", "--verify")
    assert added_bad.exit_code == 1, added_bad.output
    assert "refused the credentials" in added_bad.stderr
    async with read_session(stack.runtime.sessionmaker) as session:
        count_after = await session.scalar(select(func.count()).select_from(ResmanIntegration))
    assert count_after == count_before

    added = await invoke(cli, "add", *add_args, "--api-key", SANDBOX_API_KEY, "--verify", "--json")
    assert answer(added)["resman_property_id"] == stack.a.resman_property_id


async def test_update_changes_base_url_rules_and_transaction_source(
    stack: Stack, cli: CliRunner
) -> None:
    ref = str(stack.b.integration_id)
    moved = await invoke(cli, "update", ref, "--base-url", "https://resman.example/", "--json")
    data = answer(moved)
    assert data["base_url"] == "https://resman.example"
    assert data["changed"] == ["base_url"]
    back = await invoke(cli, "update", ref, "--base-url", str(stack.sandbox.base_url), "--json")
    assert back.exit_code == 0, back.output

    ruled = await invoke(
        cli, "update", ref, "--strategy", "resman_wins", "--rule", "phone=always_domiq", "--json"
    )
    ruled_data = answer(ruled)
    assert ruled_data["conflict_strategy"] == "resman_wins"
    assert ruled_data["sync_settings"]["field_rules"] == {"phone": "always_domiq"}
    bad_rule = await invoke(cli, "update", ref, "--rule", "phone=sometimes")
    assert bad_rule.exit_code == 1
    assert "phone" in bad_rule.stderr
    assert (await invoke(cli, "update", ref)).exit_code == 1, "nothing to change is refused"

    # A TransactionSource ResMan does not know: the push is a dead letter...
    unknown = await invoke(cli, "update", ref, "--transaction-source-id", str(uuid.uuid4()))
    assert unknown.exit_code == 0, unknown.output
    conversation_id = await post_lead(stack, stack.b)

    async def dead() -> bool:
        jobs = await jobs_of(stack, conversation_id)
        return any(j.state == "dead" and j.error_category == "transaction_source" for j in jobs)

    await wait_until(dead)
    # ...replayed when the office sets the right one.
    sources = await stack.sandbox.get(f"/admin/properties/{stack.b.resman_property_id}")
    sources.raise_for_status()
    chatbot = next(
        s["id"] for s in sources.json()["prospect_sources"] if s["name"].lower() == "chatbot"
    )
    fixed = await invoke(cli, "update", ref, "--transaction-source-id", chatbot)
    assert fixed.exit_code == 0, fixed.output
    assert "jobs resumed: 1" in fixed.stdout
    await synced_prospect(stack, conversation_id)


# --- webhook secret rotation ---------------------------------------------------------------
async def signed(stack: Stack, tenant: Tenant, *, secret: str) -> int:
    """Status of one new delivery signed with ``secret``."""
    body = event(str(uuid.uuid4()), status="contacted", at=datetime.now(UTC))
    response = await deliver(stack, tenant, body, secret=secret, msg_id=f"msg_{uuid.uuid4().hex}")
    return response.status_code


async def test_rotated_secret_is_used_and_the_old_one_verifies_during_the_grace(
    stack: Stack, cli: CliRunner
) -> None:
    old = await connect_webhook(stack, stack.a)
    assert await signed(stack, stack.a, secret=old) == 202
    ref = str(stack.a.integration_id)
    rotated = answer(await invoke(cli, "webhook-secret", "rotate", ref, "--grace", "24h", "--json"))
    new = rotated["webhook_secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert rotated["previous_secrets"] == 1
    until = datetime.fromisoformat(rotated["previous_accepted_until"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)
    assert await signed(stack, stack.a, secret=new) == 202
    assert await signed(stack, stack.a, secret=old) == 202, "old secret within its grace"
    shown = answer(await invoke(cli, "show", ref, "--json"))
    assert shown["webhook_secrets"] == 2
    assert shown["webhook_secrets_expire_at"] == [rotated["previous_accepted_until"]]
    assert new not in json.dumps(shown)
    assert await signed(stack, stack.a, secret=generate_secret()) == 401

    # The sandbox signs its staff webhooks with the new secret: they are applied.
    await stack.sandbox.put(
        "/admin/webhook",
        json={"url": (await stack.sandbox.get("/admin/webhook")).json()["url"], "secret": new},
    )
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    await staff_status(stack, stack.a, prospect_id)
    await wait_for_status(stack, conversation_id, "application")

    # No grace: the previous secrets are refused at once.
    text = await invoke(cli, "webhook-secret", "rotate", ref, "--grace", "0")
    assert text.exit_code == 0, text.output
    assert "no previous secret is accepted any more" in text.stdout
    newest = text.stdout.split("shown once; the sender signs with it):\n", 1)[1].split()[0]
    assert await signed(stack, stack.a, secret=newest) == 202
    assert await signed(stack, stack.a, secret=new) == 401
    shown = answer(await invoke(cli, "show", ref, "--json"))
    assert shown["webhook_secrets"] == 1
    assert shown["webhook_secrets_expire_at"] == []


async def test_the_old_secret_is_refused_once_the_grace_period_ends(
    stack: Stack, cli: CliRunner
) -> None:
    old = await connect_webhook(stack, stack.a)
    ref = str(stack.a.integration_id)
    new = answer(await invoke(cli, "webhook-secret", "rotate", ref, "--grace", "2s", "--json"))
    # The verifier (and its cache) is loaded now, before the grace ends: the end is judged
    # at each delivery, not when the secrets were read.
    assert await signed(stack, stack.a, secret=new["webhook_secret"]) == 202

    async def old_refused() -> bool:
        return await signed(stack, stack.a, secret=old) == 401

    await wait_until(old_refused)
    assert await signed(stack, stack.a, secret=new["webhook_secret"]) == 202
    bad = await invoke(cli, "webhook-secret", "rotate", ref, "--grace", "soon")
    assert bad.exit_code == 1
    assert "--grace" in bad.stderr
    too_long = await invoke(cli, "webhook-secret", "rotate", ref, "--grace", "90d")
    assert too_long.exit_code == 1
    assert "grace must be between" in too_long.stderr
    not_a_secret = await invoke(cli, "webhook-secret", "rotate", ref, "--secret", "hunter2")
    assert not_a_secret.exit_code == 1
    assert "webhook_secret" in not_a_secret.stderr
