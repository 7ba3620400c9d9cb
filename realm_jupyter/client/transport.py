"""HTTP to the sync server through an injected ``httpx.AsyncClient``.

Everything that leaves the process goes through here: JSON requests (with one
refresh-and-retry on an expired access token) and the download stream, parsed
into frames (docs/protocol.md §5). httpx errors become realm_jupyter errors at
this boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from ..errors import AuthError, ProtocolError, ServerUnavailableError, SyncError
from ..wire import PROTOCOL_VERSION

__all__ = ["Frame", "RequestError", "Transport", "not_a_sync_server", "read_frames"]

Frame = tuple[dict[str, Any], bytes | None]
TokenSource = Callable[[bool], Awaitable[str]]
STREAM_READ_TIMEOUT = 45.0  # three missed pings
MAX_HEADER_BYTES = 16 * 1024 * 1024  # a header line longer than this is not a frame
MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024  # an announced payload larger than this is not one either


class RequestError(SyncError):
    """The server refused a request; ``body`` is its JSON answer."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        message = str(body.get("error") or f"HTTP {status}")
        super().__init__(message)
        self.status = status
        self.body = dict(body)
        self.error_code = str(body.get("error_code", ""))


class Transport:
    """Requests to one app on one server."""

    def __init__(self, base_url: str, app_id: str, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._owns_http = http is None

    def app_path(self, path: str) -> str:
        return f"{self.base_url}/api/client/v2.0/app/{self.app_id}/{path.lstrip('/')}"

    def root_path(self, path: str) -> str:
        return f"{self.base_url}/api/client/v2.0/{path.lstrip('/')}"

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def request(self, method: str, url: str, *, json: Any = None,
                      token: str | None = None) -> Any:
        """One JSON request.

        Raises:
            ServerUnavailableError: the server could not be reached.
            AuthError: 401 (the token was refused).
            RequestError: any other 4xx/5xx, with the server's JSON.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self.http.request(method, url, json=json, headers=headers)
        except httpx.TransportError as error:
            raise ServerUnavailableError(f"cannot reach the sync server at {self.base_url}: "
                                         f"{_describe(error)}",
                                         hint="is the server running? (realm-jupyter serve)") \
                from error
        return _answer(response, self.base_url)

    async def authed(self, method: str, path: str, tokens: TokenSource, *,
                     json: Any = None) -> Any:
        """A request with the user's access token, refreshed once if it expired."""
        url = self.app_path(path)
        try:
            return await self.request(method, url, json=json, token=await tokens(False))
        except AuthError as error:
            if error.status_code != 401:
                raise
        return await self.request(method, url, json=json, token=await tokens(True))

    @asynccontextmanager
    async def stream(self, body: Mapping[str, Any], tokens: TokenSource
                     ) -> AsyncIterator[AsyncIterator[Frame]]:
        """Open the download stream; yields an async iterator of frames."""
        url = self.app_path("sync/stream")
        payload = {"protocol": PROTOCOL_VERSION, **body}
        timeout = httpx.Timeout(30.0, connect=10.0, read=STREAM_READ_TIMEOUT)
        for refresh in (False, True):
            token = await tokens(refresh)
            try:
                request = self.http.build_request(
                    "POST", url, json=payload, timeout=timeout,
                    headers={"Authorization": f"Bearer {token}"})
                response = await self.http.send(request, stream=True)
            except httpx.TransportError as error:
                raise ServerUnavailableError(f"cannot reach the sync server at {self.base_url}: "
                                             f"{_describe(error)}") from error
            if response.status_code == 401 and not refresh:
                await response.aclose()
                continue
            try:
                if response.status_code >= 400:
                    await response.aread()
                    _answer(response, self.base_url)
                yield read_frames(response.aiter_raw())
            except httpx.TransportError as error:
                raise ServerUnavailableError(f"the sync stream broke: {_describe(error)}") \
                    from error
            finally:
                await response.aclose()
            return


def _describe(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


def not_a_sync_server(base_url: str, what: str) -> ProtocolError:
    """The one sentence for a URL that answers HTTP but is not a sync server (a Jupyter port)."""
    return ProtocolError(f"{base_url} is not a realm-jupyter sync server (it answered {what}); "
                         "use the URL that `realm-jupyter serve` prints")


def _answer(response: httpx.Response, base_url: str) -> Any:
    """The JSON body of a sync server's answer, or the error it stands for.

    A sync server answers every API request with JSON. Anything else (an HTML page from
    Jupyter, a proxy's error page) means the URL points somewhere else: that is said in one
    sentence rather than echoing the page.
    """
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.content and not kind.endswith("json"):
        raise not_a_sync_server(base_url, f"HTTP {response.status_code} with "
                                          f"{kind or 'no content type'}")
    try:
        body = response.json() if response.content else {}
    except ValueError:
        raise not_a_sync_server(base_url, f"HTTP {response.status_code} with a body that "
                                          "is not JSON") from None
    if response.status_code == 401:
        raise AuthError(str(body.get("error", "unauthorized")), status_code=401)
    if response.status_code >= 400:
        if not isinstance(body, Mapping):
            body = {"error": str(body)}
        raise RequestError(response.status_code, body)
    return body


def _frame_header(line: bytes) -> dict[str, Any]:
    """One header line, checked: a JSON object with a type and a sane payload length."""
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"bad frame header from the server: {error}") from None
    if not isinstance(header, dict) or "t" not in header:
        raise ProtocolError("bad frame header from the server: no type")
    size = header.get("payload", 0)
    if type(size) is not int or not 0 <= size <= MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"bad frame header from the server: payload length {size!r:.40}")
    return header


async def read_frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[Frame]:
    """Split a byte stream into frames: a JSON line, then ``payload`` bytes if announced."""
    buffer = bytearray()
    header: dict[str, Any] | None = None
    async for chunk in chunks:
        buffer += chunk
        while True:
            if header is None:
                end = buffer.find(b"\n")
                if end < 0:
                    if len(buffer) > MAX_HEADER_BYTES:
                        raise ProtocolError(f"bad frame header from the server: no line end in "
                                            f"{MAX_HEADER_BYTES:,} bytes")
                    break
                header = _frame_header(bytes(buffer[:end]))
                del buffer[: end + 1]
            size = header.get("payload", 0)
            if len(buffer) < size:
                break
            payload = bytes(buffer[:size]) if size else None
            del buffer[:size]
            frame_header, header = header, None
            yield frame_header, payload
