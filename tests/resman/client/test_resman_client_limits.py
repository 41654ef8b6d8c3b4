"""Bounded answers: a hostile ResMan (a real HTTP server on 127.0.0.1) cannot make the client
read without limit. Memory is shown bounded by the bytes read, never by timing."""

from __future__ import annotations

import asyncio

import pytest

from hostile import Handler, Hostile, hostile
from leadsync.resman import ResManClient, ResManCredentials
from leadsync.resman.errors import AnswerTooLargeError, ResManTimeoutError, UnsafeAnswerError
from leadsync.resman.outcomes import CallTally, tally_calls

CAP = 256 * 1024
FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024
CREDS = ResManCredentials(partner_id="p", api_key="k", account_id=1, property_id="prop")


async def fifty_mb_declared(writer: asyncio.StreamWriter, state: Hostile) -> None:
    await state.write(writer, f"HTTP/1.1 200 OK\r\nContent-Length: {FIFTY_MB}\r\n\r\n".encode())
    for _ in range(FIFTY_MB // CHUNK):
        await state.write(writer, b"x" * CHUNK)


async def fifty_mb_chunked(writer: asyncio.StreamWriter, state: Hostile) -> None:
    await state.write(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(FIFTY_MB // CHUNK):
        await state.write(writer, f"{CHUNK:x}\r\n".encode() + b"<" * CHUNK + b"\r\n")
    await state.write(writer, b"0\r\n\r\n")


async def endless_chunked(writer: asyncio.StreamWriter, state: Hostile) -> None:
    await state.write(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        await state.write(writer, f"{CHUNK:x}\r\n".encode() + b"<" * CHUNK + b"\r\n")


async def endless_trickle(writer: asyncio.StreamWriter, state: Hostile) -> None:
    # Every read is well within the read timeout; only a total budget stops this.
    await state.write(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        await state.write(writer, b"1\r\n<\r\n")
        await asyncio.sleep(0.05)


async def xml_bomb(writer: asyncio.StreamWriter, state: Hostile) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><ResMan>&b;</ResMan>'
    )
    await state.write(
        writer, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )


@pytest.mark.parametrize("handler", [fifty_mb_declared, fifty_mb_chunked, endless_chunked])
async def test_an_oversized_answer_is_refused_after_reading_at_most_the_cap(
    handler: Handler,
) -> None:
    async with hostile(handler) as (state, url):
        client = ResManClient(base_url=url, max_answer_bytes=CAP)
        try:
            tally = CallTally()
            with tally_calls(tally), pytest.raises(AnswerTooLargeError) as info:
                await client.search_prospects(creds=CREDS, email="a@example.com")
        finally:
            await client.aclose()
        await asyncio.wait_for(state.done.wait(), timeout=60)
    error = info.value
    assert f"larger than {CAP} bytes" in str(error)
    assert "LEADSYNC_RESMAN_MAX_ANSWER_BYTES" in str(error)
    # Read: at most the cap plus one network chunk, never the 50 MB (or the endless) body.
    assert error.bytes_read <= CAP + CHUNK + 16
    assert state.sent < FIFTY_MB // 4, "the client hung up long before the end"
    assert not error.retryable, "the same request gets the same answer: permanent"
    assert (tally.answered, tally.failed) == (1, 0), "not a ResMan outage"


async def test_an_endless_trickle_is_cut_by_the_total_call_time() -> None:
    async with hostile(endless_trickle) as (state, url):
        client = ResManClient(base_url=url, max_answer_bytes=CAP, call_timeout=1.0)
        try:
            with pytest.raises(ResManTimeoutError, match="LEADSYNC_RESMAN_CALL_TIMEOUT") as info:
                await client.get_prospect_sources(creds=CREDS)
        finally:
            await client.aclose()
        await asyncio.wait_for(state.done.wait(), timeout=60)
    assert info.value.retryable
    assert state.sent < CAP


async def test_an_xml_bomb_is_named_and_permanent() -> None:
    async with hostile(xml_bomb) as (_, url), ResManClient(base_url=url) as client:
        with pytest.raises(UnsafeAnswerError, match=r"unsafe XML \(DOCTYPE/entity\)") as info:
            await client.search_prospects(creds=CREDS, email="a@example.com")
    assert not info.value.retryable
