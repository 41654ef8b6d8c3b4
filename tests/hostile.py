"""A hostile ResMan: a real HTTP server on 127.0.0.1 that answers one way, however badly
(used by the client limit tests and the security suite)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Handler = Callable[[asyncio.StreamWriter, "Hostile"], Awaitable[None]]


@dataclass
class Hostile:
    """A one-trick HTTP server; counts what it managed to send before the client hung up."""

    handler: Handler
    sent: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            await self.handler(writer, self)
        except (ConnectionError, OSError):
            pass  # the client hung up: exactly what a bounded client does
        finally:
            self.done.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent += len(data)


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)


@contextlib.asynccontextmanager
async def hostile(handler: Handler) -> AsyncIterator[tuple[Hostile, str]]:
    server_state = Hostile(handler)
    server = await asyncio.start_server(server_state.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield server_state, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def answer(body: bytes, *, content_type: str = "text/xml; charset=utf-8") -> Handler:
    """A handler that sends one complete HTTP 200 answer with ``body``."""

    async def send(writer: asyncio.StreamWriter, state: Hostile) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        await state.write(writer, head.encode() + body)

    return send
