"""``%realm_sql`` / ``%%realm_sql``: DuckDB SQL over the cache (one table per object type)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from ...errors import CacheError, RealmJupyterError

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, sql: str) -> pd.DataFrame:
    sql = sql.strip()
    if not sql:
        raise RealmJupyterError("%realm_sql needs a statement",
                                hint='%realm_sql SELECT status, count(*) FROM Item GROUP BY status')
    realm = magics.context.realm
    try:
        return realm.sql(sql)
    except CacheError as error:
        near = re.search(r'at or near "([^"]+)"', error.message)
        if error.hint is None and near and near.group(1) in realm.schema.names:
            name = near.group(1)
            error.hint = f'{name} is an SQL keyword: quote the table name, FROM "{name}"'
        raise
