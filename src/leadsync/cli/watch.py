"""``leadsync watch --property ID``: print a property's live lead events, one line each.

Follows ``WS /api/resman/sync/websocket``; when the connection drops it reconnects with
backoff and resumes from the last sequence it printed, so nothing is skipped or repeated.
Ctrl-C exits cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import typer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from leadsync.reconnect import Reconnect

EVENT_TYPES: Final = frozenset({"new_lead", "lead_update", "status_change", "sync_conflict"})
WS_PATH: Final = "/api/resman/sync/websocket"
_FACTS: Final = ("status", "resman_lead_id", "lead_score", "field", "fields", "resolved_value")


def socket_url(base_url: str, *, property_id: uuid.UUID, since: int | None) -> str:
    """The WebSocket URL for a server's HTTP base URL (http -> ws, https -> wss)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query: dict[str, str] = {"property_id": str(property_id)}
    if since is not None:
        query["since"] = str(since)
    path = parts.path.rstrip("/") + WS_PATH
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def format_event(message: dict[str, Any]) -> str:
    """``#42 2026-11-25T16:05:27+00:00 new_lead domiq lead=<id> status=new ...``"""
    data = message.get("data")
    if not isinstance(data, dict):
        data = {}
    facts = [f"lead={data.get('conversation_id', '-')}"]
    facts += [f"{key}={data[key]}" for key in _FACTS if data.get(key) not in (None, "", [])]
    head = f"#{message.get('sequence')} {message.get('timestamp')}"
    return f"{head} {message.get('type'):<13} {message.get('source'):<6} {' '.join(facts)}"


class WatchError(Exception):
    """The server refused for good (bad key, property out of scope, protocol error)."""


async def watch_events(
    *,
    base_url: str,
    api_key: str,
    property_id: uuid.UUID,
    on_event: Callable[[dict[str, Any]], None],
    on_notice: Callable[[str], None] = lambda _: None,
    since: int | None = None,
    max_backoff: float = 10.0,
) -> None:
    """Call ``on_event`` for every event, in order, across reconnects, until cancelled.

    Raises :class:`WatchError` when reconnecting cannot help.
    """
    # Here, not at the top: the protocol module brings the server's request schemas and
    # web framework, which every other `leadsync` command would then load as well.
    from leadsync.realtime.protocol import CLOSE_RESYNC, FATAL_CLOSES

    backoff = Reconnect(base=0.25, cap=max_backoff)
    headers = {"Authorization": f"Bearer {api_key}"}
    while True:
        url = socket_url(base_url, property_id=property_id, since=since)
        code: int | None = None
        try:
            async with connect(url, additional_headers=headers, proxy=None) as ws:
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        message = json.loads(raw)
                        kind = message.get("type")
                        if kind in EVENT_TYPES:
                            since = int(message["sequence"])
                            on_event(message)
                        elif kind == "subscribed":
                            backoff.succeeded()
                            on_notice(f"watching property {property_id}")
                        elif kind in ("error", "resync_required"):
                            on_notice(f"server: {kind} {json.dumps(message['data'])}")
                code, reason = ws.close_code, ws.close_reason
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            on_notice(f"cannot connect ({type(exc).__name__})")
        else:
            if code in FATAL_CLOSES:
                raise WatchError(f"the server refused: {reason or code}")
            if code == CLOSE_RESYNC:
                on_notice("fell too far behind the event log; continuing with live events")
                since = None
            on_notice(f"disconnected ({code}: {reason or 'no reason'})")
        delay = backoff.next_delay()
        on_notice(f"reconnecting in {delay:.1f} s")
        await asyncio.sleep(delay)


def watch(
    property_id: Annotated[uuid.UUID, typer.Option("--property", help="DomIQ property id.")],
    url: Annotated[str, typer.Option(help="Base URL of a leadsync server.")] = (
        "http://127.0.0.1:8000"
    ),
    key: Annotated[
        str,
        typer.Option(
            envvar="LEADSYNC_API_KEY",
            help="API key scoped to the property (or LEADSYNC_API_KEY).",
            show_default=False,
        ),
    ] = "",
    since: Annotated[
        int | None, typer.Option(min=0, help="Replay events after this sequence first.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each message as JSON.")] = False,
) -> None:
    """Print the live lead events of a property (Ctrl-C to stop)."""
    if not key:
        raise typer.BadParameter("give --key or set LEADSYNC_API_KEY", param_hint="--key")

    def show(message: dict[str, Any]) -> None:
        typer.echo(json.dumps(message) if as_json else format_event(message))

    def notice(text: str) -> None:
        typer.echo(text, err=True)

    try:
        asyncio.run(
            watch_events(
                base_url=url,
                api_key=key,
                property_id=property_id,
                since=since,
                on_event=show,
                on_notice=notice,
            )
        )
    except KeyboardInterrupt:
        return
    except WatchError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
