"""Which of the property's configured lost reasons a caller's ``lost_reason`` means; pure.

ResMan records a lost lead with a lost-reason id from GetLostProspectReasons, so a free
text reason must become one of those, and never an invented one. In order:

1. ``exact``: the same name, ignoring case, punctuation and extra whitespace
   ("  rented ELSEWHERE." is "Rented elsewhere").
2. ``close``: exactly one configured reason is a clear match: the text is the first word(s)
   of the reason ("price" -> "Price too high", at least four letters), or the text contains
   the reason's whole name as words ("rented elsewhere, closer to work"). Two candidates, or
   a looser likeness, are no match: a wrong reason in the office's reports is worse than a
   generic one.
3. ``generic``: the property's catch-all reason, the first configured reason whose name is
   one of :data:`GENERIC_NAMES` ("Other", "Unknown", ...), with the caller's text in the
   event comments.
4. ``none``: no catch-all is configured; the Cancel carries no reason id and the caller's
   text goes to the comments.

The caller is told which reason was used (and why) in the status API's response.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: Names (normalised, see :func:`reason_key`) of catch-all reasons, in order of preference.
GENERIC_NAMES: tuple[str, ...] = (
    "other",
    "other reason",
    "others",
    "unknown",
    "not specified",
    "unspecified",
    "no reason given",
    "miscellaneous",
    "misc",
)
#: A prefix shorter than this ("no", "re") matches too much to be a clear match.
MIN_PREFIX_LENGTH = 4

Match = Literal["exact", "close", "generic", "none"]


_PUNCTUATION_TO_SPACE = str.maketrans(string.punctuation, " " * len(string.punctuation))


def reason_key(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a reason name: lower-case
    words separated by single spaces ("Rented elsewhere, closer" -> "rented elsewhere
    closer")."""
    return " ".join(text.casefold().translate(_PUNCTUATION_TO_SPACE).split())


@dataclass(frozen=True, slots=True)
class LostReasonChoice:
    """The configured reason to post, how it was chosen, and what the caller asked for."""

    #: (id, name) as configured in ResMan; None when nothing fits and no catch-all exists.
    reason: tuple[str, str] | None
    match: Match
    requested: str | None

    @property
    def name(self) -> str | None:
        return self.reason[1] if self.reason else None

    @property
    def comment(self) -> str | None:
        """The caller's own words for the event comments, when the reason is not exactly
        theirs (so the office still reads what was said)."""
        if self.requested and self.match != "exact":
            return f"Lost reason given: {self.requested}"
        return None

    @property
    def warning(self) -> str | None:
        """Why the posted reason is not the caller's, for the API response; None when it is."""
        if self.match == "exact":
            return None
        if self.match == "close":
            return f"lost_reason {self.requested!r} matched the configured reason {self.name!r}"
        asked = (
            f"lost_reason {self.requested!r} matches no configured reason"
            if self.requested
            else "no lost_reason given"
        )
        if self.match == "generic":
            return f"{asked}; used the generic reason {self.name!r}" + (
                " with the given text in the comments" if self.requested else ""
            )
        return (
            f"{asked} and the property has no generic reason (such as 'Other'); the lead is "
            "marked lost without a reason id"
            + (", the given text is in the comments" if self.requested else "")
        )


def _close(wanted: str, reasons: Mapping[str, tuple[str, str]]) -> tuple[str, str] | None:
    candidates = []
    for reason in reasons.values():
        key = reason_key(reason[1])
        if not key or key in GENERIC_NAMES:
            continue
        prefix = len(wanted) >= MIN_PREFIX_LENGTH and f"{key} ".startswith(f"{wanted} ")
        contains = f" {key} " in f" {wanted} "
        if prefix or contains:
            candidates.append(reason)
    return candidates[0] if len(candidates) == 1 else None


def _generic(reasons: Mapping[str, tuple[str, str]]) -> tuple[str, str] | None:
    by_key = {reason_key(r[1]): r for r in reasons.values()}
    return next((by_key[name] for name in GENERIC_NAMES if name in by_key), None)


def choose_lost_reason(
    requested: str | None, reasons: Mapping[str, tuple[str, str]]
) -> LostReasonChoice:
    """The reason to post for ``requested`` among ``reasons`` (any key -> (id, name), as
    :class:`~leadsync.sync.queue.targets.ResManTarget` holds them); see the module docstring."""
    text = (requested or "").strip() or None
    if text is not None:
        wanted = reason_key(text)
        exact = next((r for r in reasons.values() if reason_key(r[1]) == wanted), None)
        if exact is not None and wanted:
            return LostReasonChoice(exact, "exact", text)
        close = _close(wanted, reasons) if wanted else None
        if close is not None:
            return LostReasonChoice(close, "close", text)
    generic = _generic(reasons)
    if generic is not None:
        return LostReasonChoice(generic, "generic", text)
    return LostReasonChoice(None, "none", text)
