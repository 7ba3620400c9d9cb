"""The HTTP routes: thin handlers that parse a request, call auth or the sync service, answer.

Paths mirror App Services' client API (docs/protocol.md §1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..errors import AuthError
from .http import ApiError, auth_error, bearer_token, json_body, json_response

if TYPE_CHECKING:
    from .service import SyncService

__all__ = ["routes"]

logger = logging.getLogger(__name__)
APP = "/api/client/v2.0/app/{app_id}"


def _service(request: Request) -> SyncService:
    service: SyncService = request.app.state.service
    if request.path_params.get("app_id", service.app.app_id) != service.app.app_id:
        raise ApiError(404, "AppNotFound", f"no app {request.path_params['app_id']!r} here "
                                           f"(this server serves {service.app.app_id!r})")
    return service


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def location(request: Request) -> Response:
    _service(request)
    base = str(request.base_url).rstrip("/")
    return json_response({"deployment_model": "LOCAL", "location": "local", "hostname": base,
                          "ws_hostname": base.replace("http", "ws", 1)})


async def login(request: Request) -> Response:
    service = _service(request)
    body = await json_body(request)
    tokens = await service.auth.guard.login(service.auth, request.path_params["provider"], body,
                                            _client_address(request))
    return json_response(tokens.as_json())


async def register(request: Request) -> Response:
    service = _service(request)
    body = await json_body(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ApiError(400, "InvalidParameter", "email and password are required")
    service.auth.guard.register(service.auth, _client_address(request))
    try:
        await service.auth.register(email, password)
    except AuthError as error:
        raise auth_error(error) from None
    return json_response({}, status=201)


async def session_refresh(request: Request) -> Response:
    service: SyncService = request.app.state.service
    try:
        token = await service.auth.refresh(bearer_token(request))
    except AuthError as error:
        raise auth_error(error) from None
    return json_response({"access_token": token}, status=201)


async def session_delete(request: Request) -> Response:
    service: SyncService = request.app.state.service
    await service.auth.log_out(bearer_token(request))
    return Response(status_code=204)


async def profile(request: Request) -> Response:
    service: SyncService = request.app.state.service
    user = await service.user(bearer_token(request))
    data: dict[str, Any] = {"email": user.email} if user.email else {}
    return json_response({"user_id": user.id, "identities": [{"id": user.id,
                                                               "provider_type": user.provider}],
                          "data": data, "custom_data": await service.custom_data(user)})


async def schema(request: Request) -> Response:
    service = _service(request)
    await service.user(bearer_token(request))
    app = service.app
    return json_response({
        "schema": app.schema.to_json(),
        "queryable_fields": {t: sorted(app.sync.queryable_fields(t)) for t in app.collections},
        "indexed_queryable_fields": list(app.sync.indexed_queryable_fields_names),
    })


async def clients(request: Request) -> Response:
    service = _service(request)
    user = await service.user(bearer_token(request))
    return json_response({"client_id": await service.register_client(user)}, status=201)


async def query(request: Request) -> Response:
    service = _service(request)
    user = await service.user(bearer_token(request))
    return json_response(await service.submit_query(user, await json_body(request)))


async def mark(request: Request) -> Response:
    service = _service(request)
    user = await service.user(bearer_token(request))
    return json_response(await service.mark(user, await json_body(request)))


async def upload(request: Request) -> Response:
    service = _service(request)
    user = await service.user(bearer_token(request))
    body = await json_body(request)
    return json_response(await service.upload(user, body))


async def stream(request: Request) -> Response:
    service = _service(request)
    user = await service.user(bearer_token(request))
    session = await service.open_stream(user, await json_body(request))
    started = time.monotonic()
    address = _client_address(request)
    logger.info("session start: user %s client %s from %s", user.id, session.client_id, address)

    async def frames() -> AsyncIterator[bytes]:
        service.sessions += 1
        try:
            async for frame in session.frames():
                yield frame
        finally:
            service.sessions -= 1
            logger.info("session end: user %s client %s after %.1f s", user.id, session.client_id,
                        time.monotonic() - started)

    return StreamingResponse(frames(), media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def health(request: Request) -> Response:
    service: SyncService = request.app.state.service
    return json_response({"status": "ok", "app_id": service.app.app_id,
                          "sessions": service.sessions})


routes = [
    Route("/api/health", health, methods=["GET"]),
    Route(f"{APP}/location", location, methods=["GET"]),
    Route(f"{APP}/auth/providers/local-userpass/register", register, methods=["POST"]),
    Route(f"{APP}/auth/providers/{{provider}}/login", login, methods=["POST"]),
    Route("/api/client/v2.0/auth/session", session_refresh, methods=["POST"]),
    Route("/api/client/v2.0/auth/session", session_delete, methods=["DELETE"]),
    Route("/api/client/v2.0/auth/profile", profile, methods=["GET"]),
    Route(f"{APP}/sync/schema", schema, methods=["GET"]),
    Route(f"{APP}/sync/clients", clients, methods=["POST"]),
    Route(f"{APP}/sync/query", query, methods=["POST"]),
    Route(f"{APP}/sync/mark", mark, methods=["POST"]),
    Route(f"{APP}/sync/upload", upload, methods=["POST"]),
    Route(f"{APP}/sync/stream", stream, methods=["POST"]),
]
