"""api/problems.py answers every error as problem+json (RFC 9457): a service's DomainError
(services never import the web layer), a route's ProblemError with its headers, a request
that fails validation, and a bug (no exception text leaks). In process, no server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from leadsync.api.problems import (
    CORRELATION_HEADER,
    PROBLEM_JSON,
    ProblemError,
    install_problem_handlers,
)
from leadsync.errors import DomainError


class Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/domain")
    async def domain() -> None:
        raise DomainError(
            409, "Not now", "lead L is already merged", errors=[{"field": "lead", "message": "x"}]
        )

    @app.get("/problem")
    async def problem() -> None:
        raise ProblemError(503, "Busy", "try again", headers={"Retry-After": "7"})

    @app.post("/validated")
    async def validated(body: Body) -> int:
        return body.count

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("SELECT * FROM conversation WHERE email='ann@example.org'")

    return app


@pytest.fixture
async def api() -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_domain_error_is_a_problem_document(api: httpx2.AsyncClient) -> None:
    response = await api.get("/domain")

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not now",
        "status": 409,
        "detail": "lead L is already merged",
        "instance": "/domain",
        "errors": [{"field": "lead", "message": "x"}],
    }


async def test_a_problem_error_keeps_its_headers(api: httpx2.AsyncClient) -> None:
    response = await api.get("/problem")

    assert (response.status_code, response.headers["retry-after"]) == (503, "7")
    assert response.json()["detail"] == "try again"


async def test_invalid_input_names_the_field(api: httpx2.AsyncClient) -> None:
    response = await api.post("/validated", json={"count": "many"})

    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid request"
    assert [e["field"] for e in problem["errors"]] == ["count"]
    assert problem["detail"].startswith("count: ")


async def test_malformed_json_is_a_400(api: httpx2.AsyncClient) -> None:
    response = await api.post(
        "/validated", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["title"] == "Malformed JSON body"


async def test_a_bug_answers_500_with_an_id_and_no_exception_text(api: httpx2.AsyncClient) -> None:
    response = await api.get("/bug")

    assert response.status_code == 500
    problem = response.json()
    assert problem["correlation_id"] == response.headers[CORRELATION_HEADER]
    assert problem["correlation_id"] in problem["detail"]
    assert "ann@example.org" not in response.text
    assert "SELECT" not in response.text
