"""The queue's typed jobs: what each kind of job carries, written and read in one place.

``lead_sync_queue.sync_operation`` keeps the spec's vocabulary, which names a direction:
``push`` (a lead to ResMan), ``pull`` (ResMan to us: here, refresh one prospect from ResMan's
current state) and ``merge`` (the lost mark of a prospect a merge made surplus). The payload
in ``sync_data`` is read back as a :class:`PushJob`, :class:`RefreshJob`,
:class:`RetireJob` or :class:`TranscriptJob` (a ``push`` marked ``kind: transcript``),
and the runner dispatches on that type (a table, not string tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.sync.queue.repository import NewJob, enqueue_many

#: Inbound work runs before routine pushes: an office change should reach the chatbot first.
REFRESH_PRIORITY = 3
#: A new lead goes before updates of leads ResMan already has.
CREATE_PRIORITY = 3
UPDATE_PRIORITY = 2


@dataclass(frozen=True, slots=True)
class PushJob:
    """Bring ResMan up to date with one conversation (create, link or update).

    The push sends the conversation as it is when the job runs, merged with ResMan's current
    state; ``fields`` (the values when the job was accepted) are read only if the
    conversation is gone by then."""

    operation: ClassVar[str] = "push"
    #: create | update | status_change (the sync log's sync_type)
    sync_type: str
    fields: dict[str, Any]
    #: Events to post with it (tour, status change, note), resolved to MITS ids at push time.
    events: tuple[dict[str, Any], ...] = ()
    #: The chat's narrative (first message, summary, score): creates only.
    narrative: dict[str, Any] | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sync_type": self.sync_type,
            "fields": self.fields,
            "events": list(self.events),
        }
        if self.narrative is not None:
            data["narrative"] = self.narrative
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PushJob:
        # Jobs queued by earlier versions also carry an "only" key, never read: the push
        # merges the current state instead of trusting a field list from enqueue time.
        return cls(
            sync_type=str(data.get("sync_type", "update")),
            fields=dict(data.get("fields") or {}),
            events=tuple(data.get("events") or ()),
            narrative=data.get("narrative"),
        )


@dataclass(frozen=True, slots=True)
class RefreshJob:
    """Fetch one prospect's current state from ResMan and apply it (a webhook, the feed, a
    pull that could not apply a prospect, or a returning prospect's new link)."""

    operation: ClassVar[str] = "pull"
    prospect_id: str
    #: The webhook_inbox row this refresh settles (None: not triggered by a webhook).
    inbox_id: str | None = None
    webhook_timestamp: str | None = None
    sync_type: str = "update"

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "refresh",
            "prospect_id": self.prospect_id,
            "inbox_id": self.inbox_id,
        }
        if self.webhook_timestamp is not None:
            data["webhook_timestamp"] = self.webhook_timestamp
            data["sync_type"] = self.sync_type
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RefreshJob:
        inbox_id = data.get("inbox_id")
        return cls(
            prospect_id=str(data["prospect_id"]),
            inbox_id=str(inbox_id) if inbox_id else None,
            webhook_timestamp=data.get("webhook_timestamp"),
            sync_type=str(data.get("sync_type", "update")),
        )


@dataclass(frozen=True, slots=True)
class RetireJob:
    """Mark a prospect a merge made surplus lost in ResMan (see sync/push/retire.py)."""

    operation: ClassVar[str] = "merge"
    sync_type: ClassVar[str] = "status_change"
    prospect_id: str
    person_id: str | None
    merged_into: str

    def to_data(self) -> dict[str, Any]:
        return {
            "sync_type": self.sync_type,
            "retire": {
                "prospect_id": self.prospect_id,
                "person_id": self.person_id,
                "merged_into": self.merged_into,
            },
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RetireJob:
        spec = data["retire"]
        return cls(
            prospect_id=str(spec["prospect_id"]),
            person_id=spec.get("person_id"),
            merged_into=str(spec["merged_into"]),
        )


@dataclass(frozen=True, slots=True)
class TranscriptJob:
    """Post the conversation's chat lines not yet in ResMan as transcript events (see
    sync/push/transcript.py). Stored as a ``push`` (a write to ResMan, held by the kill
    switch) with ``kind: transcript``; one queued job per conversation collects a burst."""

    operation: ClassVar[str] = "push"
    sync_type: ClassVar[str] = "enrichment"
    #: The batch window: how long an unlinked conversation's job waits before it looks again.
    window_seconds: float = 0.0
    #: The summary or lead score changed: post them too (a note event).
    summary: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": "transcript",
            "sync_type": self.sync_type,
            "window_seconds": self.window_seconds,
            "summary": self.summary,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TranscriptJob:
        return cls(
            window_seconds=float(data.get("window_seconds") or 0.0),
            summary=bool(data.get("summary")),
        )


Job = PushJob | RefreshJob | RetireJob | TranscriptJob
_BY_OPERATION: dict[str, type[PushJob] | type[RefreshJob] | type[RetireJob]] = {
    kind.operation: kind for kind in (PushJob, RefreshJob, RetireJob)
}


def read_job(operation: str, data: dict[str, Any]) -> Job:
    """The typed payload of a stored job; ValueError for an operation no code handles."""
    if operation == TranscriptJob.operation and data.get("kind") == "transcript":
        return TranscriptJob.from_data(data)
    kind = _BY_OPERATION.get(operation)
    if kind is None:
        raise ValueError(f"unknown queue operation {operation!r}")
    return kind.from_data(data)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job goes in the queue: its integration, lead and place in the lead's order."""

    integration_id: uuid.UUID
    conversation_id: uuid.UUID | None
    priority: int
    resman_lead_id: str | None = None
    #: Jobs of one lead key run one at a time, in order. Default: the conversation's id.
    lead_key: str | None = None

    def key(self) -> str:
        if self.lead_key is not None:
            return self.lead_key
        if self.conversation_id is None:
            raise ValueError("a job without a conversation needs a lead key")
        return str(self.conversation_id)


def _new_job(job: Job, at: Placement, due_at: datetime | None = None) -> NewJob:
    return NewJob(
        integration_id=at.integration_id,
        conversation_id=at.conversation_id,
        lead_key=at.key(),
        operation=job.operation,
        data=job.to_data(),
        priority=at.priority,
        resman_lead_id=at.resman_lead_id,
        due_at=due_at,
    )


async def enqueue_job(
    session: AsyncSession, *, job: Job, at: Placement, due_at: datetime | None = None
) -> uuid.UUID:
    """Add a typed job in the caller's transaction (the outbox: it commits with the change);
    its id. Due at once unless ``due_at`` says later."""
    (job_id,) = await enqueue_many(session, jobs=[_new_job(job, at, due_at)])
    return job_id


async def enqueue_jobs(
    session: AsyncSession, *, jobs: Sequence[tuple[Job, Placement]]
) -> list[uuid.UUID]:
    """Add typed jobs, due at once, in the caller's transaction with one INSERT; their ids,
    in order."""
    return await enqueue_many(session, jobs=[_new_job(job, at) for job, at in jobs])


def refresh_key(*, conversation_id: uuid.UUID | None, prospect_id: str) -> str:
    """A linked lead's refresh shares its pushes' key (so it runs in order with them); an
    unlinked prospect gets a key of its own."""
    return str(conversation_id) if conversation_id is not None else f"resman:{prospect_id}"
