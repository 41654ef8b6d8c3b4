"""Credentials never show their secrets and go on the wire with ResMan's field names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from leadsync.resman.credentials import ResManCredentials

CREDS = ResManCredentials(
    partner_id="partner-SECRET-1", api_key="key-SECRET-2", account_id=400, property_id="p-1"
)


@pytest.mark.parametrize("render", [repr, str, lambda c: f"{c}", lambda c: f"{[c]!r}"])
def test_repr_and_str_hide_partner_and_key(render: Callable[[ResManCredentials], str]) -> None:
    text = render(CREDS)
    assert "SECRET" not in text
    assert "account_id=400" in text
    assert "p-1" in text


def test_property_form() -> None:
    assert CREDS.property_form() == {
        "IntegrationPartnerID": "partner-SECRET-1",
        "ApiKey": "key-SECRET-2",
        "AccountID": "400",
        "PropertyID": "p-1",
    }


def test_account_form_has_no_property() -> None:
    assert "PropertyID" not in CREDS.account_form()
    assert CREDS.account_form()["AccountID"] == "400"
    assert CREDS.partner_form() == {
        "IntegrationPartnerID": "partner-SECRET-1",
        "ApiKey": "key-SECRET-2",
    }


def test_property_form_needs_a_property() -> None:
    creds = ResManCredentials(partner_id="p", api_key="k", account_id=1)
    with pytest.raises(ValueError, match="property_id"):
        creds.property_form()


def test_credentials_are_immutable_and_comparable() -> None:
    twin = ResManCredentials(
        partner_id="partner-SECRET-1", api_key="key-SECRET-2", account_id=400, property_id="p-1"
    )
    assert twin == CREDS
    with pytest.raises(AttributeError):
        CREDS.api_key = "other"  # type: ignore[misc]
