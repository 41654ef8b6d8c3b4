"""The job's event specs (tour, status change) turned into MITS events at push time, when
the integration's TransactionSource and lost-reason ids are known."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import status_events, tour_event
from leadsync.resman.models import CustomerType, Event


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
        elif spec["kind"] == "status":
            lost = None
            if spec.get("lost_reason"):
                lost = lost_reasons.get(str(spec["lost_reason"]).lower())
            if lost is None and lost_reasons:
                lost = next(iter(lost_reasons.values()))
            previous = spec.get("previous")
            mapped = status_events(
                new_status=LeadStatus(spec["new"]),
                previous_status=LeadStatus(previous) if previous else None,
                at=datetime.fromisoformat(spec["at"]) if spec.get("at") else now,
                transaction_source=transaction_source,
                lost_reason=lost,
                comments=spec.get("comments"),
            )
            if mapped is not None:
                customer_type, status_evts = mapped
                events.extend(status_evts)
    return customer_type, events
