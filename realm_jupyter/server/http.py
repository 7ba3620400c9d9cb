"""HTTP plumbing shared by the routes: JSON bodies, errors, the body-size limit, bearer tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AuthError, RealmJupyterError

__all__ = ["ApiError", "BodyLimit", "bearer_token", "error_response", "json_body",
           "json_response"]

MAX_BODY_BYTES = 16 * 1024 * 1024


class ApiError(RealmJupyterError):
    """An error answered as ``{"error", "error_code"}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.extra = extra


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json",
                    headers=dict(headers or {}))


def error_response(error: ApiError) -> Response:
    headers = {}
    if "retry_after" in error.extra:
        headers["Retry-After"] = str(int(error.extra.pop("retry_after")) + 1)
    return json_response({"error": error.message, "error_code": error.code, **error.extra},
                         status=error.status, headers=headers)


def auth_error(error: AuthError) -> ApiError:
    status = error.status_code or 401
    code = {400: "InvalidParameter", 401: "InvalidSession", 403: "Forbidden",
            409: "AccountNameInUse"}.get(status, "AuthError")
    return ApiError(status, code, error.message)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body.

    Raises:
        ApiError: 400 for a body that is not a JSON object.
    """
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "InvalidParameter", f"the request body is not valid JSON: {error}") \
            from None
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidParameter", "the request body must be a JSON object")
    return data


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "InvalidSession", "missing Authorization: Bearer <token> header")
    return token.strip()


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before reading them whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(_too_large(self.limit))(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large(self.limit)
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "BodyTooLarge", f"the request body is larger than {limit:,} bytes")
