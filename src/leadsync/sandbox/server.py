"""Serving the sandbox (or any ASGI app) with uvicorn: inside the current event loop
(:class:`SandboxServer`, for async tests), in a background thread (:func:`run_sandbox_in_thread`,
for sync code) or in the foreground until Ctrl-C (:func:`run_sandbox`, for the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from leadsync.sandbox.app import ADMIN_DOCS_PATH, create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.seed import (
    CHATBOT_SOURCE_NAME,
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
    SANDBOX_PROPERTY_ID_2,
    SANDBOX_PROPERTY_NAME,
    SANDBOX_PROPERTY_NAME_2,
    prospect_source_id,
)

#: How long the server keeps an idle connection open (see SandboxServer).
KEEP_ALIVE_SECONDS = 30


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, signals: bool) -> None:
        super().__init__(config)
        self._signals = signals
        self._wake = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def main_loop(self) -> None:
        # uvicorn's loop, except that a stop request ends the 0.1 s tick at once: tests start
        # and stop a server per test, and the tick would add up.
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.1)
            should_exit = await self.on_tick(counter)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Inside a test's event loop, Ctrl-C must reach the test runner, not stop the server.
        if self._signals:
            with super().capture_signals():
                yield
        else:
            yield


class SandboxServer:
    """``async with SandboxServer(app) as server:`` serves `app` on ``server.base_url``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        install_signal_handlers: bool = False,
        graceful_shutdown_seconds: float = 2.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            timeout_graceful_shutdown=max(1, round(graceful_shutdown_seconds)),
            # Longer than an httpx2 client keeps an idle connection (5 s). With both at 5 s a
            # client may reuse a connection just as the server closes it: the request then
            # fails with ReadError, which a busy event loop turns from rare into common.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = _Server(self._config, signals=install_signal_handlers)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits the process when the lifespan fails
            raise RuntimeError("the server failed to start (see its log)") from exc

    async def __aenter__(self) -> SandboxServer:
        # Binding here (not in uvicorn) lets port 0 pick a free port we can read back.
        # proto must say TCP: asyncio only sets TCP_NODELAY on sockets that do, and without
        # it every answer written in two parts waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._serve(sock), name=f"uvicorn:{self.port}")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise RuntimeError("the server stopped during startup")
            await asyncio.sleep(0.005)
        return self

    async def wait(self) -> None:
        """Until the server stops by itself (a signal, when handlers are installed)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sandbox = getattr(getattr(self.app, "state", None), "sandbox", None)
        if sandbox is not None:
            sandbox.begin_shutdown()
        self._server.request_exit()
        if self._task is not None:
            await self._task
        if self._socket is not None:
            self._socket.close()


def run_sandbox_in_thread(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> contextlib.AbstractContextManager[str]:
    """``with run_sandbox_in_thread() as base_url:`` a sandbox served by a background thread
    (its own event loop) for as long as the block runs."""
    return _in_thread(config, host, port)


@contextlib.contextmanager
def _in_thread(config: SandboxConfig | None, host: str, port: int) -> Iterator[str]:
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"], box["stop"] = asyncio.get_running_loop(), stop
        async with SandboxServer(create_sandbox_app(config), host=host, port=port) as server:
            box["url"] = server.base_url
            started.set()
            await stop.wait()

    def runner() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=runner, name="resman-sandbox", daemon=True)
    thread.start()
    started.wait()
    if "error" in box:
        thread.join()
        raise RuntimeError("the sandbox failed to start") from box["error"]
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join()


def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """Serve a sandbox in the foreground until Ctrl-C / SIGTERM (what ``leadsync sandbox``
    runs); `on_started` gets the base URL once it accepts connections."""

    async def main() -> None:
        server = SandboxServer(
            create_sandbox_app(config),
            host=host,
            port=port,
            log_level="info",
            install_signal_handlers=True,
        )
        async with server:
            if on_started is not None:
                on_started(server.base_url)
            await server.wait()

    asyncio.run(main())


def startup_banner(base_url: str) -> str:
    """What to print at start: where it listens, the default tenant's credentials and ids
    (published sandbox values, not secrets), and where the admin API is documented."""
    feed_url = base_url.replace("http", "ws", 1)
    lines = [
        f"ResMan sandbox listening on {base_url}",
        f"  IntegrationPartnerID  {SANDBOX_PARTNER_ID}",
        f"  ApiKey                {SANDBOX_API_KEY}",
        f"  AccountID             {SANDBOX_ACCOUNT_ID}",
        f"  PropertyID            {SANDBOX_PROPERTY_ID}  ({SANDBOX_PROPERTY_NAME})",
        f"  PropertyID            {SANDBOX_PROPERTY_ID_2}  ({SANDBOX_PROPERTY_NAME_2})",
        f"  Chatbot source ID     {prospect_source_id(SANDBOX_PROPERTY_ID, CHATBOT_SOURCE_NAME)}"
        "  (first property)",
        f"  Admin API docs        {base_url}{ADMIN_DOCS_PATH}",
        f"  Change feed           {feed_url}/admin/feed?property_id={SANDBOX_PROPERTY_ID}",
    ]
    return "\n".join(lines)
