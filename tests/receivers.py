"""Real local receivers for alert notifications, on 127.0.0.1 only: an SMTP server
(aiosmtpd) and an HTTP server standing in for a Slack incoming webhook and PagerDuty's
Events API v2."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request, Response

from leadsync.sandbox.server import SandboxServer

# aiosmtpd logs each connection at INFO from its own thread, where it can outlive the stream
# a test's log capture handed it (a "Logging error" in the output); its errors still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@dataclass
class HttpReceiver:
    base_url: str
    slack: list[dict[str, Any]] = field(default_factory=list)
    pagerduty: list[dict[str, Any]] = field(default_factory=list)
    #: Answer this many requests with 503 before accepting (retry tests).
    fail_next: int = 0
    refused: int = 0


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    app = FastAPI()
    state = HttpReceiver(base_url="")

    async def record(request: Request, into: list[dict[str, Any]], ok: int, body: str) -> Response:
        if state.fail_next > 0:
            state.fail_next -= 1
            state.refused += 1
            return Response("busy", status_code=503)
        into.append(await request.json())
        return Response(body, status_code=ok)

    @app.post("/slack")
    async def slack(request: Request) -> Response:
        return await record(request, state.slack, 200, "ok")

    @app.post("/pagerduty")
    async def pagerduty(request: Request) -> Response:
        return await record(request, state.pagerduty, 202, '{"status": "success"}')

    async with SandboxServer(app) as server:
        state.base_url = server.base_url
        yield state
