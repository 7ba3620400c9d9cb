"""``create_app``: the ASGI application of one sync server process.

No module-level app: every server (the CLI's, a test's, ``%realm_connect --demo``'s)
builds its own from an app directory and a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..errors import StorageError
from .admin_routes import admin_routes
from .appdir import AppConfig, load_app
from .auth import Auth
from .http import ApiError, BodyLimit, error_response
from .routes import routes
from .service import SyncService
from .storage import Store, open_store

__all__ = ["create_app", "default_store_url"]

logger = logging.getLogger(__name__)
TRIM_INTERVAL_SECONDS = 3600.0


def default_store_url(app_dir: Path) -> str:
    """``sqlite:///<app-dir>/.realm/store.sqlite3``."""
    return f"sqlite:///{(Path(app_dir) / '.realm' / 'store.sqlite3').resolve()}"


def create_app(app: AppConfig | str | Path, store: Store | str | None = None, *,
               demo_size: str | int | None = None, access_ttl: int | None = None,
               max_body: int | None = None, body_timeout: float | None = None) -> Starlette:
    """Build the server for ``app`` (an app directory or a loaded config).

    Parameters:
        app: the App Services app directory, or its loaded ``AppConfig``.
        store: a ``Store`` or a store URL; default ``sqlite:///<app-dir>/.realm/store.sqlite3``.
        demo_size: seed the built-in demo users and generated data of this size on first start.
        access_ttl: lifetime of access tokens in seconds (tests shorten it).
        max_body: largest accepted request body in bytes.
        body_timeout: seconds a request may take to send its body (then 408).

    Raises:
        ConfigError: the app directory is invalid (raised here, at start-up).
    """
    config = app if isinstance(app, AppConfig) else load_app(app)
    if store is None:
        store = default_store_url(config.root)
    backend = open_store(store) if isinstance(store, str) else store

    @contextlib.asynccontextmanager
    async def lifespan(starlette: Starlette) -> AsyncIterator[None]:
        queryable = {name: config.sync.queryable_fields(name) for name in config.collections}
        try:
            await backend.open(config.schema.types, queryable)
            await backend.claim_app(config.app_id)
            options: dict[str, Any] = {} if access_ttl is None else {"access_ttl": access_ttl}
            auth = await Auth.create(config, backend, **options)
            service = SyncService(config, backend, auth)
            starlette.state.service = service
            await _seed(config, backend)
            from .custom_data import seed_custom_data

            await seed_custom_data(config, backend)
            if demo_size is not None:
                from ..demo.seed import seed_demo

                await seed_demo(config, backend, auth, demo_size)
        except BaseException:
            await backend.close()  # a failed start-up leaves no connection behind
            raise
        trimmer = asyncio.create_task(_trim_forever(config, backend), name="realm-history-trim")
        try:
            yield
        finally:
            trimmer.cancel()
            await service.shutdown()
            with contextlib.suppress(asyncio.CancelledError):
                await trimmer
            auth.passwords.close()
            await backend.close()

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def storage_error(request: Request, exc: Exception) -> Response:
        logger.error("store error on %s: %s", request.url.path, exc)
        return error_response(ApiError(503, "StoreUnavailable", "the server's store is unavailable"))

    async def server_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):  # the client went away mid-request: not an error
            logger.info("client disconnected during %s", request.url.path)
            return Response(status_code=499)
        logger.exception("error on %s", request.url.path)
        return error_response(ApiError(500, "InternalServerError", "internal server error"))

    body_options: dict[str, Any] = {"limit": max_body} if max_body else {}
    if body_timeout is not None:
        body_options["timeout"] = body_timeout
    return Starlette(routes=[*routes, *admin_routes], lifespan=lifespan,
                     middleware=[Middleware(BodyLimit, **body_options)],
                     exception_handlers={ApiError: api_error, StorageError: storage_error,
                                         Exception: server_error})


async def _seed(config: AppConfig, store: Store) -> None:
    """Load ``data/<Collection>.json`` seed files, each once, on first start."""
    from .importer import read_documents, to_wire_table

    for collection in config.collections.values():
        if collection.seed_path is None:
            continue
        key = f"seeded:{collection.object_type}"
        if await store.get_meta(key) is not None:
            continue
        documents = read_documents(collection.seed_path, collection.schema,
                                   collection.dropped_fields)
        await store.bulk_load(collection.schema, to_wire_table(collection.schema, documents))
        await store.set_meta(key, str(len(documents)))
        logger.info("seeded %d %s documents from %s", len(documents), collection.object_type,
                    collection.seed_path)


async def _trim_forever(config: AppConfig, store: Store) -> None:
    """Trim history older than ``client_max_offline_days``, now and then hourly."""
    while True:
        horizon = int((time.time() - config.sync.client_max_offline_days * 86_400) * 1000)
        try:
            await store.trim_history(horizon)
        except StorageError as error:
            logger.warning("history trimming failed: %s", error)
        await asyncio.sleep(TRIM_INTERVAL_SECONDS)
