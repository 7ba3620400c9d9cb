"""``%realm_write create|update|delete|add TYPE …``: local writes from a cell.

Values are Extended JSON, so ``{"_id": {"$oid": "…"}, "due": {"$date": "…"}}`` works.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...documents import from_extended_json
from ...errors import RealmJupyterError
from ..display import note

if TYPE_CHECKING:
    from ..extension import RealmMagics


def _json(text: str | None, what: str) -> Any:
    if text is None:
        raise RealmJupyterError(f"%realm_write needs {what}")
    try:
        return from_extended_json(text)
    except ValueError as error:
        raise RealmJupyterError(f"{what} is not valid (Extended) JSON: {error}") from None


def _key(magics: RealmMagics, text: str | None) -> Any:
    if text is None:
        raise RealmJupyterError("%realm_write needs the object's primary key")
    try:
        return from_extended_json(text)
    except ValueError:
        return text


def run(magics: RealmMagics, args: argparse.Namespace) -> Any:
    realm = magics.context.realm
    with realm.write() as tx:
        if args.action == "create":
            result = tx.create(args.type, _json(args.target, "a JSON document"))
        elif args.action == "update":
            tx.update(args.type, _key(magics, args.target), _json(args.value, "a JSON object of fields"))
            result = None
        elif args.action == "delete":
            tx.delete(args.type, _key(magics, args.target))
            result = None
        elif args.action == "add":
            if not args.value or "=" not in args.value:
                raise RealmJupyterError("%realm_write add TYPE KEY FIELD=AMOUNT")
            field, amount = args.value.split("=", 1)
            tx.add_integer(args.type, _key(magics, args.target), field.strip(), int(amount))
            result = None
        else:
            raise RealmJupyterError(f"unknown action {args.action!r} (create, update, delete, add)")
    note(f"{args.action} {args.type} applied locally; uploading "
         f"({realm.writes.pending_count()} change(s) waiting)")
    return result
