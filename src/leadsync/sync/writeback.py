"""The one write-back: apply what a merge decided to our side.

Every path that merges — the pull and webhook refresh (inbound), the push of an update or of
a returning prospect, a status relayed through the API, the merge API and a person resolving
a conflict — ends in :func:`apply_merge`, so our side always changes the same way: the
conversation takes its values (with a status history row), conflicts are parked or their
automatic resolution logged, the base snapshot is stored, ResMan's side is queued as a push,
and subscribers hear of it. Flushes, never commits: the caller's boundary does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink
from leadsync.db.types import utcnow
from leadsync.events import Source, publish_lead
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.observed import RESMAN_STATUS_KEY
from leadsync.merge import MergeResult, normalize_snapshot
from leadsync.sync.conflict_records import announce_conflict, record_conflicts
from leadsync.sync.queue.jobs import UPDATE_PRIORITY, Placement, PushJob, enqueue_job
from leadsync.sync.records import apply_fields, conversation_fields, record_status


@dataclass(frozen=True, slots=True)
class WriteBack:
    """What a merge decided, in the form our side applies it."""

    #: Values the conversation takes.
    to_domiq: dict[str, Any]
    #: Fields ResMan must take, queued as one push (empty: nothing, or already sent).
    push: tuple[str, ...]
    #: The link's new base snapshot.
    base: dict[str, Any]
    #: The merge itself, for its conflicts and automatic resolutions (None: a decision
    #: without one, e.g. a conflict a person resolved).
    merge: MergeResult | None = None

    @classmethod
    def of(cls, result: MergeResult, *, base: dict[str, Any] | None = None) -> WriteBack:
        """A merge whose ResMan side is left to a queued push (see :func:`base_before_push`)."""
        return cls(
            to_domiq=dict(result.to_domiq),
            push=tuple(sorted(result.to_resman)),
            base=base if base is not None else base_before_push(result),
            merge=result,
        )


@dataclass(frozen=True, slots=True)
class Applied:
    #: The conversation took at least one value.
    changed: bool
    #: Conflicts parked or refreshed (an unchanged open conflict seen again is no news).
    conflicts: int
    #: The push queued for ResMan's side, if any.
    job_id: uuid.UUID | None


async def apply_merge(
    session: AsyncSession,
    *,
    conv: Conversation,
    link: LeadLink | None,
    integration_id: uuid.UUID,
    change: WriteBack,
    direction: str,
    changed_by: str,
    resman_lead_id: str | None,
    source: Source = "resman",
    announce: bool = True,
    resman_modified_at: datetime | None = None,
    resman_fingerprint: str | None = None,
) -> Applied:
    """See the module docstring. ``direction`` is the sync log's; ``source`` says whose
    change the conversation takes; ``announce=False`` when the caller publishes the lead
    event itself (conflicts are announced either way); ``resman_fingerprint`` when ResMan's
    state read is the one this change merged (see :func:`store_base`)."""
    changed = await write_domiq(
        session, conv=conv, changes=change.to_domiq, changed_by=changed_by, source=source
    )
    conflicts = 0
    if change.merge is not None:
        conflicts = await record_conflicts(
            session,
            conversation_id=conv.id,
            integration_id=integration_id,
            result=change.merge,
            resman_lead_id=resman_lead_id,
            direction=direction,
        )
    job_id = None
    if link is not None:
        store_base(
            link,
            new_base=change.base,
            resman_modified_at=resman_modified_at,
            resman_fingerprint=resman_fingerprint,
        )
        if change.push:
            job_id = await enqueue_update(session, conv=conv, integration_id=integration_id)
    if changed and announce:
        await publish_lead(
            session,
            conv,
            event_type="status_change" if "status" in change.to_domiq else "lead_update",
            source=source,
            resman_lead_id=resman_lead_id,
        )
    if conflicts and change.merge is not None:
        await announce_conflict(
            session,
            property_id=conv.property_id,
            conversation_id=conv.id,
            source=source,
            resman_lead_id=resman_lead_id,
            fields=[c.field for c in change.merge.conflicts],
        )
    await session.flush()
    return Applied(changed=changed, conflicts=conflicts, job_id=job_id)


async def enqueue_update(
    session: AsyncSession, *, conv: Conversation, integration_id: uuid.UUID
) -> uuid.UUID:
    """A push of the conversation's current state. The push merges it with ResMan's state
    again when it runs, so fields parked in a conflict, or changed only in ResMan, are never
    written back over the office."""
    return await enqueue_job(
        session,
        job=PushJob(sync_type="update", fields=fields_to_json(conversation_fields(conv))),
        at=Placement(
            integration_id=integration_id, conversation_id=conv.id, priority=UPDATE_PRIORITY
        ),
    )


async def write_domiq(
    session: AsyncSession,
    *,
    conv: Conversation,
    changes: dict[str, Any],
    changed_by: str,
    source: Source = "resman",
) -> bool:
    """Apply merged values to the conversation; a status change gets a history row."""
    if not changes:
        return False
    old_status = conv.status
    apply_fields(conv, changes)
    record_status(session, conv=conv, old=old_status, source=source, changed_by=changed_by)
    conv.updated_at = utcnow()
    await session.flush()
    return True


def store_base(
    link: LeadLink,
    *,
    new_base: dict[str, Any],
    resman_modified_at: datetime | None,
    resman_fingerprint: str | None = None,
) -> None:
    old = link.base or {}
    if (
        RESMAN_STATUS_KEY not in new_base
        and RESMAN_STATUS_KEY in old
        and new_base.get("status") == old.get("status")
    ):
        # A path that does not track ResMan's status signature (merge API, a resolved
        # conflict) keeps the remembered one while the agreed status stays (see
        # mapping.observed): without it, the next poll would revert a status ResMan cannot
        # hold.
        new_base = {**new_base, RESMAN_STATUS_KEY: old[RESMAN_STATUS_KEY]}
    # Canonical form (E.164, canonical decimals, sorted pets): a later comparison with a
    # merge's canonical output must not see a formatting difference as a change.
    link.base = normalize_snapshot(new_base, tuple(new_base))
    link.base_updated_at = utcnow()
    # The base moved: the next read of ResMan must be merged again, even if ResMan's state
    # is the one last applied; only inbound apply, which just merged that state, passes its
    # digest (set here with the base, so the link's row is written once, not twice).
    link.resman_fingerprint = resman_fingerprint
    if resman_modified_at is not None and (
        link.resman_modified_at is None or resman_modified_at > link.resman_modified_at
    ):
        link.resman_modified_at = resman_modified_at


def base_before_push(result: MergeResult) -> dict[str, Any]:
    """The base to store when ``to_resman`` is left to a queued push: those fields keep
    ResMan's current value as their base, so the push still sees them as our changes (were
    they recorded as agreed already, the push would take ResMan's old value for new)."""
    base = dict(result.new_base)
    for name in result.to_resman:
        base[name] = result.outcome(name).resman
    return base
