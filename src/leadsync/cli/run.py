"""Running leadsync: `leadsync up` (everything in one process), `serve` (the API), `worker`
(queue worker and pull scheduler) and `sandbox` (the bundled ResMan double).

Registered on the root app by leadsync.cli.main. Heavy imports stay inside the commands so
`leadsync --help` and the operator commands start fast.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Annotated

import typer

from leadsync.config import get_settings


def freeze_start_up() -> None:
    """Move what start-up made (modules, classes, functions: ~190,000 objects in `up`) into
    the collector's permanent generation, for a long-running command. A full collection then
    scans only what the service made since: before, each one stopped every request for
    80-130 ms (issue 10, the POST tail at 25 leads/s). Start-up's garbage is collected first;
    what stays frozen lived for the whole process anyway."""
    gc.collect()
    gc.freeze()


def sandbox(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    state_file: Annotated[
        Path | None,
        typer.Option(help="Keep the sandbox's prospects in this SQLite file across restarts."),
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Send signed LeadUpdateWebhook calls for staff actions here.")
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option(help="Standard Webhooks secret (whsec_...); generated if omitted.")
    ] = None,
    overflow_threshold: Annotated[
        int, typer.Option(help="SearchProspects answers 502 'buffer overflow' above this count.")
    ] = 500,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible faults.")] = None,
    error_rate: Annotated[float, typer.Option(help="Share of calls answered with a 5xx.")] = 0.0,
    error_codes: Annotated[str, typer.Option(help="Comma-separated 5xx codes to use.")] = "500,503",
    rate_limit_rate: Annotated[float, typer.Option(help="Share of calls answered 429.")] = 0.0,
    retry_after: Annotated[float, typer.Option(help="Retry-After seconds sent with 429.")] = 1.0,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every call (ms).")] = 0.0,
    timeout_rate: Annotated[float, typer.Option(help="Share of calls that hang.")] = 0.0,
    hang_seconds: Annotated[float, typer.Option(help="How long a hanging call hangs.")] = 30.0,
    reset_rate: Annotated[float, typer.Option(help="Share of calls whose connection drops.")] = 0.0,
    business_error_rate: Annotated[
        float, typer.Option(help="Share of calls answered HTTP 200 with Status Error.")
    ] = 0.0,
) -> None:
    """Run the bundled ResMan sandbox: ResMan's wire protocol, an admin API to act as on-site
    staff, signed webhooks, a WebSocket feed and fault injection."""
    from leadsync.sandbox.config import FaultConfig, SandboxConfig
    from leadsync.sandbox.server import run_sandbox, startup_banner

    faults = FaultConfig(
        seed=seed,
        http_error_rate=error_rate,
        http_error_codes=[int(c) for c in error_codes.split(",") if c.strip()],
        rate_limit_rate=rate_limit_rate,
        retry_after_seconds=retry_after,
        latency_ms=latency_ms,
        timeout_rate=timeout_rate,
        hang_seconds=hang_seconds,
        reset_rate=reset_rate,
        business_error_rate=business_error_rate,
        overflow_threshold=overflow_threshold,
    )
    config = SandboxConfig(
        faults=faults,
        state_file=state_file,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )
    freeze_start_up()
    run_sandbox(
        config, host=host, port=port, on_started=lambda url: typer.echo(startup_banner(url))
    )


def up(
    host: Annotated[str, typer.Option(help="Interface for the API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API.")] = 8000,
    sandbox_port: Annotated[
        int, typer.Option(help="Port of the bundled ResMan sandbox (when it is used).")
    ] = 8765,
    demo: Annotated[
        bool, typer.Option("--demo", help="Drive simulated chatbot leads through the API.")
    ] = False,
    demo_interval: Annotated[float, typer.Option(help="Seconds between demo leads.")] = 3.0,
) -> None:
    """Run everything in one process on the embedded default: API, worker, SQLite in the data
    folder, migrations applied, and the bundled ResMan sandbox when no real integration is
    configured. Prints the URLs; Ctrl-C stops cleanly and queued jobs survive the restart."""
    from leadsync.embedded import run_embedded

    freeze_start_up()
    asyncio.run(
        run_embedded(
            settings=get_settings(),
            host=host,
            port=port,
            sandbox_port=sandbox_port,
            demo=demo,
            demo_interval=demo_interval,
            echo=typer.echo,
        )
    )


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind (default LEADSYNC_HOST, 127.0.0.1). Use 0.0.0.0 behind a "
            "load balancer or in a container."
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_worker: Annotated[
        bool, typer.Option(help="Also run a queue worker in this process.")
    ] = False,
) -> None:
    """Run the HTTP API only (production: several instances behind a load balancer, sharing
    one PostgreSQL database). Each instance still makes the first push attempt inline."""
    import uvicorn

    from leadsync.app import create_app

    settings = get_settings()
    app = create_app(settings, run_worker=with_worker)
    freeze_start_up()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port,
        log_config=None,
        proxy_headers=True,
    )


def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once by this worker.")] = 64,
    scheduler: Annotated[
        bool, typer.Option(help="Also poll ResMan on schedule (one instance per integration).")
    ] = True,
) -> None:
    """Run a queue worker and the pull scheduler (production: any number of them on any
    number of machines; SKIP LOCKED hands each job to exactly one worker, and an advisory lock
    lets one instance poll each integration)."""
    from leadsync.runtime import run_worker_forever

    freeze_start_up()
    asyncio.run(
        run_worker_forever(
            settings=get_settings(), concurrency=concurrency, with_scheduler=scheduler
        )
    )
