"""One Settings object for the whole service; every value comes from ``LEADSYNC_*`` variables
(or a ``.env`` file), with defaults that run the embedded setup on one machine."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".leadsync")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADSYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- general -----------------------------------------------------------------------
    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Folder for the embedded SQLite file, the generated encryption key, "
        "and the sandbox's state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    # --- logging -----------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable in a terminal, JSON otherwise."
    )
    # --- secrets -----------------------------------------------------------------------
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys for api_credentials; the first encrypts, all "
        "decrypt (rotation). Required on PostgreSQL; generated into data_dir on SQLite.",
    )
    # --- ResMan client -----------------------------------------------------------------
    resman_base_url: str = "https://api.myresman.com"
    resman_connect_timeout: float = 5.0
    resman_read_timeout: float = 30.0
    resman_requests_per_second: float = Field(
        default=200.0, description="Per-account request budget (token bucket rate)."
    )
    resman_burst: int = Field(default=400, description="Per-account request budget (bucket size).")
    resman_max_connections: int = 100
    resman_max_answer_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest ResMan answer read (decoded bytes); a larger one is refused "
        "(a SearchProspects window is split instead).",
    )
    resman_call_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Total time one ResMan call may take, body included (a slow endless "
        "stream is cut here even when every read is within the read timeout).",
    )
    transcript_batch_seconds: float = Field(
        default=180.0,
        ge=0,
        description="How long a chat transcript batch collects messages before it goes to "
        "ResMan: a burst of messages becomes one event per this many seconds of conversation.",
    )
    # --- retries and circuit breaker (see sync/queue/breaker.py) ----------------------------
    retry_base_seconds: float = Field(default=0.5, gt=0, description="Back-off base.")
    retry_cap_seconds: float = Field(default=300.0, gt=0, description="Longest back-off.")
    retry_unknown_error_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Back-off base after a ResMan error description we do not recognise.",
    )
    retry_max: int = Field(
        default=12, ge=1, description="Most retries of a transiently failing job."
    )
    breaker_window_seconds: float = Field(
        default=30.0, gt=0, description="Sliding window of ResMan call outcomes."
    )
    breaker_minimum_calls: int = Field(
        default=20, ge=1, description="Calls in the window before the failure rate counts."
    )
    breaker_failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Transport failure share that opens the circuit."
    )
    breaker_open_seconds: float = Field(
        default=0.5, gt=0, description="First cool-down before one trial call."
    )
    breaker_open_max_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest cool-down (doubles after each failed trial): ResMan back up is "
        "noticed within this many seconds, for one call per cool-down during an outage.",
    )
    breaker_trial_seconds: float = Field(
        default=30.0, gt=0, description="How long a trial may run before another may start."
    )
    auth_pause_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long an integration whose credentials ResMan refused rests before "
        "one trial call (`integration update` with new credentials resumes it at once).",
    )
    # --- API / server ------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    sandbox_port: int = 8765
    push_wait_seconds: float = Field(
        default=2.0,
        description="How long POST /api/resman/leads waits for the first push attempt "
        "before answering sync_status=pending.",
    )
    worker_concurrency: int = Field(
        default=64,
        ge=1,
        description="Most jobs one worker process runs at once (its claims are sized to the "
        "free slots). ResMan's latency, not our CPU, is what needs many: about requests per "
        "second times call latency times three calls per create.",
    )
    push_inline_limit: int = Field(
        default=64,
        ge=0,
        description="Most first push attempts the API runs inline at once (about the worker's "
        "concurrency); beyond it a request answers sync_status=pending at once and the worker "
        "pushes the lead. 0: never inline.",
    )
    pull_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often each integration is polled."
    )
    pull_jitter: float = Field(
        default=0.2, ge=0, le=0.9, description="Poll interval jitter, as a share of it."
    )
    pull_initial_lookback_days: int = Field(
        default=30, ge=0, description="How far back the first pull of an integration reads."
    )
    realtime_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How often the WebSocket hub re-reads the event log when nothing woke it.",
    )
    realtime_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="WebSocket heartbeat after this much silence."
    )
    realtime_client_buffer: int = Field(
        default=1000, ge=1, description="Events a slow WebSocket client may lag before 4408."
    )
    realtime_retention_days: float = Field(
        default=7.0, gt=0, description="How long the event log keeps events for resuming."
    )
    # --- observability -------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a scraper sends to GET /metrics; unset: loopback clients only.",
    )
    alert_rules_file: Path | None = Field(
        default=None, description="TOML alert rules; default: the spec's five (README)."
    )
    alerts_evaluate: bool | None = Field(
        default=None,
        description="Evaluate the alert rules in this process; default: only in `leadsync up` "
        "(with several API instances, enable it on one, or use `leadsync alerts export`).",
    )
    alerts_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often the alert rules are evaluated."
    )
    reconcile_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often `leadsync up` runs the consistency check (0: never).",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts.")
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    alert_email_from: str = "leadsync@localhost"
    alert_email_to: str | None = Field(
        default=None, description="Comma-separated recipients of email alerts."
    )
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook URL for Slack alerts."
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty Events API v2 integration (routing) key."
    )
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    max_body_bytes: int = Field(default=256 * 1024, description="Largest request body accepted.")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'leadsync.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
