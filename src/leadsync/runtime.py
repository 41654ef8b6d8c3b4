"""The process-wide objects one leadsync process shares: engine, sessions, ResMan clients,
the job runner and (optionally) the worker loop. Built once at start-up, closed at exit."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from leadsync.api.auth import PrincipalCache
from leadsync.config import Settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.listen import EventListener
from leadsync.events import CHANNEL
from leadsync.observability.alerting import AlertEvaluator, evaluator_for
from leadsync.realtime.hub import EventHub, HubConfig
from leadsync.security.crypto import KeyRing, load_keys
from leadsync.sync.inbound.feed import FeedSubscriber
from leadsync.sync.inbound.inbox import InboxWriter
from leadsync.sync.inbound.webhook_secrets import WebhookSecretCache
from leadsync.sync.inline import InlineAttempts
from leadsync.sync.pull.scheduler import PullScheduler
from leadsync.sync.queue.clients import ResManClients, target_cache
from leadsync.sync.queue.flags import push_paused
from leadsync.sync.queue.policy import RetryPolicy
from leadsync.sync.queue.repository import JOBS_CHANNEL, PROCESS_TAG
from leadsync.sync.queue.targets import TargetCache
from leadsync.sync.runner import JobRunner
from leadsync.sync.worker import Worker
from leadsync.telemetry import metrics


def worker_id() -> str:
    # Unique per runtime, not just per process: tests and `up` may run several in one process.
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keys: KeyRing
    runner: JobRunner
    targets: TargetCache
    principals: PrincipalCache
    worker: Worker
    scheduler: PullScheduler
    feeds: FeedSubscriber
    hub: EventHub
    #: Wakes the hub when another instance commits events (PostgreSQL; no-op on SQLite).
    listener: EventListener
    #: Wakes this process's worker when another process enqueues a job (PostgreSQL).
    jobs_listener: EventListener
    #: The API's inline first push attempts, at most ``push_inline_limit`` at once.
    inline: InlineAttempts
    clients: ResManClients
    #: Stores the webhook receiver's deliveries, several per transaction.
    inbox: InboxWriter
    #: The webhook receiver's verifiers per integration.
    webhook_secrets: WebhookSecretCache
    #: The alert rules' evaluator, when this process runs one (its state, for the dashboard).
    alerts: AlertEvaluator | None = None
    _worker_task: asyncio.Task[None] | None = None
    _scheduler_task: asyncio.Task[None] | None = None
    _feeds_task: asyncio.Task[None] | None = None
    _alerts_task: asyncio.Task[None] | None = None
    _reconcile_task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine_for(settings.effective_database_url)
        sessionmaker = create_sessionmaker(engine)
        keys = load_keys(settings=settings)
        targets, clients = target_cache(settings, keys=keys)
        runner = JobRunner(
            sessionmaker=sessionmaker,
            targets=targets,
            worker_id=worker_id(),
            policy=RetryPolicy.from_settings(settings),
        )
        worker = Worker(
            runner=runner,
            sessionmaker=sessionmaker,
            concurrency=settings.worker_concurrency,
            is_paused=push_paused,
        )
        hub = EventHub(sessionmaker=sessionmaker, config=HubConfig.from_settings(settings))
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            keys=keys,
            runner=runner,
            targets=targets,
            principals=PrincipalCache(),
            worker=worker,
            scheduler=PullScheduler.from_settings(
                settings, engine=engine, sessionmaker=sessionmaker, targets=targets
            ),
            feeds=FeedSubscriber(sessionmaker=sessionmaker, keys=keys, worker_wake=worker.wake),
            hub=hub,
            listener=EventListener(
                url=settings.effective_database_url, on_notify=hub.wake, channel=CHANNEL
            ),
            jobs_listener=EventListener(
                url=settings.effective_database_url,
                on_notify=lambda payload: None if payload == PROCESS_TAG else worker.wake(),
                channel=JOBS_CHANNEL,
            ),
            inline=InlineAttempts(
                attempt=lambda job_id: runner.claim_and_run(job_id=job_id),
                limit=settings.push_inline_limit,
            ),
            clients=clients,
            inbox=InboxWriter(sessionmaker=sessionmaker),
            webhook_secrets=WebhookSecretCache(engine=engine, keys=keys),
        )

    def start_worker(self) -> None:
        if self._worker_task is None:
            self._worker_task = asyncio.create_task(self.worker.run(self._stop))
            self.jobs_listener.start()

    def start_scheduler(self) -> None:
        if self._scheduler_task is None:
            self._scheduler_task = asyncio.create_task(self.scheduler.run(self._stop))

    def start_feeds(self) -> None:
        """Follow the ResMan change feeds of the integrations that have one
        (sync/inbound/feed.py)."""
        if self._feeds_task is None:
            self._feeds_task = asyncio.create_task(self.feeds.run(self._stop))

    def start_alerts(self) -> None:
        """Evaluate the alert rules in this process (observability/alerting.py)."""
        if self._alerts_task is None:
            evaluator = evaluator_for(self.settings, self.sessionmaker)
            self.alerts = evaluator
            interval = self.settings.alerts_interval_seconds
            self._alerts_task = asyncio.create_task(evaluator.run(self._stop, interval=interval))

    def start_reconcile(self) -> None:
        """The scheduled consistency check (observability/consistency.py)."""
        from leadsync.observability.consistency import reconcile_forever  # imports Runtime

        interval = self.settings.reconcile_interval_seconds
        if self._reconcile_task is None and interval > 0:
            self._reconcile_task = asyncio.create_task(
                reconcile_forever(self, self._stop, interval=interval)
            )

    async def close(self) -> None:
        self._stop.set()
        if self._reconcile_task is not None:
            await self._reconcile_task
            self._reconcile_task = None
        if self._alerts_task is not None:
            await self._alerts_task
            self._alerts_task = None
        await self.listener.stop()
        await self.jobs_listener.stop()
        await self.hub.stop()
        if self._feeds_task is not None:
            await self._feeds_task
            self._feeds_task = None
        if self._worker_task is not None:
            await self._worker_task
            self._worker_task = None
        await self.inline.drain()
        if self._scheduler_task is not None:
            await self._scheduler_task
            self._scheduler_task = None
        await self.clients.aclose()
        await self.engine.dispose()
        metrics.process_exited()


async def run_worker_forever(
    *, settings: Settings, concurrency: int, with_scheduler: bool = True
) -> None:
    """`leadsync worker`: the queue loop (and the pull scheduler) until SIGINT/SIGTERM, then a
    graceful drain."""
    import signal

    runtime = Runtime.build(settings)
    runtime.worker.concurrency = concurrency
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime._stop.set)
    if with_scheduler:
        # Safe on every instance: the advisory lock lets one poll each integration at a time.
        runtime.start_scheduler()
    runtime.start_feeds()
    try:
        await runtime.worker.run(runtime._stop)
    finally:
        await runtime.close()
