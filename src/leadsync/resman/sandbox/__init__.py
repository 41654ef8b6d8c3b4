"""The bundled ResMan sandbox: a ResMan double speaking the real wire protocol, with an admin
API to act as on-site staff and fault injection (see SANDBOX_API.md / RESMAN_PROTOCOL.md).

Entry points: :func:`create_sandbox_app` (the ASGI app), :class:`SandboxServer` (serve it in the
current event loop), :func:`run_sandbox_in_thread` (serve it from sync code), :func:`run_sandbox`
(foreground, for ``leadsync sandbox``). Default credentials and ids live in ``seed``.
"""

from leadsync.resman.sandbox.app import create_sandbox_app
from leadsync.resman.sandbox.config import FaultConfig, SandboxConfig
from leadsync.resman.sandbox.server import (
    SandboxServer,
    run_sandbox,
    run_sandbox_in_thread,
    startup_banner,
)

__all__ = [
    "FaultConfig",
    "SandboxConfig",
    "SandboxServer",
    "create_sandbox_app",
    "run_sandbox",
    "run_sandbox_in_thread",
    "startup_banner",
]
