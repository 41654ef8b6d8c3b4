from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.normalize import (
    _e164,
    is_junk_email,
    is_junk_name,
    is_junk_phone,
    normalize_email,
    normalize_name,
    normalize_phone,
    phone_digits,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(512) 555-0199", "+15125550199"),
        ("512.555.0199", "+15125550199"),
        ("+1 512 555 0199", "+15125550199"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555", None),
        ("", None),
        (None, None),
        ("not a phone", None),
    ],
)
def test_normalize_phone_to_e164(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("bad@", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "junk", ["none@none.com", "NOEMAIL@gmail.com", "test@test.com", "", None, "x@"]
)
def test_placeholder_emails_are_junk(junk: str | None) -> None:
    assert is_junk_email(junk)


def test_real_email_is_not_junk() -> None:
    assert not is_junk_email("maria.gomez@gmail.com")


@pytest.mark.parametrize("junk", ["000-000-0000", "0000000000", "111-111-1111", "", None, "12"])
def test_placeholder_phones_are_junk(junk: str | None) -> None:
    assert is_junk_phone(junk)


def test_real_phone_is_not_junk() -> None:
    assert not is_junk_phone("(512) 555-0199")


def test_names() -> None:
    assert normalize_name("  Mary   Ann  ") == "Mary Ann"
    assert normalize_name("   ") is None
    assert is_junk_name("Anonymous")
    assert not is_junk_name("Ann")


@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_normalized_phone_is_stable(digits: str) -> None:
    once = normalize_phone(digits)
    if once is not None:
        assert normalize_phone(once) == once
        assert phone_digits(once).endswith(digits)


phone_like = st.text(st.sampled_from("0123456789+-() ."), min_size=1, max_size=18)


@given(phone_like, st.sampled_from(["US", "GB", "DE", "MX"]))
def test_an_e164_number_is_its_own_form_in_every_region(raw: str, region: str) -> None:
    """What lets normalize_phone answer its own output without phonenumbers: the E.164 form
    of a valid number parses back to itself, whatever the default region."""
    e164 = normalize_phone(raw)
    if e164 is not None:
        assert _e164(e164, region) == e164
        assert normalize_phone(e164, region=region) == e164


def test_a_number_already_normalised_is_answered_without_phonenumbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e164 = normalize_phone("(737) 555-0187")
    assert e164 == "+17375550187"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr("phonenumbers.parse", refuse)
    assert normalize_phone(e164) == e164
    assert normalize_phone(e164, region="GB") == e164


def test_the_known_e164_forms_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadsync.mapping import normalize

    forms: dict[str, None] = {}
    monkeypatch.setattr(normalize, "_E164_FORMS", forms)
    monkeypatch.setattr(normalize, "_CACHE_SIZE", 3)
    numbers = [normalize_phone(f"(737) 555-01{n:02d}") for n in range(5)]
    assert list(forms) == numbers[-3:]
