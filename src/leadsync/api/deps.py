"""Request dependencies every router shares: the runtime, one session per request, the
authenticated principal, and the problem+json entries of the OpenAPI ``responses``.

Routers live with their domain (leads, conflicts, sync) and import these from here, never
from one another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal, authenticate, bearer_token

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime

PROBLEM: dict[str, object] = {"description": "problem+json (RFC 9457)"}
ERRORS: dict[int | str, dict[str, object]] = {
    400: PROBLEM,
    401: PROBLEM,
    403: PROBLEM,
    404: PROBLEM,
    409: PROBLEM,
    413: PROBLEM,
    422: PROBLEM,
}


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def session_dep(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits at its end (the boundary)."""
    async with runtime_of(request).sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(session_dep)]


async def principal_dep(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    token = bearer_token(authorization)
    return await authenticate(session, token=token, cache=runtime_of(request).principals)


PrincipalDep = Annotated[Principal, Depends(principal_dep)]
