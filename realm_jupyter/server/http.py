"""HTTP plumbing shared by the routes: JSON bodies, errors, the body-size limit, bearer tokens."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AuthError, RealmJupyterError

__all__ = ["ApiError", "BodyLimit", "LogTally", "bearer_token", "error_response", "json_body",
           "json_response"]

MAX_BODY_BYTES = 16 * 1024 * 1024
BODY_TIMEOUT_SECONDS = 60.0
logger = logging.getLogger(__name__)


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
    if error.extra.pop("close", False):  # the client is mid-body: this connection is done
        headers["Connection"] = "close"
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
    """Refuse request bodies over ``limit`` bytes with 413, before reading them whole,
    and bodies still incomplete ``timeout`` seconds after the app first asked for them
    with 408 (a client that sends headers and then trickles or stalls would otherwise
    hold its connection and its request task forever)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await error_response(_too_large(self.limit))(scope, receive, send)
                return
        received = 0
        complete = False
        deadline: float | None = None

        async def limited() -> Message:
            nonlocal received, complete, deadline
            if complete:  # after the body only a disconnect can come: no deadline
                return await receive()
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.timeout
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _body_timeout(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _too_large(self.limit)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)


class LogTally:
    """A warning at most once a minute: the first event at once, then how many since."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.count = 0
        self.logged_at = float("-inf")

    def add(self, *args: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.logged_at >= 60.0:
            logger.warning(self.message, self.count, *args)
            self.count, self.logged_at = 0, now


_SLOW_BODIES = LogTally("answered 408 to %d request(s) whose body did not arrive within %.1f s "
                        "(slow or stalled clients; --body-timeout)")


def _body_timeout(timeout: float) -> ApiError:
    _SLOW_BODIES.add(timeout)
    return ApiError(408, "RequestTimeout", f"the request body did not arrive within {timeout:g} s",
                    close=True)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "BodyTooLarge", f"the request body is larger than {limit:,} bytes")
