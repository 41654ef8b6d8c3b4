"""In-process alert evaluation for the embedded default (``leadsync up``).

Every ``alerts_interval_seconds`` the evaluator samples the exposed metrics (this process's,
or every process's in multiprocess mode, plus the database figures) and checks each rule on
the sample history. A rule fires once when its signal crosses the threshold and resolves
only after it stayed clear for its hold-down (no flapping). Notifications run as background
tasks with retries: a slow or failing receiver never delays the evaluation or any sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.config import Settings
from leadsync.db.session import read_session
from leadsync.observability.alert_rules import Rule, load_rules
from leadsync.observability.notifiers import (
    AlertEvent,
    Notifier,
    deliver,
    notifiers_from_settings,
)
from leadsync.observability.signals import SIGNALS, Snapshot, sample
from leadsync.observability.state import read_state, state_registry
from leadsync.telemetry.logging import get_logger
from leadsync.telemetry.metrics import event_registry

log = get_logger(__name__)

Sampler = Callable[[float], Awaitable[Snapshot]]


def database_sampler(sessionmaker: async_sessionmaker[AsyncSession]) -> Sampler:
    async def take(at: float) -> Snapshot:
        async with read_session(sessionmaker) as session:
            state = await read_state(session)
        return sample([event_registry(), state_registry(state)], at=at)

    return take


@dataclass(slots=True)
class _RuleState:
    firing: bool = False
    clear_since: float | None = None


class AlertEvaluator:
    def __init__(
        self,
        *,
        rules: list[Rule],
        notifiers: dict[str, Notifier],
        sampler: Sampler,
        retry_attempts: int = 4,
        retry_backoff: float = 2.0,
    ) -> None:
        self.rules = rules
        self.notifiers = notifiers
        self.sampler = sampler
        self._retry = (retry_attempts, retry_backoff)
        self._history: deque[Snapshot] = deque()
        self._states = {rule.name: _RuleState() for rule in rules}
        self._keep = max((r.window_seconds for r in rules), default=60.0) * 2
        self._tasks: set[asyncio.Task[bool]] = set()

    def firing(self) -> set[str]:
        return {name for name, state in self._states.items() if state.firing}

    async def tick(self, *, now: float | None = None) -> list[AlertEvent]:
        """Sample, evaluate every rule, send what changed; returns the events sent."""
        at = time.time() if now is None else now
        self._history.append(await self.sampler(at))
        while self._history and self._history[0].at < at - self._keep:
            self._history.popleft()
        events = [e for rule in self.rules if (e := self._evaluate(rule, at)) is not None]
        for event in events:
            self._notify(event, route=next(r.route for r in self.rules if r.name == event.rule))
        return events

    def _evaluate(self, rule: Rule, at: float) -> AlertEvent | None:
        value = _value(rule, list(self._history))
        breached = value is not None and value > rule.threshold
        state = self._states[rule.name]
        if breached:
            state.clear_since = None
            if state.firing:
                return None
            state.firing = True
            return self._event(rule, "firing", value)
        if not state.firing:
            return None
        state.clear_since = state.clear_since if state.clear_since is not None else at
        if at - state.clear_since < rule.hold_down_seconds:
            return None
        state.firing = False
        state.clear_since = None
        return self._event(rule, "resolved", value)

    @staticmethod
    def _event(rule: Rule, status: str, value: float | None) -> AlertEvent:
        log_line = log.warning if status == "firing" else log.info
        log_line(f"alert {status}", rule=rule.name, value=value, threshold=rule.threshold)
        return AlertEvent(
            rule=rule.name,
            status=status,
            summary=rule.summary,
            value=value,
            threshold=rule.threshold,
            dedup_key=f"leadsync-{rule.name}",
        )

    def _notify(self, event: AlertEvent, *, route: str) -> None:
        notifier = self.notifiers.get(route)
        if notifier is None:
            log.warning("alert route not configured", rule=event.rule, route=route)
            return
        attempts, backoff = self._retry
        task = asyncio.create_task(deliver(notifier, event, attempts=attempts, backoff=backoff))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the notifications in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def run(self, stop: asyncio.Event, *, interval: float) -> None:
        log.info("alert evaluation started", rules=[r.name for r in self.rules])
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("alert evaluation failed; next tick retries")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        await self.drain()


def evaluator_for(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AlertEvaluator:
    return AlertEvaluator(
        rules=load_rules(settings.alert_rules_file),
        notifiers=notifiers_from_settings(settings),
        sampler=database_sampler(sessionmaker),
    )


def _value(rule: Rule, history: Sequence[Snapshot]) -> float | None:
    """The rule's signal over its window; None (no data) while a rate rests on fewer than
    the rule's ``min_events``."""
    signal = SIGNALS[rule.signal]
    if rule.min_events and signal.volume is not None:
        volume = signal.volume(history, rule.window_seconds)
        if volume is None or volume < rule.min_events:
            return None
    return signal.compute(history, rule.window_seconds)
