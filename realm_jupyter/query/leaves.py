"""Predicates → SQL conditions, with every NOT pushed down to the leaves.

Each leaf compiles in a positive or a negated form; the negated form spells out
what a null does (``NOT (x > 3)`` → ``(x IS NULL OR x <= 3)``), because Realm's
logic is two-valued and SQL's is not. Positive forms stay plain (``x = ?``,
``x > ?``) so the engines can use their indexes.
"""

from __future__ import annotations

from typing import Any

from ..errors import QueryError, QueryTypeError
from ..schema import Property, PropertyType
from . import evaluate
from .ast import (
    And,
    Between,
    CompareOp,
    Comparison,
    Constant,
    Expr,
    Not,
    Or,
    Path,
    Predicate,
    Quantifier,
)
from .dialect_base import Site
from .operands import SYMBOLS, CompilerBase
from .typecheck import PropertyRef, ValueRef, check_value, resolve, resolve_value
from .values import fold

__all__ = ["LONG_LIST", "PredicateCompiler"]

#: An ``IN`` list longer than this compiles to one bound array instead of a parameter a value.
LONG_LIST = 32

_NEGATED = {CompareOp.EQ: CompareOp.NE, CompareOp.NE: CompareOp.EQ, CompareOp.LT: CompareOp.GE,
            CompareOp.LE: CompareOp.GT, CompareOp.GT: CompareOp.LE, CompareOp.GE: CompareOp.LT}


#: Operands joined flat by one AND/OR; longer chains nest in groups of this many.
GROUP = 64


def _joined(parts: list[str], word: str) -> str:
    """``(a OR b OR …)``, nested in groups so that a long chain stays a shallow tree.

    Engines parse a flat chain into a tree as deep as it is long, and SQLite refuses
    trees deeper than 1,000 ("Expression tree is too large"): grouping keeps the depth
    at ``GROUP`` × log_GROUP(n) — 192 for a million operands.
    """
    while len(parts) > GROUP:
        parts = ["(" + word.join(parts[i : i + GROUP]) + ")" for i in range(0, len(parts), GROUP)]
    return "(" + word.join(parts) + ")"


def _prop(ref: PropertyRef, site: Site | None) -> Property:
    return site.prop if site is not None else ref.target


