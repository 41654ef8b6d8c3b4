"""`leadsync integration update` and `leadsync integration webhook-secret rotate`: fix an
integration in place (registered on `integration_app` by leadsync.cli.integration)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import integration_changes as changes
from leadsync.admin import integrations as admin_integrations
from leadsync.admin.verify import resman_verifier
from leadsync.cli.support import JsonOption, emit, fail, field_lines, keyring, parse_uuid, run
from leadsync.config import get_settings
from leadsync.db.vocab import CONFLICT_STRATEGIES

webhook_secret_app = typer.Typer(
    help="Webhook signing secrets: rotate them with a grace period.", no_args_is_help=True
)

VerifyOption = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="Make a real ResMan call (GetProspectSources) with the credentials first; "
        "refused credentials save nothing.",
    ),
]
_DURATION = re.compile(r"^\s*(\d+)\s*([dhms]?)\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}


def parse_rules(rule: list[str] | None) -> dict[str, str] | None:
    """`FIELD=RULE` options as a dict (exits 1 on a malformed one)."""
    if not rule:
        return None
    rules: dict[str, str] = {}
    for item in rule:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            fail(f"--rule must look like FIELD=RULE (got {item!r})")
        rules[name.strip()] = value.strip()
    return rules


def _secret(value: str | None, *, prompt: str) -> str | None:
    """`-` asks for the value without echoing it (an option's value lands in shell history)."""
    if value == "-":
        answer: str = typer.prompt(prompt, hide_input=True)
        return answer
    return value


def integration_update(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    base_url: Annotated[str | None, typer.Option(help="ResMan API URL.")] = None,
    account_id: Annotated[int | None, typer.Option(help="ResMan AccountID.")] = None,
    resman_property_id: Annotated[str | None, typer.Option(help="ResMan PropertyID.")] = None,
    partner_id: Annotated[
        str | None, typer.Option(help="ResMan IntegrationPartnerID ('-' prompts for it).")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="ResMan ApiKey ('-' prompts for it).")] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            help="Replace every webhook signing secret with this one at once "
            "(use `webhook-secret rotate` for a grace period)."
        ),
    ] = None,
    transaction_source_id: Annotated[
        str | None, typer.Option(help="ProspectSources id to use instead of 'Chatbot'.")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option(help=f"Conflict strategy: {', '.join(CONFLICT_STRATEGIES)}.")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option(help="Per-field rule FIELD=RULE (repeatable).")
    ] = None,
    status_by_priority: Annotated[
        bool | None, typer.Option(help="Decide status conflicts by the spec's status priority.")
    ] = None,
    verify: VerifyOption = False,
    as_json: JsonOption = False,
) -> None:
    """Change credentials, base URL, ResMan property, TransactionSource or conflict rules.
    Jobs waiting on refused credentials resume at once."""
    wanted = parse_uuid(integration_id, what="integration id")
    credentials = changes.CredentialChange(
        base_url=base_url,
        account_id=account_id,
        partner_id=_secret(partner_id, prompt="ResMan IntegrationPartnerID"),
        api_key=_secret(api_key, prompt="ResMan ApiKey"),
        resman_property_id=resman_property_id,
        webhook_secret=webhook_secret,
    )
    rules = changes.RuleChange(
        conflict_strategy=strategy,
        field_rules=parse_rules(rule),
        status_by_priority=status_by_priority,
        transaction_source_id=transaction_source_id,
    )
    if credentials == changes.CredentialChange() and rules == changes.RuleChange():
        fail("nothing to change: give at least one option (see --help)")
    keys = keyring()
    verifier = resman_verifier(get_settings()) if verify else None

    async def work(session: AsyncSession) -> dict[str, Any]:
        done = await changes.update_integration(
            session,
            keys=keys,
            integration_id=wanted,
            credentials=credentials,
            rules=rules,
            verify=verifier,
        )
        data = admin_integrations.describe(done.integration, keys=keys)
        return {**data, "changed": list(done.changed), "jobs_resumed": done.resumed}

    data = run(work)
    lines = [
        f"updated integration {data['id']}: {', '.join(data['changed']) or 'nothing changed'}"
        + (" (verified with ResMan)" if verify else ""),
        f"jobs resumed: {data['jobs_resumed']}",
        *field_lines({k: v for k, v in data.items() if k not in ("changed", "jobs_resumed")}),
    ]
    emit(data, as_json=as_json, lines=lines)


def parse_grace(text: str) -> timedelta:
    """`24h`, `7d`, `30m`, `0` (exits 1 otherwise)."""
    match = _DURATION.match(text)
    if match is None:
        fail(f"--grace {text!r} is not a duration like 24h, 7d, 30m or 0")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@webhook_secret_app.command("rotate")
def webhook_secret_rotate(
    integration_id: Annotated[str, typer.Argument(help="Integration UUID.")],
    grace: Annotated[
        str, typer.Option(help="How long the old secrets still verify: 24h, 7d, 30m, 0.")
    ] = "24h",
    secret: Annotated[
        str | None,
        typer.Option(help="Use this secret (whsec_…) instead of generating one; '-' prompts."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a new signing secret (printed once: give it to the sender); the old ones are
    still accepted until the grace period ends."""
    wanted = parse_uuid(integration_id, what="integration id")
    period = parse_grace(grace)
    given = _secret(secret, prompt="Webhook secret")
    keys = keyring()

    async def work(session: AsyncSession) -> dict[str, Any]:
        done = await changes.rotate_webhook_secret(
            session, keys=keys, integration_id=wanted, grace=period, new_secret=given
        )
        return {
            "id": str(done.integration.id),
            "webhook_secret": done.secret,
            "previous_secrets": done.previous,
            "previous_accepted_until": done.grace_until,
        }

    data = run(work)
    until = data["previous_accepted_until"]
    lines = [
        f"new webhook secret for integration {data['id']} (shown once; the sender signs with it):",
        f"  {data['webhook_secret']}",
        f"previous secrets still accepted until {until}"
        if until
        else "no previous secret is accepted any more",
    ]
    emit(data, as_json=as_json, lines=lines)
