"""The handlers of ResMan's methods (credentials already checked, faults already drawn)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from starlette.responses import Response

from leadsync.resman.mits import parse_lead_management
from leadsync.resman.mits.dates import parse_event_date
from leadsync.resman.models import CustomerType
from leadsync.sandbox.faults import FaultKind
from leadsync.sandbox.posting import PostRejected
from leadsync.sandbox.prospects import ProspectRecord
from leadsync.sandbox.tenants import normalize_guid
from leadsync.sandbox.wire import Call, Scope, WireMethod
from leadsync.sandbox.wire_format import overflow_response

SEARCH_CRITERION_REQUIRED = (
    "Validation error: one of ModifiedStartDateTime and ModifiedEndDateTime, ProspectID, Email, "
    "Phone, or FirstName and LastName is required"
)
_PEOPLE_STATUS = {CustomerType.APPLICANT: "Pending", CustomerType.CURRENT_RESIDENT: "Current"}


def post_lead_management(call: Call) -> Response:
    xml = call.param("xml")
    if xml is None:
        return call.error("Validation error: Xml is required")
    try:
        posted = parse_lead_management(xml)
    except ValueError as exc:  # MalformedXMLError, UnsafeXMLError
        return call.error(f"Validation error: invalid Xml: {exc}")
    if not posted:
        return call.error("Validation error: the Xml holds no Prospect")
    try:
        changes = call.sandbox.post(
            account=call.need_account(), prop=call.need_property(), posted=posted
        )
    except PostRejected as exc:
        return call.error(exc.description)
    return call.mits(prospects=[c.record.prospect for c in changes])


def _moment(call: Call, name: str) -> datetime | None:
    raw = call.param(name.lower())
    return None if raw is None else parse_event_date(raw, where=name)


def search_prospects(call: Call) -> Response:
    index = call.sandbox.state.prospects(call.need_property().property_id)
    found: list[ProspectRecord]
    try:
        start = _moment(call, "ModifiedStartDateTime")
        end = _moment(call, "ModifiedEndDateTime")
    except ValueError as exc:
        return call.error(f"Validation error: {exc}")
    first, last = call.param("firstname"), call.param("lastname")
    if (prospect_id := call.param("prospectid")) is not None:
        record = index.get(normalize_guid(prospect_id) or "")
        found = [record] if record else []
    elif start is not None or end is not None:
        if start is None or end is None:
            return call.error(
                "Validation error: ModifiedStartDateTime and ModifiedEndDateTime go together"
            )
        limit = call.sandbox.faults.overflow_threshold
        count = index.count_window(start, end)
        if count > limit:
            call.sandbox.faults_injected[FaultKind.OVERFLOW.value] += 1
            return overflow_response(found=count, limit=limit)
        found = index.window(start, end)
    elif (email := call.param("email")) is not None:
        found = index.by_email(email)
    elif (phone := call.param("phone")) is not None:
        found = index.by_phone(phone)
    elif first is not None and last is not None:
        found = index.by_name(first, last)
    else:
        return call.error(SEARCH_CRITERION_REQUIRED)
    return call.mits(prospects=[r.prospect for r in found])


def get_prospect_sources(call: Call) -> Response:
    items = [{"ID": s.id, "Name": s.name} for s in call.need_property().prospect_sources]
    return call.fields(ProspectSources=items)


def get_lost_prospect_reasons(call: Call) -> Response:
    items = [{"ID": r.id, "Name": r.name} for r in call.need_account().lost_reasons]
    return call.fields(LostProspectReasons=items)


def get_employees(call: Call) -> Response:
    items = [
        {"ID": e.id, "Name": e.name, "Email": e.email, "SecurityGroup": e.security_group}
        for e in call.need_property().employees
    ]
    return call.fields(Employees=items)


def get_applicants_and_current_residents(call: Call) -> Response:
    index = call.sandbox.state.prospects(call.need_property().property_id)
    people = [
        {"PersonID": customer.person_id, "Status": _PEOPLE_STATUS[record.status]}
        for record in index
        if record.status in _PEOPLE_STATUS
        for customer in record.prospect.customers
    ]
    return call.fields(People=people)


def get_properties(call: Call) -> Response:
    tenants = call.sandbox.state.tenants
    items = [
        {"PropertyID": p.property_id, "Name": p.name}
        for p in tenants.properties_of(call.need_account().account_id)
    ]
    return call.fields(Properties=items)


def get_account_id(call: Call) -> Response:
    subdomain = call.param("subdomain")
    if subdomain is None:
        return call.error("Validation error: Subdomain is required")
    account = call.sandbox.state.tenants.account_by_subdomain(subdomain)
    if account is None or account.account_id not in call.partner.account_ids:
        return call.error("Account could not be found")
    # The answer names the account found, not one the caller chose.
    return dataclasses.replace(call, account=account).fields()


_ALL = (
    WireMethod("MITS/PostLeadManagement4_0", Scope.PROPERTY, post_lead_management),
    WireMethod("MITS/SearchProspects", Scope.PROPERTY, search_prospects),
    WireMethod("Leasing/GetProspectSources", Scope.PROPERTY, get_prospect_sources),
    WireMethod(
        "Leasing/GetLostProspectReasons", Scope.ACCOUNT_OPTIONAL_PROPERTY, get_lost_prospect_reasons
    ),
    WireMethod("Leasing/GetEmployees", Scope.PROPERTY, get_employees),
    WireMethod(
        "Leasing/GetApplicantsAndCurrentResidents",
        Scope.PROPERTY,
        get_applicants_and_current_residents,
    ),
    WireMethod("Account/GetProperties", Scope.ACCOUNT, get_properties),
    WireMethod("Account/GetAccountID", Scope.PARTNER, get_account_id),
)

#: Every wire method by lower-cased "area/method".
METHODS: dict[str, WireMethod] = {m.name.lower(): m for m in _ALL}
#: The canonical names, e.g. for FaultConfig.methods.
METHOD_NAMES: tuple[str, ...] = tuple(m.name for m in _ALL)
