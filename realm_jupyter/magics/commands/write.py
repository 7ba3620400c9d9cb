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

from ...client.session import SessionState
from ...documents import from_extended_json
from ...errors import RealmJupyterError, SyncTimeoutError
from ...schema import PropertyType
from ..display import NoteLine, note

if TYPE_CHECKING:
    from ..extension import RealmMagics

WRITE_WAIT = 10.0  # seconds a %realm_write cell waits for the server's answer


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
    """The registered line magic (``%time``, a ``def``): writes, and does not wait."""
    realm = magics.context.realm
    result = _write(magics, args)
    note(f"{args.action} {args.type} applied locally; uploading "
         f"({realm.writes.pending_count()} change(s) waiting)")
    return result


async def run_and_confirm(magics: RealmMagics, args: argparse.Namespace) -> Any:
    """A ``%realm_write`` line of a cell: write, then wait (briefly) for the server's answer.

    The cell ends once the write is acknowledged and its outcome downloaded, so a
    compensating write's warning appears under this cell, not under whichever cell runs
    next. A paused session, or one that does not answer within ``WRITE_WAIT`` seconds,
    leaves the upload to the background and says so.
    """
    realm = magics.context.realm
    result = _write(magics, args)
    what = f"{args.action} {args.type}"
    session = realm.session
    if session.state is not SessionState.ACTIVE:
        note(f"{what} applied locally; it uploads when sync resumes (%realm_resume)")
        return result
    line = NoteLine(f"{what} applied locally; uploading…")
    reverted_before = len(realm.rejected_writes())
    try:
        await session.wait_for_upload(WRITE_WAIT)
        await session.wait_for_download(WRITE_WAIT)
    except SyncTimeoutError:
        line.update(f"⚠ {what} applied locally; not acknowledged within {WRITE_WAIT:g} s "
                    "(it uploads in the background)", level="warning")
        return result
    if len(realm.rejected_writes()) > reverted_before:
        line.update(f"⚠ {what}: the server reverted it (below)", level="warning")
    else:
        line.update(f"{what} applied locally and accepted by the server", level="success")
    return result


def _write(magics: RealmMagics, args: argparse.Namespace) -> Any:
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
    return result
