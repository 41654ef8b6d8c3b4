"""The job's event specs (tour, status change, note) turned into MITS events at push time,
when the integration's TransactionSource and lost-reason ids are known."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadsync.mapping.lost_reasons import choose_lost_reason
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import note_event, status_events, tour_event
from leadsync.resman.models import CustomerType, Event


def _comments(*parts: str | None) -> str | None:
    return "\n".join(p for p in parts if p) or None


def _status_spec_events(
    spec: dict[str, Any],
    *,
    transaction_source: str,
    lost_reasons: dict[str, tuple[str, str]],
    at: datetime,
) -> tuple[CustomerType | None, list[Event]]:
    new = LeadStatus(spec["new"])
    comments = spec.get("comments")
    lost = None
    if new == LeadStatus.LOST:
        # Never an invented reason: see mapping.lost_reasons.
        choice = choose_lost_reason(spec.get("lost_reason"), lost_reasons)
        lost, comments = choice.reason, _comments(comments, choice.comment)
    previous = spec.get("previous")
    mapped = status_events(
        new_status=new,
        previous_status=LeadStatus(previous) if previous else None,
        at=at,
        transaction_source=transaction_source,
        lost_reason=lost,
        comments=comments,
    )
    customer_type, events = mapped if mapped is not None else (None, [])
    if comments and not any(e.comments == comments for e in events):
        # A status ResMan owns (application, leased) posts no event: the note still goes.
        events.append(note_event(at=at, transaction_source=transaction_source, comments=comments))
    return customer_type, events


def build_events(
    specs: list[dict[str, Any]],
    *,
    transaction_source: str,
    lost_reasons: dict[str, tuple[str, str]],
    now: datetime,
) -> tuple[CustomerType, list[Event]]:
    """Turn the job's event specs into MITS events (ids are resolved only now, at push)."""
    customer_type = CustomerType.PROSPECT
    events: list[Event] = []
    for spec in specs:
        at = datetime.fromisoformat(spec["at"]) if spec.get("at") else now
        if spec["kind"] == "tour":
            events.append(
                tour_event(
                    start=datetime.fromisoformat(spec["start"]),
                    transaction_source=transaction_source,
                    tour_type=spec.get("tour_type", "in_person"),
                    unit=spec.get("unit"),
                    notes=spec.get("notes"),
                )
            )
        elif spec["kind"] == "note":
            events.append(
                note_event(at=at, transaction_source=transaction_source, comments=spec["comments"])
            )
        elif spec["kind"] == "status":
            kind, status_evts = _status_spec_events(
                spec, transaction_source=transaction_source, lost_reasons=lost_reasons, at=at
            )
            if kind is not None:
                customer_type = kind
            events.extend(status_evts)
    return customer_type, events
