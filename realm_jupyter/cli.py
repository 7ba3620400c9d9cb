"""``realm-jupyter``: serve an app, run the demo, import documents, manage users and API keys.

Every command takes ``--app-dir`` (default: the built-in demo app) and ``--store``
(default: ``sqlite:///<app-dir>/.realm/store.sqlite3``; for the built-in demo app,
``<user data dir>/realm-jupyter/demo-<size>.sqlite3``). Errors are one line on
stderr and a non-zero exit; ``--verbose`` shows more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import RealmJupyterError

__all__ = ["main"]

logger = logging.getLogger("realm_jupyter.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realm-jupyter", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"realm-jupyter {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, app_dir_required: bool = False) -> None:
        sub.add_argument("--app-dir", type=Path, required=app_dir_required, default=None,
                         help="App Services app directory (default: the built-in demo app)")
        sub.add_argument("--store", default=None,
                         help="store URL: sqlite:///path or postgresql://user@host/db "
                              "(default: sqlite:///<app-dir>/.realm/store.sqlite3)")

    serve = commands.add_parser("serve", help="run the sync server")
    common(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: only this machine)")
    serve.add_argument("--port", type=int, default=9090, help="port (default 9090)")
    serve.add_argument("--demo-size", default=None,
                       help="seed demo users and data (tiny, small, large or a count); "
                            "default: small when serving the built-in demo")
    _limit_arguments(serve)

    demo = commands.add_parser("demo", help="serve the demo app and open JupyterLab on the quickstart")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--size", default="small", help="demo data: tiny, small (~10k) or large (1M)")
    demo.add_argument("--port", type=int, default=9090, help="sync server port (default 9090)")
    demo.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port (default 8888)")
    demo.add_argument("--store", default=None,
                      help="store URL (default: sqlite:///<user data dir>/realm-jupyter/"
                           "demo-<size>.sqlite3)")

    load = commands.add_parser("import", help="load documents (Extended JSON, NDJSON, BSON)")
    common(load, app_dir_required=True)
    load.add_argument("collection", help="object type (or collection name) to load into")
    load.add_argument("files", nargs="+", type=Path, help="files to load")

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add an email/password user; prints the user id")
    common(add, app_dir_required=True)
    add.add_argument("email")
    add.add_argument("--password", default=None,
                     help="the password (default: $REALM_PASSWORD, or asked for)")
    add.add_argument("--custom-data", default=None,
                     help="JSON custom user data (%%user.custom_data in rules)")
    _custom_data_parser(user_commands, common)
    _schema_parser(commands)

    apikeys = commands.add_parser("apikeys", help="manage API keys")
    key_commands = apikeys.add_subparsers(dest="apikeys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="create an API key; prints it once")
    common(create, app_dir_required=True)
    create.add_argument("name")
    create.add_argument("--admin", action="store_true",
                        help="the key may use the admin HTTP routes (custom user data)")
    listing = key_commands.add_parser("list", help="list API keys (never the keys themselves)")
    common(listing, app_dir_required=True)
    revoke = key_commands.add_parser("revoke",
                                     help="revoke an API key: its logins and open streams end")
    common(revoke, app_dir_required=True)
    revoke.add_argument("key", metavar="ID|NAME", help="the key's id or name (apikeys list)")
    for action, text in (("disable", "disable a user: their logins and open streams end"),
                         ("enable", "enable a disabled user again")):
        switch = user_commands.add_parser(action, help=text)
        common(switch, app_dir_required=True)
        switch.add_argument("user", metavar="EMAIL|ID")
    return parser


def _limit_arguments(serve: argparse.ArgumentParser) -> None:
    """``serve``'s defences against slow clients and spoofed addresses (docs/server.md)."""
    serve.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                       help="believe X-Forwarded-For/-Proto only from these proxy addresses "
                            "(comma-separated, '*' for any); default: from no one")
    serve.add_argument("--max-connections", type=int, default=0, metavar="N",
                       help="open connections served; more get 503 (default: 1000, or fewer "
                            "under a low file-descriptor limit)")
    serve.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                       help="seconds a client may take to send its request headers (default 10)")
    serve.add_argument("--body-timeout", type=float, default=60.0, metavar="S",
                       help="seconds a client may take to send a request body (default 60)")
    serve.add_argument("--keep-alive-timeout", type=float, default=5.0, metavar="S",
                       help="seconds an idle keep-alive connection stays open (default 5)")


