"""The spec's three tables: resman_integration, lead_sync_log, lead_sync_queue.

Their spec columns keep their names and types; every column this service adds carries a
`comment=` (it lands in the migration and, on PostgreSQL, in the catalog).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from leadsync.db.base import Base, created_at, one_of, updated_at, uuid_pk
from leadsync.db.types import utcnow
from leadsync.db.vocab import (
    CONFLICT_STRATEGIES,
    INTEGRATION_SYNC_DIRECTIONS,
    QUEUE_STATES,
    SYNC_OPERATIONS,
    SYNC_STATUSES,
    SYNC_TYPES,
)


class ResmanIntegration(Base):
    """One DomIQ property connected to one ResMan property.

    `api_credentials` never holds plaintext: it is `leadsync.security.crypto.seal_json`'s
    envelope `{"alg": "fernet", "key_id": ..., "ciphertext": ...}` (JSON so the spec's JSONB
    type stays, an envelope so rows still under an old key can be found and re-encrypted).

    Added to the spec's columns: `conflict_strategy` (default merge rule), `sync_settings`
    (per-field rules, status map and other per-integration knobs), `pull_cursor_at` +
    `pull_overlap_seconds` (the incremental pull cursor), `circuit_open_until` (ResMan down:
    jobs wait). `property_id` is unique: one integration per property.
    """

    __tablename__ = "resman_integration"
    __table_args__ = (
        one_of("sync_direction", INTEGRATION_SYNC_DIRECTIONS, name="sync_direction"),
        one_of("conflict_strategy", CONFLICT_STRATEGIES, name="conflict_strategy"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    property_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("property.id", ondelete="CASCADE"), unique=True
    )
    resman_property_id: Mapped[str] = mapped_column(String(100))
    api_credentials: Mapped[dict[str, Any]] = mapped_column(
        comment="encrypted envelope {alg, key_id, ciphertext}; never plaintext"
    )
    webhook_url: Mapped[str | None] = mapped_column(String(255))
    sync_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    sync_direction: Mapped[str] = mapped_column(
        String(20), default="bidirectional", server_default="bidirectional"
    )
    last_sync_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    # --- added -----------------------------------------------------------------------------
    conflict_strategy: Mapped[str] = mapped_column(
        String(20),
        default="manual_review",
        server_default="manual_review",
        comment="added: default rule for fields changed on both sides",
    )
    sync_settings: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="added: per-field rules, status map, TransactionSource id and other knobs",
    )
    pull_cursor_at: Mapped[datetime | None] = mapped_column(
        comment="added: highest ResMan modified time fully pulled (incremental pull cursor)"
    )
    pull_overlap_seconds: Mapped[int] = mapped_column(
        default=300,
        server_default=text("300"),
        comment="added: each pull re-reads this much before the cursor (clock skew, late commits)",
    )
    circuit_open_until: Mapped[datetime | None] = mapped_column(
        comment="added: while in the future ResMan is treated as down and jobs wait"
    )


class LeadSyncLog(Base):
    """One line per sync attempt or outcome.

    Added to the spec's columns: `integration_id`, `attempt` (1 = first try of the job),
    `job_id` (the queue row, no FK), `details` (structured, no PII), `duration_ms`.
    """

    __tablename__ = "lead_sync_log"
    __table_args__ = (
        one_of("sync_status", SYNC_STATUSES, name="sync_status"),
        one_of("sync_type", SYNC_TYPES, name="sync_type"),
        # NULL passes a CHECK, so the optional column needs no IS NULL branch.
        one_of("conflict_resolution", CONFLICT_STRATEGIES, name="conflict_resolution"),
        Index(None, "conversation_id", "created_at"),
        Index(None, "integration_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL")
    )
    resman_lead_id: Mapped[str | None] = mapped_column(String(100))
    sync_direction: Mapped[str] = mapped_column(String(20))
    sync_status: Mapped[str] = mapped_column(String(50))
    sync_type: Mapped[str] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    conflict_resolution: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = created_at()
    # --- added -----------------------------------------------------------------------------
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="SET NULL"), comment="added"
    )
    attempt: Mapped[int | None] = mapped_column(comment="added: 1 for the first try of a job")
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="added: lead_sync_queue.id (no FK: finished jobs may be purged)"
    )
    details: Mapped[dict[str, Any] | None] = mapped_column(
        comment="added: structured outcome (fields changed, error category); never PII"
    )
    duration_ms: Mapped[int | None] = mapped_column(comment="added: time spent on the attempt")


class NextQueueSeq(FunctionElement[int]):
    """The next `lead_sync_queue.seq`, rendered inline into the INSERT.

    PostgreSQL draws from the column's identity sequence (concurrency-safe). SQLite has no
    sequences and only a rowid primary key autoincrements; but SQLite runs one writer at a
    time, so `max(seq) + 1` inside the INSERT statement itself cannot race.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(NextQueueSeq)
