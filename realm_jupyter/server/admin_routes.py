"""Admin HTTP routes: custom user data for automation (what App Services did with a trigger).

An admin is an API key created with ``apikeys create --admin`` (its server user
is marked in the store's metadata, ``admin:<user id>``). The key itself is the
credential — ``Authorization: Bearer <admin API key>`` — so automation works
whether or not the app enables the ``api-key`` login provider:

* ``GET  /api/admin/v1/app/{app_id}/users/{user}/custom_data`` → the document;
* ``PUT  /api/admin/v1/app/{app_id}/users/{user}/custom_data`` with the document
  (a JSON object, Extended JSON allowed) → the document as stored.

``{user}`` is a user id or an email address. A change applies at the user's next
session. Any other caller gets 403, and the answer never says whether the user
exists unless the caller is an admin.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import RealmJupyterError, SchemaError
from .http import ApiError, bearer_token, json_body, json_response
from .storage import Store, UserRecord

if TYPE_CHECKING:
    from .service import SyncService

__all__ = ["ADMIN_META_PREFIX", "admin_routes", "grant_admin", "is_admin"]

ADMIN_META_PREFIX = "admin:"


async def grant_admin(store: Store, user_id: str) -> None:
    await store.set_meta(ADMIN_META_PREFIX + user_id, "1")


async def is_admin(store: Store, user_id: str) -> bool:
    return await store.get_meta(ADMIN_META_PREFIX + user_id) == "1"


async def _admin_service(request: Request) -> SyncService:
    service: SyncService = request.app.state.service
    if request.path_params["app_id"] != service.app.app_id:
        raise ApiError(404, "AppNotFound", f"no app {request.path_params['app_id']!r} here")
    key = await service.store.find_api_key(hashlib.sha256(bearer_token(request).encode())
                                           .hexdigest())
    if key is None or key.disabled or not await is_admin(service.store, key.user_id):
        raise ApiError(403, "Forbidden", "this needs an admin API key (apikeys create --admin)")
    return service


async def _target(service: SyncService, name: str) -> UserRecord:
    user = (await service.store.find_user_by_email(name.strip().lower()) if "@" in name
            else await service.store.get_user(name))
    if user is None:
        raise ApiError(404, "UserNotFound", f"no user {name!r}")
    return user


async def custom_data(request: Request) -> Response:
    from .custom_data import get_custom_data, parse_custom_data, set_custom_data

    service = await _admin_service(request)
    user = await _target(service, request.path_params["user"])
    if request.method == "GET":
        return json_response(await get_custom_data(service.app, service.store, user.id,
                                                   user.custom_data))
    body = await json_body(request)
    try:
        document = parse_custom_data(json.dumps(body))
        stored = await set_custom_data(service.app, service.store, user.id, document)
    except SchemaError as error:
        raise ApiError(400, "SchemaValidationFailed", error.message) from None
    except RealmJupyterError as error:
        raise ApiError(400, "InvalidParameter", str(error)) from None
    return json_response(stored)


admin_routes = [
    Route("/api/admin/v1/app/{app_id}/users/{user}/custom_data", custom_data,
          methods=["GET", "PUT"]),
]
