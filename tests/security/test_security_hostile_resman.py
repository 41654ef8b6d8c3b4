"""Hostile ResMan answers through the real client (``leadsync.resman.ResManClient``) from a
real HTTP server on loopback: each is refused with the error type the sync engine acts on
(see ``resman/errors.py``, ``resman/classify.py``), nothing it points at is fetched, and the
process's peak memory grows by far less than the hostile body.

The byte-exact bounds of oversized and endless bodies are in
``tests/resman/client/test_resman_client_limits.py``; the parser's own refusals in
``tests/resman/mits/test_mits_safe.py``. This file adds the answers those do not send through
the client (external entities, invalid XML, HTTP 200 errors) and the memory bound.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostile import Handler, Hostile, answer, hostile
from leadsync.resman import ResManClient, ResManCredentials
from leadsync.resman.errors import (
    AnswerTooLargeError,
    AuthenticationError,
    BusinessError,
    ResManError,
    ResponseFormatError,
    UnsafeAnswerError,
)
from leadsync.resman.mits import build_envelope
from leadsync.resman.models import Envelope

CREDS = ResManCredentials(partner_id="p", api_key="k", account_id=1, property_id="prop")
HUGE = 200 * 1024 * 1024  # what a hostile body would cost if the client read it all
CHUNK = 64 * 1024
#: Generous: the client, the parser and the hostile server's own buffers, never the body.
PEAK_GROWTH_LIMIT = 64 * 1024 * 1024
SECRET = "TOP-SECRET-c41d"


def _peak_rss_reset() -> None:
    # Linux: writing 5 resets the peak resident set size (VmHWM) to the current one.
    Path("/proc/self/clear_refs").write_text("5")


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def _mits(status: str, description: str) -> bytes:
    envelope = Envelope(
        method_name="SearchProspects",
        status=status,
        error_description=description,
        account_id=1,
        property_id=None,
        prospects=(),
    )
    return build_envelope(envelope, include_prospects=False)


async def _huge_declared(writer: asyncio.StreamWriter, state: Hostile) -> None:
    await state.write(writer, f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode())
    for _ in range(HUGE // CHUNK):
        await state.write(writer, b"<" * CHUNK)


async def _endless_chunked(writer: asyncio.StreamWriter, state: Hostile) -> None:
    await state.write(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        await state.write(writer, f"{CHUNK:x}\r\n".encode() + b"<" * CHUNK + b"\r\n")


def _billion_laughs() -> bytes:
    levels = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [{"".join(levels)}]>'
        "<LeadManagement><Comment>&l9;</Comment></LeadManagement>"
    ).encode()


def _external_entity(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]>'
        "<LeadManagement><Comment>&x;</Comment></LeadManagement>"
    ).encode()


def _external_dtd(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{target}">'
        "<LeadManagement><Comment>x</Comment></LeadManagement>"
    ).encode()


@dataclass(frozen=True)
class Case:
    handler: Handler
    error: type[ResManError]
    retryable: bool
    category: str | None = None  # BusinessError.category
    message: str | None = None


def _cases(secret_file: Path, canary: str) -> dict[str, Case]:
    unsafe = Case  # every DOCTYPE/entity answer: permanent, named, nothing fetched
    return {
        "XML bomb (billion laughs)": unsafe(
            answer(_billion_laughs()), UnsafeAnswerError, False, message="unsafe XML"
        ),
        "external entity (local file)": unsafe(
            answer(_external_entity(secret_file.as_uri())), UnsafeAnswerError, False
        ),
        "external entity (network)": unsafe(
            answer(_external_entity(canary)), UnsafeAnswerError, False
        ),
        "external DTD (network)": unsafe(answer(_external_dtd(canary)), UnsafeAnswerError, False),
        "oversized body (200 MB declared)": Case(
            _huge_declared, AnswerTooLargeError, False, message="LEADSYNC_RESMAN_MAX_ANSWER_BYTES"
        ),
        "endless chunked body": Case(_endless_chunked, AnswerTooLargeError, False),
        "invalid XML (truncated)": Case(
            answer(_mits("Success", "")[:-40]), ResponseFormatError, True, message="unreadable"
        ),
        "HTML error page with 200": Case(
            answer(b"<html><body>Bad Gateway", content_type="text/html"),
            ResponseFormatError,
            True,
        ),
        "HTTP 200, Status=Error, validation": Case(
            answer(_mits("Error", "Email is invalid")), BusinessError, False, "validation"
        ),
        "HTTP 200, Status=Error, not found": Case(
            answer(_mits("Error", "Prospect could not be found")), BusinessError, False, "not_found"
        ),
        "HTTP 200, Status=Error, unknown": Case(
            answer(_mits("Error", "Something odd happened")), BusinessError, True, "unknown"
        ),
        "HTTP 200, Status=Error, credentials": Case(
            answer(_mits("Error", "Invalid credentials")), AuthenticationError, False
        ),
    }


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize("name", sorted(_cases(Path("/x"), "http://x")))
async def test_hostile_answer_is_refused_with_its_category_in_bounded_memory(
    name: str, secret_file: Path
) -> None:
    canary_hits: list[bytes] = []

    async def canary(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        canary_hits.append(await reader.read(1024))  # a fetch of the entity or the DTD
        writer.close()

    canary_server = await asyncio.start_server(canary, "127.0.0.1", 0)
    canary_url = f"http://127.0.0.1:{canary_server.sockets[0].getsockname()[1]}/x.dtd"
    case = _cases(secret_file, canary_url)[name]
    try:
        async with hostile(case.handler) as (state, url):
            client = ResManClient(base_url=url, max_answer_bytes=256 * 1024)
            try:
                _peak_rss_reset()
                before = _status_kib("VmRSS")
                with pytest.raises(ResManError) as info:
                    await client.search_prospects(creds=CREDS, email="a@example.com")
                peak = _status_kib("VmHWM")
            finally:
                await client.aclose()
            await asyncio.wait_for(state.done.wait(), timeout=60)
    finally:
        canary_server.close()
        await canary_server.wait_closed()
    assert (peak - before) * 1024 < PEAK_GROWTH_LIMIT, f"peak RSS grew {peak - before} kB"
    error = info.value
    assert type(error) is case.error, f"{name}: {type(error).__name__}: {error}"
    assert error.retryable is case.retryable
    if case.category is not None:
        assert isinstance(error, BusinessError)
        assert error.category == case.category
    if case.message is not None:
        assert case.message in str(error)
    assert SECRET not in str(error)
    assert canary_hits == [], "the client fetched what the answer pointed at"
