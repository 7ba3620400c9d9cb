"""Refresh tokens, their families and API keys in the SQL stores (the token lifecycle).

A *family* is one login: every refresh token rotated from it belongs to it, and
revoking it (log out, reuse of a retired token, a revoked API key, a disabled
user) revokes them all at once. Access tokens name their family (``sid``), so a
request or an open stream can tell that its login was revoked.

Stores made before families existed get the new columns on open; their refresh
tokens have no family and get one at their first rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from .base import ApiKeyRecord, RefreshTokenRecord, TokenFamilyRecord

__all__ = ["CredentialsSQL"]

T = TypeVar("T")

_TOKEN_COLUMNS = "token_hash, user_id, expires_at, revoked, family_id, retired"
_FAMILY_COLUMNS = "id, user_id, api_key_id, created_at, revoked"
_KEY_COLUMNS = "id, user_id, name, key_hash, created_at, disabled"


def _family(row: Sequence[Any]) -> TokenFamilyRecord:
    return TokenFamilyRecord(row[0], row[1], row[2], int(row[3]), bool(row[4]))


class CredentialsSQL:
    """Mixed into ``SQLStore``: the SQL of the token lifecycle, for both dialects."""

    dialect: str

    if TYPE_CHECKING:
        def sql(self, text: str) -> str: ...
        async def _run(self, fn: Callable[[], T]) -> T: ...
        def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        def _connection(self) -> AbstractContextManager[Any]: ...
        def _begin_write(self, conn: Any) -> None: ...

    # ------------------------------------------------------------------ schema

    def _credentials_ddl(self) -> list[str]:
        text, integer, flag, false = (("TEXT", "INTEGER", "INTEGER", "0")
                                      if self.dialect == "sqlite"
                                      else ("text", "bigint", "boolean", "false"))
        return [
            f"CREATE TABLE IF NOT EXISTS _realm_token_families (id {text} PRIMARY KEY, "
            f"user_id {text} NOT NULL, api_key_id {text}, created_at {integer} NOT NULL, "
            f"revoked {flag} NOT NULL DEFAULT {false})",
            "CREATE INDEX IF NOT EXISTS _realm_token_families_user ON _realm_token_families "
            "(user_id)",
            "CREATE INDEX IF NOT EXISTS _realm_token_families_key ON _realm_token_families "
            "(api_key_id)",
        ]

    def _migrate_credentials(self, conn: Any) -> None:
        """Add the family columns to a store made before they existed (idempotent)."""
        flag, false = ("INTEGER", "0") if self.dialect == "sqlite" else ("boolean", "false")
        text = "TEXT" if self.dialect == "sqlite" else "text"
        wanted = {"family_id": text, "retired": f"{flag} NOT NULL DEFAULT {false}"}
        if self.dialect == "sqlite":
            rows = conn.execute("PRAGMA table_info(_realm_refresh_tokens)").fetchall()
            present = {str(row[1]) for row in rows}
            for column, definition in wanted.items():
                if column not in present:
                    conn.execute(f"ALTER TABLE _realm_refresh_tokens ADD COLUMN {column} "
                                 f"{definition}")
        else:
            for column, definition in wanted.items():
                conn.execute(f"ALTER TABLE _realm_refresh_tokens ADD COLUMN IF NOT EXISTS "
                             f"{column} {definition}")
        conn.execute("CREATE INDEX IF NOT EXISTS _realm_refresh_tokens_family ON "
                     "_realm_refresh_tokens (family_id)")

    # ------------------------------------------------------------------ refresh tokens

    async def add_refresh_token(self, token: RefreshTokenRecord) -> None:
        statement = self.sql(f"INSERT INTO _realm_refresh_tokens ({_TOKEN_COLUMNS}) "
                             "VALUES (?, ?, ?, ?, ?, ?)")
        params = (token.token_hash, token.user_id, token.expires_at, token.revoked,
                  token.family_id, token.retired)
        await self._run(lambda: self._execute(statement, params))

    async def find_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            f"SELECT {_TOKEN_COLUMNS} FROM _realm_refresh_tokens WHERE token_hash = ?"),
            (token_hash,)))
        if not rows:
            return None
        r = rows[0]
        return RefreshTokenRecord(r[0], r[1], int(r[2]), bool(r[3]), r[4], bool(r[5]))

    async def rotate_refresh_token(self, old_hash: str, new: RefreshTokenRecord) -> bool:
        retire = self.sql("UPDATE _realm_refresh_tokens SET retired = ? WHERE token_hash = ? "
                          "AND retired = ? AND revoked = ? RETURNING token_hash")
        insert = self.sql(f"INSERT INTO _realm_refresh_tokens ({_TOKEN_COLUMNS}) "
                          "VALUES (?, ?, ?, ?, ?, ?)")

        def run() -> bool:
            with self._connection() as conn:
                self._begin_write(conn)
                won = conn.execute(retire, (True, old_hash, False, False)).fetchall()
                if won:
                    conn.execute(insert, (new.token_hash, new.user_id, new.expires_at, False,
                                          new.family_id, False))
                conn.commit()
                return bool(won)

        return await self._run(run)

    # ------------------------------------------------------------------ families

    async def add_token_family(self, family: TokenFamilyRecord) -> None:
        statement = self.sql(f"INSERT INTO _realm_token_families ({_FAMILY_COLUMNS}) "
                             "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
        params = (family.id, family.user_id, family.api_key_id, family.created_at,
                  family.revoked)
        await self._run(lambda: self._execute(statement, params))

    async def get_token_family(self, family_id: str) -> TokenFamilyRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            f"SELECT {_FAMILY_COLUMNS} FROM _realm_token_families WHERE id = ?"), (family_id,)))
        return _family(rows[0]) if rows else None

    async def revoke_token_families(self, *, family_id: str | None = None,
                                    user_id: str | None = None,
                                    api_key_id: str | None = None) -> int:
        selectors = {"id": family_id, "user_id": user_id, "api_key_id": api_key_id}
        chosen = [(column, value) for column, value in selectors.items() if value is not None]
        if len(chosen) != 1:
            raise ValueError("revoke_token_families takes exactly one selector")
        column, value = chosen[0]
        families = self.sql(f"UPDATE _realm_token_families SET revoked = ? WHERE {column} = ? "
                            "RETURNING id")
        tokens = self.sql("UPDATE _realm_refresh_tokens SET revoked = ? WHERE family_id = ?")
        legacy = self.sql("UPDATE _realm_refresh_tokens SET revoked = ? WHERE user_id = ? "
                          "AND family_id IS NULL")

        def run() -> int:
            with self._connection() as conn:
                self._begin_write(conn)
                ids = [str(row[0]) for row in conn.execute(families, (True, value)).fetchall()]
                for revoked in ids:
                    conn.execute(tokens, (True, revoked))
                if column == "user_id":  # tokens issued before families existed
                    conn.execute(legacy, (True, value))
                conn.commit()
                return len(ids)

        return await self._run(run)

    # ------------------------------------------------------------------ users and keys

    async def set_user_disabled(self, user_id: str, disabled: bool) -> bool:
        statement = self.sql("UPDATE _realm_users SET disabled = ? WHERE id = ? RETURNING id")
        rows = await self._run(lambda: self._query(statement, (disabled, user_id)))
        return bool(rows)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._run(lambda: self._query(
            f"SELECT {_KEY_COLUMNS} FROM _realm_api_keys ORDER BY created_at, id"))
        return [ApiKeyRecord(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5])) for r in rows]

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            f"SELECT {_KEY_COLUMNS} FROM _realm_api_keys WHERE id = ?"), (key_id,)))
        return None if not rows else ApiKeyRecord(rows[0][0], rows[0][1], rows[0][2], rows[0][3],
                                                  int(rows[0][4]), bool(rows[0][5]))

    async def set_api_key_disabled(self, key_id: str, disabled: bool) -> bool:
        statement = self.sql("UPDATE _realm_api_keys SET disabled = ? WHERE id = ? RETURNING id")
        rows = await self._run(lambda: self._query(statement, (disabled, key_id)))
        return bool(rows)
