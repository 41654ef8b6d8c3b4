"""The invariant checker of the chaos suite: both sides compared after a run (pure functions).

The chatbot side is the :class:`Ledger` the traffic filled in (only what leadsync ACCEPTED,
i.e. answered 2xx, counts as promised); the other sides are what ResMan (the sandbox) and
leadsync hold once the queue has drained. Each check returns its breaches as sentences; an
empty list is a pass. ``tests/chaos/test_invariants.py`` breaks each invariant on purpose and
shows its check fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Our status -> the ResMan customer type it is written as (mapping/status.py).
RESMAN_TYPE = {
    "new": "prospect",
    "contacted": "prospect",
    "qualified": "prospect",
    "tour_scheduled": "prospect",
    "application": "applicant",
    "leased": "current_resident",
    "lost": "lost",
}
#: Dead-letter categories that are NOT a permanent ResMan error: a job buried for one of
#: these gave up on a lead that ResMan would have taken (sync/failures.py, sync/runner.py).
NOT_PERMANENT = frozenset(
    {
        "retries_exhausted",
        "circuit_open",
        "internal",
        "transient",
        "rate_limited",
        "database",
        "authentication",
        "integration_missing",
    }
)


@dataclass
class Person:
    """One prospective resident as the chatbot knows them (email unique per person)."""

    email: str
    first_name: str
    last_name: str
    phone: str
    #: Conversations of this person that leadsync accepted (a returning prospect has several).
    conversations: list[str] = field(default_factory=list)
    #: Last names the person may have in the end: one, or two when the answer to a change
    #: never came (the process was killed mid-request), so either outcome keeps the promise.
    last_names: set[str] = field(default_factory=set)
    #: The status the chatbot last set (accepted), None when it never set one.
    chatbot_status: str | None = None
    #: The ResMan type the office set (the office outranks a chatbot status below it).
    office_type: str | None = None


@dataclass
class Ledger:
    """What the traffic sent and what leadsync answered."""

    persons: dict[str, Person] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    #: Answers that were not a clean success or a clean refusal (503 problem+json).
    unclean: list[str] = field(default_factory=list)
    duplicates_sent: int = 0
    returning: int = 0
    shared_phones: int = 0
    office_edits: int = 0
    webhooks_replayed: int = 0

    def accepted_conversations(self) -> int:
        return sum(len(p.conversations) for p in self.persons.values())


@dataclass
class Sides:
    """Both sides after the drain."""

    #: ResMan's prospects of the property (sandbox admin API).
    prospects: list[dict[str, Any]]
    #: conversation id -> leadsync's lead context (GET /leads/{id}/context), None if missing.
    leadsync: dict[str, dict[str, Any] | None]
    #: leadsync's dead letters (queue jobs in state dead).
    dead_letters: list[dict[str, Any]]


def check_exactly_once(ledger: Ledger, sides: Sides) -> list[str]:
    """Every accepted person is in ResMan exactly once, and each of their conversations is
    linked to that one prospect."""
    by_email: dict[str, list[dict[str, Any]]] = {}
    for prospect in sides.prospects:
        by_email.setdefault(str(prospect.get("email") or "").lower(), []).append(prospect)
    breaches = []
    for email, person in ledger.persons.items():
        if not person.conversations:
            continue
        found = by_email.get(email, [])
        if len(found) != 1:
            breaches.append(f"{email}: {len(found)} ResMan prospects, expected exactly 1")
            continue
        prospect_id = found[0]["prospect_id"]
        for conversation in person.conversations:
            view = sides.leadsync.get(conversation)
            linked = None if view is None else view.get("resman_lead_id")
            if linked != prospect_id:
                breaches.append(f"{conversation}: linked to {linked}, ResMan has {prospect_id}")
    return breaches


def check_final_values(ledger: Ledger, sides: Sides) -> list[str]:
    """ResMan holds each person's last accepted values, and leadsync agrees with ResMan."""
    by_email = {str(p.get("email") or "").lower(): p for p in sides.prospects}
    breaches = []
    for email, person in ledger.persons.items():
        prospect = by_email.get(email)
        if not person.conversations or prospect is None:
            continue  # check_exactly_once reports it
        if prospect.get("last_name") not in person.last_names:
            breaches.append(
                f"{email}: ResMan last name {prospect.get('last_name')!r}, "
                f"expected one of {sorted(person.last_names)}"
            )
        for conversation in person.conversations:
            view = sides.leadsync.get(conversation) or {}
            if view.get("last_name") != prospect.get("last_name"):
                breaches.append(
                    f"{conversation}: leadsync last name {view.get('last_name')!r}, "
                    f"ResMan {prospect.get('last_name')!r}"
                )
    return breaches


def check_no_status_regression(ledger: Ledger, sides: Sides) -> list[str]:
    """The office's status is never overwritten by a lower chatbot status; otherwise the
    chatbot's last status holds; and leadsync shows the status ResMan has."""
    by_email = {str(p.get("email") or "").lower(): p for p in sides.prospects}
    breaches = []
    for email, person in ledger.persons.items():
        prospect = by_email.get(email)
        if not person.conversations or prospect is None:
            continue
        resman_type = prospect.get("status")
        wanted_type = person.office_type or RESMAN_TYPE[person.chatbot_status or "new"]
        # One conversation and no office edit: the chatbot's own status is the truth.
        chatbot_only = person.office_type is None and len(person.conversations) == 1
        if resman_type != wanted_type:
            breaches.append(f"{email}: ResMan type {resman_type!r}, expected {wanted_type!r}")
        for conversation in person.conversations:
            ours = (sides.leadsync.get(conversation) or {}).get("status")
            if RESMAN_TYPE.get(str(ours)) != resman_type:
                breaches.append(f"{conversation}: leadsync status {ours!r}, ResMan {resman_type!r}")
            elif chatbot_only and person.chatbot_status not in (None, ours):
                breaches.append(
                    f"{conversation}: status {ours!r}, chatbot last set {person.chatbot_status!r}"
                )
    return breaches


def check_dead_letters(ledger: Ledger, sides: Sides) -> list[str]:
    """Every dead letter is a real permanent ResMan error."""
    return [
        f"dead letter {job['id']} ({job.get('sync_operation')}): "
        f"[{job.get('error_category')}] is not a permanent ResMan error"
        for job in sides.dead_letters
        if job.get("error_category") in NOT_PERMANENT or not job.get("error_category")
    ]


def check_clean_answers(ledger: Ledger, sides: Sides) -> list[str]:
    """While anything was down, leadsync answered 2xx or a clean 503 problem+json."""
    return list(ledger.unclean)


CHECKS = (
    check_exactly_once,
    check_final_values,
    check_no_status_regression,
    check_dead_letters,
    check_clean_answers,
)


def run_checks(ledger: Ledger, sides: Sides) -> dict[str, list[str]]:
    """Every check's breaches, by check name."""
    return {check.__name__.removeprefix("check_"): check(ledger, sides) for check in CHECKS}


def lost_and_duplicated(ledger: Ledger, sides: Sides) -> tuple[int, int]:
    """Accepted persons missing from ResMan, and extra ResMan prospects of accepted persons."""
    counts = Counter(str(p.get("email") or "").lower() for p in sides.prospects)
    accepted = [e for e, p in ledger.persons.items() if p.conversations]
    lost = sum(1 for e in accepted if counts[e] == 0)
    duplicated = sum(counts[e] - 1 for e in accepted if counts[e] > 1)
    return lost, duplicated
