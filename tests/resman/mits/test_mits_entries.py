"""Search answers read as entries (id and digest first, the prospect only when asked): an
entry says what the whole parse would say, and its digest changes exactly with the bytes
ResMan sent for the prospect."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from lxml import etree

from leadsync.resman.errors import BusinessError, ResponseFormatError
from leadsync.resman.mits import build_envelope, element_digest, parse_envelope
from leadsync.resman.models import (
    Customer,
    Envelope,
    Identification,
    Prospect,
    ProspectEntry,
    content_digest,
)
from leadsync.resman.responses import read_mits_entries
from resman.mits.test_mits_roundtrip import ROUNDTRIP, prospects

METHOD = "MITS/SearchProspects"


def _answer(*items: Prospect) -> bytes:
    return build_envelope(Envelope(method_name=METHOD, status="Success", prospects=items))


def _prospect(prospect_id: str, first_name: str = "Ann") -> Prospect:
    ident = Identification("ProspectID", prospect_id)
    return Prospect(customers=(Customer(identifications=(ident,), first_name=first_name),))


@ROUNDTRIP
@given(prospects)
def test_an_entry_reads_the_id_and_digest_the_whole_parse_reads(prospect: Prospect) -> None:
    body = _answer(prospect, _prospect("P-after"))
    parsed = parse_envelope(body).prospects

    entries = read_mits_entries(body, method=METHOD)

    assert [e.prospect_id for e in entries] == [p.prospect_id for p in parsed]
    assert [e.digest for e in entries] == [content_digest(p) for p in parsed]
    assert [e.prospect() for e in entries] == list(parsed)


def test_the_digest_follows_the_prospect_not_its_place_in_the_answer() -> None:
    ann, bob = _prospect("P-1"), _prospect("P-2", first_name="Bob")
    alone = read_mits_entries(_answer(bob), method=METHOD)
    second = read_mits_entries(_answer(ann, bob), method=METHOD)
    renamed = read_mits_entries(_answer(replace(bob, customers=(ann.lead,))), method=METHOD)

    assert alone[0].digest == second[1].digest
    assert second[0].digest != second[1].digest
    assert renamed[0].digest != alone[0].digest
    # The whitespace after an element depends on where it sits, not on the prospect.
    (element,) = etree.fromstring(_answer(bob)).iter("Prospect")
    element.tail = "\n    "
    assert element_digest(element) == alone[0].digest


def test_a_changed_copy_of_a_read_prospect_has_its_own_digest() -> None:
    (read,) = parse_envelope(_answer(_prospect("P-1"))).prospects
    changed = replace(read, events=())  # same content, but made here: no source digest

    assert read.source_digest is not None
    assert changed.source_digest is None
    assert content_digest(changed) != content_digest(read)
    assert ProspectEntry.of(changed).digest == content_digest(changed)


def test_an_unreadable_prospect_fails_only_when_it_is_read() -> None:
    body = _answer(_prospect("P-1"), _prospect("P-2")).replace(
        b'Type="prospect"', b'Type="martian"', 1
    )

    first, second = read_mits_entries(body, method=METHOD)

    assert (first.prospect_id, second.prospect_id) == ("P-1", "P-2")
    assert second.prospect().prospect_id == "P-2"
    with pytest.raises(ResponseFormatError, match="unreadable XML answer"):
        first.prospect()


def test_a_failed_answer_raises_its_business_error_before_any_entry() -> None:
    body = build_envelope(
        Envelope(method_name=METHOD, status="Error", error_description="Invalid PropertyID")
    )
    with pytest.raises(BusinessError):
        read_mits_entries(body, method=METHOD)
    with pytest.raises(ResponseFormatError):
        read_mits_entries(b"<html>bad gateway</html>", method=METHOD)
