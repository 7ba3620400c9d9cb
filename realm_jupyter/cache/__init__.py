"""The local DuckDB cache: typed tables, sync metadata, atomic apply, DataFrames."""

from .frames import to_pandas
from .store import Cache, default_cache_path

__all__ = ["Cache", "default_cache_path", "to_pandas"]
