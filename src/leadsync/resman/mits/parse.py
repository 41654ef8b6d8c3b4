"""Parse MITS LeadManagement 4.0 documents (and ResMan's ``<ResMan>`` envelope) into the model.

Every element is matched by its local name (real documents sometimes carry a default xmlns)
and every container is read by iterating its children once, so one ``Prospect``, ``Customer``,
``Phone``, ``Event`` or ``Identification`` and several are the same case. Unknown elements are
ignored. Text is stripped; blank text reads as absent (None).

Leniency, and where it stops:
- ``Customer@Type`` missing -> ``prospect``; compared case-insensitively; any other value ->
  MalformedXMLError naming it (a silent default could demote an applicant or a resident).
- ``Identification`` without a type or value is dropped (it identifies nothing); one without
  ``OrganizationName`` is taken as ResMan's. Foreign ones are kept (ids read only ResMan's).
- ``EventType`` is kept verbatim, whatever it is; an Event without type or date, a Pet without
  type, a bad number, date or boolean -> MalformedXMLError naming the element (and, since it is
  never personal data, the value).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from lxml import etree

from leadsync.resman.errors import MalformedXMLError
from leadsync.resman.mits.dates import parse_event_date, parse_move_in_date
from leadsync.resman.mits.safe import safe_parse
from leadsync.resman.mits.values import (
    attr,
    clean,
    local_name,
    parse_bool,
    parse_decimal,
    parse_int,
    text_of,
)
from leadsync.resman.models import (
    RESMAN_ORG,
    Customer,
    CustomerType,
    Envelope,
    Event,
    Identification,
    IDType,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
    stamp_source,
)

_CUSTOMER_TYPES = {t.value: t for t in CustomerType}


def parse_lead_management(data: bytes | str) -> list[Prospect]:
    """Prospects of a `<LeadManagement>` document (as posted to PostLeadManagement4_0)."""
    root = safe_parse(data)
    _expect_root(root, "LeadManagement")
    return [parse_prospect(p) for p in _prospect_elements(root)]


def parse_envelope(data: bytes | str) -> Envelope:
    """A `<ResMan>` answer with its prospects (if it carries Response/LeadManagement)."""
    envelope, elements = parse_envelope_elements(data)
    return replace(envelope, prospects=tuple(parse_prospect(p) for p in elements))


def parse_envelope_elements(data: bytes | str) -> tuple[Envelope, list[etree._Element]]:
    """A `<ResMan>` answer without its prospects, and their `<Prospect>` elements unread
    (see :func:`prospect_id_of`, :func:`element_digest` and :func:`parse_prospect`)."""
    root = safe_parse(data)
    _expect_root(root, "ResMan")
    fields: dict[str, str | None] = {}
    elements: list[etree._Element] = []
    for child in root:
        name = local_name(child)
        if name == "Response":
            for inner in child:
                if local_name(inner) == "LeadManagement":
                    elements.extend(_prospect_elements(inner))
        elif name == "LeadManagement":  # some answers wrap LeadManagement without Response
            elements.extend(_prospect_elements(child))
        elif name:
            fields.setdefault(name, text_of(child))
    status = fields.get("Status")
    if status is None:
        raise MalformedXMLError("ResMan envelope without Status")
    envelope = Envelope(
        method_name=fields.get("MethodName") or "",
        status=status,
        error_description=fields.get("ErrorDescription"),
        account_id=parse_int(fields.get("AccountID"), where="AccountID"),
        property_id=fields.get("PropertyID"),
    )
    return envelope, elements


def parse_prospect(element: etree._Element) -> Prospect:
    """One `<Prospect>` element (from any lxml tree, e.g. a streaming iterparse), stamped
    with its :func:`element_digest`."""
    customers: list[Customer] = []
    preferences: Preferences | None = None
    events: list[Event] = []
    for child in element:
        name = local_name(child)
        if name == "Customers":
            customers.extend(_customer(c) for c in child if local_name(c) == "Customer")
        elif name == "CustomerPreferences":
            preferences = _preferences(child)
        elif name == "Events":
            events.extend(_event(e) for e in child if local_name(e) == "Event")
    prospect = Prospect(customers=tuple(customers), preferences=preferences, events=tuple(events))
    return stamp_source(prospect, element_digest(element))


def element_digest(element: etree._Element) -> str:
    """The digest of the element as sent (without its tail, the whitespace after it, which
    depends on where it sits): the same bytes, the same prospect."""
    return hashlib.sha256(etree.tostring(element, with_tail=False)).hexdigest()


def prospect_id_of(element: etree._Element) -> str | None:
    """The ResMan ProspectID of a `<Prospect>` element, read as :func:`parse_prospect` reads
    it (its first customer's ResMan identification of that type), without reading the rest."""
    for child in element:
        if local_name(child) != "Customers":
            continue
        for customer in child:
            if local_name(customer) == "Customer":
                return _resman_id(customer, IDType.PROSPECT_ID)
    return None


def _resman_id(customer: etree._Element, id_type: IDType) -> str | None:
    for child in customer:
        if local_name(child) != "Identification" or attr(child, "IDType") != id_type.value:
            continue
        value = attr(child, "IDValue")
        if value and (attr(child, "OrganizationName") or RESMAN_ORG) == RESMAN_ORG:
            return value
    return None


def _expect_root(root: etree._Element, name: str) -> None:
    found = local_name(root)
    if found != name:
        raise MalformedXMLError(f"expected a <{name}> document, got <{found}>")


def _prospect_elements(lead_management: etree._Element) -> list[etree._Element]:
    elements: list[etree._Element] = []
    for child in lead_management:
        name = local_name(child)
        if name == "Prospects":
            elements.extend(p for p in child if local_name(p) == "Prospect")
        elif name == "Prospect":  # tolerated: a Prospect not wrapped in Prospects
            elements.append(child)
    return elements


def _customer_type(raw: str | None) -> CustomerType:
    value = clean(raw)
    if value is None:
        return CustomerType.PROSPECT
    found = _CUSTOMER_TYPES.get(value.lower())
    if found is None:
        raise MalformedXMLError(f"Customer@Type: unknown customer type {value[:40]!r}")
    return found


def _customer(element: etree._Element) -> Customer:
    identifications: list[Identification] = []
    phones: list[Phone] = []
    first_name = last_name = email = None
    for child in element:
        name = local_name(child)
        if name == "Identification":
            id_type, id_value = attr(child, "IDType"), attr(child, "IDValue")
            if id_type and id_value:
                org = attr(child, "OrganizationName") or RESMAN_ORG
                identifications.append(Identification(id_type, id_value, org))
        elif name == "Name":
            for part in child:
                part_name = local_name(part)
                if part_name == "FirstName":
                    first_name = text_of(part)
                elif part_name == "LastName":
                    last_name = text_of(part)
        elif name == "Phone":
            phone = _phone(child)
            if phone is not None:
                phones.append(phone)
        elif name == "Email" and email is None:
            email = text_of(child)
    return Customer(
        customer_type=_customer_type(element.get("Type")),
        identifications=tuple(identifications),
        first_name=first_name,
        last_name=last_name,
        phones=tuple(phones),
        email=email,
    )


def _phone(element: etree._Element) -> Phone | None:
    number = None
    for child in element:
        if local_name(child) == "PhoneNumber":
            number = text_of(child)
    if number is None:
        return None  # a phone without a number carries nothing
    phone_type = attr(element, "PhoneType")
    return Phone(number) if phone_type is None else Phone(number, phone_type)


def _preferences(element: etree._Element) -> Preferences:
    move_in = rent = bedrooms_exact = bedrooms_max = bathrooms = None
    floorplan = unit = lease_terms = occupants = comment = None
    pets: list[Pet] = []
    for child in element:
        name = local_name(child)
        if name == "TargetMoveInDate":
            text = text_of(child)
            move_in = None if text is None else parse_move_in_date(text, where=name)
        elif name == "DesiredRent":
            rent = RentRange(
                exact=parse_decimal(child.get("Exact"), where=f"{name}@Exact"),
                min=parse_decimal(child.get("Min"), where=f"{name}@Min"),
                max=parse_decimal(child.get("Max"), where=f"{name}@Max"),
            )
        elif name == "DesiredNumBedrooms":
            bedrooms_exact = parse_int(child.get("Exact"), where=f"{name}@Exact")
            bedrooms_max = parse_int(child.get("Max"), where=f"{name}@Max")
        elif name == "DesiredNumBathrooms":
            bathrooms = parse_decimal(child.get("Exact"), where=f"{name}@Exact")
        elif name == "DesiredFloorplan":
            floorplan = text_of(child)
        elif name == "DesiredUnit":
            for part in child:
                if local_name(part) == "MarketingName":
                    unit = text_of(part)
        elif name == "DesiredLeaseTerms":
            lease_terms = parse_int(child.text, where=name)
        elif name == "Pets":
            pets.append(_pet(child))
        elif name == "NumberOfOccupants":
            occupants = parse_int(child.text, where=name)
        elif name == "Comment":
            comment = text_of(child)
    return Preferences(
        target_move_in_date=move_in,
        desired_rent=rent,
        bedrooms_exact=bedrooms_exact,
        bedrooms_max=bedrooms_max,
        bathrooms_exact=bathrooms,
        floorplan=floorplan,
        unit_marketing_name=unit,
        lease_terms=lease_terms,
        pets=tuple(pets),
        occupants=occupants,
        comment=comment,
    )


def _pet(element: etree._Element) -> Pet:
    pet_type = attr(element, "PetType")
    if pet_type is None:
        raise MalformedXMLError("Pets without PetType")
    count = parse_int(element.get("Count"), where="Pets@Count")
    return Pet(pet_type) if count is None else Pet(pet_type, count)


def _event(element: etree._Element) -> Event:
    event_type = attr(element, "EventType")
    raw_date = attr(element, "EventDate")
    if event_type is None or raw_date is None:
        raise MalformedXMLError("Event without EventType or EventDate")
    values: dict[str, str | None] = {}
    first_contact = False
    for child in element:
        name = local_name(child)
        if name == "Agent":
            for part in child:
                part_name = local_name(part)
                if part_name == "AgentID":
                    values["agent_id"] = attr(part, "IDValue")
                elif part_name == "AgentName":
                    values["agent_name"] = _agent_name(part)
        elif name == "FirstContact":
            first_contact = parse_bool(child.text, where=name)
        elif name == "TransactionSource":
            values["transaction_source"] = text_of(child)
        elif name == "Comments":
            values["comments"] = text_of(child)
        elif name == "EventReasons":
            values["event_reasons"] = text_of(child)
    return Event(
        event_type=event_type,
        event_date=parse_event_date(raw_date, where="Event@EventDate"),
        first_contact=first_contact,
        **values,
    )


def _agent_name(element: etree._Element) -> str | None:
    """AgentName as text, or -- the full MITS shape -- as FirstName/LastName children."""
    text = text_of(element)
    if text is not None or len(element) == 0:
        return text
    parts = [text_of(part) for part in element if local_name(part) in ("FirstName", "LastName")]
    return " ".join(p for p in parts if p) or None
