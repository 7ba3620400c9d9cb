"""Limits on connections: how many, how long a client may take to send a request, whom to trust.

uvicorn on its own never times out a client that connects and says nothing, sends
half a request line, or trickles its headers a byte at a time; about a thousand
such sockets exhausted the process's file descriptors and the server stopped
answering anyone. :func:`guarded_protocol` makes uvicorn's h11 protocol close a
connection that has not sent complete request headers within ``header_timeout``
seconds of connecting or of its previous response (trickling bytes does not
restart the clock), and close new connections at once when far more than
``max_connections`` are open (up to that many, uvicorn answers 503). Request bodies
get their own deadline in the application (``BodyLimit``), and idle keep-alive
connections uvicorn's ``timeout_keep_alive``. Each kind of refusal is logged, at
most once a minute, with a count.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .http import LogTally

__all__ = ["ServerLimits", "guarded_protocol"]


def _default_max_connections() -> int:
    """1000, or fewer when the file-descriptor limit would not leave room for the overflow."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, int((soft - 128) / 1.25)))


@dataclass(frozen=True)
class ServerLimits:
    """What one server process allows its clients (``realm-jupyter serve`` flags).

    Attributes:
        max_connections: open connections served; more requests get 503, and past
            125% of this (plus 8) a new connection is closed at once.
        header_timeout: seconds a connection may take to send complete request headers.
        keep_alive_timeout: seconds an idle keep-alive connection stays open.
        body_timeout: seconds a request may take to send its whole body (the app's).
        forwarded_allow_ips: peers whose ``X-Forwarded-For``/``-Proto`` are believed
            (comma-separated addresses or networks, ``*`` for all); None believes no one.
    """

    max_connections: int = 0  # 0: from the file-descriptor limit
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    body_timeout: float = 60.0
    forwarded_allow_ips: str | None = None

    @property
    def connections(self) -> int:
        return self.max_connections or _default_max_connections()

    @property
    def hard_connections(self) -> int:
        return self.connections + self.connections // 4 + 8

    def uvicorn_options(self) -> dict[str, Any]:
        """The ``uvicorn.Config`` arguments these limits set."""
        trusted = self.forwarded_allow_ips
        return {"http": guarded_protocol(self), "limit_concurrency": self.connections,
                "timeout_keep_alive": self.keep_alive_timeout,
                "proxy_headers": trusted is not None,
                "forwarded_allow_ips": trusted if trusted is not None else ""}


class _OwnCapLine(logging.Filter):
    """Drop uvicorn's per-request "Exceeded concurrency limit." (ours counts them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Exceeded concurrency limit."


def guarded_protocol(limits: ServerLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a request-header deadline and a hard connection cap."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _OwnCapLine) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_OwnCapLine())
    slow = LogTally("closed %d connection(s) that sent no complete request headers within "
                  "%.1f s (idle or slow clients; --header-timeout)")
    refused = LogTally("refused %d connection(s): %d are open, the hard cap "
                     "(--max-connections %d plus 25%%); requests past --max-connections get 503")
    full = LogTally("%d request(s) answered 503: %d connections are open (--max-connections %d)")

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.hard_connections:
                refused.add(len(self.connections), limits.connections)
                transport.abort()
                return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(limits.header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                slow.add(limits.header_timeout)
                self.transport.abort()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # complete headers of a new request arrived
                self._disarm()
                if len(self.connections) >= limits.connections:
                    full.add(len(self.connections), limits.connections)

        def on_response_complete(self) -> None:
            self._arm()  # the next request's headers are due (disarmed if pipelined)
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol
