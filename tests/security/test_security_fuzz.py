"""schemathesis over ``/openapi.json`` with a valid API key, against the real stack (uvicorn
on loopback, the sandbox, SQLite and PostgreSQL): no answer is a server error (5xx) and every
answer matches the document (status, content type, headers, body schema); data the document
calls invalid is refused (it promises no rule the code does not enforce), and the rules the
code enforces that JSON Schema cannot express are stated in words and ``x-rules``.

Bounded for CI: a few examples per operation, derandomized (the same examples on every run).
``LEADSYNC_FUZZ_EXAMPLES`` raises the count for a longer local run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi import checks as openapi_checks

from leadsync.app import create_app
from stack import PATIENCE
from stack_server import running_stack

EXAMPLES = int(os.environ.get("LEADSYNC_FUZZ_EXAMPLES", "6"))
#: What every answer must satisfy, and data the document calls invalid must be refused
#: (negative_data_rejection). Not included: positive_data_acceptance (data the document
#: calls valid is accepted): validity of an email or a phone number, budget min <= max or
#: the pull's date order cannot be written in JSON Schema; they are stated in words and
#: ``x-rules`` instead (see the last test).
CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.missing_required_header,
    openapi_checks.negative_data_rejection,
]


@dataclass
class Served:
    base_url: str
    api_key: str
    property_id: str


@pytest.fixture
def served(migrated_db_url: str, data_dir: Path) -> Iterator[Served]:
    """The stack in a thread of its own (with its own event loop), so that schemathesis'
    blocking HTTP calls from the test do not stall the server."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    found: list[Served] = []
    failed: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        async with running_stack(db_url=migrated_db_url, data_dir=data_dir) as stack:
            found.append(Served(str(stack.api.base_url), stack.a.api_key, str(stack.a.property_id)))
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to the test below
            failed.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="fuzzed-stack", daemon=True)
    thread.start()
    assert ready.wait(PATIENCE), "the stack did not start"
    if failed:
        raise failed[0]
    try:
        yield found[0]
    finally:
        assert loop is not None
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(PATIENCE)
    if failed:
        raise failed[0]


def _fuzz(
    served: Served, operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Case[Any]) -> None:
        case.call_and_validate(
            base_url=served.base_url,
            headers={"Authorization": f"Bearer {served.api_key}"},
            checks=CHECKS,
            timeout=PATIENCE,
        )

    fuzz()


def test_api_answers_match_the_document_and_never_fail(served: Served) -> None:
    loaded = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    # The ops endpoints answer Prometheus text and a liveness probe: nothing to fuzz.
    schema = loaded.exclude(path_regex="^/(metrics|healthz)$")
    # A body over LEADSYNC_MAX_BODY_BYTES is refused before it is read: 413 is a refusal too.
    rejection = schema.config.checks.negative_data_rejection
    schema.config.checks.negative_data_rejection = type(rejection)(
        expected_statuses=[*rejection.expected_statuses, "413"]
    )
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document is not usable: {result.err()}"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzed += 1
            try:
                _fuzz(served, operation, mode)
            # Every operation is fuzzed, all failures reported (schemathesis raises a group).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert fuzzed > 20, "the document lost its operations?"
    assert failures == [], "\n\n".join(failures)


def test_the_document_states_the_rules_the_code_enforces() -> None:
    spec = create_app().openapi()
    budget = spec["components"]["schemas"]["BudgetRange"]
    assert budget["x-rules"] == ["min <= max"]
    assert "must not exceed" in budget["description"]
    lookup = spec["paths"]["/api/resman/leads/lookup"]["get"]["parameters"]
    for param in (p for p in lookup if p["name"] in ("email", "phone")):
        assert "email or phone is required" in param["description"]
    pull = spec["paths"]["/api/resman/leads/pull"]["get"]["parameters"]
    [date_from] = [p for p in pull if p["name"] == "date_from"]
    assert "before date_to" in date_from["description"]
    for item in spec["paths"].values():
        for operation in item.values():
            if any(p["name"] == "authorization" for p in operation.get("parameters", [])):
                assert "422" in operation["responses"], "a refused request is documented"
