"""``%realm_sql`` / ``%%realm_sql``: DuckDB SQL over the cache (one table per object type)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...errors import RealmJupyterError

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, sql: str) -> pd.DataFrame:
    sql = sql.strip()
    if not sql:
        raise RealmJupyterError("%realm_sql needs a statement",
                                hint='%realm_sql SELECT status, count(*) FROM Item GROUP BY status')
    return magics.context.realm.sql(sql)
