"""The spec's success criteria, computed from the data (``leadsync report``,
``GET /api/resman/report``). Each line has a value, the spec's target and pass/fail; a
criterion with nothing to measure in the period says so instead of passing."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, LeadSyncLog, LeadSyncQueue, StatusHistory
from leadsync.db.models import ResmanIntegration as Integration
from leadsync.db.types import utcnow
from leadsync.observability.alert_rules import parse_duration
from leadsync.observability.state import read_state
from leadsync.sync.queue.transcripts import TRANSCRIPT_KEY_PREFIX

_DIRECTIONS = {"to_resman": LeadSyncQueue.sync_operation != "pull"}
_DIRECTIONS["from_resman"] = LeadSyncQueue.sync_operation == "pull"


class PeriodError(ValueError):
    pass


def parse_since(text: str) -> timedelta:
    """``7d``, ``24h``, ``30m``: the report's period."""
    try:
        if text.endswith("d") and text[:-1].isdigit():
            return timedelta(days=int(text[:-1]))
        return timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise PeriodError(f"since: {text!r} is not a period like 7d, 24h or 30m") from exc


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    value: float | None
    unit: str
    target: str
    passed: bool | None
    detail: str

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def _crit(
    name: str, value: float | None, unit: str, target: str, ok: bool, detail: str
) -> Criterion:
    return Criterion(name, value, unit, target, None if value is None else ok, detail)


def _scope(column: Any, integration_ids: list[uuid.UUID] | None) -> list[ColumnElement[bool]]:
    return [] if integration_ids is None else [column.in_(integration_ids)]


async def _count_by(
    session: AsyncSession, column: Any, where: list[ColumnElement[bool]]
) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(key): int(n) for key, n in rows.all()}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _jobs(
    session: AsyncSession, since: datetime, ids: list[uuid.UUID] | None
) -> list[Criterion]:
    found: list[Criterion] = []
    for direction, which in _DIRECTIONS.items():
        where = [
            which,
            LeadSyncQueue.created_at >= since,
            *_scope(LeadSyncQueue.integration_id, ids),
        ]
        counts = await _count_by(session, LeadSyncQueue.state, where)
        done, dead = counts.get("succeeded", 0), counts.get("dead", 0)
        rate = done / (done + dead) * 100 if done + dead else None
        found.append(
            _crit(
                f"sync success rate {direction}",
                rate,
                "%",
                ">= 99 %",
                (rate or 0) >= 99,
                f"{done} jobs succeeded, {dead} gave up",
            )
        )
        rows = await session.execute(
            select(LeadSyncQueue.created_at, LeadSyncQueue.updated_at).where(
                *where,
                LeadSyncQueue.state == "succeeded",
                # A chat transcript waits its batch window on purpose: that is not latency.
                ~LeadSyncQueue.lead_key.startswith(TRANSCRIPT_KEY_PREFIX),
            )
        )
        waits = [(done_at - created).total_seconds() for created, done_at in rows.all()]
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            value = _percentile(waits, q)
            found.append(
                _crit(
                    f"sync latency {direction} {label}",
                    value,
                    "s",
                    "< 30 s",
                    (value or 0) < 30,
                    f"over {len(waits)} synced changes",
                )
            )
    return found


async def _conflicts(
    session: AsyncSession, since: datetime, ids: list[uuid.UUID] | None
) -> Criterion:
    where = [LeadSyncLog.created_at >= since, *_scope(LeadSyncLog.integration_id, ids)]
    conflicts = (
        await session.scalar(
            select(func.count()).where(*where, LeadSyncLog.conflict_resolution.is_not(None))
        )
        or 0
    )
    synced = (
        await session.scalar(
            select(func.count()).where(
                *where,
                LeadSyncLog.conflict_resolution.is_(None),
                LeadSyncLog.sync_status == "success",
            )
        )
        or 0
    )
    whole = conflicts + synced
    rate = conflicts / whole * 100 if whole else None
    return _crit(
        "conflict rate",
        rate,
        "%",
        "< 5 %",
        (rate or 0) < 5,
        f"{conflicts} conflicts in {whole} synced changes",
    )


