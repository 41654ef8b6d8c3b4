"""ResMan's own endpoints: ``POST /{Area}/{Method}`` with a form-encoded body.

One catch-all route dispatches on the lower-cased "area/method", because ResMan's paths and
parameter names arrive in any case. The form body is parsed here with ``parse_qsl`` (once, no
multipart machinery). MITS methods always answer XML; Leasing and Account methods answer JSON
unless the Accept header asks for XML. Business errors are HTTP 200 with Status ``Error``
(MITS) or ``Failed`` (Leasing/Account), as in ResMan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from leadsync.sandbox.faults import FaultDecision, FaultKind
from leadsync.sandbox.service import Sandbox
from leadsync.sandbox.tenants import Account, Partner, Property, normalize_guid
from leadsync.sandbox.wire_format import (
    ResetResponse,
    fields_response,
    gateway_error,
    mits_response,
    rate_limited,
    wants_xml,
)

INVALID_CREDENTIALS = "Invalid credentials"


class Scope(Enum):
    """Which credentials a method checks besides IntegrationPartnerID and ApiKey."""

    PARTNER = "partner"
    ACCOUNT = "account"
    #: AccountID required, PropertyID checked only when sent.
    ACCOUNT_OPTIONAL_PROPERTY = "account+property?"
    PROPERTY = "property"


Handler = Callable[["Call"], Response]


@dataclass(frozen=True, slots=True)
class WireMethod:
    name: str
    scope: Scope
    handler: Handler

    @property
    def is_mits(self) -> bool:
        return self.name.startswith("MITS/")


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated wire request."""

    sandbox: Sandbox
    spec: WireMethod
    params: dict[str, str]
    xml: bool
    partner: Partner
    account: Account | None
    prop: Property | None

    def param(self, name: str) -> str | None:
        """A form field by lower-case name; blank counts as absent."""
        value = self.params.get(name, "").strip()
        return value or None

    def need_account(self) -> Account:
        if self.account is None:  # the method's Scope guarantees one
            raise RuntimeError(f"{self.spec.name} is not account-scoped")
        return self.account

    def need_property(self) -> Property:
        if self.prop is None:  # the method's Scope guarantees one
            raise RuntimeError(f"{self.spec.name} is not property-scoped")
        return self.prop

    @property
    def method(self) -> str:
        """ResMan's MethodName: the method without its area."""
        return self.spec.name.split("/")[1]

    def error(self, description: str) -> Response:
        return business_error(
            method=self.spec, description=description, params=self.params, xml=self.xml
        )

    def mits(self, **kwargs: Any) -> Response:
        return mits_response(
            method=self.method,
            account_id=self.account.account_id if self.account else None,
            property_id=self.prop.property_id if self.prop else None,
            **kwargs,
        )

    def fields(self, **lists: Any) -> Response:
        """A successful Leasing/Account answer carrying the method's lists."""
        fields: dict[str, Any] = {
            "MethodName": self.method,
            "Status": "Success",
            "ErrorDescription": None,
            "AccountID": self.account.account_id if self.account else None,
        }
        if self.prop is not None or not self.spec.name.startswith("Account/"):
            fields["PropertyID"] = self.prop.property_id if self.prop else None
        return fields_response({**fields, **lists}, xml=self.xml)


def business_error(
    *, method: WireMethod, description: str, params: dict[str, str], xml: bool
) -> Response:
    """HTTP 200 with ResMan's error status, echoing the ids as sent (they may be wrong)."""
    short = method.name.split("/")[1]
    raw_account = params.get("accountid", "").strip()
    account_id = int(raw_account) if raw_account.isdigit() else None
    # Echoed only when it is a GUID: the raw field could hold anything, XML-unsafe included.
    property_id = normalize_guid(params.get("propertyid", ""))
    if method.is_mits:
        return mits_response(
            method=short,
            status="Error",
            error=description,
            account_id=account_id,
            property_id=property_id,
        )
    fields = {
        "MethodName": short,
        "Status": "Failed",
        "ErrorDescription": description,
        "AccountID": account_id,
        "PropertyID": property_id,
    }
    return fields_response(fields, xml=xml)


def parse_form(body: bytes) -> dict[str, str]:
    """Form fields with lower-cased names (the last of repeated names wins)."""
    text = body.decode("utf-8", errors="replace")
    return {k.lower(): v for k, v in parse_qsl(text, keep_blank_values=True)}


def authenticate(
    sandbox: Sandbox, method: WireMethod, params: dict[str, str]
) -> tuple[Partner, Account | None, Property | None] | None:
    tenants = sandbox.state.tenants
    partner = tenants.partner(params.get("integrationpartnerid"), params.get("apikey"))
    if partner is None:
        return None
    if method.scope is Scope.PARTNER:
        return partner, None, None
    account = tenants.account_for(partner, params.get("accountid"))
    if account is None:
        return None
    property_sent = bool(params.get("propertyid", "").strip())
    if method.scope is Scope.ACCOUNT or (
        method.scope is Scope.ACCOUNT_OPTIONAL_PROPERTY and not property_sent
    ):
        return partner, account, None
    prop = tenants.property_for(account, params.get("propertyid"))
    return None if prop is None else (partner, account, prop)


def fault_response(decision: FaultDecision, *, sandbox: Sandbox) -> Response | None:
    """The answer a drawn fault replaces the real one with (None: answer normally)."""
    if decision.kind is FaultKind.RESET:
        return ResetResponse()
    if decision.kind is FaultKind.RATE_LIMIT:
        return rate_limited(sandbox.faults.retry_after_seconds)
    if decision.kind is FaultKind.HTTP_ERROR and decision.status_code is not None:
        return gateway_error(decision.status_code)
    return None


def build_router(methods: dict[str, WireMethod]) -> APIRouter:
    router = APIRouter(tags=["ResMan wire API"])

    @router.post(
        "/{area}/{method}",
        summary="A ResMan method (form-encoded body, as api.myresman.com)",
        response_class=Response,
    )
    async def wire(request: Request, area: str, method: str) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        spec = methods.get(f"{area}/{method}".lower())
        if spec is None:
            return PlainTextResponse("Not Found", status_code=404)
        body = await request.body()
        sandbox.requests[spec.name] += 1
        decision = sandbox.injector.decide(spec.name)
        if decision.delay_seconds > 0:
            await sandbox.pause(decision.delay_seconds)
        params = parse_form(body)
        xml = not spec.is_mits and wants_xml(request.headers.get("accept"), default_xml=False)
        if decision.kind is not None:
            sandbox.faults_injected[decision.kind.value] += 1
            faulty = fault_response(decision, sandbox=sandbox)
            if faulty is not None:
                return faulty
            if decision.kind is FaultKind.BUSINESS_ERROR:
                message = sandbox.faults.business_error_message
                return business_error(method=spec, description=message, params=params, xml=xml)
        caller = authenticate(sandbox, spec, params)
        if caller is None:
            return business_error(
                method=spec, description=INVALID_CREDENTIALS, params=params, xml=xml
            )
        partner, account, prop = caller
        call = Call(sandbox, spec, params, xml, partner, account, prop)
        return spec.handler(call)

    return router
