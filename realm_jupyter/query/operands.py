"""The compiler's plumbing: bound parameters, and the SQL *sites* of properties.

A site is an SQL expression holding one value of a known property type (see
``dialect_base.Site``): a column, a field inside an embedded object, an element of a
list (bound to a lambda or a correlated alias) or an aggregate over a list. The
leaves in ``leaves`` compare sites with constants and with each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import UnsupportedQueryError
from ..schema import ObjectSchema
from .ast import Aggregate, AggregateOp, CompareOp, Expr, Path, Quantifier
from .dialect_base import Dialect, Site
from .dialects import FOLD_PARAMS
from .typecheck import PropertyRef, aggregate_property, resolve
from .values import SENTINEL, lower_fold_guards

__all__ = ["SYMBOLS", "CompilerBase", "Leaf"]

SYMBOLS = {CompareOp.EQ: "=", CompareOp.NE: "<>", CompareOp.LT: "<", CompareOp.LE: "<=",
           CompareOp.GT: ">", CompareOp.GE: ">="}

#: ``leaf(site, negated)``: the SQL of one comparison at ``site``.
Leaf = Callable[[Site, bool], str]


class CompilerBase:
    """Parameters, sites and quantifiers; the leaves build on these."""

    def __init__(self, object_schema: ObjectSchema, dialect: Dialect, args: Sequence[Any],
                 query: str | None, alias_prefix: str) -> None:
        self.schema = object_schema
        self.dialect = dialect
        self.args = args
        self.query = query
        self.params: list[Any] = []
        self.functions: set[str] = set()
        self.aliases = (f"{alias_prefix}{n}" for n in itertools.count(1))

    # ------------------------------------------------------------------ parameters

    def bind(self, value: Any, site: Site) -> str:
        """A parameter holding ``value`` converted for ``site``, with the dialect's cast."""
        converted, cast = self.dialect.bind(value, site)
        return self.raw_param(converted) + cast

    def raw_param(self, value: Any) -> str:
        """A parameter marker; ``compiler`` turns markers into placeholders in text order."""
        self.params.append(value)
        return f"\x00{len(self.params) - 1}\x00"

    def fold(self, sql: str, patterns: list[str] | None = None) -> str:
        """``sql`` case-folded as ``[c]`` folds. Given the (folded) constants it will be
        compared with by equality or a string operator, DuckDB uses its fast ``lower()``
        when that provably gives the same answer (``values.lower_fold_guards``)."""
        if patterns is not None and self.dialect.name == "duckdb":
            guards = lower_fold_guards(patterns)
            if guards is not None:
                for letter in guards:
                    sql = f"replace({sql}, {self.raw_param(letter)}, {self.raw_param(SENTINEL)})"
                return f"lower({sql})"
        if self.dialect.name == "sqlite":
            return self.dialect.fold(sql, [])  # SQLite has no translate(): spelled out in SQL
        bound = [self.raw_param(FOLD_PARAMS[0]), self.raw_param(FOLD_PARAMS[1])]
        return self.dialect.fold(sql, bound)

    def unsupported(self, message: str, construct: str, position: int) -> UnsupportedQueryError:
        return UnsupportedQueryError(message, construct=construct, query=self.query,
                                     position=position)

    def constant(self, value: bool) -> str:
        return self.dialect.true() if value else self.dialect.false()

    def null_test(self, site: Site, non_null: bool, null: bool) -> str:
        """A condition whose result depends only on whether ``site`` is null."""
        if non_null == null:
            return self.constant(non_null)
        return f"{site.sql} IS NOT NULL" if non_null else f"{site.sql} IS NULL"

    def term(self, op: CompareOp, site: Site, value: Any) -> str | bool:
        """``site op value`` for a non-null site, or a bool when that is the same for
        every value the site can store (a decimal literal finer than the column)."""
        fitted = self.dialect.fit(op, value, site)
        if isinstance(fitted, bool):
            return fitted
        op, value = fitted
        subject = self.dialect.ordering_sql(site) if op.is_ordering else self.dialect.value_sql(site)
        return f"{subject} {SYMBOLS[op]} {self.bind(value, site)}"

    # ------------------------------------------------------------------ sites

    def subject(self, node: Expr) -> tuple[PropertyRef, Site | None, Aggregate | None]:
        """A property expression as (ref, site unless it crosses a list, aggregate)."""
        if isinstance(node, Aggregate):
            ref = resolve(self.schema, node.path, self.query)
            result = aggregate_property(ref, node, self.query)
            return ref, Site(self.aggregate_sql(node, ref), result), node
        assert isinstance(node, Path)
        ref = resolve(self.schema, node, self.query)
        if ref.many:
            return ref, None, None
        return ref, Site(self.path_sql(ref), ref.target), None

    def path_sql(self, ref: PropertyRef) -> str:
        if not ref.top_level and not self.dialect.supports_local_language:
            raise self.unsupported(f"dotted paths ({ref.path.dotted}) are only supported in "
                                   "local queries", "dotted path", ref.path.position)
        sql = self.dialect.quote(ref.path.parts[0])
        for prop in ref.steps[1:]:
            sql = self.dialect.embedded_site(sql, prop)
        return sql

    def list_sql(self, ref: PropertyRef) -> str:
        assert ref.list_index is not None
        prefix = PropertyRef(Path(ref.path.parts[: ref.list_index + 1], position=ref.path.position),
                             ref.steps[: ref.list_index + 1], None, ref.steps[ref.list_index])
        return self.path_sql(prefix)

    def element(self, ref: PropertyRef, alias: str) -> Site:
        """The site of the value a list path reaches, for one element bound to ``alias``."""
        assert ref.list_index is not None
        list_prop = ref.steps[ref.list_index]
        inner = ref.steps[ref.list_index + 1 :]
        if not inner:
            return self.dialect.element_site(alias, list_prop.element, None)
        if len(inner) > 1 and not self.dialect.supports_local_language:
            raise self.unsupported("dotted paths are only supported in local queries",
                                   "dotted path", ref.path.position)
        site = self.dialect.element_site(alias, list_prop.element, inner[0])
        sql = site.sql
        for prop in inner[1:]:
            sql = self.dialect.embedded_site(sql, prop)
        return Site(sql, inner[-1], site.storage)

    def aggregate_sql(self, node: Aggregate, ref: PropertyRef) -> str:
        if node.op in (AggregateOp.COUNT, AggregateOp.SIZE):
            if ref.many:
                return self.dialect.list_length(self.list_sql(ref))
            return self.dialect.string_length(self.path_sql(ref))
        field_prop = None
        if node.field is not None:
            if not self.dialect.supports_local_language:
                raise self.unsupported(f"{node.op.value}.{node.field} is only supported in local "
                                       "queries", node.op.value, node.position)
            assert ref.target.embedded is not None
            field_prop = ref.target.embedded[node.field]
        list_prop = ref.steps[ref.list_index or 0]
        return self.dialect.list_aggregate(node.op.value, self.list_sql(ref), list_prop.element,
                                           next(self.aliases), field_prop)

    def quantified(self, ref: PropertyRef, quantifier: Quantifier | None, negate: bool,
                   leaf: Leaf) -> str:
        """Compile ``leaf(site, negated)`` over the elements of a list path."""
        quantifier = quantifier or Quantifier.ANY
        alias = next(self.aliases)
        site = self.element(ref, alias)
        list_sql = self.list_sql(ref)
        list_prop = ref.steps[ref.list_index or 0]
        # ANY p  = exists(p);   ALL p = not exists(not p);   NONE p = not exists(p)
        inner_negated = quantifier is Quantifier.ALL
        exists = self.dialect.any_element(list_sql, list_prop.element, alias,
                                          leaf(site, inner_negated))
        positive = quantifier is Quantifier.ANY
        if positive != negate:
            return exists
        return f"NOT ({exists})"
