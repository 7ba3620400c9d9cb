"""DataFrames out of the cache: through Arrow, with real dtypes.

``to_arrow_table().to_pandas()`` is several times faster than DuckDB's ``.df()``
for wide tables, and mapping nested and decimal columns to ``pd.ArrowDtype``
keeps them typed (no object columns of dicts) and zero-copy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["to_pandas"]


def _dtype(arrow_type: pa.DataType) -> Any:
    if (pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type)
            or pa.types.is_large_list(arrow_type) or pa.types.is_decimal(arrow_type)
            or pa.types.is_map(arrow_type)):
        return pd.ArrowDtype(arrow_type)
    return None


def to_pandas(table: pa.Table, index: str | None = None) -> pd.DataFrame:
    """An Arrow table as a DataFrame; ``index`` names a column to use as the index."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_dtype)
    if index is not None and index in frame.columns:
        frame = frame.set_index(index)
    return frame