def _limits(args: argparse.Namespace) -> Any:
    from .server.runner import ServerLimits

    for name in ("max_connections", "header_timeout", "body_timeout", "keep_alive_timeout"):
        if getattr(args, name) < 0 or (name != "max_connections" and getattr(args, name) == 0):
            flag = "--" + name.replace("_", "-")
            raise RealmJupyterError(f"{flag} must be positive")
    return ServerLimits(max_connections=args.max_connections, header_timeout=args.header_timeout,
                        keep_alive_timeout=args.keep_alive_timeout,
                        body_timeout=args.body_timeout,
                        forwarded_allow_ips=args.forwarded_allow_ips)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "schema":
            return _schema_infer(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "demo":
            from .demo.launcher import run_demo

            return run_demo(size=args.size, port=args.port, lab_port=args.lab_port,
                            open_browser=not args.no_browser, store=args.store)
        return asyncio.run(_admin(args))
    except RealmJupyterError as error:
        print(f"realm-jupyter: {error}", file=sys.stderr)
        if error.hint:
            print(f"  hint: {error.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _app_dir(args: argparse.Namespace) -> Path:
    from .demo import DEMO_APP_DIR

    return Path(args.app_dir) if getattr(args, "app_dir", None) else DEMO_APP_DIR


def _store_url(args: argparse.Namespace, app_dir: Path) -> str:
    from .server.app import default_store_url

    return str(args.store or os.environ.get("REALM_STORE") or default_store_url(app_dir))


def _serve(args: argparse.Namespace) -> int:
    from .demo import DEMO_APP_DIR, demo_store_url
    from .server.app import create_app
    from .server.appdir import load_app
    from .server.runner import serve_forever

    app_dir = _app_dir(args)
    config = load_app(app_dir)
    demo_size = args.demo_size
    builtin = app_dir.resolve() == DEMO_APP_DIR.resolve()
    if demo_size is None and builtin:
        demo_size = "small"
    if builtin and not args.store and not os.environ.get("REALM_STORE"):
        store = demo_store_url(demo_size or "small")  # never inside the installed package
    else:
        store = _store_url(args, app_dir)
    limits = _limits(args)
    _start_once(create_app(config, store, demo_size=_size(demo_size)))
    app = create_app(config, store, demo_size=_size(demo_size), body_timeout=limits.body_timeout)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s: reachable from other machines", args.host)
    print(f"realm-jupyter sync server for app {config.app_id!r} ({config.name}) at "
          f"http://{args.host}:{args.port}  store: {_redact(store)}", flush=True)
    serve_forever(app, args.host, args.port, limits=limits)
    return 0


def _start_once(app: Any) -> None:
    """Run the server's start-up (store, tables, seed and demo data) once before listening.

    Inside uvicorn a store that cannot be used (read-only, on a full disk, unreachable,
    or claimed by another app) ends in its start-up traceback; here it is a
    ``StorageError``, one line. The real
    start-up then finds the tables and the data in place.
    """
    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start())


def _size(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _redact(url: str) -> str:
    """A store URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


async def _admin(args: argparse.Namespace) -> int:
    from .server.appdir import load_app
    from .server.auth import Auth

    app_dir = _app_dir(args)
    config = load_app(app_dir)
    if args.command == "import":
        config = _infer_for_import(config, args.collection, args.files)
        return await _import(config, _store_url(args, app_dir), args.collection, args.files)
    async with _opened_store(config, _store_url(args, app_dir)) as store:
        auth = await Auth.create(config, store)
        if args.command == "users" and args.users_command == "set-custom-data":
            return await _set_custom_data(config, store, args)
        if args.command == "users" and args.users_command == "add":
            return await _add_user(config, store, auth, args)
        if args.command == "users":
            from .cli_access import run_users

            return await run_users(auth, store, args)
        if args.apikeys_command != "create":
            from .cli_access import run_apikeys

            return await run_apikeys(auth, store, args)
        key, user_id = await auth.create_api_key(args.name)
        if getattr(args, "admin", False):
            from .server.admin_routes import grant_admin

            await grant_admin(store, user_id)
        print(key)
        print(f"(API key {args.name!r} for server user {user_id}; it is shown only once)",
              file=sys.stderr)
        return 0


@contextlib.asynccontextmanager
async def _opened_store(config: Any, store_url: str) -> AsyncIterator[Any]:
    """The app's store, open and claimed for this app (a store of another app is refused)."""
    from .server.storage import open_store

    store = open_store(store_url)
    try:
        await store.open(config.schema.types,
                         {name: config.sync.queryable_fields(name) for name in config.collections})
        await store.claim_app(config.app_id)
        yield store
    finally:
        await store.close()


async def _import(config: Any, store_url: str, collection: str, files: list[Path]) -> int:
    """Read and validate every file, then open the store and load them in one write: a
    file that cannot be used leaves the store untouched (not even created)."""
    from .server.importer import ImportFileError, read_documents, read_raw_documents, to_wire_table

    custom = config.custom_user_data
    if custom is not None and custom.server_side and custom.names(collection):
        from .server.custom_data import import_custom_data

        raw = [doc for path in files for doc in read_raw_documents(path)]
        async with _opened_store(config, store_url) as store:
            count = await import_custom_data(config, store, raw)
        print(f"imported {count:,} custom user data documents (server-side, not synced)")
        return 0
    target = config.collections.get(collection) or next(
        (c for c in config.collections.values() if c.collection == collection), None)
    if target is None:
        known = ", ".join(sorted(config.collections))
        raise RealmJupyterError(f"no collection or object type {collection!r} (known: {known})")
    documents = []
    for path in files:
        read = read_documents(path, target.schema, target.dropped_fields)  # all checked first
        if not read:
            raise ImportFileError(f"{path}: holds no documents; nothing was imported")
        documents.extend(read)
        logger.info("read %s %s documents from %s (%s so far, all valid)", f"{len(read):,}",
                    target.object_type, path, f"{len(documents):,}")
    async with _opened_store(config, store_url) as store:
        logger.info("writing %s %s documents in one transaction …", f"{len(documents):,}",
                    target.object_type)
        version = await store.bulk_load(target.schema, to_wire_table(target.schema, documents))
    print(f"imported {len(documents):,} {target.object_type} documents (server version {version})")
    return 0


async def _add_user(config: Any, store: Any, auth: Any, args: argparse.Namespace) -> int:
    password = args.password or os.environ.get("REALM_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.email}: ")
    custom: dict[str, Any] = {}
    if args.custom_data:
        try:
            custom = json.loads(args.custom_data)
        except json.JSONDecodeError as error:
            raise RealmJupyterError(f"--custom-data is not valid JSON: {error}") from None
        if not isinstance(custom, dict):
            raise RealmJupyterError("--custom-data must be a JSON object")
    target = config.custom_user_data
    user = await auth.add_user(args.email, password, custom_data={} if target else custom)
    if target is not None and custom:
        from .server.custom_data import parse_custom_data, set_custom_data

        # Custom data goes into the app's custom user data collection, as App Services does.
        await set_custom_data(config, store, user.id, parse_custom_data(args.custom_data))
    print(user.id)
    return 0


# --------------------------------------------------------------------------- custom user data


def _custom_data_parser(user_commands: Any, common: Any) -> None:
    sub = user_commands.add_parser(
        "set-custom-data", help="replace a user's custom user data (%%user.custom_data)")
    common(sub, app_dir_required=True)
    sub.add_argument("user", metavar="EMAIL|ID", help="the user's email or id")
    sub.add_argument("data", metavar="JSON", help="the document, a JSON object (Extended JSON "
                                                  "allowed); applies at the user's next session")


async def _set_custom_data(config: Any, store: Any, args: argparse.Namespace) -> int:
    from .server.custom_data import parse_custom_data, set_custom_data

    document = parse_custom_data(args.data)
    user = (await store.find_user_by_email(args.user.strip().lower()) if "@" in args.user
            else await store.get_user(args.user))
    if user is None:
        raise RealmJupyterError(f"no user {args.user!r} in this store")
    stored = await set_custom_data(config, store, user.id, document)
    print(json.dumps(stored, sort_keys=True, default=str))
    return 0


# --------------------------------------------------------------------------- development mode


def _schema_parser(commands: Any) -> None:
    schema = commands.add_parser("schema", help="development mode: infer schema.json files")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True,
                                            metavar="ACTION")
    infer = schema_commands.add_parser(
        "infer", help="print (or --write) the schema.json inferred for each collection that "
                      "has documents in data/ but no schema.json")
    infer.add_argument("--app-dir", type=Path, required=True, help="App Services app directory")
    infer.add_argument("--write", action="store_true",
                       help="write the inferred files into data_sources/ for review")


def _schema_infer(args: argparse.Namespace) -> int:
    from .server.appdir import load_app
    from .server.appdir_infer_files import inferred_schema_files

    config = load_app(args.app_dir)
    files = inferred_schema_files(config)
    if not files:
        print("every collection with documents already has a schema.json", file=sys.stderr)
        return 0
    for path, document in files.items():
        text = json.dumps(document, indent=4) + "\n"
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            print(f"// {path.relative_to(config.root)}")
            print(text, end="")
    return 0


def _infer_for_import(config: Any, collection: str, files: list[Path]) -> Any:
    """Development mode: importing into a collection with no schema gives it one, written
    to its schema.json as App Services writes the schema its clients sent."""
    from .server.appdir import load_app
    from .server.appdir_infer_files import write_inferred_schema

    custom = config.custom_user_data
    if (not config.development_mode or collection in config.collections
            or any(c.collection == collection for c in config.collections.values())
            or (custom is not None and custom.names(collection))):
        return config
    path = write_inferred_schema(config, collection, files)
    print(f"development mode: wrote the inferred schema of {collection} to {path}",
          file=sys.stderr)
    return load_app(config.root)


if __name__ == "__main__":
    raise SystemExit(main())
