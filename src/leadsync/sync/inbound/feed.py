"""RealTimeLeadSync: follow an integration's ResMan change feed (a WebSocket) and turn each
office change into a refresh, the moment it happens.

ResMan itself has no push; the bundled sandbox (``WS /admin/feed``) and a relay speaking its
protocol do. Where an integration's feed is, in its ``sync_settings``:

- ``"feed_url"``: the feed's URL, used as given (``http(s)`` is read as ``ws(s)``);
- ``"feed": true``: derived from the credentials' ``base_url`` — its scheme made ``ws``/``wss``
  and ``/admin/feed?property_id=<resman_property_id>`` appended (the sandbox's layout, from
  :func:`leadsync.sandbox.admin_client.feed_url`);
- neither: no feed; webhooks and the poller keep the integration in step.

A feed message is ``{"seq", "type", "origin", "property_id", "prospect_id", "data",
"timestamp"}`` whose ``data`` is the LeadUpdateWebhook body. A change made by office staff
(``origin: "staff"``) becomes exactly what a signed webhook becomes
(:func:`leadsync.sync.inbound.inbox.accept_delivery`): an inbox row under the change's
``event_id`` and a queued refresh that re-reads the prospect. Changes we posted ourselves
(``origin: "api"``) are echoes and skipped. The inbox's unique id makes this idempotent: a
replay after a reconnect, the same change also arriving by webhook, or several workers
following one feed queue each change once. Without an ``event_id`` the id is built from the
feed's ``seq`` with the message's timestamp (a restarted feed starts its ``seq`` again).

A dropped connection is retried with exponential backoff and jitter. Changes made while it
is down are not replayed by the feed; the poller, which runs regardless, picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.errors import DecryptionError
from leadsync.reconnect import Reconnect
from leadsync.sandbox import admin_client as sandbox_admin
from leadsync.security.crypto import KeyRing, open_json
from leadsync.sync.inbound.inbox import accept_delivery
from leadsync.sync.inbound.payload import Delivery, MalformedWebhookError, parse_delivery
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

#: Message types that announce a prospect change (the feed also sends heartbeats).
CHANGE_TYPES: Final = frozenset({"new_lead", "status_change", "lead_update"})
STAFF_ORIGIN: Final = "staff"
_WS_SCHEMES: Final = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
#: How often the set of integrations with a feed is read again (added, removed, moved).
RESCAN_SECONDS: Final = 30.0
RECONNECT_BASE_SECONDS: Final = 0.5
RECONNECT_CAP_SECONDS: Final = 30.0
#: A connection that stayed up this long was healthy: the next failure starts the backoff
#: afresh. One that drops sooner keeps growing it (a feed that accepts and hangs up at once
#: must not be hammered).
STABLE_SECONDS: Final = 5.0
OPEN_TIMEOUT_SECONDS: Final = 10.0
#: Keepalive pings: a peer that vanished without closing TCP is noticed within ~2x this.
PING_SECONDS: Final = 20.0
MAX_MESSAGE_BYTES: Final = 1024 * 1024


# --- pure --------------------------------------------------------------------------------
def feed_url(
    sync_settings: Mapping[str, Any], *, base_url: str | None, resman_property_id: str
) -> str | None:
    """The integration's feed URL, or None when it has no (usable) feed."""
    explicit = sync_settings.get("feed_url")
    if isinstance(explicit, str) and explicit.strip():
        return _as_websocket(explicit.strip())
    if sync_settings.get("feed") is not True or not base_url:
        return None
    return _as_websocket(sandbox_admin.feed_url(base_url, property_id=resman_property_id))


def _as_websocket(url: str) -> str | None:
    parts = urlsplit(url)
    scheme = _WS_SCHEMES.get(parts.scheme.lower())
    return urlunsplit(parts._replace(scheme=scheme)) if scheme and parts.netloc else None


def delivery_of(message: Mapping[str, Any], *, resman_property_id: str) -> Delivery | None:
    """The webhook-equivalent delivery of a feed message, or None for one we skip
    (heartbeats, our own writes). MalformedWebhookError for a staff change we cannot use."""
    if message.get("type") not in CHANGE_TYPES or message.get("origin") != STAFF_ORIGIN:
        return None
    data = message.get("data")
    if not isinstance(data, dict):
        raise MalformedWebhookError([{"field": "data", "message": "must be an object"}])
    event_id = data.get("event_id")
    webhook_id = (
        str(event_id)
        if isinstance(event_id, str) and event_id
        else f"feed:{message.get('prospect_id')}:{message.get('seq')}:{message.get('timestamp')}"
    )
    # Through the webhook's own validation: the same body must meet the same rules.
    return parse_delivery(
        json.dumps(data).encode(), webhook_id=webhook_id, resman_property_id=resman_property_id
    )


# --- I/O ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeedSource:
    integration_id: uuid.UUID
    resman_property_id: str
    url: str


