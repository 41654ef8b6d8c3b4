"""What every operator command shares: one committed transaction on the configured, migrated
database, refusals as a one-line message with exit code 1, and text or JSON output.

Shared by every command group of the `leadsync.cli` package.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.migrate import current, head, upgrade
from leadsync.errors import LeadsyncError
from leadsync.security.crypto import KeyRing, load_keys

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print `error: <message>` on stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def parse_uuid(value: str, *, what: str) -> uuid.UUID:
    """`value` as a UUID, or exit 1 naming `what` was malformed."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        fail(f"{what} {value!r} is not a valid UUID")


def _ensure_schema(url: str) -> None:
    # Equivalent to upgrade() on every call, minus Alembic's INFO chatter on each command when
    # there is nothing to do.
    if current(url=url) != head():
        upgrade(url=url)


async def _in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database (migrated first), commit it,
    and return its result; a refusal rolls everything back and exits 1."""
    url = get_settings().effective_database_url
    try:
        _ensure_schema(url)
        return asyncio.run(_in_transaction(url, work))
    except (AdminError, LeadsyncError) as exc:
        fail(str(exc))
    except CommandError as exc:  # e.g. the database is at a revision this version lacks
        fail(f"cannot migrate the database: {exc}")
    except OperationalError as exc:
        # The driver's first line says what failed (refused, unknown host) without the URL's
        # password; the rest is SQLAlchemy boilerplate.
        first_line = next(iter(str(exc.orig).splitlines()), "connection failed")
        fail(f"database unavailable: {first_line}")


def keyring() -> KeyRing:
    """The encryption keys of the configured deployment, or exit 1 saying what is missing."""
    try:
        return load_keys(settings=get_settings())
    except LeadsyncError as exc:
        fail(str(exc))


def emit(data: Any, *, as_json: bool, lines: Iterable[str]) -> None:
    """`data` as indented JSON, or the human-readable `lines`."""
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for line in lines:
        typer.echo(line)


def field_lines(data: dict[str, Any]) -> list[str]:
    """One indented `key: value` line per field (`-` for none)."""
    return [f"  {key}: {'-' if value is None else value}" for key, value in data.items()]


#: The ``--json`` flag every listing, show and create command takes.
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