async def _adoption(
    session: AsyncSession, since: datetime, ids: list[uuid.UUID] | None
) -> list[Criterion]:
    linked = and_(
        LeadLink.conversation_id == Conversation.id,
        LeadLink.resman_prospect_id.is_not(None),
        *_scope(LeadLink.integration_id, ids),
    )
    # The office acted: ResMan changed the lead's status, or any other field reached us.
    acted = or_(
        exists().where(
            StatusHistory.conversation_id == Conversation.id, StatusHistory.source == "resman"
        ),
        exists().where(
            LeadSyncLog.conversation_id == Conversation.id,
            LeadSyncLog.sync_direction == "from_resman",
            LeadSyncLog.sync_status == "success",
        ),
    )
    recent = [Conversation.created_at >= since]
    if ids is not None:
        recent.append(
            Conversation.property_id.in_(
                select(Integration.property_id).where(Integration.id.in_(ids))
            )
        )
    chatbot = [*recent, Conversation.source == "chatbot"]
    synced = await session.scalar(select(func.count()).where(*chatbot, exists().where(linked))) or 0
    used = (
        await session.scalar(select(func.count()).where(*chatbot, exists().where(linked), acted))
        or 0
    )
    adoption = used / synced * 100 if synced else None
    by_source = await _count_by(session, Conversation.source, recent)
    ours, typed = by_source.get("chatbot", 0), by_source.get("resman", 0)
    avoided = ours / (ours + typed) * 100 if ours + typed else None
    return [
        _crit(
            "on-site adoption",
            adoption,
            "%",
            "> 80 %",
            (adoption or 0) > 80,
            f"{used} of {synced} synced chatbot leads were acted on in ResMan",
        ),
        _crit(
            "manual entry avoided",
            avoided,
            "%",
            ">= 90 %",
            (avoided or 0) >= 90,
            f"{ours} leads arrived through leadsync, {typed} were typed in ResMan",
        ),
    ]


async def build_report(
    session: AsyncSession, *, since: timedelta, integration_ids: list[uuid.UUID] | None = None
) -> dict[str, Any]:
    now = utcnow()
    start = now - since
    criteria = await _jobs(session, start, integration_ids)
    state = await read_state(session, now=now)
    unsynced = sum(
        n
        for i, n in state.unsynced_leads.items()
        if integration_ids is None or uuid.UUID(i) in integration_ids
    )
    criteria.append(
        _crit(
            "data loss",
            float(unsynced),
            "leads",
            "0",
            unsynced == 0,
            "chatbot leads with no ResMan prospect and nothing queued",
        )
    )
    criteria.append(await _conflicts(session, start, integration_ids))
    lag = max(state.lag_seconds.values(), default=0.0)
    criteria.append(
        _crit(
            "real-time lag",
            lag,
            "s",
            "< 60 s",
            lag < 60,
            "oldest change not yet applied on the other side, now",
        )
    )
    criteria += await _adoption(session, start, integration_ids)
    return {
        "since": start.isoformat(),
        "until": now.isoformat(),
        "passed": all(c.passed is not False for c in criteria),
        "criteria": [{**asdict(c), "verdict": c.verdict} for c in criteria],
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"leadsync success report {report['since'][:19]} .. {report['until'][:19]} UTC"]
    for c in report["criteria"]:
        shown = "-" if c["value"] is None else f"{c['value']:.4g} {c['unit']}"
        head = f"  {c['verdict']:<4}  {c['name']:<30} {shown:<14}"
        lines.append(f"{head} target {c['target']:<8} {c['detail']}")
    lines.append("overall: " + ("PASS" if report["passed"] else "FAIL"))
    return lines
