"""The explorer's view as a file: CSV or Parquet, written by DuckDB.

DuckDB writes the relation straight to a private temporary file (nested values as DuckDB
prints them in CSV, as real nested columns in Parquet); the bytes go to the browser as a
download. No row passes through Python.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

__all__ = ["export_relation"]


def export_relation(relation: duckdb.DuckDBPyRelation, format: str) -> bytes:
    """``relation`` as the bytes of a ``"csv"`` (with a header line) or ``"parquet"`` file."""
    with tempfile.TemporaryDirectory(prefix="realm-export-") as folder:
        path = Path(folder) / f"export.{format}"
        if format == "csv":
            relation.write_csv(str(path), header=True)
        elif format == "parquet":
            relation.write_parquet(str(path))
        else:
            raise ValueError(f"unknown export format {format!r}")
        return path.read_bytes()
