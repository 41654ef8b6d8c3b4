"""Conflicts awaiting review over the API, scoped to the key's properties."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadsync.api.deps import ERRORS, PrincipalDep, SessionDep, runtime_of
from leadsync.conflicts import service

router = APIRouter(prefix="/api/resman/conflicts", tags=["conflicts"])


class ConflictList(BaseModel):
    conflicts: list[dict[str, Any]]


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dismissed_by: Annotated[str, Field(min_length=1, max_length=100)] = "api"


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pick: Literal["resman", "domiq"] | None = None
    value: Any = None
    resolved_by: Annotated[str, Field(min_length=1, max_length=100)] = "api"

    @model_validator(mode="after")
    def _one(self) -> ResolveRequest:
        if (self.pick is None) == ("value" not in self.model_fields_set):
            raise ValueError("give exactly one of 'pick' or 'value'")
        return self


@router.get("", response_model=ConflictList, responses=ERRORS)
async def list_conflicts(
    session: SessionDep,
    principal: PrincipalDep,
    status: Literal["open", "resolved", "dismissed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ConflictList:
    rows = await service.list_conflicts(
        session,
        status=None if status == "all" else status,
        property_ids=principal.property_ids,
        limit=limit,
    )
    return ConflictList(conflicts=[service.describe(c) for c in rows])


@router.get("/{conflict_id}", responses=ERRORS)
async def show_conflict(
    conflict_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    row = await service.get_conflict(
        session, conflict_id=conflict_id, property_ids=principal.property_ids
    )
    return service.describe(row)


@router.post("/{conflict_id}/resolve", responses=ERRORS)
async def resolve_conflict(
    conflict_id: uuid.UUID,
    body: ResolveRequest,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Pick a side or give the final value; it reaches both sides."""
    kwargs: dict[str, Any] = {"pick": body.pick} if body.pick else {"value": body.value}
    row = await service.resolve_conflict(
        session,
        conflict_id=conflict_id,
        resolved_by=body.resolved_by,
        property_ids=principal.property_ids,
        **kwargs,
    )
    result = service.describe(row)
    await session.commit()
    runtime_of(request).worker.wake()
    return result


@router.post("/{conflict_id}/dismiss", responses=ERRORS)
async def dismiss_conflict(
    conflict_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: DismissRequest | None = None,
) -> dict[str, Any]:
    """Close a conflict without changing either side (a possible duplicate: "two different
    people")."""
    row = await service.dismiss_conflict(
        session,
        conflict_id=conflict_id,
        dismissed_by=body.dismissed_by if body else "api",
        property_ids=principal.property_ids,
    )
    result = service.describe(row)
    await session.commit()
    return result
