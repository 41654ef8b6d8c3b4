"""Configuration of the ResMan sandbox: fault injection and the server's own settings.

Both are plain pydantic models so the CLI can build them from flags, the admin API can
replace the faults at run time (``PUT /admin/faults``) and tests can construct them inline.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FaultConfig(BaseModel):
    """What goes wrong, and how often. Every rate is a probability per wire request (0..1).

    Decisions come from ``random.Random(seed)``, so the same seed and the same sequence of
    requests give the same faults. Faults never apply to ``/admin``.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(default=None, description="Seed of the fault decisions.")
    http_error_rate: float = Field(default=0.0, ge=0, le=1)
    http_error_codes: list[int] = Field(
        default_factory=lambda: [500, 503],
        min_length=1,
        description="Statuses drawn from (uniformly) when an HTTP error is injected.",
    )
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1, description="HTTP 429 share.")
    retry_after_seconds: float = Field(default=1.0, ge=0, description="Retry-After of a 429.")
    latency_ms: float = Field(default=0.0, ge=0, description="Added before every answer.")
    latency_jitter_ms: float = Field(default=0.0, ge=0, description="latency_ms +/- this.")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="Share of hung requests.")
    hang_seconds: float = Field(default=30.0, ge=0, description="How long a hung request waits.")
    reset_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of connections dropped mid-response."
    )
    business_error_rate: float = Field(default=0.0, ge=0, le=1)
    business_error_message: str = "An unexpected error has occurred"
    overflow_threshold: int = Field(
        default=500,
        ge=0,
        description="SearchProspects answers 502 'buffer overflow' above this many prospects "
        "in the modified window.",
    )
    fail_first: int = Field(
        default=0,
        ge=0,
        description="The first N requests to the targeted methods answer an HTTP error (the "
        "first of http_error_codes) before any rate applies; they draw nothing.",
    )
    methods: list[str] | None = Field(
        default=None,
        description="Wire methods the faults apply to, e.g. ['MITS/PostLeadManagement4_0'] "
        "(case-insensitive); null = all. The overflow threshold always applies.",
    )

    @field_validator("http_error_codes")
    @classmethod
    def _error_statuses(cls, codes: list[int]) -> list[int]:
        # 4xx is allowed too so a client's handling of 401/403/404 can be exercised.
        bad = [c for c in codes if not 400 <= c <= 599]
        if bad:
            raise ValueError(f"not an HTTP error status: {bad}")
        return codes


class SandboxConfig(BaseModel):
    """Everything the sandbox app needs at start; all defaults run an in-memory sandbox."""

    model_config = ConfigDict(extra="forbid")

    faults: FaultConfig = Field(default_factory=FaultConfig)
    state_file: Path | None = Field(
        default=None, description="SQLite file keeping the state across restarts; None = memory."
    )
    seed_default_tenant: bool = Field(
        default=True,
        description="Create the default account, partner and two properties (see seed.py) "
        "when missing.",
    )
    webhook_url: str | None = Field(default=None, description="Where staff changes are posted.")
    webhook_secret: str | None = Field(
        default=None, description="Standard Webhooks secret (whsec_...); generated if omitted."
    )
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_backoff_seconds: float = Field(
        default=0.2, ge=0, description="First retry delay; doubles per attempt."
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_queue_size: int = Field(default=10_000, ge=1)
    feed_queue_size: int = Field(
        default=1_000, ge=1, description="Per subscriber; a slower consumer is disconnected."
    )
    feed_heartbeat_seconds: float = Field(default=15.0, gt=0)
