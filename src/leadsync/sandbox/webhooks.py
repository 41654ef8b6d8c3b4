"""Delivery of the LeadUpdateWebhook, signed per Standard Webhooks.

Staff changes are queued (bounded) and a single worker posts them in order, so a consumer
sees the changes of a lead in the order they happened; a failed delivery is retried with
exponential backoff, keeping its webhook-id (consumers dedupe on it) and body, with a fresh
timestamp and signature per attempt. Emitting never blocks the admin call that caused it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
import structlog
from standardwebhooks import Webhook

# structlog directly, not leadsync.observability: the sandbox depends on nothing of the app
# but the codec. The app's logging setup (redaction included) still applies when it runs
# in-process, because structlog's configuration is global.
log: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(__name__)


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(secret: str) -> Webhook:
    """A signer for the secret; ValueError if it is not a usable Standard Webhooks secret."""
    try:
        return Webhook(secret)
    except Exception as exc:  # the library raises binascii.Error, its own errors, ...
        raise ValueError("webhook secret must be whsec_ followed by base64") from exc


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    msg_id: str
    body: str


@dataclass(slots=True)
class WebhookStats:
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    attempts: int = 0


class WebhookEmitter:
    def __init__(
        self,
        *,
        url: str | None,
        secret: str | None,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        timeout_seconds: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self.url, self.secret, self._signer = self._settings(url, secret)
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._queue: asyncio.Queue[WebhookMessage] = asyncio.Queue(maxsize=queue_size)
        self._client: httpx2.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self.stats = WebhookStats()

    @staticmethod
    def _settings(url: str | None, secret: str | None) -> tuple[str | None, str, Webhook]:
        chosen = secret or generate_secret()
        return url, chosen, check_secret(chosen)

    def configure(self, *, url: str | None, secret: str | None) -> None:
        """Set the target (None: stop sending) and the secret (generated when None)."""
        self.url, self.secret, self._signer = self._settings(url, secret)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        # trust_env off: a proxy from the environment must not intercept loopback delivery.
        self._client = httpx2.AsyncClient(timeout=self._timeout, trust_env=False)
        self._worker = asyncio.create_task(self._run(self._client), name="sandbox-webhooks")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self) -> None:
        """Wait until every queued message is delivered or given up (tests, shutdown)."""
        await self._queue.join()

    def emit(self, payload: dict[str, Any], *, msg_id: str) -> bool:
        """Queue one webhook; False when no target is configured or the queue is full."""
        if self.url is None:
            return False
        try:
            self._queue.put_nowait(WebhookMessage(msg_id, json.dumps(payload)))
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.warning("sandbox_webhook_dropped", msg_id=msg_id, reason="queue full")
            return False
        self.stats.queued += 1
        return True

    def signed_headers(self, message: WebhookMessage, *, now: datetime) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "webhook-id": message.msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message.msg_id, now, message.body),
        }

    async def _run(self, client: httpx2.AsyncClient) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._deliver(client, message)
            finally:
                self._queue.task_done()

    async def _deliver(self, client: httpx2.AsyncClient, message: WebhookMessage) -> None:
        for attempt in range(self._max_attempts):
            url = self.url
            if url is None:  # unconfigured while queued: nobody to tell any more
                self.stats.dropped += 1
                return
            self.stats.attempts += 1
            outcome: str | int
            try:
                headers = self.signed_headers(message, now=datetime.now(UTC))
                response = await client.post(url, content=message.body, headers=headers)
                if response.is_success:
                    self.stats.delivered += 1
                    return
                outcome = response.status_code
            except httpx2.HTTPError as exc:
                outcome = type(exc).__name__
            log.info(
                "sandbox_webhook_retry", msg_id=message.msg_id, attempt=attempt + 1, outcome=outcome
            )
            if attempt + 1 < self._max_attempts:
                await asyncio.sleep(self._backoff * 2**attempt)
        self.stats.failed += 1
        log.warning("sandbox_webhook_failed", msg_id=message.msg_id, attempts=self._max_attempts)
