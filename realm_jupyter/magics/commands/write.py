"""``%realm_write create|update|delete|add TYPE …``: local writes from a cell.

Values are Extended JSON, so ``{"_id": {"$oid": "…"}, "due": {"$date": "…"}}`` works.
"""

from __future__ import annotations

import argparse
import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from bson.errors import InvalidId

from ...documents import from_extended_json
from ...errors import RealmJupyterError
from ...schema import PropertyType
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


def _key(magics: RealmMagics, object_type: str, text: str | None) -> Any:
    """The primary key as the schema types it: ``66a0…`` (24 hex digits) for an ObjectId key,
    as the ``_id`` column of a DataFrame shows it, or Extended JSON (``{"$oid": "…"}``, ``42``)."""
    if text is None:
        raise RealmJupyterError("%realm_write needs the object's primary key")
    try:
        value = from_extended_json(text)
    except ValueError:
        value = text
    prop = magics.context.realm.schema[object_type].primary_key_property
    if prop.type is PropertyType.STRING:
        return value if isinstance(value, str) else text
    if isinstance(value, str) and prop.type in (PropertyType.OBJECT_ID, PropertyType.UUID):
        with contextlib.suppress(ValueError, InvalidId):  # not an id: the write names the problem
            return ObjectId(value) if prop.type is PropertyType.OBJECT_ID else uuid.UUID(value)
    return value


def run(magics: RealmMagics, args: argparse.Namespace) -> Any:
    realm = magics.context.realm
    with realm.write() as tx:
        if args.action == "create":
            result = tx.create(args.type, _json(args.target, "a JSON document"))
        elif args.action == "update":
            tx.update(args.type, _key(magics, args.type, args.target),
                      _json(args.value, "a JSON object of fields"))
            result = None
        elif args.action == "delete":
            tx.delete(args.type, _key(magics, args.type, args.target))
            result = None
        elif args.action == "add":
            if not args.value or "=" not in args.value:
                raise RealmJupyterError("%realm_write add TYPE KEY FIELD=AMOUNT")
            field, amount = args.value.split("=", 1)
            try:
                number = int(amount)
            except ValueError:
                raise RealmJupyterError(f"the amount in {args.value!r} is not an integer") from None
            tx.add_integer(args.type, _key(magics, args.type, args.target), field.strip(), number)
            result = None
        else:
            raise RealmJupyterError(f"unknown action {args.action!r} (create, update, delete, add)")
    note(f"{args.action} {args.type} applied locally; uploading "
         f"({realm.writes.pending_count()} change(s) waiting)")
    return result
