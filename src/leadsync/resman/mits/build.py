"""Build MITS LeadManagement 4.0 documents from the typed model.

Shapes follow docs/RESMAN_PROTOCOL.md exactly. Leaf elements and attributes whose value is None or
empty are left out (ResMan treats a missing element as "unchanged", an empty one may blank a
field); containers the model holds explicitly (``Preferences``, ``RentRange``) are written even
when empty so that parsing gives back exactly what was built. Trees are made with lxml
``SubElement`` -- never string templates -- so escaping is lxml's; text lxml cannot represent in
XML (control characters, NUL) raises its ``ValueError``. Dates: see ``dates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from leadsync.resman.mits.dates import format_event_date, format_move_in_date
from leadsync.resman.mits.values import format_decimal
from leadsync.resman.models import (
    Customer,
    Envelope,
    Event,
    Preferences,
    Prospect,
    RentRange,
)

_Attrs = dict[str, str]


def build_lead_management(prospects: Sequence[Prospect]) -> bytes:
    """`<LeadManagement><Prospects><Prospect>…` as UTF-8 bytes with an XML declaration
    (what PostLeadManagement4_0 takes)."""
    root = etree.Element("LeadManagement")
    _add_prospects(root, prospects)
    return _serialize(root)


def build_envelope(envelope: Envelope, *, include_prospects: bool = True) -> bytes:
    """`<ResMan>` answer: MethodName, Status, ErrorDescription, AccountID, PropertyID, and
    Response/LeadManagement/Prospects (empty `<Prospects/>` when none) when include_prospects."""
    root = etree.Element("ResMan")
    # The envelope fields are always present, empty when unset, as in ResMan's own answers.
    _always(root, "MethodName", envelope.method_name)
    _always(root, "Status", envelope.status)
    _always(root, "ErrorDescription", envelope.error_description)
    account = None if envelope.account_id is None else str(envelope.account_id)
    _always(root, "AccountID", account)
    _always(root, "PropertyID", envelope.property_id)
    if include_prospects:
        response = etree.SubElement(root, "Response")
        _add_prospects(etree.SubElement(response, "LeadManagement"), envelope.prospects)
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _always(parent: etree._Element, tag: str, value: str | None) -> None:
    etree.SubElement(parent, tag).text = value or None


def _leaf(parent: etree._Element, tag: str, value: str | None) -> None:
    if value:
        etree.SubElement(parent, tag).text = value


def _attrs(**values: str | None) -> _Attrs:
    """Attribute dict without the unset ones (None or empty)."""
    return {name: value for name, value in values.items() if value}


def _add_prospects(parent: etree._Element, prospects: Sequence[Prospect]) -> None:
    container = etree.SubElement(parent, "Prospects")
    for prospect in prospects:
        element = etree.SubElement(container, "Prospect")
        if prospect.customers:
            customers = etree.SubElement(element, "Customers")
            for customer in prospect.customers:
                _add_customer(customers, customer)
        if prospect.preferences is not None:
            _add_preferences(element, prospect.preferences)
        if prospect.events:
            events = etree.SubElement(element, "Events")
            for event in prospect.events:
                _add_event(events, event)


def _add_customer(parent: etree._Element, customer: Customer) -> None:
    # str() of the StrEnum is its wire value; a plain str passes through unchanged.
    element = etree.SubElement(parent, "Customer", Type=str(customer.customer_type))
    for ident in customer.identifications:
        if ident.id_type and ident.id_value:
            etree.SubElement(
                element,
                "Identification",
                _attrs(
                    IDType=ident.id_type,
                    IDValue=ident.id_value,
                    OrganizationName=ident.organization_name,
                ),
            )
    if customer.first_name or customer.last_name:
        name = etree.SubElement(element, "Name")
        _leaf(name, "FirstName", customer.first_name)
        _leaf(name, "LastName", customer.last_name)
    for phone in customer.phones:
        if phone.number:
            phone_element = etree.SubElement(element, "Phone", _attrs(PhoneType=phone.phone_type))
            _leaf(phone_element, "PhoneNumber", phone.number)
    _leaf(element, "Email", customer.email)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _int(value: int | None) -> str | None:
    return None if value is None else str(value)


def _add_preferences(parent: etree._Element, prefs: Preferences) -> None:
    element = etree.SubElement(parent, "CustomerPreferences")
    if prefs.target_move_in_date is not None:
        _leaf(element, "TargetMoveInDate", format_move_in_date(prefs.target_move_in_date))
    if prefs.desired_rent is not None:
        _add_rent(element, prefs.desired_rent)
    if prefs.bedrooms_exact is not None or prefs.bedrooms_max is not None:
        etree.SubElement(
            element,
            "DesiredNumBedrooms",
            _attrs(Exact=_int(prefs.bedrooms_exact), Max=_int(prefs.bedrooms_max)),
        )
    if prefs.bathrooms_exact is not None:
        etree.SubElement(
            element, "DesiredNumBathrooms", Exact=format_decimal(prefs.bathrooms_exact)
        )
    _leaf(element, "DesiredFloorplan", prefs.floorplan)
    if prefs.unit_marketing_name:
        _leaf(etree.SubElement(element, "DesiredUnit"), "MarketingName", prefs.unit_marketing_name)
    _leaf(element, "DesiredLeaseTerms", _int(prefs.lease_terms))
    for pet in prefs.pets:
        etree.SubElement(element, "Pets", _attrs(PetType=pet.pet_type, Count=str(pet.count)))
    _leaf(element, "NumberOfOccupants", _int(prefs.occupants))
    _leaf(element, "Comment", prefs.comment)


def _add_rent(parent: etree._Element, rent: RentRange) -> None:
    etree.SubElement(
        parent,
        "DesiredRent",
        _attrs(Exact=_decimal(rent.exact), Min=_decimal(rent.min), Max=_decimal(rent.max)),
    )


def _add_event(parent: etree._Element, event: Event) -> None:
    element = etree.SubElement(
        parent,
        "Event",
        _attrs(EventType=event.event_type, EventDate=format_event_date(event.event_date)),
    )
    if event.agent_id or event.agent_name:
        agent = etree.SubElement(element, "Agent")
        if event.agent_id:
            etree.SubElement(agent, "AgentID", IDValue=event.agent_id)
        _leaf(agent, "AgentName", event.agent_name)
    if event.first_contact:
        # Written only when true: ResMan reads a missing FirstContact as false.
        etree.SubElement(element, "FirstContact").text = "true"
    _leaf(element, "TransactionSource", event.transaction_source)
    _leaf(element, "Comments", event.comments)
    _leaf(element, "EventReasons", event.event_reasons)
