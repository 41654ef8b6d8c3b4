"""ResMan's wire vocabulary: method paths, date format and search criteria (pure).

Dates go on the wire as ``YYYY-MM-DDTHH:MM:SS`` in UTC, without offset: ResMan reads naive
timestamps as UTC (docs/RESMAN_PROTOCOL.md) and the wire has whole-second precision, so sub-second
parts are truncated. Callers must pass timezone-aware datetimes; a naive one is refused rather
than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime

POST_LEAD = "MITS/PostLeadManagement4_0"
SEARCH_PROSPECTS = "MITS/SearchProspects"
GET_PROSPECT_SOURCES = "Leasing/GetProspectSources"
GET_LOST_PROSPECT_REASONS = "Leasing/GetLostProspectReasons"
GET_EMPLOYEES = "Leasing/GetEmployees"
GET_APPLICANTS_AND_CURRENT_RESIDENTS = "Leasing/GetApplicantsAndCurrentResidents"
GET_PROPERTIES = "Account/GetProperties"
GET_ACCOUNT_ID = "Account/GetAccountID"


ACCEPT_XML = "application/xml"
ACCEPT_JSON = "application/json"


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is a programming error (its zone is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("ResMan datetimes must be timezone-aware")
    return value.astimezone(UTC)


def format_wire_datetime(value: datetime) -> str:
    """``value`` as ResMan reads it: UTC, ``YYYY-MM-DDTHH:MM:SS``, sub-seconds truncated."""
    # isoformat() zero-pads the year; strftime("%Y") does not on glibc ("885-03-27...").
    return to_utc(value).replace(tzinfo=None, microsecond=0).isoformat()


def _given(value: str | None, field: str) -> bool:
    if value is None:
        return False
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    return True


def search_form(
    *,
    modified_start: datetime | None = None,
    modified_end: datetime | None = None,
    prospect_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> dict[str, str]:
    """The SearchProspects form fields of exactly one criterion set.

    Sets: the modified window (start and end), ProspectID, Email, Phone, or FirstName and
    LastName. Error messages name fields, never the (personal) values.
    """
    window = modified_start is not None or modified_end is not None
    by_id = _given(prospect_id, "prospect_id")
    by_email = _given(email, "email")
    by_phone = _given(phone, "phone")
    by_name = _given(first_name, "first_name") | _given(last_name, "last_name")
    chosen = sum((window, by_id, by_email, by_phone, by_name))
    if chosen != 1:
        raise ValueError(
            "give exactly one search criterion: modified_start+modified_end, prospect_id, "
            f"email, phone, or first_name+last_name (got {chosen})"
        )
    if window:
        if modified_start is None or modified_end is None:
            raise ValueError("a modified window needs both modified_start and modified_end")
        if to_utc(modified_start) >= to_utc(modified_end):
            raise ValueError("modified_start must be before modified_end")
        return {
            "ModifiedStartDateTime": format_wire_datetime(modified_start),
            "ModifiedEndDateTime": format_wire_datetime(modified_end),
        }
    if by_name:
        if first_name is None or last_name is None:
            raise ValueError("a name search needs both first_name and last_name")
        return {"FirstName": first_name, "LastName": last_name}
    if prospect_id is not None:
        return {"ProspectID": prospect_id}
    if email is not None:
        return {"Email": email}
    assert phone is not None  # exactly one set was given
    return {"Phone": phone}
