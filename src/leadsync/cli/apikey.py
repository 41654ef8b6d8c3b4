"""`leadsync apikey`: API keys of the lead API, each scoped to properties (create, list,
revoke).

Each command brings the schema up to date, runs in one transaction committed at the end (a
failing command writes nothing) and exits 1 with a one-line message on stderr when refused
(leadsync.cli.support).
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import apikeys as admin_keys
from leadsync.cli.support import JsonOption, emit, parse_uuid, run

apikey_app = typer.Typer(
    help="API keys of the lead API, each scoped to properties.", no_args_is_help=True
)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'domiq-prod'.")],
    properties: Annotated[
        list[str],
        typer.Option("--property", help="Property UUID the key may act on (repeatable)."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Create an API key for the given properties. The key is printed once, never again."""
    property_ids = [parse_uuid(p, what="property id") for p in properties]

    async def work(session: AsyncSession) -> tuple[admin_keys.ApiKeyView, str]:
        key, plaintext = await admin_keys.create_api_key(
            session, name=name, property_ids=property_ids
        )
        return admin_keys.view(key, property_ids), plaintext

    created, plaintext = run(work)
    data = {**created.to_dict(), "key": plaintext}
    lines = [
        f"created API key {created.id} ({created.name}) for "
        f"{', '.join(str(p) for p in created.property_ids)}",
        plaintext,
        "store it now: it cannot be shown again",
    ]
    emit(data, as_json=as_json, lines=lines)


@apikey_app.command("list")
def apikey_list(as_json: JsonOption = False) -> None:
    """List API keys (never their secrets), revoked ones included."""
    views = run(admin_keys.list_api_keys)
    data = [v.to_dict() for v in views]
    lines = [
        f"{d['id']}  {d['hint']}  {'revoked' if d['revoked_at'] else 'active'}  "
        f"properties={','.join(d['property_ids'])}  name={d['name']}"
        for d in data
    ]
    emit(data, as_json=as_json, lines=lines or ["no API keys"])


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="API key UUID (see `apikey list`).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key for good (servers may accept it for up to 30 s more)."""
    wanted = parse_uuid(key_id, what="API key id")

    async def work(session: AsyncSession) -> admin_keys.ApiKeyView:
        return await admin_keys.revoke_api_key(session, key_id=wanted)

    revoked = run(work)
    emit(revoked.to_dict(), as_json=as_json, lines=[f"revoked API key {revoked.id}"])
