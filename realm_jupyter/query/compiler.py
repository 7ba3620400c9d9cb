"""AST → ``(sql, params)``: a WHERE condition with Realm's two-valued logic.

SQL's three-valued logic differs from Realm's only under negation: in a positive
position a NULL behaves like FALSE under AND/OR, which is what Realm says for a
comparison with a null field. So the compiler pushes every NOT down to the
leaves (De Morgan; ``ANY`` ↔ ``ALL``/``NONE``) and compiles each leaf in a
positive or a negated form, the negated form spelling out the null case
(``NOT (x > 3)`` → ``(x IS NULL OR x <= 3)``). The positive forms stay plain
``x = ?`` / ``x > ?`` so the engines can use their indexes.

Every constant becomes a bound parameter; identifiers come only from the schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryTypeError, UnsupportedQueryError
from ..schema import ObjectSchema, PropertyType
from .ast import Distinct, Limit, Modifier, Path, Predicate, Sort
from .dialects import Dialect
from .leaves import PredicateCompiler
from .typecheck import resolve

__all__ = ["CompiledQuery", "compile_predicate", "compile_select"]


@dataclass(frozen=True)
class CompiledQuery:
    """A compiled query. Unpacks as ``sql, params`` (the full SELECT and its parameters).

    ``where`` is the bare condition (for combining with permission filters),
    ``where_params`` its parameters, and ``functions`` names the user-defined SQL
    functions the statement needs (SQLite's ``realm_fold`` for ``[c]``).
    """

    sql: str
    params: tuple[Any, ...]
    where: str
    where_params: tuple[Any, ...]
    functions: frozenset[str] = field(default_factory=frozenset)

    def __iter__(self) -> Iterator[Any]:
        yield self.sql
        yield list(self.params)


def compile_predicate(predicate: Predicate, object_schema: ObjectSchema, dialect: Dialect,
                      args: Sequence[Any] = (), *, query: str | None = None,
                      negate: bool = False, alias_prefix: str = "e",
                      param_offset: int = 0) -> tuple[str, list[Any], frozenset[str]]:
    """Compile a predicate to a condition: ``(sql, params, functions)``.

    Raises:
        QueryError: unknown property, incomparable types, missing argument.
        UnsupportedQueryError: the construct does not compile in this dialect.
    """
    compiler = PredicateCompiler(object_schema, dialect, args, query, alias_prefix)
    sql = compiler.predicate(predicate, negate)
    sql, params = _finalize(sql, compiler.params, dialect, param_offset)
    return sql, params, frozenset(compiler.functions)


_MARKER = re.compile("\x00(\\d+)\x00")


def _finalize(sql: str, params: list[Any], dialect: Dialect, offset: int) -> tuple[str, list[Any]]:
    """Replace parameter markers by the dialect's placeholders, params in textual order.

    Leaves are built inside out, so parameters are recorded in an order that need
    not be the order they appear in the text; markers make the final order exact.
    """
    ordered: list[Any] = []

    def placeholder(match: re.Match[str]) -> str:
        ordered.append(params[int(match.group(1))])
        return dialect.placeholder(offset + len(ordered) - 1)

    return _MARKER.sub(placeholder, sql), ordered


def compile_select(predicate: Predicate, modifiers: Sequence[Modifier], object_schema: ObjectSchema,
                   dialect: Dialect, args: Sequence[Any] = (), *, query: str | None = None,
                   table: str | None = None, columns: str = "*") -> CompiledQuery:
    """Compile a full ``SELECT`` over ``table`` (default: the quoted object type name).

    Without modifiers rows come in primary-key order; SORT is stable over that order,
    DISTINCT keeps the first row of each group, LIMIT cuts — in the order written.
    The LIMIT counts are bound parameters too, after the condition's.
    """
    where, where_params, functions = compile_predicate(predicate, object_schema, dialect, args,
                                                       query=query)
    params = list(where_params)
    source = table or dialect.quote(object_schema.name)
    pk = dialect.quote(object_schema.primary_key)
    if not modifiers:
        sql = f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {pk}"
        return CompiledQuery(sql, tuple(params), where, tuple(params), functions)
    if not dialect.supports_local_language:
        construct = type(modifiers[0]).__name__.upper()
        raise UnsupportedQueryError(f"{construct} is only supported in local queries",
                                    construct=construct, query=query,
                                    position=modifiers[0].position)
    # Identifiers come from the schema and constants are bound: no user text in the SQL.
    stages = [f"s0 AS (SELECT *, row_number() OVER (ORDER BY {pk}) AS __realm_order "
              f"FROM {source} WHERE {where})"]
    for index, modifier in enumerate(modifiers, start=1):
        previous = f"s{index - 1}"
        if isinstance(modifier, Sort):
            keys = ", ".join(_sort_key_sql(key.path, key.ascending, object_schema, dialect, query)
                             for key in modifier.keys)
            body = (f"SELECT * EXCLUDE (__realm_order), row_number() OVER (ORDER BY {keys}, "
                    f"__realm_order) AS __realm_order FROM {previous}")
        elif isinstance(modifier, Distinct):
            groups = ", ".join(_sort_key_sql(path, None, object_schema, dialect, query)
                               for path in modifier.paths)
            body = (f"SELECT * FROM {previous} QUALIFY row_number() "
                    f"OVER (PARTITION BY {groups} ORDER BY __realm_order) = 1")
        else:
            assert isinstance(modifier, Limit)
            count = dialect.placeholder(len(params))
            params.append(modifier.count)
            body = f"SELECT * FROM {previous} ORDER BY __realm_order LIMIT {count}"
        stages.append(f"s{index} AS ({body})")
    last = f"s{len(modifiers)}"
    select = "* EXCLUDE (__realm_order)" if columns == "*" else columns
    sql = f"WITH {', '.join(stages)} SELECT {select} FROM {last} ORDER BY __realm_order"
    return CompiledQuery(sql, tuple(params), where, tuple(params[: len(where_params)]), functions)


def _sort_key_sql(path: Path, ascending: bool | None, object_schema: ObjectSchema,
                  dialect: Dialect, query: str | None) -> str:
    ref = resolve(object_schema, path, query)
    if ref.many or ref.target.type is PropertyType.OBJECT:
        raise QueryTypeError(f"cannot sort or group by {path.dotted!r}: it is "
                             f"{ref.steps[-1].describe()}", query=query, position=path.position)
    sql = dialect.quote(path.parts[0])
    for prop in ref.steps[1:]:
        sql = dialect.embedded_site(sql, prop)
    if ascending is None:
        return sql
    return f"{sql} ASC NULLS FIRST" if ascending else f"{sql} DESC NULLS LAST"
