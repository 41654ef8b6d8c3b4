"""`leadsync integration`: connect properties to ResMan (add, list, show, configure, update,
enable, disable, webhook-secret rotate).

Each command brings the schema up to date, runs in one transaction committed at the end (a
failing command writes nothing) and exits 1 with a one-line message on stderr when refused
(leadsync.cli.support).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import integrations as admin_integrations
from leadsync.admin.verify import resman_verifier
from leadsync.cli.integration_update import (
    VerifyOption,
    integration_update,
    parse_rules,
    webhook_secret_app,
)
from leadsync.cli.support import JsonOption, emit, field_lines, keyring, parse_uuid, run
from leadsync.config import get_settings
from leadsync.db.vocab import CONFLICT_STRATEGIES, INTEGRATION_SYNC_DIRECTIONS

integration_app = typer.Typer(
    help="Connect properties to ResMan: add, list, show, update, enable and disable "
    "integrations, rotate webhook secrets.",
    no_args_is_help=True,
)
integration_app.command("update")(integration_update)
integration_app.add_typer(webhook_secret_app, name="webhook-secret")


@integration_app.command("add")
def integration_add(
    account_id: Annotated[int, typer.Option(help="ResMan AccountID of the management company.")],
    resman_property_id: Annotated[str, typer.Option(help="ResMan PropertyID (a GUID).")],
    partner_id: Annotated[
        str,
        typer.Option(
            envvar="LEADSYNC_RESMAN_PARTNER_ID",
            prompt="ResMan IntegrationPartnerID",
            hide_input=True,
            help="ResMan IntegrationPartnerID; prompted for when omitted.",
        ),
    ],
    api_key: Annotated[
        str,
        typer.Option(
            envvar="LEADSYNC_RESMAN_API_KEY",
            prompt="ResMan ApiKey",
            hide_input=True,
            help="ResMan ApiKey; prompted for when omitted (an option lands in shell history).",
        ),
    ],
    property_: Annotated[
        str | None,
        typer.Option(
            "--property", help="DomIQ property UUID; created if unknown, generated if omitted."
        ),
    ] = None,
    property_name: Annotated[
        str | None, typer.Option(help="Name for a property created by this command.")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="ResMan API URL (default: the LEADSYNC_RESMAN_BASE_URL setting)."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            envvar="LEADSYNC_RESMAN_WEBHOOK_SECRET",
            help="Secret that signs lead-update webhooks for this integration (whsec_...).",
        ),
    ] = None,
    direction: Annotated[
        str, typer.Option(help=f"Sync direction: {', '.join(INTEGRATION_SYNC_DIRECTIONS)}.")
    ] = "bidirectional",
    conflict_strategy: Annotated[
        str, typer.Option(help=f"Rule for true conflicts: {', '.join(CONFLICT_STRATEGIES)}.")
    ] = "manual_review",
    verify: VerifyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Connect a DomIQ property to a ResMan property (credentials are stored encrypted)."""
    property_id = parse_uuid(property_, what="property id") if property_ else uuid.uuid4()
    keys = keyring()
    verifier = resman_verifier(get_settings()) if verify else None

    async def work(session: AsyncSession) -> dict[str, Any]:
        integration = await admin_integrations.add_integration(
            session,
            keys=keys,
            property_id=property_id,
            resman_base_url=base_url or get_settings().resman_base_url,
            account_id=account_id,
            resman_property_id=resman_property_id,
            partner_id=partner_id,
            api_key=api_key,
            webhook_secret=webhook_secret,
            property_name=property_name,
            sync_direction=direction,
            conflict_strategy=conflict_strategy,
            verify=verifier,
        )
        return admin_integrations.describe(integration, keys=keys)

    data = run(work)
    lines = [
        f"added integration {data['id']} for property {data['property_id']}",
        *field_lines(data),
    ]
    emit(data, as_json=as_json, lines=lines)


