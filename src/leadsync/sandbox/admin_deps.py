"""The admin routers' access to the running sandbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadsync.sandbox.service import Sandbox


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
