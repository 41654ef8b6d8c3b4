"""Where a firing or resolved alert is sent: SMTP email, a Slack incoming webhook, PagerDuty
Events API v2. Each send is retried with backoff and logged; a notifier that keeps failing
loses that one message and never blocks anything else (the caller runs it as a task)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx2

from leadsync.config import Settings
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    rule: str
    #: firing | resolved
    status: str
    summary: str
    value: float | None
    threshold: float
    #: Stable per rule and deployment: PagerDuty pairs the resolve with its trigger by it.
    dedup_key: str

    @property
    def text(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.4g}"
        return (
            f"[leadsync] {self.status.upper()}: {self.rule} - {self.summary} "
            f"(value {shown}, threshold {self.threshold:g})"
        )


class Notifier(Protocol):
    name: str

    async def send(self, event: AlertEvent) -> None: ...


@dataclass(slots=True)
class SlackNotifier:
    url: str
    timeout: float = 10.0
    name: str = "slack"

    async def send(self, event: AlertEvent) -> None:
        async with httpx2.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json={"text": event.text})
            response.raise_for_status()


@dataclass(slots=True)
class PagerDutyNotifier:
    routing_key: str
    url: str = PAGERDUTY_EVENTS_URL
    timeout: float = 10.0
    name: str = "pagerduty"

    async def send(self, event: AlertEvent) -> None:
        body: dict[str, object] = {
            "routing_key": self.routing_key,
            "event_action": "trigger" if event.status == "firing" else "resolve",
            "dedup_key": event.dedup_key,
        }
        if event.status == "firing":
            body["payload"] = {
                "summary": event.text,
                "source": socket.gethostname(),
                "severity": "critical",
                "component": "leadsync",
                "custom_details": {"value": event.value, "threshold": event.threshold},
            }
        async with httpx2.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json=body)
            response.raise_for_status()


@dataclass(slots=True)
class EmailNotifier:
    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    name: str = "email"

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    async def send(self, event: AlertEvent) -> None:
        message = EmailMessage()
        message["Subject"] = f"[leadsync] {event.status.upper()}: {event.rule}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(event.text + "\n")
        # smtplib blocks; keep it off the event loop.
        await asyncio.to_thread(self._send_sync, message)


def notifiers_from_settings(settings: Settings) -> dict[str, Notifier]:
    """The configured routes; a route with no settings is absent (its alerts are logged)."""
    found: dict[str, Notifier] = {}
    if settings.smtp_host and settings.alert_email_to:
        found["email"] = EmailNotifier(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.alert_email_from,
            recipients=[a.strip() for a in settings.alert_email_to.split(",") if a.strip()],
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.slack_webhook_url:
        found["slack"] = SlackNotifier(settings.slack_webhook_url.get_secret_value())
    if settings.pagerduty_routing_key:
        found["pagerduty"] = PagerDutyNotifier(
            settings.pagerduty_routing_key.get_secret_value(), url=settings.pagerduty_events_url
        )
    return found


async def deliver(
    notifier: Notifier,
    event: AlertEvent,
    *,
    attempts: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Send with retries; True once delivered. Failures are logged, never raised."""
    for attempt in range(1, attempts + 1):
        try:
            await notifier.send(event)
        except (OSError, smtplib.SMTPException, httpx2.HTTPError) as exc:
            log.warning(
                "alert notification failed",
                notifier=notifier.name,
                rule=event.rule,
                status=event.status,
                attempt=attempt,
                error=f"{type(exc).__name__}: {exc}",
            )
            if attempt < attempts:
                await sleep(backoff * 2 ** (attempt - 1))
            continue
        log.info("alert notification sent", notifier=notifier.name, rule=event.rule)
        return True
    log.error("alert notification given up", notifier=notifier.name, rule=event.rule)
    return False
