"""DuckDB tables of the cache, derived from the schema, and the SQL that ingests wire batches.

Each object type is one table named after it, typed so analysts get real dtypes:
embedded objects are STRUCTs, lists are LISTs, dates TIMESTAMPTZ, decimals
DECIMAL(38, 9), ObjectId and UUID readable VARCHARs. Ingest turns the wire
schema (JSON text for nested values, see ``wire``) into these types inside
DuckDB — vectorised, no Python per row.
"""

from __future__ import annotations

import json
from typing import Any

from ..schema import ObjectSchema, Property, PropertyType

__all__ = ["DECIMAL_TYPE", "create_table_sql", "duckdb_type", "ingest_select_sql", "quote"]

DECIMAL_TYPE = "DECIMAL(38, 9)"
_SCALARS = {
    PropertyType.OBJECT_ID: "VARCHAR", PropertyType.UUID: "VARCHAR", PropertyType.STRING: "VARCHAR",
    PropertyType.INT: "BIGINT", PropertyType.LONG: "BIGINT", PropertyType.DOUBLE: "DOUBLE",
    PropertyType.DECIMAL: DECIMAL_TYPE, PropertyType.BOOL: "BOOLEAN",
    PropertyType.DATE: "TIMESTAMPTZ",
}


def quote(identifier: str) -> str:
    """Quote an identifier from the schema."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(prop: Property) -> str:
    """The DuckDB column type of a property."""
    if prop.type is PropertyType.ARRAY:
        assert prop.items is not None
        return f"{duckdb_type(prop.items)}[]"
    if prop.type is PropertyType.OBJECT:
        assert prop.embedded is not None
        fields = ", ".join(f"{quote(p.name)} {duckdb_type(p)}" for p in prop.embedded)
        return f"STRUCT({fields})"
    return _SCALARS[prop.type]


def _json_structure(prop: Property) -> Any:
    """The structure argument of DuckDB's ``from_json`` for a property."""
    if prop.type is PropertyType.ARRAY:
        assert prop.items is not None
        return [_json_structure(prop.items)]
    if prop.type is PropertyType.OBJECT:
        assert prop.embedded is not None
        return {p.name: _json_structure(p) for p in prop.embedded}
    return _SCALARS[prop.type].replace(" ", "")


def create_table_sql(object_schema: ObjectSchema, *, name: str | None = None,
                     schema: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for an object type (optionally under another name)."""
    table = quote(name or object_schema.name)
    if schema:
        table = f"{quote(schema)}.{table}"
    columns = ", ".join(f"{quote(p.name)} {duckdb_type(p)}" for p in object_schema)
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


def ingest_select_sql(object_schema: ObjectSchema, source: str) -> str:
    """``SELECT`` converting a wire-schema relation ``source`` into the table's types."""
    parts = []
    for prop in object_schema:
        column = quote(prop.name)
        if prop.type in (PropertyType.OBJECT, PropertyType.ARRAY):
            structure = _literal(json.dumps(_json_structure(prop)))
            expr = f"from_json({column}, {structure})"
            if prop.type is PropertyType.ARRAY:
                expr = f"coalesce({expr}, []::{duckdb_type(prop)})"
        elif prop.type is PropertyType.DECIMAL:
            expr = f"CAST({column} AS {DECIMAL_TYPE})"
        elif prop.type is PropertyType.DATE:
            expr = f"CAST({column} AS TIMESTAMPTZ)"
        else:
            expr = column
        parts.append(f"{expr} AS {column}")
    return f"SELECT {', '.join(parts)} FROM {source}"
