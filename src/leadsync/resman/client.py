"""The async ResMan client: one pooled HTTP connection set, one typed error per failure.

Every call is a form-encoded ``POST {base}/{Area}/{Method}`` (docs/RESMAN_PROTOCOL.md). The client
does not retry: it raises a typed error (``leadsync.resman.errors``) and the sync engine, which
knows the job's history, decides. Each call logs one line (method, HTTP status, duration) and
never credentials, XML or personal data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

import httpx2

from leadsync.config import Settings
from leadsync.resman import responses, wire
from leadsync.resman.budget import RequestBudget
from leadsync.resman.classify import classify_request_error, classify_status
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import (
    AnswerTooLargeError,
    BusinessError,
    ResManError,
    ResManTimeoutError,
)
from leadsync.resman.mits import build_lead_management
from leadsync.resman.models import (
    Employee,
    NamedItem,
    PersonStatus,
    PropertyInfo,
    Prospect,
    ProspectEntry,
)
from leadsync.resman.outcomes import call_outcome, record_call
from leadsync.telemetry import metrics
from leadsync.telemetry.logging import get_logger

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx2.Timeout(30.0, connect=5.0)
DEFAULT_MAX_CONNECTIONS = 100
#: Largest answer read; a few MB holds thousands of prospects (SearchProspects windows are
#: split below it), far less than what would hurt the process.
DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: How much of an error answer (non-2xx) is read to classify it.
ERROR_BODY_BYTES = 64 * 1024
#: Total time of one call, body included.
DEFAULT_CALL_TIMEOUT = 60.0


class ResManClient:
    """Implements :class:`leadsync.resman.interface.ResManAPI` over ResMan's HTTP API.

    One ``httpx2.AsyncClient`` per instance keeps connections alive between calls; share one
    client across tasks and close it with ``aclose()`` or ``async with``. A ``budget`` throttles
    per AccountID before a connection is taken.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
        budget: RequestBudget | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        url = httpx2.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an absolute http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.max_connections = max_connections
        self.max_answer_bytes = max_answer_bytes
        self.call_timeout = call_timeout
        self._http = httpx2.AsyncClient(
            timeout=timeout,
            limits=httpx2.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )
        # A logger per client (not per module) so a test's log capture sees its client's lines.
        self._log = get_logger(__name__)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        base_url: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> ResManClient:
        """A client configured from ``LEADSYNC_RESMAN_*`` settings, with its request budget."""
        return cls(
            base_url=base_url or settings.resman_base_url,
            timeout=httpx2.Timeout(
                settings.resman_read_timeout, connect=settings.resman_connect_timeout
            ),
            budget=RequestBudget(
                rate=settings.resman_requests_per_second, burst=settings.resman_burst
            ),
            max_connections=settings.resman_max_connections,
            transport=transport,
            max_answer_bytes=settings.resman_max_answer_bytes,
            call_timeout=settings.resman_call_timeout,
        )

    @property
    def timeout(self) -> httpx2.Timeout:
        return self._http.timeout

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        *,
        creds: ResManCredentials,
        form: dict[str, str],
        accept: str,
        read: Callable[[bytes], T],
    ) -> T:
        """POST ``form`` to ``method``; return ``read(body)`` or raise one typed error."""
        if self.budget is not None:
            await self.budget.acquire(creds.account_id)
        started = time.perf_counter()
        seen: list[int] = []  # the HTTP status, once an answer started
        try:
            try:
                # The total budget covers the body too: an answer trickling in forever
                # keeps every single read within the read timeout.
                async with asyncio.timeout(self.call_timeout):
                    body = await self._exchange(method, form=form, accept=accept, seen=seen)
            except TimeoutError:
                raise ResManTimeoutError(
                    f"{method}: no complete answer within {self.call_timeout:g} s "
                    "(limit LEADSYNC_RESMAN_CALL_TIMEOUT)",
                    method=method,
                ) from None
            result = read(body)
        except ResManError as exc:
            metrics.observe_api_call(
                method=method,
                seconds=time.perf_counter() - started,
                outcome=call_outcome(exc),
            )
            record_call(exc)
            self._log.info(
                "resman.call",
                method=method,
                status=seen[0] if seen else None,
                duration_ms=_elapsed_ms(started),
                error=type(exc).__name__,
                category=exc.category if isinstance(exc, BusinessError) else None,
                retryable=exc.retryable,
            )
            raise
        metrics.observe_api_call(method=method, seconds=time.perf_counter() - started, outcome="ok")
        record_call(None)
        self._log.debug(
            "resman.call", method=method, status=seen[0], duration_ms=_elapsed_ms(started)
        )
        return result

    async def _exchange(
        self, method: str, *, form: dict[str, str], accept: str, seen: list[int]
    ) -> bytes:
        """Send the request and read at most ``max_answer_bytes`` of the answer."""
        try:
            async with self._http.stream(
                "POST", f"{self.base_url}/{method}", data=form, headers={"Accept": accept}
            ) as response:
                seen.append(response.status_code)
                if not response.is_success:
                    # The status decides; the body only needs to show its first words (the
                    # 502 "buffer overflow" marker), so a huge error page is never read.
                    head = await _read_head(response, ERROR_BODY_BYTES)
                    raise classify_status(
                        method=method,
                        status_code=response.status_code,
                        body=head.decode("utf-8", "replace"),
                        headers=response.headers,
                    )
                return await self._read_capped(method, response)
        except httpx2.RequestError as exc:
            raise classify_request_error(exc, method=method) from exc

    async def _read_capped(self, method: str, response: httpx2.Response) -> bytes:
        limit = self.max_answer_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Refused before a byte of the body is read.
            raise AnswerTooLargeError(method=method, limit=limit, bytes_read=0)
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted: a small gzip answer that inflates past the limit (a
        # compression bomb) is cut as well.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise AnswerTooLargeError(method=method, limit=limit, bytes_read=size)
            chunks.append(chunk)
        return b"".join(chunks)

    # --- MITS (XML) --------------------------------------------------------------------

    async def post_lead(self, *, creds: ResManCredentials, prospect: Prospect) -> Prospect:
        """Create a prospect (no ids) or update one (carrying ProspectID + PersonID).

        Returns ResMan's copy of the prospect, which carries both ids.
        """
        method = wire.POST_LEAD
        xml = build_lead_management([prospect]).decode("utf-8")
        return await self._call(
            method,
            creds=creds,
            form={**creds.property_form(), "Xml": xml},
            accept=wire.ACCEPT_XML,
            read=lambda body: responses.posted_prospect(
                responses.read_mits_envelope(body, method=method), method=method
            ),
        )

    async def search_prospects(
        self,
        *,
        creds: ResManCredentials,
        modified_start: datetime | None = None,
        modified_end: datetime | None = None,
        prospect_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> list[Prospect]:
        """Prospects matching exactly one criterion set (see :func:`wire.search_form`).

        The window is [modified_start, modified_end) in UTC at whole seconds; a window holding
        too many prospects raises WindowOverflowError (use ``search_window`` to split it).
        """
        criteria = wire.search_form(
            modified_start=modified_start,
            modified_end=modified_end,
            prospect_id=prospect_id,
            email=email,
            phone=phone,
            first_name=first_name,
            last_name=last_name,
        )
        envelope = await self._search(creds, criteria, responses.read_mits_envelope)
        return list(envelope.prospects)

    async def search_entries(
        self, *, creds: ResManCredentials, modified_start: datetime, modified_end: datetime
    ) -> list[ProspectEntry]:
        """The window's prospects as entries: what a pull reads (see ``ProspectEntry``)."""
        criteria = wire.search_form(modified_start=modified_start, modified_end=modified_end)
        return await self._search(creds, criteria, responses.read_mits_entries)

    async def _search(
        self, creds: ResManCredentials, criteria: dict[str, str], read: Callable[..., T]
    ) -> T:
        method = wire.SEARCH_PROSPECTS
        return await self._call(
            method,
            creds=creds,
            form={**creds.property_form(), **criteria},
            accept=wire.ACCEPT_XML,
            read=lambda body: read(body, method=method),
        )

    # --- Leasing / Account (JSON) --------------------------------------------------------

    async def _leasing(
        self, method: str, *, creds: ResManCredentials, read: Callable[[bytes], T]
    ) -> T:
        return await self._call(
            method, creds=creds, form=creds.property_form(), accept=wire.ACCEPT_JSON, read=read
        )

    async def get_prospect_sources(self, *, creds: ResManCredentials) -> list[NamedItem]:
        """Lead sources; an ID goes into ``Event/TransactionSource``."""
        method = wire.GET_PROSPECT_SOURCES
        return await self._leasing(
            method,
            creds=creds,
            read=lambda b: responses.read_named_items(b, method=method, key="ProspectSources"),
        )

    async def get_lost_prospect_reasons(self, *, creds: ResManCredentials) -> list[NamedItem]:
        method = wire.GET_LOST_PROSPECT_REASONS
        return await self._leasing(
            method,
            creds=creds,
            read=lambda b: responses.read_named_items(b, method=method, key="LostProspectReasons"),
        )

    async def get_employees(self, *, creds: ResManCredentials) -> list[Employee]:
        method = wire.GET_EMPLOYEES
        return await self._leasing(
            method, creds=creds, read=lambda b: responses.read_employees(b, method=method)
        )

    async def get_applicants_and_current_residents(
        self, *, creds: ResManCredentials
    ) -> list[PersonStatus]:
        """People past the prospect stage: Status ``Pending`` (applicant) or ``Current``."""
        method = wire.GET_APPLICANTS_AND_CURRENT_RESIDENTS
        return await self._leasing(
            method, creds=creds, read=lambda b: responses.read_people(b, method=method)
        )

    async def get_properties(self, *, creds: ResManCredentials) -> list[PropertyInfo]:
        """The account's properties (``creds.property_id`` is not needed nor sent)."""
        method = wire.GET_PROPERTIES
        return await self._call(
            method,
            creds=creds,
            form=creds.account_form(),
            accept=wire.ACCEPT_JSON,
            read=lambda b: responses.read_properties(b, method=method),
        )

    async def get_account_id(self, *, creds: ResManCredentials, subdomain: str) -> int:
        """The AccountID behind a ResMan subdomain (``<subdomain>.myresman.com``).

        Only the partner's credentials are sent; ``creds.account_id`` merely keys the budget.
        """
        method = wire.GET_ACCOUNT_ID
        return await self._call(
            method,
            creds=creds,
            form={**creds.partner_form(), "Subdomain": subdomain},
            accept=wire.ACCEPT_JSON,
            read=lambda b: responses.read_account_id(b, method=method),
        )


async def _read_head(response: httpx2.Response, size: int) -> bytes:
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= size:
            break
    return head[:size]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
