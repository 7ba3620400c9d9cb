"""Run a server with uvicorn: in the foreground (the CLI) or as a task (tests, benchmarks).

SIGTERM drains: sessions get a ``Transient`` error frame so their clients reconnect
(to another process, behind a balancer), then the listener closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .connections import ServerLimits

__all__ = ["RunningServer", "ServerLimits", "free_port", "serve_forever", "start_server"]

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn, ending our never-ending streams first when asked to exit.

    ``embedded`` servers (tests, benchmarks) leave the process's signal handlers alone.
    """

    def __init__(self, config: uvicorn.Config, *, embedded: bool = False) -> None:
        super().__init__(config)
        self.embedded = embedded

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM drain and exit with status 0 (uvicorn would re-raise the signal)."""
        if self.embedded or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: Any) -> None:
        service = _service(self)
        if service is not None:
            loop = asyncio.get_running_loop()
            loop.call_soon_threadsafe(lambda: loop.create_task(service.shutdown()))
        super().handle_exit(sig, frame)


def _service(server: uvicorn.Server) -> Any:
    app: Any = server.config.app
    return getattr(getattr(app, "state", None), "service", None)


def _config(app: Starlette, host: str, port: int, log_level: str,
            limits: ServerLimits | None) -> uvicorn.Config:
    """uvicorn's settings; forwarded headers are believed only from ``forwarded_allow_ips``.

    uvicorn would otherwise believe ``X-Forwarded-For`` from 127.0.0.1, where this
    server listens by default: any local client could then claim any address and
    slip out of the per-address login limits.
    """
    limits = limits or ServerLimits()
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          timeout_graceful_shutdown=5, access_log=False, loop="asyncio",
                          **limits.uvicorn_options())


@dataclass
class RunningServer:
    """A server running as a task on the current loop."""

    server: _Server
    task: asyncio.Task[None]
    url: str

    async def stop(self) -> None:
        service = _service(self.server)
        if service is not None:
            await service.shutdown()
        self.server.should_exit = True
        await self.task


async def start_server(app: Starlette, host: str = "127.0.0.1", port: int | None = None,
                       log_level: str = "warning",
                       limits: ServerLimits | None = None) -> RunningServer:
    """Start ``app`` on the running loop and return once it accepts connections.

    The listening socket is bound here (port 0 picks a free one), so no other process
    can take the port between choosing and binding it.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port or 0))
    port = int(sock.getsockname()[1])
    server = _Server(_config(app, host, port, log_level, limits), embedded=True)
    task = asyncio.create_task(_serve_embedded(server, sock), name=f"realm-server-{port}")
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.01)
    return RunningServer(server, task, f"http://{host}:{port}")


async def _serve_embedded(server: _Server, sock: socket.socket) -> None:
    """``server.serve()``, with uvicorn's ``sys.exit`` on a failed start-up turned into an error.

    A SystemExit inside a task would stop the whole event loop of the embedding process
    (a test run, a notebook kernel).
    """
    try:
        await server.serve(sockets=[sock])
    except SystemExit as error:
        sock.close()  # uvicorn never started listening on it
        raise RuntimeError(f"the sync server failed to start (exit status {error.code}); "
                           "the reason is logged above") from None


def serve_forever(app: Starlette, host: str, port: int, log_level: str = "info",
                  limits: ServerLimits | None = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (used by ``realm-jupyter serve``)."""
    _Server(_config(app, host, port, log_level, limits)).run()
