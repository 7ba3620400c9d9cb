"""Realm's value semantics in Python: equality, ordering, case folding and LIKE.

These functions are the reference the SQL dialects are tested against. They
follow Realm, not SQL: ``null == null`` is true, an ordering comparison with
``null`` is false, ``!=`` with ``null`` on one side is true, an int equals the
same number written as a double, and dates compare as instants.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from functools import lru_cache
from typing import Any, overload

from bson import Decimal128, ObjectId

__all__ = ["FOLD_FROM", "FOLD_TO", "SENTINEL", "equal", "fold", "like_regex", "lower_fold_guards",
           "order", "sort_key"]

#: ``[c]`` folds the letters Realm folds: U+0000–U+024F (Latin Basic, Supplement,
#: Extended-A and -B), one character to one character. The same table drives SQL's
#: ``translate()`` so every engine folds identically.
_PAIRS = [(chr(cp), chr(cp).lower()) for cp in range(0x250)
          if chr(cp).lower() != chr(cp) and len(chr(cp).lower()) == 1]
FOLD_FROM = "".join(upper for upper, _ in _PAIRS)
FOLD_TO = "".join(lower for _, lower in _PAIRS)
_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


@overload
def fold(text: str) -> str: ...
@overload
def fold(text: None) -> None: ...


def fold(text: str | None) -> str | None:
    """Case-fold ``text`` the way ``[c]`` does; ``None`` stays ``None`` (like SQL NULL)."""
    if text is None:
        return None
    return text.translate(_FOLD_TABLE)


#: What DuckDB's ``lower()`` (utf8proc's simple case mapping) changes, one character each:
#: Python's ``str.lower`` where it gives one character, and ``İ`` → ``i`` (Python gives two).
_CASED_PLANES = 0x1F000  # no cased letters above (the last are Adlam's, U+1E900–U+1E943)
SENTINEL = "\uffff"  # a noncharacter: what a guarded letter becomes before ``lower()``


@lru_cache(maxsize=1)
def _lower_outside_table() -> tuple[frozenset[str], dict[str, str]]:
    """The letters ``lower()`` folds and Realm does not: (unsafe letters, guarded letters).

    A pattern holding an unsafe letter (such a capital, or what ``lower()`` makes of it)
    cannot use ``lower()``. The few capitals whose lowercase is a Latin letter Realm folds
    to (``İ`` → ``i``, Kelvin ``K`` → ``k``, Ångström ``Å`` → ``å``, ``ẞ`` → ``ß``, …) are
    *guarded* instead: replaced by ``SENTINEL`` before ``lower()`` when the pattern holds
    their lowercase, so that they still match nothing in it, as under Realm's folding.
    """
    table = set(FOLD_FROM)
    outside: dict[str, str] = {}
    for cp in range(_CASED_PLANES):
        char = chr(cp)
        lowered = "i" if char == "\u0130" else char.lower()
        if lowered != char and len(lowered) == 1 and char not in table:
            outside[char] = lowered
    guarded = {upper: lower for upper, lower in outside.items() if ord(lower) < 0x250}
    unsafe = set(outside) | {lower for upper, lower in outside.items() if upper not in guarded}
    return frozenset(unsafe | {SENTINEL}), guarded


def lower_fold_guards(patterns: list[str]) -> list[str] | None:
    """The letters to hide from ``lower()`` so that ``lower(x)`` matches ``patterns`` (already
    folded) exactly as ``fold(x)`` would; None when no guard makes it so (use the table).

    Why it holds: where ``x`` has a letter both foldings treat alike, they agree; where it
    has a letter ``lower()`` folds and Realm does not, neither result can meet a character
    of the pattern (the pattern holds neither the letter nor its image, or the letter is
    guarded). Equality, ``IN`` and the string operators only compare characters, so they
    give the same answer; orderings do not, and keep the table.
    """
    unsafe, guarded = _lower_outside_table()
    used = set().union(*patterns) if patterns else set()
    if used & unsafe:
        return None
    return sorted(upper for upper, lower in guarded.items() if lower in used)


def normalize(value: Any) -> Any:
    """Bring decoded BSON values to one Python form (Decimal128 → Decimal, naive → UTC)."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def _as_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return decimal.Decimal(value)


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Two values as comparable Python values, or None when they cannot be compared."""
    a, b = normalize(a), normalize(b)
    if _numeric(a) and _numeric(b):
        if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
            return _as_decimal(a), _as_decimal(b)
        return a, b
    if isinstance(a, bool) and isinstance(b, bool):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a, b
    if isinstance(a, ObjectId) or isinstance(b, ObjectId):
        return _pair_as(a, b, ObjectId, _to_object_id)
    if isinstance(a, uuid.UUID) or isinstance(b, uuid.UUID):
        return _pair_as(a, b, uuid.UUID, _to_uuid)
    return None


def _pair_as(a: Any, b: Any, kind: type, convert: Any) -> tuple[Any, Any] | None:
    a, b = convert(a), convert(b)
    if isinstance(a, kind) and isinstance(b, kind):
        return a, b
    return None


def _to_object_id(value: Any) -> Any:
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    return value


def _to_uuid(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return value
    return value


def equal(a: Any, b: Any, case_insensitive: bool = False) -> bool:
    """Realm equality: ``nil == nil``; ``nil`` equals nothing else; mismatched types differ."""
    if a is None or b is None:
        return a is None and b is None
    if case_insensitive and isinstance(a, str) and isinstance(b, str):
        return fold(a) == fold(b)
    pair = _coerce_pair(a, b)
    if pair is None:
        return False
    return bool(pair[0] == pair[1])


def order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 comparing two values; None when either is null or they are incomparable."""
    if a is None or b is None:
        return None
    pair = _coerce_pair(a, b)
    if pair is None:
        return None
    left, right = pair
    if isinstance(left, bool):
        left, right = int(left), int(right)
    if left < right:
        return -1
    if left > right:
        return 1
    return 0


@lru_cache(maxsize=256)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """A compiled regex for a Realm LIKE pattern: ``*`` is any run, ``?`` one character.

    Every other character, ``%`` and ``_`` included, matches itself.
    """
    if case_insensitive:
        pattern = fold(pattern)
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


_TYPE_RANK = {bool: 0, int: 1, float: 1, decimal.Decimal: 1, str: 2, dt.datetime: 3,
              ObjectId: 4, uuid.UUID: 5}


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that sorts like the cache's ORDER BY: nulls first, then values."""
    value = normalize(value)
    if value is None:
        return (0, 0)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return (1, _as_decimal(value))
    if isinstance(value, ObjectId | uuid.UUID):
        return (1, str(value))
    return (1, value)
