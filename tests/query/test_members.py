"""``values.Members``: constant-time ``IN`` with exactly :func:`values.equal`'s answers."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from bson import Decimal128, ObjectId
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.query import parse
from realm_jupyter.query.values import Members, equal
from tests.strategies import hypothesis_settings

_OID = ObjectId("65a1b2c3d4e5f60718293a4b")
_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
_BERLIN = dt.timezone(dt.timedelta(hours=1))
_POOL: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2**53, 2**53 + 1, 10**16, 1.0, 0.0, -0.0, 0.1, 1.5, 2.0**53,
    1e16, 1.2345678901234567e30, int(1.2345678901234567e30), float("nan"), float("inf"),
    float("-inf"), decimal.Decimal("1"), decimal.Decimal("1.0"), decimal.Decimal("0.1"),
    decimal.Decimal("NaN"), decimal.Decimal("Infinity"), decimal.Decimal("1.2345678901234567E+30"),
    Decimal128("0.1"), "", "a", "A", "Åsa", "åsa", str(_OID), str(_OID).upper(), str(_UUID),
    str(_UUID).upper(), "{" + str(_UUID) + "}", _OID, ObjectId("65a1b2c3d4e5f60718293a4c"),
    _UUID, uuid.UUID(int=1), dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 1, 1, 1, tzinfo=_BERLIN), dt.datetime(2024, 1, 1),
    dt.datetime(2024, 1, 2, tzinfo=dt.UTC), b"a", {"a": 1},
)
_values = st.sampled_from(_POOL)


@hypothesis_settings(max_examples=3000)
@given(candidates=st.lists(_values, max_size=12), item=_values, ci=st.booleans())
def test_members_agree_with_equal(candidates: list[Any], item: Any, ci: bool) -> None:
    expected = any(equal(item, candidate, ci) for candidate in candidates)
    assert (item in Members(candidates, ci)) is expected


def test_a_long_list_is_evaluated_through_its_index() -> None:
    numbers = ",".join(str(n) for n in range(40_000))
    query = parse(f"priority IN {{{numbers}}} OR name IN[c] {{'X', {numbers}}}")
    assert query.matches({"priority": 39_999.0, "name": None})
    assert query.matches({"priority": None, "name": "x"})
    assert not query.matches({"priority": 40_000, "name": "y"})
    assert not query.matches({"priority": True, "name": None})
