"""The Realm Query Language: parse, evaluate in Python, compile to SQL.

A pipeline, one module a stage: ``tokens`` → ``parser`` → ``ast`` (frozen
dataclasses) → ``evaluate`` (Python) or ``typecheck`` → ``compiler`` (SELECT and
modifiers) over ``leaves`` (predicates, NOT pushed down) and ``operands`` (bound
parameters, property sites) → ``dialects`` (SQL). ``render`` is the inverse of
the parser; ``values`` holds Realm's value semantics, the reference every
engine is tested against. ``subscription`` enforces the Flexible Sync subset;
``mongo`` parses the MongoDB filters of App Services rules into the same AST.
"""

from .ast import CompareOp, LiteralKind, Quantifier
from .compiler import CompiledQuery
from .dialects import Dialect, DuckDBDialect, PostgreSQLDialect, SQLiteDialect, get_dialect
from .mongo import parse_filter
from .query import Query, parse
from .render import render
from .subscription import MAX_QUERY_BYTES, QueryableFields, check_subscription
from .values import fold

__all__ = [
    "MAX_QUERY_BYTES",
    "CompareOp",
    "CompiledQuery",
    "Dialect",
    "DuckDBDialect",
    "LiteralKind",
    "PostgreSQLDialect",
    "Quantifier",
    "Query",
    "QueryableFields",
    "SQLiteDialect",
    "check_subscription",
    "fold",
    "get_dialect",
    "parse",
    "parse_filter",
    "render",
]
