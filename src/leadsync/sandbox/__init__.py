"""The bundled ResMan sandbox: a ResMan double speaking the real wire protocol, with an admin
API to act as on-site staff and fault injection (docs/SANDBOX_API.md, docs/RESMAN_PROTOCOL.md).

A product of its own: it imports nothing of leadsync but the ResMan codec
(``leadsync.resman.mits`` with the models and errors it is typed in), which import-linter
enforces (pyproject.toml). The product talks to it only over the ResMan wire protocol and
through :mod:`leadsync.sandbox.admin_client`.

Entry points: :func:`create_sandbox_app` (the ASGI app), :class:`SandboxServer` (serve it in the
current event loop), :func:`run_sandbox_in_thread` (serve it from sync code), :func:`run_sandbox`
(foreground, for ``leadsync sandbox``). Default credentials and ids live in ``seed``.
"""

from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import FaultConfig, SandboxConfig
from leadsync.sandbox.server import (
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
