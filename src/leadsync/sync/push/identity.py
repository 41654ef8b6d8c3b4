"""Is this lead the same person as that record? The pure decision behind the duplicate check.

- The same email is the same person.
- The same phone is the same person only with a compatible name (same last name, compatible
  first name): a phone is shared by roommates, couples and parents, so a phone match alone
  never links. Two different emails on the two records veto the phone.
- A phone match that is not the same person is a ``possible_duplicate``: the lead gets its
  own prospect and a person decides (a ``duplicate_lead`` conflict).

Names are compared case-, accent- and punctuation-blind ("José" = "jose", "O'Brien" =
"OBRIEN"); a first name also matches its initial ("J."), a known nickname ("Bob" for
"Robert") or a shortening of at least three letters ("Chris" for "Christopher"). A last
name matches when one record's surname words are all in the other's ("Gomez" and
"Gomez-Ruiz"). A missing name is never compatible: nothing confirms the phone.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

from leadsync.mapping.lead import LeadFields
from leadsync.mapping.normalize import normalize_email, phone_digits

Verdict = Literal["same", "possible_duplicate", "different"]

#: Shortest shortening accepted as the same first name ("Dan" for "Daniel"; "Al" is too short).
MIN_PREFIX = 3

_NICKNAME_GROUPS: Final = (
    ("robert", "bob", "bobby", "rob", "robbie", "bert"),
    ("william", "bill", "billy", "will", "willy", "liam"),
    ("elizabeth", "liz", "lizzy", "beth", "betty", "eliza", "libby"),
    ("katherine", "catherine", "kathryn", "kate", "katie", "kathy", "cathy", "kat"),
    ("margaret", "maggie", "meg", "peggy", "marge", "greta"),
    ("richard", "rick", "ricky", "dick", "rich"),
    ("james", "jim", "jimmy", "jamie"),
    ("john", "jack", "johnny", "jon"),
    ("jonathan", "jon", "jonny"),
    ("michael", "mike", "mikey", "mick"),
    ("christopher", "chris", "kit"),
    ("christine", "christina", "chris", "tina", "chrissy"),
    ("joseph", "joe", "joey"),
    ("thomas", "tom", "tommy"),
    ("anthony", "tony"),
    ("daniel", "dan", "danny"),
    ("david", "dave", "davy"),
    ("edward", "ed", "eddie", "ted", "ned"),
    ("alexander", "alejandro", "alex", "sasha", "xander"),
    ("alexandra", "alex", "sasha", "lexi"),
    ("jennifer", "jen", "jenny"),
    ("jessica", "jess", "jessie"),
    ("patricia", "pat", "patty", "trish"),
    ("patrick", "pat"),
    ("samuel", "sam", "sammy"),
    ("samantha", "sam", "sammy"),
    ("benjamin", "ben", "benny"),
    ("nicholas", "nick", "nicky"),
    ("steven", "stephen", "steve"),
    ("matthew", "matt"),
    ("andrew", "andy", "drew"),
    ("susan", "sue", "susie"),
    ("deborah", "deb", "debbie"),
    ("rebecca", "becky", "becca"),
    ("victoria", "vicky", "tori"),
    ("jose", "pepe"),
    ("francisco", "paco", "pancho", "frank"),
    ("francis", "frances", "frank", "fran"),
    ("guillermo", "memo"),
    ("enrique", "kike"),
    ("jesus", "chuy"),
)
_NICKNAMES: Final[dict[str, frozenset[str]]] = {}
for _group in _NICKNAME_GROUPS:
    for _name in _group:
        _NICKNAMES[_name] = _NICKNAMES.get(_name, frozenset()) | frozenset(_group)

_WORD_SPLIT = re.compile(r"[\s\-]+")
#: Letters that Unicode does not decompose into a base letter plus an accent.
_UNACCENT = str.maketrans({"\u0131": "i", "ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe"})


def name_words(value: str | None) -> tuple[str, ...]:
    """The letters of each word, case-folded, accents and punctuation dropped ("O'Brien" is
    "obrien", "Núñez" is "nunez"); letters of other scripts are kept as they are."""
    if not value:
        return ()
    decomposed = unicodedata.normalize("NFKD", value.casefold().translate(_UNACCENT))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = ("".join(c for c in word if c.isalpha()) for word in _WORD_SPLIT.split(plain))
    return tuple(word for word in words if word)


def _first_names_compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) == 1:
        return long.startswith(short)  # an initial
    if short in _NICKNAMES.get(long, frozenset()):
        return True
    return len(short) >= MIN_PREFIX and long.startswith(short)


def names_compatible(
    *, first_a: str | None, last_a: str | None, first_b: str | None, last_b: str | None
) -> bool:
    """Same last name and compatible first name (see the module docstring)."""
    last_a_words, last_b_words = set(name_words(last_a)), set(name_words(last_b))
    first_a_words, first_b_words = name_words(first_a), name_words(first_b)
    if not (last_a_words and last_b_words and first_a_words and first_b_words):
        return False
    if not (last_a_words <= last_b_words or last_b_words <= last_a_words):
        return False
    return _first_names_compatible(first_a_words[0], first_b_words[0])


def _same_phone(a: str | None, b: str | None) -> bool:
    # National number (last 10 digits): "+1 512..." and "512..." are one phone.
    digits_a, digits_b = phone_digits(a or "")[-10:], phone_digits(b or "")[-10:]
    return bool(digits_a) and digits_a == digits_b


def verdict(ours: LeadFields, theirs: LeadFields) -> Verdict:
    """Whether the record ``theirs`` is the person of the lead ``ours``."""
    email_a, email_b = normalize_email(ours.email), normalize_email(theirs.email)
    if email_a and email_a == email_b:
        return "same"
    if not _same_phone(ours.phone, theirs.phone):
        return "different"
    if email_a and email_b:
        return "possible_duplicate"  # two addresses: two people sharing a phone, until told
    compatible = names_compatible(
        first_a=ours.first_name,
        last_a=ours.last_name,
        first_b=theirs.first_name,
        last_b=theirs.last_name,
    )
    return "same" if compatible else "possible_duplicate"
