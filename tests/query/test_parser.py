"""The parser: precedence, every spelling, literals, suffixes, and its error messages."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from bson import ObjectId

from realm_jupyter.errors import QueryError, QuerySyntaxError
from realm_jupyter.query import parse
from realm_jupyter.query.ast import (
    Aggregate,
    AggregateOp,
    And,
    Arg,
    Between,
    CompareOp,
    Comparison,
    Constant,
    Distinct,
    Limit,
    ListLiteral,
    Literal,
    LiteralKind,
    Not,
    Or,
    Path,
    Quantifier,
    Sort,
    SortKey,
)


def cmp(name: str, value: object = 1, op: CompareOp = CompareOp.EQ) -> Comparison:
    return Comparison(op, Path(tuple(name.split("."))), Literal.of(value))


A, B, C = cmp("a"), cmp("b"), cmp("c")

# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(("text", "expected"), [
    ("a == 1 OR b == 1 AND c == 1", Or((A, And((B, C))))),
    ("a == 1 AND b == 1 OR c == 1", Or((And((A, B)), C))),
    ("NOT a == 1 AND b == 1", And((Not(A), B))),
    ("NOT (a == 1 AND b == 1)", Not(And((A, B)))),
    ("NOT NOT a == 1", Not(Not(A))),
    ("(a == 1 OR b == 1) AND c == 1", And((Or((A, B)), C))),
    ("a == 1 AND b == 1 AND c == 1", And((A, B, C))),
    ("a == 1 OR b == 1 OR c == 1", Or((A, B, C))),
    ("a == 1 AND (b == 1 AND c == 1)", And((A, And((B, C))))),
    ("((a == 1))", A),
    ("TRUEPREDICATE AND NOT FALSEPREDICATE", And((Constant(True), Not(Constant(False))))),
])
def test_precedence(text: str, expected: object) -> None:
    assert parse(text).predicate == expected


@pytest.mark.parametrize(("left", "right"), [
    ("a == 1", "a = 1"),
    ("a != 1", "a <> 1"),
    ("a == 1 AND b == 1", "a == 1 && b == 1"),
    ("a == 1 AND b == 1", "a == 1 and b == 1"),
    ("a == 1 OR b == 1", "a == 1 || b == 1"),
    ("a == 1 OR b == 1", "a == 1 oR b == 1"),
    ("NOT a == 1", "!a == 1"),
    ("NOT a == 1", "not a == 1"),
    ("NOT (a == 1)", "!(a == 1)"),
    ("TRUEPREDICATE", "truepredicate"),
    ("a == nil", "a == NULL"),
    ("a == true", "a == TRUE"),
    ("ANY tags == 'x'", "SOME tags == 'x'"),
    ("a BEGINSWITH 'x'", "a beginswith 'x'"),
    ("a ==[c] 'x'", "a ==[C] 'x'"),
    ("a == 'x'", 'a == "x"'),
    ("a LIKE 'x'", "a like 'x'"),
    ("x == 1 SORT(a ASC)", "x == 1 sort(a ascending)"),
    ("x == 1 SORT(a DESC)", "x == 1 SORT(a DESCENDING)"),
    ("x == 1 SORT(a ASC)", "x == 1 SORT(a)"),
])
def test_operator_spellings(left: str, right: str) -> None:
    assert parse(left) == parse(right)


@pytest.mark.parametrize(("text", "op"), [
    ("a == 1", CompareOp.EQ), ("a != 1", CompareOp.NE), ("a < 1", CompareOp.LT),
    ("a <= 1", CompareOp.LE), ("a > 1", CompareOp.GT), ("a >= 1", CompareOp.GE),
    ("a BEGINSWITH 'x'", CompareOp.BEGINSWITH), ("a ENDSWITH 'x'", CompareOp.ENDSWITH),
    ("a CONTAINS 'x'", CompareOp.CONTAINS), ("a LIKE 'x'", CompareOp.LIKE),
    ("a IN {1}", CompareOp.IN), ("'x' IN tags", CompareOp.IN),
])
def test_every_comparison_operator(text: str, op: CompareOp) -> None:
    predicate = parse(text).predicate
    assert isinstance(predicate, Comparison) and predicate.op is op


def test_case_insensitive_modifier_and_quantifiers() -> None:
    assert parse("name CONTAINS[c] 'x'").predicate == Comparison(
        CompareOp.CONTAINS, Path(("name",)), Literal.of("x"), case_insensitive=True)
    for word, quantifier in (("ANY", Quantifier.ANY), ("ALL", Quantifier.ALL),
                             ("NONE", Quantifier.NONE)):
        predicate = parse(f"{word} tags ==[c] 'x'").predicate
        assert isinstance(predicate, Comparison)
        assert predicate.quantifier is quantifier and predicate.case_insensitive
    assert parse("ALL counts BETWEEN {1, 2}").predicate == Between(
        Path(("counts",)), Literal.of(1), Literal.of(2), Quantifier.ALL)


# --------------------------------------------------------------------------- literals


def value_of(text: str) -> Literal:
    predicate = parse(f"a == {text}").predicate
    assert isinstance(predicate, Comparison) and isinstance(predicate.right, Literal)
    return predicate.right


@pytest.mark.parametrize(("text", "value"), [
    (r"'it\'s'", "it's"),
    (r'"say \"hi\""', 'say "hi"'),
    (r"'a\\b'", "a\\b"),
    (r"'a\nb\tc\rd'", "a\nb\tc\rd"),
    (r"'\b\f\0\/'", "\b\f\0/"),
    (r"'\u00e9\u00C5'", "éÅ"),
    ("'100%_*?'", "100%_*?"),
    ("'real\nnewline'", "real\nnewline"),
    ("''", ""),
    ('"\'"', "'"),
])
def test_strings_with_escapes(text: str, value: str) -> None:
    assert value_of(text) == Literal(value, LiteralKind.STRING)


UTC = dt.UTC


@pytest.mark.parametrize(("text", "value"), [
    ("2020-01-02@03:04:05", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2020-01-02T03:04:05", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2020-1-2@3:4:5", dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2020-01-02@03:04:05:123456789", dt.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2020-01-02@03:04:05:1000000", dt.datetime(2020, 1, 2, 3, 4, 5, 1000, tzinfo=UTC)),
    ("T0:0", dt.datetime(1970, 1, 1, tzinfo=UTC)),
    ("T1577934245:500000000", dt.datetime(2020, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
    ("T-1:-500000000", dt.datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)),
])
def test_both_date_forms(text: str, value: dt.datetime) -> None:
    literal = value_of(text)
    assert literal.kind is LiteralKind.DATE and literal.value == value
    assert literal.value.tzinfo is not None


def test_ids_and_arguments() -> None:
    assert value_of("oid(5f0000000000000000000001)") == Literal(
        ObjectId("5f0000000000000000000001"), LiteralKind.OBJECT_ID)
    assert value_of("oid( 5F0000000000000000000001 )").value == ObjectId(
        "5f0000000000000000000001")
    assert value_of("uuid(12345678-1234-5678-1234-567812345678)") == Literal(
        uuid.UUID("12345678-1234-5678-1234-567812345678"), LiteralKind.UUID)
    predicate = parse("a == $0 AND $12 IN tags").predicate
    assert isinstance(predicate, And)
    assert predicate.operands == (Comparison(CompareOp.EQ, Path(("a",)), Arg(0)),
                                  Comparison(CompareOp.IN, Arg(12), Path(("tags",))))
    assert parse("a == $0 AND b == $12").argument_count == 13


@pytest.mark.parametrize(("text", "value", "kind"), [
    ("42", 42, LiteralKind.INT), ("-42", -42, LiteralKind.INT),
    ("9223372036854775807", 2**63 - 1, LiteralKind.INT),
    ("-9223372036854775808", -(2**63), LiteralKind.INT),
    ("1.5", 1.5, LiteralKind.FLOAT), ("-1.5", -1.5, LiteralKind.FLOAT),
    (".5", 0.5, LiteralKind.FLOAT), ("1.", 1.0, LiteralKind.FLOAT),
    ("1e3", 1000.0, LiteralKind.FLOAT), ("2.5E-3", 0.0025, LiteralKind.FLOAT),
    ("nil", None, LiteralKind.NULL), ("true", True, LiteralKind.BOOL),
    ("false", False, LiteralKind.BOOL),
])
def test_numbers_and_keywords(text: str, value: object, kind: LiteralKind) -> None:
    assert value_of(text) == Literal(value, kind)


def test_lists_paths_and_aggregates() -> None:
    predicate = parse("a IN {1, 'x', nil, $0}").predicate
    assert isinstance(predicate, Comparison)
    assert predicate.right == ListLiteral((Literal.of(1), Literal.of("x"), Literal.of(None),
                                           Arg(0)))
    assert parse("a IN {}").predicate == Comparison(CompareOp.IN, Path(("a",)), ListLiteral(()))
    assert parse("address.city == 'x'").predicate == cmp("address.city", "x")
    for op in AggregateOp:
        predicate = parse(f"items.{op.value} > 1").predicate
        assert isinstance(predicate, Comparison)
        assert predicate.left == Aggregate(Path(("items",)), op)
    assert parse("items.@sum.price > 1").predicate == Comparison(
        CompareOp.GT, Aggregate(Path(("items",)), AggregateOp.SUM, "price"), Literal.of(1))
    assert parse("tags.@COUNT > 1") == parse("tags.@count > 1")


def test_sort_distinct_limit() -> None:
    query = parse("TRUEPREDICATE SORT(name ASC, address.city DESC) DISTINCT(a, b.c) LIMIT(10)"
                  " LIMIT(0)")
    assert query.predicate == Constant(True)
    assert query.modifiers == (
        Sort((SortKey(Path(("name",)), True), SortKey(Path(("address", "city")), False))),
        Distinct((Path(("a",)), Path(("b", "c")))),
        Limit(10),
        Limit(0),
    )


def test_positions_point_at_each_construct() -> None:
    text = "a == 1 AND NOT (tags.@count > 2) SORT(b ASC) LIMIT(3)"
    query = parse(text)
    predicate = query.predicate
    assert isinstance(predicate, And)
    first, negated = predicate.operands
    assert isinstance(first, Comparison) and first.position == 0
    assert isinstance(first.right, Literal) and first.right.position == text.index("1")
    assert isinstance(negated, Not) and negated.position == text.index("NOT")
    inner = negated.operand
    assert isinstance(inner, Comparison) and inner.left.position == text.index("tags")
    assert [m.position for m in query.modifiers] == [text.index("SORT"), text.index("LIMIT")]


def test_query_text_and_binding() -> None:
    query = parse("owner_id == $0 AND priority IN $1")
    assert query.text == "owner_id == $0 AND priority IN $1"
    bound = query.bind("alice", [1, 2])
    assert bound.render() == "owner_id == 'alice' AND priority IN {1, 2}"
    assert bound.text == bound.render()
    # positions point into the bound text, where the carets of later errors go
    priority = bound.predicate.operands[1].left  # type: ignore[union-attr]
    assert priority.position == bound.text.index("priority")
    assert bound.matches({"owner_id": "alice", "priority": 2})
    with pytest.raises(QueryError, match=r"\$1"):
        query.bind("alice")
    for unrepresentable in (float("nan"), float("inf"), Decimal("NaN"), [1, float("-inf")],
                            object(), 2**63, [-(2**63) - 1]):
        with pytest.raises(QueryError, match=r"\$1"):
            query.bind("alice", unrepresentable)


# --------------------------------------------------------------------------- errors

ERRORS = [
    # (text, fragment of the message, line, column)
    ("(a == 1", "expected ')' to close the '(' at column 1", 1, 8),
    ("a == 1)", "unbalanced ')'", 1, 7),
    ("((a == 1)", "expected ')'", 1, 10),
    ("a ==", "expected a value after '=='", 1, 5),
    ("a == 1 AND\nb == ", "expected a value after '=='", 2, 6),
    ("a !=\n\n  AND b == 1", "expected a value after '!='", 3, 3),
    ("a ==[d] 1", "unsupported modifier [d]", 1, 5),
    ("a <[c] 1", "[c] cannot be used with <", 1, 4),
    ("a + 1 == 2", "arithmetic ('+') is not supported", 1, 3),
    ("a == b * 2", "arithmetic ('*')", 1, 8),
    ("a == 1 / 2", "arithmetic ('/')", 1, 8),
    ("a == 'abc", "unterminated string: expected a closing '", 1, 6),
    ('a == "abc\'', 'unterminated string: expected a closing "', 1, 6),
    ("a == 'x\\q'", "unknown escape \\q", 1, 8),
    ("a == '\\u12'", "four hex digits", 1, 7),
    ("", "expected a query but found nothing", 1, 1),
    ("a", "expected a comparison operator", 1, 2),
    ("a == 1 b", "expected AND, OR or the end of the query but found 'b'", 1, 8),
    ("a BETWEEN {1}", "BETWEEN needs exactly two values", 1, 3),
    ("a IN {1, {2}}", "lists cannot be nested", 1, 10),
    ("a IN {1, 2", "expected ',' or '}' in the list", 1, 11),
    ("tags.@links > 1", "backlinks (@links) is not supported", 1, 6),
    ("tags.@foo > 1", "unknown aggregate @foo", 1, 6),
    ("tags.@count.x > 1", "nothing can follow @count", 1, 12),
    ("a == oid(123)", "expected oid(<24 hex digits>)", 1, 6),
    ("a == uuid(xyz)", "expected uuid(", 1, 6),
    ("a == $", "expected an argument number after '$'", 1, 6),
    ("a == 2020-13-01@00:00:00", "invalid date", 1, 6),
    ("SUBQUERY(x, $x, $x.a == 1).@count > 0", "SUBQUERY is not supported", 1, 1),
    ("a == 1 SORT(b", "expected ')' to close SORT(", 1, 14),
    ("a == 1 LIMIT(-1)", "LIMIT needs a non-negative whole number", 1, 14),
    ("a == 1 LIMIT 5", "expected '(' after LIMIT", 1, 14),
    ("a == 1 SORT(b.@count ASC)", "aggregates cannot be used here", 1, 13),
    ("in == 1", "reserved words cannot name properties", 1, 1),
    ("a == 99999999999999999999", "integer out of the 64-bit range", 1, 6),
    ("a == 1e400", "number out of range", 1, 6),
    ("a == ٣", "unexpected character", 1, 6),
    ("a == 1 OR", "expected a property or value but found the end of the query", 1, 10),
    ("()", "expected a condition inside '( )'", 1, 2),
]


@pytest.mark.parametrize(("text", "fragment", "line", "column"), ERRORS)
def test_syntax_errors_say_what_was_expected_and_where(text: str, fragment: str, line: int,
                                                       column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    error = caught.value
    assert fragment in error.message
    assert (error.line, error.column) == (line, column)
    assert str(error).endswith(f"(line {line}, column {column})")
    rendered = error.render().splitlines()
    assert rendered[0] == error.message
    assert rendered[-1] == "    " + " " * (column - 1) + "^"
    assert isinstance(error, ValueError)


def test_non_text_is_refused() -> None:
    with pytest.raises(QuerySyntaxError, match="must be a string"):
        parse(42)  # type: ignore[arg-type]