@integration_app.command("list")
def integration_list(as_json: JsonOption = False) -> None:
    """List every integration (secrets masked)."""
    keys = keyring()

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await admin_integrations.list_integrations(session)
        return [admin_integrations.describe(row, keys=keys) for row in rows]

    data = run(work)
    lines = [
        f"{d['id']}  property={d['property_id']}  resman_property={d['resman_property_id']}  "
        f"{'enabled' if d['sync_enabled'] else 'disabled'}  {d['sync_direction']}  "
        f"{d['base_url'] or '(credentials unreadable)'}"
        for d in data
    ]
    emit(data, as_json=as_json, lines=lines or ["no integrations"])


@integration_app.command("show")
def integration_show(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    as_json: JsonOption = False,
) -> None:
    """Show one integration (secrets masked)."""
    wanted = parse_uuid(integration_id, what="integration id")
    keys = keyring()

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await admin_integrations.get_integration(session, integration_id=wanted)
        return admin_integrations.describe(row, keys=keys)

    data = run(work)
    emit(data, as_json=as_json, lines=[f"integration {data['id']}", *field_lines(data)])


def _set_enabled(integration_id: str, *, enabled: bool, as_json: bool) -> None:
    wanted = parse_uuid(integration_id, what="integration id")

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await admin_integrations.set_enabled(session, integration_id=wanted, enabled=enabled)
        return {"id": str(row.id), "sync_enabled": row.sync_enabled}

    data = run(work)
    state = "enabled" if enabled else "disabled (its queued jobs wait until it is enabled)"
    emit(data, as_json=as_json, lines=[f"integration {data['id']} {state}"])


@integration_app.command("configure")
def integration_configure(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    strategy: Annotated[
        str | None,
        typer.Option(help=f"Conflict strategy: {', '.join(CONFLICT_STRATEGIES)}."),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            help="Per-field rule FIELD=RULE (repeatable), e.g. phone=always_resman. Rules: "
            "two_way, prefer_resman_unless_blank, prefer_domiq_unless_blank, always_resman, "
            "always_domiq, dont_sync."
        ),
    ] = None,
    status_by_priority: Annotated[
        bool | None,
        typer.Option(help="Decide status conflicts by the spec's status priority."),
    ] = None,
    feed: Annotated[
        bool | None, typer.Option(help="Follow the ResMan endpoint's change feed.")
    ] = None,
    feed_url: Annotated[str | None, typer.Option(help="Change feed URL (ws:// or wss://).")] = None,
    transaction_source_id: Annotated[
        str | None, typer.Option(help="ProspectSources id to use instead of 'Chatbot'.")
    ] = None,
    transcript: Annotated[
        str | None,
        typer.Option(help="Chat transcripts to ResMan: full, prospect_only or summary_only."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Set how the integration syncs: its conflict rules and change feed (data, no deploy)."""
    wanted = parse_uuid(integration_id, what="integration id")
    rules = parse_rules(rule)

    async def work(session: AsyncSession) -> dict[str, Any]:
        row = await admin_integrations.configure(
            session,
            integration_id=wanted,
            conflict_strategy=strategy,
            field_rules=rules,
            status_by_priority=status_by_priority,
            feed=feed,
            feed_url=feed_url,
            transaction_source_id=transaction_source_id,
            transcript=transcript,
        )
        return admin_integrations.describe(row, keys=keyring())

    data = run(work)
    emit(data, as_json=as_json, lines=field_lines(data))


@integration_app.command("enable")
def integration_enable(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    as_json: JsonOption = False,
) -> None:
    """Resume syncing one integration."""
    _set_enabled(integration_id, enabled=True, as_json=as_json)


@integration_app.command("disable")
def integration_disable(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    as_json: JsonOption = False,
) -> None:
    """Stop syncing one integration; its leads are still accepted and queued."""
    _set_enabled(integration_id, enabled=False, as_json=as_json)
