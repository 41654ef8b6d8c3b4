"""Who is the same person: the pure decision behind the duplicate check (identity.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.lead import LeadFields
from leadsync.sync.push.identity import name_words, names_compatible, verdict

PHONE = "+15125550199"


def _lead(
    first: str | None = "Maria",
    last: str | None = "Gomez",
    email: str | None = None,
    phone: str | None = PHONE,
) -> LeadFields:
    return LeadFields(first_name=first, last_name=last, email=email, phone=phone)


def _compatible(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> bool:
    return names_compatible(first_a=a[0], last_a=a[1], first_b=b[0], last_b=b[1])


# --- names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Maria", "Gomez"), ("MARÍA", "gómez")),  # case and accents
        (("José", "Núñez"), ("jose", "NUNEZ")),
        (("Sean", "O'Brien"), ("Sean", "OBrien")),  # punctuation
        (("J.", "Smith"), ("John", "Smith")),  # an initial
        (("Bob", "Miller"), ("Robert", "Miller")),  # a nickname
        (("Liz", "Taylor"), ("Elizabeth", "Taylor")),
        (("Chris", "Lee"), ("Christopher", "Lee")),  # a shortening
        (("Mary Ann", "Jones"), ("Mary", "Jones")),  # a middle name
        (("Ana", "García"), ("Ana", "García-López")),  # a compound surname
        (("Ana", "Garcia Lopez"), ("Ana", "Garcia")),
    ],
)
def test_compatible_names(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert _compatible(a, b)
    assert _compatible(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Maria", "Gomez"), ("Aisha", "Khan")),  # a roommate
        (("Maria", "Gomez"), ("Lucia", "Gomez")),  # a daughter: same surname, other name
        (("Maria", "Gomez"), ("Maria", "Perez")),  # same first name, other surname
        (("Al", "Green"), ("Alfred", "Green")),  # two letters are too short a shortening
        (("J.", "Smith"), ("Karen", "Smith")),  # an initial of another name
        (("Maria", None), ("Maria", "Gomez")),  # nothing confirms a missing surname
        ((None, "Gomez"), ("Maria", "Gomez")),
        (("", ""), ("", "")),
        (("-", "'"), ("-", "'")),  # no letters at all
    ],
)
def test_incompatible_names(a: tuple[str | None, str | None], b: tuple[str, str]) -> None:
    assert not _compatible(a, b)
    assert not _compatible(b, a)


names = st.text(
    alphabet=st.characters(categories=("Lu", "Ll"), max_codepoint=0x17F), min_size=1, max_size=12
)


@given(first=names, last=names)
def test_a_name_is_compatible_with_itself_in_any_case_or_accents(first: str, last: str) -> None:
    accented = unicodedata.normalize("NFD", first.upper())
    assert _compatible((first, last), (first, last))
    assert _compatible((first, last), (accented, last.swapcase()))


@given(a=st.tuples(names, names), b=st.tuples(names, names))
def test_compatibility_is_symmetric(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert _compatible(a, b) == _compatible(b, a)


@given(first_a=names, first_b=names, last_a=names, last_b=names)
def test_different_surnames_are_never_compatible(
    first_a: str, first_b: str, last_a: str, last_b: str
) -> None:
    words_a, words_b = set(name_words(last_a)), set(name_words(last_b))
    if not words_a or not words_b or words_a <= words_b or words_b <= words_a:
        return
    assert not _compatible((first_a, last_a), (first_b, last_b))


# --- the verdict -------------------------------------------------------------------------
def test_same_email_is_the_same_person_whatever_the_name() -> None:
    ours = _lead(email="maria@example.org", phone=None)
    assert verdict(ours, _lead("M", "Gomez-Ruiz", "Maria@Example.org", None)) == "same"


def test_same_phone_with_a_compatible_name_is_the_same_person() -> None:
    assert verdict(_lead(), _lead("MARÍA", "gómez", phone="(512) 555-0199")) == "same"


def test_a_phone_alone_never_links() -> None:
    # The roommate, with or without emails of her own: a possible duplicate, not a link.
    assert verdict(_lead(), _lead("Aisha", "Khan")) == "possible_duplicate"
    assert (
        verdict(_lead(email="maria@example.org"), _lead("Aisha", "Khan", "aisha@example.org"))
        == "possible_duplicate"
    )
    # A name missing on either side confirms nothing.
    assert verdict(_lead(first=None, last=None), _lead()) == "possible_duplicate"


def test_two_different_emails_veto_the_phone() -> None:
    # John Smith Sr. and Jr. sharing the family phone, each with his own address.
    ours = _lead("John", "Smith", "john.sr@example.org")
    assert verdict(ours, _lead("John", "Smith", "john.jr@example.org")) == "possible_duplicate"


def test_nothing_shared_is_a_different_person() -> None:
    assert verdict(_lead(email="a@example.org"), _lead(phone="+15125550100")) == "different"
    assert verdict(_lead(phone=None), _lead(phone=None)) == "different"


emails = st.one_of(st.none(), st.sampled_from(["a@example.org", "b@example.org"]))
phones = st.one_of(st.none(), st.sampled_from([PHONE, "+15125550100"]))
people = st.builds(
    _lead,
    first=st.one_of(st.none(), names),
    last=st.one_of(st.none(), names),
    email=emails,
    phone=phones,
)


@given(ours=people, theirs=people)
def test_same_needs_the_email_or_the_phone_and_a_compatible_name(
    ours: LeadFields, theirs: LeadFields
) -> None:
    decided = verdict(ours, theirs)
    same_email = ours.email is not None and ours.email == theirs.email
    same_phone = ours.phone is not None and ours.phone == theirs.phone
    compatible = _compatible(
        (ours.first_name, ours.last_name), (theirs.first_name, theirs.last_name)
    )
    if decided == "same":
        assert same_email or (same_phone and compatible)
    if same_phone and not compatible and not same_email:
        assert decided == "possible_duplicate"
    if not same_phone and not same_email:
        assert decided == "different"
    assert verdict(theirs, ours) == decided  # symmetric
