"""Dead letters over the API, scoped like everything else to the key's properties."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from leadsync.api.deps import ERRORS, PrincipalDep, SessionDep, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.targets import integration_ids_of
from leadsync.sync.queue.views import job_summary

router = APIRouter(prefix="/api/resman/queue", tags=["queue"])


class DeadLetters(BaseModel):
    dead_letters: list[dict[str, Any]]


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Omit to retry every dead letter the key can see.
    job_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] | None = None


class RetryResponse(BaseModel):
    retried: list[uuid.UUID]


async def _scope(session: SessionDep, principal: PrincipalDep) -> list[uuid.UUID]:
    return await integration_ids_of(session, property_ids=principal.property_ids)


@router.get("/dead-letters", response_model=DeadLetters, responses=ERRORS)
async def list_dead_letters(
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetters:
    """Jobs that gave up (a permanent ResMan error, or retries exhausted), oldest first."""
    jobs = await queue.list_jobs(
        session, state="dead", integration_ids=await _scope(session, principal), limit=limit
    )
    return DeadLetters(dead_letters=[job_summary(job) for job in jobs])


@router.post("/dead-letters/retry", response_model=RetryResponse, responses=ERRORS)
async def retry_dead_letters(
    body: RetryRequest, request: Request, session: SessionDep, principal: PrincipalDep
) -> RetryResponse:
    """Queue dead letters again with fresh retries."""
    scope = await _scope(session, principal)
    if body.job_ids is None:
        ids = [
            j.id
            for j in await queue.list_jobs(
                session, state="dead", integration_ids=scope, limit=100_000
            )
        ]
    else:
        found = await queue.job_states(session, job_ids=body.job_ids, integration_ids=scope)
        for job_id in body.job_ids:
            if found.get(job_id) != "dead":
                raise ProblemError(
                    404 if job_id not in found else 409,
                    "Not a dead letter",
                    f"job {job_id} is {found.get(job_id, 'unknown')}",
                    errors=[{"field": "job_ids", "message": "only dead letters can be retried"}],
                )
        ids = list(body.job_ids)
    retried = await queue.replay(session, job_ids=ids) if ids else []
    await session.commit()
    runtime_of(request).worker.wake()
    return RetryResponse(retried=retried)