def _next_queue_seq_sqlite(element: NextQueueSeq, compiler: SQLCompiler, **kw: Any) -> str:
    return "(SELECT coalesce(max(seq), 0) + 1 FROM lead_sync_queue)"


@compiles(NextQueueSeq, "postgresql")
def _next_queue_seq_pg(element: NextQueueSeq, compiler: SQLCompiler, **kw: Any) -> str:
    return "nextval(pg_get_serial_sequence('lead_sync_queue', 'seq'))"


class LeadSyncQueue(Base):
    """The transactional outbox and job queue (see DESIGN "The queue").

    A job is `queued` until a worker claims it (`running`, with a lease in `locked_by` /
    `locked_until`), then `succeeded` or, after `max_retries` or a permanent error, `dead`.
    Jobs of one `lead_key` run one at a time in `seq` order.

    Added to the spec's columns: `state`, `lead_key`, `seq`, `locked_by`, `locked_until`
    (lease), `last_error`, `error_category`, `integration_id`, `attempts` (times claimed;
    `retry_count` counts failures), `updated_at`, `dead_at`. `next_retry_at` is NOT NULL
    (due now by default) so the claim index (state, next_retry_at) serves it alone.
    """

    __tablename__ = "lead_sync_queue"
    __table_args__ = (
        one_of("sync_operation", SYNC_OPERATIONS, name="sync_operation"),
        one_of("state", QUEUE_STATES, name="state"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        Index(None, "state", "next_retry_at"),
        Index(None, "lead_key", "seq"),
        Index(None, "seq", unique=True),
        # The duplicate check finds queued creates of the same person by conversation.
        Index(None, "conversation_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID | None]
    resman_lead_id: Mapped[str | None] = mapped_column(String(100))
    sync_operation: Mapped[str] = mapped_column(String(50))
    sync_data: Mapped[dict[str, Any] | None]
    priority: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    retry_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    max_retries: Mapped[int] = mapped_column(default=3, server_default=text("3"))
    next_retry_at: Mapped[datetime] = mapped_column(
        default=utcnow,
        server_default=func.now(),
        comment="not null here (spec: nullable): a new job is due now, so the claim index "
        "needs no OR IS NULL",
    )
    created_at: Mapped[datetime] = created_at()
    # --- added -----------------------------------------------------------------------------
    state: Mapped[str] = mapped_column(
        String(20),
        default="queued",
        server_default="queued",
        comment="added: queued | running | succeeded | dead",
    )
    lead_key: Mapped[str] = mapped_column(
        String(100), comment="added: ordering key; jobs with equal keys run one at a time"
    )
    seq: Mapped[int] = mapped_column(
        BigInteger,
        Identity(),
        default=NextQueueSeq(),
        comment="added: global insertion order; orders the jobs of one lead_key",
    )
    locked_by: Mapped[str | None] = mapped_column(
        String(200), comment="added: worker id holding the lease"
    )
    locked_until: Mapped[datetime | None] = mapped_column(
        comment="added: lease expiry; a running job past it is claimable again"
    )
    last_error: Mapped[str | None] = mapped_column(Text, comment="added: last failure, no PII")
    error_category: Mapped[str | None] = mapped_column(
        String(50), comment="added: e.g. transient, rate_limited, business, validation"
    )
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="CASCADE"),
        index=True,
        comment="added: the ResMan integration the job talks to",
    )
    attempts: Mapped[int] = mapped_column(
        default=0,
        server_default=text("0"),
        comment="added: times claimed (counts lease expiries too; retry_count counts failures)",
    )
    updated_at: Mapped[datetime] = updated_at(comment="added")
    dead_at: Mapped[datetime | None] = mapped_column(comment="added: when it became dead")

    # Fetch `seq` in the INSERT's RETURNING instead of leaving it expired: an async session
    # cannot lazy-load it later.
    __mapper_args__ = {"eager_defaults": True}
