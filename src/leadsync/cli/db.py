"""`leadsync db`: database migrations (upgrade, downgrade, current)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from leadsync.config import get_settings

db_app = typer.Typer(help="Database migrations (SQLite or PostgreSQL per LEADSYNC_DATABASE_URL).")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from leadsync.db.migrate import current, upgrade

    url = get_settings().effective_database_url
    upgrade(url=url, revision=revision)
    typer.echo(f"database at revision {current(url=url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Revert migrations down to REVISION (the rollback path of a bad release)."""
    from leadsync.db.migrate import current, downgrade

    url = get_settings().effective_database_url
    downgrade(url=url, revision=revision)
    typer.echo(f"database at revision {current(url=url)}")


@db_app.command("current")
def db_current(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the database's current migration revision."""
    from leadsync.db.migrate import current

    rev = current(url=get_settings().effective_database_url)
    typer.echo(json.dumps({"revision": rev}) if as_json else (rev or "(empty database)"))