class FeedSubscriber:
    """Follows the feed of every enabled integration that has one, one connection each."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        keys: KeyRing,
        worker_wake: Callable[[], None],
        rescan_seconds: float = RESCAN_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keys = keys
        self._worker_wake = worker_wake
        self._rescan = rescan_seconds
        self._rng = rng or random.Random()  # jitter only
        self._open: set[uuid.UUID] = set()
        #: Connections opened per integration (more than one: it reconnected).
        self.connects: Counter[uuid.UUID] = Counter()
        #: Staff changes taken from each feed (stored, or already there by webhook/replay).
        self.received: Counter[uuid.UUID] = Counter()

    def connected(self, integration_id: uuid.UUID) -> bool:
        return integration_id in self._open

    async def sources(self) -> list[FeedSource]:
        """The feeds to follow now."""
        async with read_session(self._sessionmaker) as session:
            rows = await session.scalars(
                select(ResmanIntegration).where(
                    ResmanIntegration.sync_enabled.is_(True),
                    ResmanIntegration.sync_direction != "to_resman",
                )
            )
            integrations = list(rows.all())
        found: list[FeedSource] = []
        for integration in integrations:
            settings = integration.sync_settings or {}
            base_url = self._base_url(integration) if settings.get("feed") is True else None
            url = feed_url(
                settings, base_url=base_url, resman_property_id=integration.resman_property_id
            )
            if url is not None:
                found.append(FeedSource(integration.id, integration.resman_property_id, url))
        return found

    def _base_url(self, integration: ResmanIntegration) -> str | None:
        try:
            plain = open_json(integration.api_credentials, keys=self._keys)
        except DecryptionError:
            log.warning("feed: credentials unreadable", integration_id=str(integration.id))
            return None
        base_url = plain.get("base_url") if isinstance(plain, dict) else None
        return base_url if isinstance(base_url, str) else None

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the feeds until ``stop`` is set, picking up added, removed and moved ones
        every ``rescan_seconds``."""
        tasks: dict[FeedSource, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                try:
                    wanted = set(await self.sources())
                except SQLAlchemyError:
                    log.exception("feed: reading integrations failed; keeping current feeds")
                    wanted = set(tasks)
                for source in set(tasks) - wanted:
                    tasks.pop(source).cancel()
                for source in wanted - set(tasks):
                    tasks[source] = asyncio.create_task(
                        self._follow(source), name=f"feed:{source.integration_id}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._rescan)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _follow(self, source: FeedSource) -> None:
        integration_id = str(source.integration_id)
        backoff = Reconnect(base=RECONNECT_BASE_SECONDS, cap=RECONNECT_CAP_SECONDS, rng=self._rng)
        while True:
            opened_at: float | None = None
            try:
                async with connect(
                    source.url,
                    open_timeout=OPEN_TIMEOUT_SECONDS,
                    ping_interval=PING_SECONDS,
                    ping_timeout=PING_SECONDS,
                    close_timeout=2,
                    max_size=MAX_MESSAGE_BYTES,
                ) as websocket:
                    opened_at = time.monotonic()
                    self.connects[source.integration_id] += 1
                    self._open.add(source.integration_id)
                    log.info(
                        "feed connected",
                        integration_id=integration_id,
                        connects=self.connects[source.integration_id],
                    )
                    async for raw in websocket:
                        await self.handle(source, raw)
                log.info("feed closed by the server", integration_id=integration_id)
            except (OSError, TimeoutError, WebSocketException) as exc:
                # The type only: the URL (and so the message) may carry a token.
                log.warning(
                    "feed connection lost", integration_id=integration_id, error=type(exc).__name__
                )
            finally:
                self._open.discard(source.integration_id)
            if opened_at is not None and time.monotonic() - opened_at >= STABLE_SECONDS:
                backoff.succeeded()
            await backoff.sleep()

    async def handle(self, source: FeedSource, raw: str | bytes) -> None:
        """Queue one message's change (if it is one). Never raises: a message we cannot
        store is left to the poller."""
        try:
            message = json.loads(raw)
            delivery = (
                delivery_of(message, resman_property_id=source.resman_property_id)
                if isinstance(message, dict)
                else None
            )
        except ValueError as exc:  # bad JSON, or a MalformedWebhookError
            detail = exc.detail if isinstance(exc, MalformedWebhookError) else "not JSON"
            log.warning(
                "feed message skipped", integration_id=str(source.integration_id), reason=detail
            )
            return
        if delivery is None:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                accepted = await accept_delivery(
                    session, integration_id=source.integration_id, delivery=delivery
                )
        except SQLAlchemyError:
            log.exception(
                "feed change not stored; the poller will pick it up",
                integration_id=str(source.integration_id),
            )
            return
        self.received[source.integration_id] += 1
        if not accepted.duplicate:
            self._worker_wake()
