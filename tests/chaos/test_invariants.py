"""Each check of the chaos suite's invariant checker passes on two sides that agree and
fails when its invariant is broken on purpose (a lost, duplicated or mislinked lead, a stale
value, a regressed status, a dead letter that gave up on a good lead, an unclean answer)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from chaos.invariants import (
    Ledger,
    Person,
    Sides,
    check_clean_answers,
    check_dead_letters,
    check_exactly_once,
    check_final_values,
    check_no_status_regression,
    lost_and_duplicated,
    run_checks,
)


def _prospect(prospect_id: str, email: str, last_name: str, status: str) -> dict[str, Any]:
    return {"prospect_id": prospect_id, "email": email, "last_name": last_name, "status": status}


def _agreeing() -> tuple[Ledger, Sides]:
    """A returning prospect with two conversations, and an applicant the office promoted
    while the chatbot said qualified."""
    ledger = Ledger()
    ledger.persons["ana@example.org"] = Person(
        email="ana@example.org", first_name="Ana", last_name="Ruiz", phone="1",
        conversations=["c1", "c2"], last_names={"Ruiz"},
    )  # fmt: skip
    ledger.persons["bo@example.org"] = Person(
        email="bo@example.org", first_name="Bo", last_name="Lee-b", phone="1",
        conversations=["c3"], last_names={"Lee-b"}, chatbot_status="qualified",
        office_type="applicant",
    )  # fmt: skip
    ledger.persons["cy@example.org"] = Person(
        email="cy@example.org", first_name="Cy", last_name="Kim", phone="2",
        conversations=["c4"], last_names={"Kim"}, chatbot_status="qualified",
    )  # fmt: skip
    prospects = [
        _prospect("P1", "ana@example.org", "Ruiz", "prospect"),
        _prospect("P2", "bo@example.org", "Lee-b", "applicant"),
        _prospect("P3", "cy@example.org", "Kim", "prospect"),
        _prospect("P9", "walk-in@example.org", "X", "prospect"),
    ]
    views: dict[str, dict[str, Any] | None] = {
        "c1": {"resman_lead_id": "P1", "last_name": "Ruiz", "status": "new"},
        "c2": {"resman_lead_id": "P1", "last_name": "Ruiz", "status": "contacted"},
        "c3": {"resman_lead_id": "P2", "last_name": "Lee-b", "status": "application"},
        "c4": {"resman_lead_id": "P3", "last_name": "Kim", "status": "qualified"},
    }
    dead = [{"id": "j1", "sync_operation": "create", "error_category": "validation"}]
    return ledger, Sides(prospects=prospects, leadsync=views, dead_letters=dead)


def test_agreeing_sides_pass() -> None:
    ledger, sides = _agreeing()
    assert run_checks(ledger, sides) == {
        "exactly_once": [],
        "final_values": [],
        "no_status_regression": [],
        "dead_letters": [],
        "clean_answers": [],
    }
    assert lost_and_duplicated(ledger, sides) == (0, 0)


def _lose(ledger: Ledger, sides: Sides) -> None:
    sides.prospects.pop(0)


def _duplicate(ledger: Ledger, sides: Sides) -> None:
    sides.prospects.append({**sides.prospects[0], "prospect_id": "P1-again"})


def _mislink(ledger: Ledger, sides: Sides) -> None:
    sides.leadsync["c2"] = {**(sides.leadsync["c2"] or {}), "resman_lead_id": "P3"}


def _forget(ledger: Ledger, sides: Sides) -> None:
    sides.leadsync["c4"] = None


@pytest.mark.parametrize("breaks", [_lose, _duplicate, _mislink, _forget])
def test_exactly_once_fails_when_broken(breaks: Callable[[Ledger, Sides], None]) -> None:
    ledger, sides = _agreeing()
    breaks(ledger, sides)
    assert check_exactly_once(ledger, sides)


def test_lost_and_duplicated_are_counted() -> None:
    ledger, sides = _agreeing()
    _duplicate(ledger, sides)
    _duplicate(ledger, sides)
    sides.prospects = [p for p in sides.prospects if p["email"] != "cy@example.org"]
    assert lost_and_duplicated(ledger, sides) == (1, 2)


def test_final_values_fail_on_a_stale_value() -> None:
    ledger, sides = _agreeing()
    sides.prospects[1]["last_name"] = "Lee"  # the rename never reached ResMan
    assert check_final_values(ledger, sides)
    ledger, sides = _agreeing()
    sides.leadsync["c1"] = {**(sides.leadsync["c1"] or {}), "last_name": "Old"}
    assert check_final_values(ledger, sides)


def test_final_values_accept_either_value_of_an_unanswered_change() -> None:
    ledger, sides = _agreeing()
    ledger.persons["bo@example.org"].last_names = {"Lee", "Lee-b"}
    assert check_final_values(ledger, sides) == []


@pytest.mark.parametrize(
    ("email", "resman", "view"),
    [
        ("bo@example.org", "prospect", "qualified"),  # the chatbot's lower status won
        ("bo@example.org", "applicant", "qualified"),  # leadsync went back
        ("cy@example.org", "prospect", "contacted"),  # an older chatbot status came back
        ("cy@example.org", "lost", "lost"),  # nobody asked for this
    ],
)
def test_status_regression_fails(email: str, resman: str, view: str) -> None:
    ledger, sides = _agreeing()
    prospect = next(p for p in sides.prospects if p["email"] == email)
    prospect["status"] = resman
    conversation = ledger.persons[email].conversations[0]
    sides.leadsync[conversation] = {**(sides.leadsync[conversation] or {}), "status": view}
    assert check_no_status_regression(ledger, sides)


@pytest.mark.parametrize(
    "category", ["retries_exhausted", "circuit_open", "internal", "transient", "database", None]
)
def test_dead_letter_of_a_good_lead_fails(category: str | None) -> None:
    ledger, sides = _agreeing()
    sides.dead_letters = copy.deepcopy(sides.dead_letters)
    sides.dead_letters.append({"id": "j2", "sync_operation": "update", "error_category": category})
    assert check_dead_letters(ledger, sides)


def test_unclean_answer_fails() -> None:
    ledger, sides = _agreeing()
    ledger.unclean.append("POST /api/resman/leads: 500 Internal Server Error")
    assert check_clean_answers(ledger, sides)