class PredicateCompiler(CompilerBase):
    """Compiles one predicate; ``params`` collects its constants in creation order."""

    def predicate(self, node: Predicate, negate: bool) -> str:
        if isinstance(node, Not):
            return self.predicate(node.operand, not negate)
        if isinstance(node, And | Or):
            conjunction = isinstance(node, And) != negate
            parts = [self.predicate(op, negate) for op in node.operands]
            # Fold constants (rules expand to them): FALSE absorbs an AND, TRUE an OR.
            if self.constant(not conjunction) in parts:
                return self.constant(not conjunction)
            parts = [part for part in parts if part != self.constant(conjunction)]
            if len(parts) <= 1:
                return parts[0] if parts else self.constant(conjunction)
            return _joined(parts, " AND " if conjunction else " OR ")
        if isinstance(node, Constant):
            return self.constant(node.value != negate)
        if isinstance(node, Between):
            return self.between(node, negate)
        if isinstance(node, Comparison):
            return self.comparison(node, negate)
        raise self.unsupported(f"{type(node).__name__} is not supported", type(node).__name__,
                               node.position)

    def comparison(self, node: Comparison, negate: bool) -> str:
        left_value = resolve_value(node.left, self.args)
        right_value = resolve_value(node.right, self.args)
        if left_value is not None and right_value is not None:
            result = evaluate.evaluate(node, {}, self.args)
            return self.constant(result != negate)
        op = node.op
        left, right = node.left, node.right
        if op is CompareOp.IN:
            if left_value is not None:  # 'x' IN listProperty
                return self.value_in_property(node, left_value, right, negate)
            if right_value is None:     # property IN listProperty
                return self.property_in_property(node, negate)
            return self.property_in_values(node, left, right_value, negate)
        if left_value is not None:      # constant op property: flip
            if op.is_string_op:
                raise QueryTypeError(f"{op.value} needs the property on its left", query=self.query,
                                     position=node.position)
            op, left, right, right_value = op.flipped(), right, left, left_value
        if right_value is None:
            return self.property_vs_property(node, op, left, right, negate)
        return self.property_vs_value(node, op, left, right_value, negate)

    def check_quantifier(self, node: Comparison | Between, ref: PropertyRef, site: Site | None,
                         name: str) -> None:
        """``ANY/ALL/NONE`` needs a list (an aggregate or scalar has a site of its own)."""
        if node.quantifier is not None and site is not None and not ref.many:
            raise QueryTypeError(f"{node.quantifier.value} needs a list, and {name!r} is "
                                 f"{site.prop.describe()}", query=self.query,
                                 position=node.position)

    def check_operator(self, op: CompareOp, ci: bool, prop: Property, name: str,
                       position: int) -> None:
        if (op.is_string_op or ci) and prop.type is not PropertyType.STRING:
            what = "[c]" if ci and not op.is_string_op else op.value
            raise QueryTypeError(f"{what} needs a string, and {name!r} is {prop.describe()}",
                                 query=self.query, position=position)
        if op.is_ordering and prop.type in (PropertyType.BOOL, PropertyType.OBJECT):
            raise QueryTypeError(f"{op.value} cannot order {prop.describe()} values ({name!r})",
                                 query=self.query, position=position)

    def list_vs_list(self, node: Comparison) -> QueryError:
        return self.unsupported("comparing a list with a list is not supported", "list-vs-list",
                                node.position)

    # ------------------------------------------------------------------ property vs constant

    def property_vs_value(self, node: Comparison, op: CompareOp, left: Expr, value: ValueRef,
                          negate: bool) -> str:
        ref, site, _ = self.subject(left)
        name = left.dotted if isinstance(left, Path) else ref.path.dotted
        target = _prop(ref, site)
        if value.is_list:
            if ref.many:
                raise self.list_vs_list(node)
            raise QueryTypeError(f"{op.value} cannot compare {name!r} with a list (use IN)",
                                 query=self.query, position=value.position)
        self.check_quantifier(node, ref, site, name)
        if target.type is PropertyType.OBJECT and value.values[0] is not None:
            raise QueryTypeError(f"an embedded object ({name!r}) can only be compared with nil",
                                 query=self.query, position=value.position)
        constant = check_value(target, value.values[0], value.kinds[0], value.position,
                               self.query, name)
        self.check_operator(op, node.case_insensitive, target, name, node.position)

        def leaf(at: Site, negated: bool) -> str:
            return self.scalar_leaf(op, at, constant, node.case_insensitive, negated)

        if site is None:
            return self.quantified(ref, node.quantifier, negate, leaf)
        return leaf(site, negate)

    def scalar_leaf(self, op: CompareOp, site: Site, value: Any, ci: bool, negate: bool) -> str:
        if value is None:
            if op is CompareOp.EQ or op is CompareOp.NE:
                is_null = (op is CompareOp.EQ) != negate
                return f"{site.sql} IS NULL" if is_null else f"{site.sql} IS NOT NULL"
            return self.constant(negate)
        if op.is_string_op:
            condition = self.string_condition(op, site, value, ci)
            if condition is None:  # empty pattern: true for every non-null string
                return f"{site.sql} IS NULL" if negate else f"{site.sql} IS NOT NULL"
            return f"({site.sql} IS NULL OR NOT ({condition}))" if negate else condition
        effective = _NEGATED[op] if negate else op
        # A null field is "not equal" to any value and "not ordered" against it.
        null_matches = (op is CompareOp.NE) != negate
        if ci:
            equality = op in (CompareOp.EQ, CompareOp.NE)  # orderings keep the fold table
            subject = self.fold(self.dialect.value_sql(site),
                                [fold(value)] if equality and isinstance(value, str) else None)
            param = self.raw_param(fold(value)) + self.dialect.bind(value, site)[1]
            comparison = f"{subject} {SYMBOLS[effective]} {param}"
        else:
            term = self.term(effective, site, value)
            if isinstance(term, bool):
                return self.null_test(site, term, null_matches)
            comparison = term
        if null_matches:
            return f"({site.sql} IS NULL OR {comparison})"
        return comparison

    def string_condition(self, op: CompareOp, site: Site, value: str, ci: bool) -> str | None:
        dialect = self.dialect
        subject = dialect.value_sql(site)
        pattern_value = fold(value) if ci else value
        if ci:
            subject = self.fold(subject, [pattern_value])
        if op is CompareOp.LIKE:
            converted = dialect.like_pattern(pattern_value)
            return dialect.like(subject, self.raw_param(converted))
        if value == "":
            return None
        pattern = self.raw_param(pattern_value)
        if op is CompareOp.BEGINSWITH:
            if dialect.name == "sqlite":
                length = self.raw_param(len(pattern_value))
                return f"substr({subject}, 1, {length}) = {pattern}"
            return dialect.begins_with(subject, pattern)
        if op is CompareOp.ENDSWITH:
            length = self.raw_param(len(pattern_value)) if dialect.name != "duckdb" else ""
            return dialect.ends_with(subject, pattern, length)
        return dialect.contains(subject, pattern)

    # ------------------------------------------------------------------ property vs property

    def property_vs_property(self, node: Comparison, op: CompareOp, left: Expr, right: Expr,
                             negate: bool) -> str:
        left_ref, left_site, _ = self.subject(left)
        right_ref, right_site, _ = self.subject(right)
        if left_site is None and right_site is None:
            raise self.unsupported("comparing two list properties is not supported",
                                   "list-vs-list", node.position)
        if (left_site is None or right_site is None) \
                and not self.dialect.supports_local_language:
            raise self.unsupported("comparing a list property with another property is only "
                                   "supported in local queries", "list comparison", node.position)
        lp, rp = _prop(left_ref, left_site), _prop(right_ref, right_site)
        if PropertyType.OBJECT in (lp.type, rp.type):
            raise QueryTypeError("an embedded object can only be compared with nil",
                                 query=self.query, position=node.position)
        compatible = (lp.type == rp.type or (lp.type.is_numeric and rp.type.is_numeric))
        if not compatible:
            raise QueryTypeError(f"cannot compare {lp.describe()} with {rp.describe()}",
                                 query=self.query, position=node.position)
        self.check_operator(op, node.case_insensitive, lp, lp.name, node.position)
        if op is CompareOp.LIKE:
            raise self.unsupported("LIKE needs a constant pattern", "LIKE", node.position)
        ci = node.case_insensitive
        if left_site is None:
            right_at = right_site
            assert right_at is not None
            return self.quantified(left_ref, node.quantifier, negate,
                                   lambda at, negated: self.pair_leaf(op, at, right_at, ci,
                                                                      negated))
        if right_site is None:
            left_at = left_site
            return self.quantified(right_ref, node.quantifier, negate,
                                   lambda at, negated: self.pair_leaf(op, left_at, at, ci,
                                                                      negated))
        self.check_quantifier(node, left_ref, left_site, left_ref.path.dotted)
        return self.pair_leaf(op, left_site, right_site, ci, negate)

    def pair_leaf(self, op: CompareOp, left: Site, right: Site, ci: bool, negate: bool) -> str:
        dialect = self.dialect
        lsql, rsql = dialect.value_sql(left), dialect.value_sql(right)
        if op.is_ordering:
            lsql, rsql = dialect.ordering_sql(left), dialect.ordering_sql(right)
        if ci:
            lsql, rsql = self.fold(lsql), self.fold(rsql)
        either_null = f"{left.sql} IS NULL OR {right.sql} IS NULL"
        both_null = f"{left.sql} IS NULL AND {right.sql} IS NULL"
        if op in (CompareOp.EQ, CompareOp.NE):
            equal = (op is CompareOp.EQ) != negate
            if equal:
                return f"({both_null} OR ({lsql} = {rsql}))"
            return f"(NOT ({both_null}) AND ({either_null} OR {lsql} <> {rsql}))"
        if op.is_string_op:
            length = dialect.string_length(rsql)
            if op is CompareOp.BEGINSWITH:
                condition = (f"substr({lsql}, 1, {length}) = {rsql}" if dialect.name == "sqlite"
                             else dialect.begins_with(lsql, rsql))
            elif op is CompareOp.ENDSWITH:
                condition = f"({length} = 0 OR {dialect.ends_with(lsql, rsql, length)})"
            else:
                condition = dialect.contains(lsql, rsql)
            if negate:
                return f"({either_null} OR NOT ({condition}))"
            return f"(NOT ({either_null}) AND {condition})"
        effective = _NEGATED[op] if negate else op
        comparison = f"{lsql} {SYMBOLS[effective]} {rsql}"
        return f"({either_null} OR {comparison})" if negate else comparison

    # ------------------------------------------------------------------ IN

    def property_in_values(self, node: Comparison, left: Expr, values: ValueRef,
                           negate: bool) -> str:
        ref, site, _ = self.subject(left)
        name = ref.path.dotted
        if not values.is_list:
            raise QueryTypeError("IN needs a list on its right: {a, b, ...} or a list property",
                                 query=self.query, position=values.position)
        target = _prop(ref, site)
        # ``tags IN {...}`` (some element is listed) compiles everywhere: permission rules
        # need it on the server; check_subscription refuses it in subscriptions.
        self.check_quantifier(node, ref, site, name)
        self.check_operator(CompareOp.EQ, node.case_insensitive, target, name, node.position)
        constants = [check_value(target, v, k, values.position, self.query, name)
                     for v, k in zip(values.values, values.kinds, strict=True)]

        def leaf(at: Site, negated: bool) -> str:
            return self.membership(at, constants, node.case_insensitive, negated)

        if site is None:
            return self.quantified(ref, node.quantifier, negate, leaf)
        return leaf(site, negate)

    def membership(self, site: Site, constants: list[Any], ci: bool, negate: bool) -> str:
        has_null = any(c is None for c in constants)
        bound: list[tuple[Any, str]] = []  # (parameter, cast) per listed value
        for constant in constants:
            if constant is None:
                continue
            if ci:
                bound.append((fold(constant), ""))
                continue
            fitted = self.dialect.fit(CompareOp.EQ, constant, site)
            if not isinstance(fitted, bool):  # False: equals no value the site can hold
                bound.append(self.dialect.bind(fitted[1], site))
        if not bound:
            return self.null_test(site, negate, has_null != negate)
        subject = self.dialect.value_sql(site)
        if ci:
            subject = self.fold(subject, [fold(c) for c in constants if isinstance(c, str)])
        listed = f"{subject} {'NOT IN' if negate else 'IN'} ({self.value_list(bound)})"
        if not negate:
            return f"({listed} OR {site.sql} IS NULL)" if has_null else listed
        if has_null:
            return f"({site.sql} IS NOT NULL AND {listed})"
        return f"({site.sql} IS NULL OR {listed})"

    def value_list(self, bound: list[tuple[Any, str]]) -> str:
        """The inside of ``IN (…)``: one parameter per value, or — for a long list — one
        bound array the engine unnests, so that a 40,000-value list neither exceeds
        SQLite's 32,766 variables nor makes the engine parse 40,000 expressions."""
        casts = {cast for _, cast in bound}
        if len(bound) > LONG_LIST and len(casts) == 1:
            array = self.dialect.value_array([value for value, _ in bound])
            if array is not None:
                return self.dialect.unnest(self.raw_param(array), casts.pop())
        return ", ".join(self.raw_param(value) + cast for value, cast in bound)

    def value_in_property(self, node: Comparison, value: ValueRef, right: Expr,
                          negate: bool) -> str:
        if not isinstance(right, Path):
            raise QueryTypeError("IN needs a list on its right", query=self.query,
                                 position=node.position)
        ref = resolve(self.schema, right, self.query)
        if not ref.many:
            raise QueryTypeError(f"IN needs a list on its right, and {right.dotted!r} is "
                                 f"{ref.target.describe()}", query=self.query,
                                 position=right.position)
        if value.is_list:
            raise self.list_vs_list(node)
        self.check_operator(CompareOp.EQ, node.case_insensitive, ref.target, right.dotted,
                            node.position)
        constant = check_value(ref.target, value.values[0], value.kinds[0], value.position,
                               self.query, right.dotted)

        def leaf(at: Site, negated: bool) -> str:
            return self.scalar_leaf(CompareOp.EQ, at, constant, node.case_insensitive, negated)

        return self.quantified(ref, Quantifier.ANY, negate, leaf)

    def property_in_property(self, node: Comparison, negate: bool) -> str:
        if not isinstance(node.right, Path):  # e.g. ``name IN tags.@count``
            raise QueryTypeError("IN needs a list on its right: {a, b, ...} or a list property",
                                 query=self.query, position=node.right.position)
        _, left_site, _ = self.subject(node.left)
        ref = resolve(self.schema, node.right, self.query)
        if left_site is None or not ref.many:
            raise self.list_vs_list(node)
        if not self.dialect.supports_local_language:
            raise self.unsupported("property IN listProperty is only supported in local queries",
                                   "property IN list", node.position)
        scalar = left_site

        def leaf(at: Site, negated: bool) -> str:
            lsql = self.dialect.value_sql(scalar)
            rsql = self.dialect.value_sql(at)
            if node.case_insensitive:
                lsql, rsql = self.fold(lsql), self.fold(rsql)
            equal = f"({scalar.sql} IS NOT NULL AND {lsql} = {rsql})"
            return f"NOT {equal}" if negated else equal

        return self.quantified(ref, Quantifier.ANY, negate, leaf)

    # ------------------------------------------------------------------ BETWEEN

    def between(self, node: Between, negate: bool) -> str:
        low = resolve_value(node.low, self.args)
        high = resolve_value(node.high, self.args)
        if low is None or high is None or low.is_list or high.is_list:
            raise QueryTypeError("BETWEEN needs two constants: BETWEEN {low, high}",
                                 query=self.query, position=node.position)
        subject = resolve_value(node.value, self.args)
        if subject is not None:
            return self.constant(evaluate.evaluate(node, {}, self.args) != negate)
        ref, site, _ = self.subject(node.value)
        target = _prop(ref, site)
        name = ref.path.dotted
        self.check_quantifier(node, ref, site, name)
        self.check_operator(CompareOp.LT, False, target, name, node.position)
        low_value = check_value(target, low.values[0], low.kinds[0], low.position, self.query, name)
        high_value = check_value(target, high.values[0], high.kinds[0], high.position, self.query,
                                 name)

        def leaf(at: Site, negated: bool) -> str:
            if low_value is None or high_value is None:
                return self.constant(negated)
            # BETWEEN = (x >= low AND x <= high); its negation = (x IS NULL OR x < low OR x > high)
            ops = (CompareOp.LT, CompareOp.GT) if negated else (CompareOp.GE, CompareOp.LE)
            terms = [self.term(ops[0], at, low_value), self.term(ops[1], at, high_value)]
            decided = negated in terms  # one term settles it for every non-null value
            sql_terms = [t for t in terms if not isinstance(t, bool)]
            if decided or not sql_terms:
                return self.null_test(at, negated if decided else not negated, negated)
            if negated:
                return "(" + " OR ".join([f"{at.sql} IS NULL", *sql_terms]) + ")"
            return "(" + " AND ".join(sql_terms) + ")"

        if site is None:
            return self.quantified(ref, node.quantifier, negate, leaf)
        return leaf(site, negate)
