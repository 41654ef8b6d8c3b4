"""Initial schema: DomIQ tables, the spec's sync tables, and the sync engine's own tables.

Revision ID: 2026_11_25_0001_initial_schema
Revises:
Create Date: 2026-11-25

Spec tables keep their names and columns; every added column carries a comment ("added: ...").
Changes from the spec: lead_sync_queue.next_retry_at is NOT NULL (a new job is due now, so the
claim index (state, next_retry_at) needs no "OR IS NULL"), and resman_integration.property_id
is unique (one ResMan integration per DomIQ property).
Written from `alembic revision --autogenerate` and cleaned by hand; it must stay runnable on
SQLite and PostgreSQL and must not import application code (it is frozen history).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_25_0001_initial_schema"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Uuid(), primary_key=True)


def _now(name: str, comment: str | None = None) -> sa.Column[object]:
    # func.now() renders now() on PostgreSQL and CURRENT_TIMESTAMP (UTC) on SQLite.
    return sa.Column(name, _ts(), server_default=sa.func.now(), nullable=False, comment=comment)


def _one_of(column: str, values: Sequence[str], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)


def _fk(column: str, target: str, ondelete: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


_CONFLICT_STRATEGIES = ("resman_wins", "domiq_wins", "manual_review")
_SOURCES = ("domiq", "resman")


def upgrade() -> None:
    _domiq_tables()
    _access_tables()
    _spec_tables()
    _engine_tables()


def _domiq_tables() -> None:
    op.create_table(
        "property",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "timezone",
            sa.String(64),
            server_default="America/Chicago",
            nullable=False,
            comment="IANA time zone name; tour times are shown in it",
        ),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_property")),
    )
    op.create_table(
        "contact",
        _id(),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20), comment="E.164, e.g. +15125550100"),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
    )
    op.create_index(op.f("ix_contact_email"), "contact", ["email"])
    op.create_index(op.f("ix_contact_phone"), "contact", ["phone"])

    op.create_table(
        "conversation",
        _id(),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid()),
        sa.Column("status", sa.String(20), server_default="new", nullable=False),
        sa.Column("lead_score", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20), comment="E.164"),
        sa.Column("move_in_date", sa.Date()),
        sa.Column("budget_min", sa.Integer(), comment="monthly rent, whole dollars"),
        sa.Column("budget_max", sa.Integer(), comment="monthly rent, whole dollars"),
        sa.Column("bedrooms", sa.Integer(), comment="0 = studio"),
        sa.Column("occupants", sa.Integer()),
        sa.Column("has_pets", sa.Boolean()),
        sa.Column("pet_details", _json()),
        sa.Column("initial_message", sa.Text()),
        sa.Column("transcript_summary", sa.Text()),
        sa.Column(
            "context",
            _json(),
            server_default=sa.text("'{}'"),
            nullable=False,
            comment="what the chatbot knows about the lead (ResMan status, notes, custom fields)",
        ),
        sa.Column("source", sa.String(20), server_default="chatbot", nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column(
            "version",
            sa.Integer(),
            server_default=sa.text("1"),
            nullable=False,
            comment="optimistic lock counter",
        ),
        _one_of(
            "status",
            (
                "new",
                "contacted",
                "qualified",
                "tour_scheduled",
                "application",
                "leased",
                "lost",
            ),
            op.f("ck_conversation_status"),
        ),
        _one_of("source", ("chatbot", "resman"), op.f("ck_conversation_source")),
        sa.CheckConstraint(
            "lead_score BETWEEN 0 AND 100", name=op.f("ck_conversation_lead_score_range")
        ),
        _fk("property_id", "property", "CASCADE", "conversation"),
        _fk("contact_id", "contact", "SET NULL", "conversation"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
    )
    op.create_index(op.f("ix_conversation_contact_id"), "conversation", ["contact_id"])
    op.create_index(op.f("ix_conversation_email"), "conversation", ["email"])
    op.create_index(op.f("ix_conversation_phone"), "conversation", ["phone"])
    op.create_index(
        op.f("ix_conversation_property_id_updated_at"),
        "conversation",
        ["property_id", "updated_at"],
    )

    op.create_table(
        "tour_booking",
        _id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("tour_datetime", _ts(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), server_default=sa.text("30"), nullable=False),
        sa.Column("tour_type", sa.String(20), server_default="in_person", nullable=False),
        sa.Column("unit_interest", sa.String(100)),
        sa.Column("notes", sa.Text()),
        sa.Column("status", sa.String(20), server_default="scheduled", nullable=False),
        _now("created_at"),
        _one_of(
            "tour_type",
            ("in_person", "virtual", "self_guided"),
            op.f("ck_tour_booking_tour_type"),
        ),
        _one_of(
            "status",
            ("scheduled", "confirmed", "completed", "cancelled", "no_show"),
            op.f("ck_tour_booking_status"),
        ),
        _fk("conversation_id", "conversation", "CASCADE", "tour_booking"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tour_booking")),
    )
    op.create_index(op.f("ix_tour_booking_conversation_id"), "tour_booking", ["conversation_id"])


def _access_tables() -> None:
    op.create_table(
        "api_key",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "prefix",
            sa.String(16),
            nullable=False,
            comment="first characters of the key, shown and used for lookup",
        ),
        sa.Column("hash", sa.String(64), nullable=False, comment="hex sha256 of the whole key"),
        _now("created_at"),
        sa.Column("revoked_at", _ts()),
        sa.Column("last_used_at", _ts()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_table(
        "api_key_property",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        _fk("api_key_id", "api_key", "CASCADE", "api_key_property"),
        _fk("property_id", "property", "CASCADE", "api_key_property"),
        sa.PrimaryKeyConstraint("api_key_id", "property_id", name=op.f("pk_api_key_property")),
    )
    op.create_index(op.f("ix_api_key_property_property_id"), "api_key_property", ["property_id"])


def _spec_tables() -> None:
    op.create_table(
        "resman_integration",
        _id(),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("resman_property_id", sa.String(100), nullable=False),
        sa.Column(
            "api_credentials",
            _json(),
            nullable=False,
            comment="encrypted envelope {alg, key_id, ciphertext}; never plaintext",
        ),
        sa.Column("webhook_url", sa.String(255)),
        sa.Column("sync_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sync_direction", sa.String(20), server_default="bidirectional", nullable=False),
        sa.Column("last_sync_at", _ts()),
        _now("created_at"),
        _now("updated_at"),
        sa.Column(
            "conflict_strategy",
            sa.String(20),
            server_default="manual_review",
            nullable=False,
            comment="added: default rule for fields changed on both sides",
        ),
        sa.Column(
            "sync_settings",
            _json(),
            server_default=sa.text("'{}'"),
            nullable=False,
            comment="added: per-field rules, status map, TransactionSource id and other knobs",
        ),
        sa.Column(
            "pull_cursor_at",
            _ts(),
            comment="added: highest ResMan modified time fully pulled (incremental pull cursor)",
        ),
        sa.Column(
            "pull_overlap_seconds",
            sa.Integer(),
            server_default=sa.text("300"),
            nullable=False,
            comment="added: each pull re-reads this much before the cursor (clock skew, "
            "late commits)",
        ),
        sa.Column(
            "circuit_open_until",
            _ts(),
            comment="added: while in the future ResMan is treated as down and jobs wait",
        ),
        _one_of(
            "sync_direction",
            ("to_resman", "from_resman", "bidirectional"),
            op.f("ck_resman_integration_sync_direction"),
        ),
        _one_of(
            "conflict_strategy",
            _CONFLICT_STRATEGIES,
            op.f("ck_resman_integration_conflict_strategy"),
        ),
        _fk("property_id", "property", "CASCADE", "resman_integration"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resman_integration")),
        sa.UniqueConstraint("property_id", name=op.f("uq_resman_integration_property_id")),
    )

    op.create_table(
        "lead_sync_log",
        _id(),
        sa.Column("conversation_id", sa.Uuid()),
        sa.Column("resman_lead_id", sa.String(100)),
        sa.Column("sync_direction", sa.String(20), nullable=False),
        sa.Column("sync_status", sa.String(50), nullable=False),
        sa.Column("sync_type", sa.String(50), nullable=False),
        sa.Column("error_message", sa.Text()),
        sa.Column("conflict_resolution", sa.String(50)),
        _now("created_at"),
        sa.Column("integration_id", sa.Uuid(), comment="added"),
        sa.Column("attempt", sa.Integer(), comment="added: 1 for the first try of a job"),
        sa.Column(
            "job_id",
            sa.Uuid(),
            comment="added: lead_sync_queue.id (no FK: finished jobs may be purged)",
        ),
        sa.Column(
            "details",
            _json(),
            comment="added: structured outcome (fields changed, error category); never PII",
        ),
        sa.Column("duration_ms", sa.Integer(), comment="added: time spent on the attempt"),
        _one_of(
            "sync_status",
            ("pending", "success", "failed", "conflict"),
            op.f("ck_lead_sync_log_sync_status"),
        ),
        _one_of(
            "sync_type",
            ("create", "update", "status_change", "enrichment"),
            op.f("ck_lead_sync_log_sync_type"),
        ),
        _one_of(
            "conflict_resolution",
            _CONFLICT_STRATEGIES,
            op.f("ck_lead_sync_log_conflict_resolution"),
        ),
        _fk("conversation_id", "conversation", "SET NULL", "lead_sync_log"),
        _fk("integration_id", "resman_integration", "SET NULL", "lead_sync_log"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_sync_log")),
    )
    op.create_index(
        op.f("ix_lead_sync_log_conversation_id_created_at"),
        "lead_sync_log",
        ["conversation_id", "created_at"],
    )
    op.create_index(
        op.f("ix_lead_sync_log_integration_id_created_at"),
        "lead_sync_log",
        ["integration_id", "created_at"],
    )

    op.create_table(
        "lead_sync_queue",
        _id(),
        sa.Column("conversation_id", sa.Uuid()),
        sa.Column("resman_lead_id", sa.String(100)),
        sa.Column("sync_operation", sa.String(50), nullable=False),
        sa.Column("sync_data", _json()),
        sa.Column("priority", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_retries", sa.Integer(), server_default=sa.text("3"), nullable=False),
        _now(
            "next_retry_at",
            comment="not null here (spec: nullable): a new job is due now, so the claim index "
            "needs no OR IS NULL",
        ),
        _now("created_at"),
        sa.Column(
            "state",
            sa.String(20),
            server_default="queued",
            nullable=False,
            comment="added: queued | running | succeeded | dead",
        ),
        sa.Column(
            "lead_key",
            sa.String(100),
            nullable=False,
            comment="added: ordering key; jobs with equal keys run one at a time",
        ),
        # PostgreSQL: an identity column. SQLite ignores Identity; the application fills seq
        # with max(seq) + 1 inside the INSERT (leadsync.db.models.sync.NextQueueSeq).
        sa.Column(
            "seq",
            sa.BigInteger(),
            sa.Identity(),
            nullable=False,
            comment="added: global insertion order; orders the jobs of one lead_key",
        ),
        sa.Column("locked_by", sa.String(200), comment="added: worker id holding the lease"),
        sa.Column(
            "locked_until",
            _ts(),
            comment="added: lease expiry; a running job past it is claimable again",
        ),
        sa.Column("last_error", sa.Text(), comment="added: last failure, no PII"),
        sa.Column(
            "error_category",
            sa.String(50),
            comment="added: e.g. transient, rate_limited, business, validation",
        ),
        sa.Column(
            "integration_id",
            sa.Uuid(),
            comment="added: the ResMan integration the job talks to",
        ),
        sa.Column(
            "attempts",
            sa.Integer(),
            server_default=sa.text("0"),
            nullable=False,
            comment="added: times claimed (counts lease expiries too; retry_count counts failures)",
        ),
        _now("updated_at", comment="added"),
        sa.Column("dead_at", _ts(), comment="added: when it became dead"),
        _one_of(
            "sync_operation",
            ("push", "pull", "merge"),
            op.f("ck_lead_sync_queue_sync_operation"),
        ),
        _one_of(
            "state",
            ("queued", "running", "succeeded", "dead"),
            op.f("ck_lead_sync_queue_state"),
        ),
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 3", name=op.f("ck_lead_sync_queue_priority_range")
        ),
        _fk("integration_id", "resman_integration", "CASCADE", "lead_sync_queue"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_sync_queue")),
    )
    # The claim query: due jobs by state, then the oldest job of each lead by (lead_key, seq).
    op.create_index(
        op.f("ix_lead_sync_queue_state_next_retry_at"),
        "lead_sync_queue",
        ["state", "next_retry_at"],
    )
    op.create_index(op.f("ix_lead_sync_queue_lead_key_seq"), "lead_sync_queue", ["lead_key", "seq"])
    op.create_index(op.f("ix_lead_sync_queue_seq"), "lead_sync_queue", ["seq"], unique=True)
    op.create_index(
        op.f("ix_lead_sync_queue_integration_id"), "lead_sync_queue", ["integration_id"]
    )


def _engine_tables() -> None:
    op.create_table(
        "lead_link",
        _id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("resman_prospect_id", sa.String(100)),
        sa.Column("resman_person_id", sa.String(100)),
        sa.Column(
            "base",
            _json(),
            server_default=sa.text("'{}'"),
            nullable=False,
            comment="field values both sides last agreed on (three-way merge base)",
        ),
        sa.Column("base_updated_at", _ts()),
        sa.Column(
            "resman_modified_at",
            _ts(),
            comment="ResMan's last-modified time last applied; older updates are ignored",
        ),
        _now("created_at"),
        _fk("conversation_id", "conversation", "CASCADE", "lead_link"),
        _fk("integration_id", "resman_integration", "CASCADE", "lead_link"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_link")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_lead_link_conversation_id")),
        sa.UniqueConstraint(
            "integration_id",
            "resman_prospect_id",
            name=op.f("uq_lead_link_integration_id_resman_prospect_id"),
        ),
    )

    op.create_table(
        "sync_conflict",
        _id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("integration_id", sa.Uuid()),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("base_value", _json(), comment="value both sides last agreed on"),
        sa.Column("domiq_value", _json()),
        sa.Column("resman_value", _json()),
        sa.Column("status", sa.String(20), server_default="open", nullable=False),
        sa.Column("resolution", sa.String(50), comment="which side won (domiq | resman) or custom"),
        sa.Column("resolved_value", _json()),
        sa.Column("resolved_by", sa.String(100)),
        sa.Column("resolved_at", _ts()),
        _now("created_at"),
        _now("updated_at"),
        _one_of("status", ("open", "resolved"), op.f("ck_sync_conflict_status")),
        _fk("conversation_id", "conversation", "CASCADE", "sync_conflict"),
        _fk("integration_id", "resman_integration", "SET NULL", "sync_conflict"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflict")),
    )
    op.create_index(
        op.f("ix_sync_conflict_status_created_at"), "sync_conflict", ["status", "created_at"]
    )
    op.create_index(
        "uq_sync_conflict_open_field",
        "sync_conflict",
        ["conversation_id", "field"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )

    op.create_table(
        "status_history",
        _id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("old_status", sa.String(20)),
        sa.Column("new_status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(100)),
        _now("created_at"),
        _one_of("source", _SOURCES, op.f("ck_status_history_source")),
        _fk("conversation_id", "conversation", "CASCADE", "status_history"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    op.create_index(
        op.f("ix_status_history_conversation_id_created_at"),
        "status_history",
        ["conversation_id", "created_at"],
    )

    op.create_table(
        "webhook_inbox",
        _id(),
        sa.Column(
            "webhook_id",
            sa.String(200),
            nullable=False,
            comment="the sender's webhook-id header (dedupe key)",
        ),
        sa.Column("integration_id", sa.Uuid()),
        sa.Column("payload", _json(), nullable=False, comment="the body as received"),
        _now("received_at"),
        sa.Column("processed_at", _ts()),
        sa.Column("state", sa.String(20), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), comment="why parked or ignored; no PII"),
        _one_of(
            "state",
            ("pending", "applied", "parked", "ignored"),
            op.f("ck_webhook_inbox_state"),
        ),
        _fk("integration_id", "resman_integration", "SET NULL", "webhook_inbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_webhook_inbox_webhook_id")),
    )
    op.create_index(op.f("ix_webhook_inbox_integration_id"), "webhook_inbox", ["integration_id"])
    op.create_index(
        op.f("ix_webhook_inbox_state_received_at"), "webhook_inbox", ["state", "received_at"]
    )

    op.create_table(
        "idempotency_key",
        _id(),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column(
            "request_hash",
            sa.String(64),
            nullable=False,
            comment="sha256 of the canonical request body",
        ),
        sa.Column("conversation_id", sa.Uuid()),
        sa.Column("response", _json(), comment="status code and body of the first answer"),
        _now("created_at"),
        _fk("property_id", "property", "CASCADE", "idempotency_key"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
    )
    op.create_index(
        op.f("ix_idempotency_key_property_id_key"),
        "idempotency_key",
        ["property_id", "key"],
        unique=True,
    )

    op.create_table(
        "realtime_event",
        # INTEGER PRIMARY KEY AUTOINCREMENT on SQLite (never reuses a number after a purge),
        # a BIGINT identity on PostgreSQL.
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("property_id", sa.Uuid()),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("data", _json(), nullable=False),
        _now("created_at"),
        _one_of(
            "type",
            ("lead_update", "status_change", "new_lead", "sync_conflict", "heartbeat"),
            op.f("ck_realtime_event_type"),
        ),
        _one_of("source", _SOURCES, op.f("ck_realtime_event_source")),
        _fk("property_id", "property", "CASCADE", "realtime_event"),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_realtime_event")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_realtime_event_property_id_sequence"),
        "realtime_event",
        ["property_id", "sequence"],
    )


# Children before parents; a table's indexes and (PostgreSQL) identity sequences go with it.
_ALL_TABLES = (
    "realtime_event",
    "idempotency_key",
    "webhook_inbox",
    "status_history",
    "sync_conflict",
    "lead_link",
    "lead_sync_queue",
    "lead_sync_log",
    "resman_integration",
    "api_key_property",
    "api_key",
    "tour_booking",
    "conversation",
    "contact",
    "property",
)


def downgrade() -> None:
    for table in _ALL_TABLES:
        op.drop_table(table)
