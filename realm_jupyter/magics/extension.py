"""``RealmMagics``: the ``%realm_*`` magics — a thin router over ``commands/``.

Two ways in, one way through: an input transformer turns a ``%realm_…`` line at
the top level of a cell into ``await _realm_magics.run(name, line)``, so waiting
commands wait on the kernel loop; the registered line magics (for ``%time``, a
``def``, terminals, and ``%name?`` help) call the same commands and refuse, with a
clear line, to block when a command must wait. User mistakes become one red
``UsageError`` line; ``%config RealmMagics.short_errors = False`` shows tracebacks.

No magic lets IPython expand ``$name`` or ``{expression}`` in its line (the transformer
path never did): queries use ``{…}`` for lists and ``$0`` for arguments, and
``%realm_write`` takes JSON. Query arguments are Python expressions after the query.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int, Unicode

from ..errors import RealmJupyterError
from .commands import (
    connect,
    explore,
    query,
    snapshot,
    sql,
    status,
    subscribe,
    subscriptions,
    unsubscribe,
    write,
)
from .context import RealmContext
from .display import CellOutput, usage_error
from .transformer import TopLevelRewriter

__all__ = ["RealmMagics"]

logger = logging.getLogger(__name__)

_COMMANDS: dict[str, Callable[..., Any]] = {
    "realm_connect": connect.run,
    "realm_subscribe": subscribe.run,
    "realm_unsubscribe": unsubscribe.run,
    "realm_subscriptions": subscriptions.run,
    "realm_query": query.run,
    "realm_status": status.run,
    "realm_pause": status.pause,
    "realm_resume": status.resume,
    "realm_explore": explore.run,
    "realm_write": write.run,
    "realm_snapshot": snapshot.run,
}


_QUERY_MAGICS = ("realm_subscribe", "realm_query")


def require_quoted_query(name: str, parsed: argparse.Namespace, line: str) -> None:
    """Refuse ``%realm_subscribe Item status == 'open'`` (the query split into words).

    Words after the query are Python expressions for ``$0``, ``$1``…; a query with no ``$``
    has none, so more words mean the query itself was not quoted.

    Raises:
        UsageError: with the quoted form as the hint.
    """
    if not parsed.args or "$" in (parsed.query or ""):
        return
    raise UsageError(f"%{name}: put the query in quotes, as one argument\n"
                     f"Hint: {_quoted_example(name, parsed.type, line)}")


def _quoted_example(name: str, object_type: str, line: str) -> str:
    """The line with the words after the type in double quotes, as they were typed."""
    text = strip_comment(line).strip()
    rest = text[text.find(object_type) + len(object_type):].strip() if object_type in text else ""
    if rest and '"' not in rest and "--" not in rest:
        return f'%{name} {object_type} "{rest}"'
    return f'%{name} {object_type} "status == \'open\'"'

#: Commands that wait for the server when run from a cell (the registered line magic does not).
_IN_A_CELL: dict[str, Callable[..., Any]] = {"realm_write": write.run_and_confirm}


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment``: a ``#`` outside quotes, after a space."""
    quote: str | None = None
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line


@magics_class
class RealmMagics(Magics):
    """Flexible Sync in notebooks. Start with ``%realm_connect --demo``."""

    short_errors = Bool(True, help="Show user mistakes as one line (False: full tracebacks)."
                        ).tag(config=True)
    default_timeout = Float(None, allow_none=True,
                            help="Seconds %realm_subscribe waits before showing what is cached "
                                 "(None: wait until complete).").tag(config=True)
    widgets = Bool(True, help="Show widgets for %realm_status, %realm_subscriptions and "
                              "%realm_explore (False: tables and text).").tag(config=True)
    display_rows = Int(50, help="Rows %realm_explore shows when widgets are off."
                       ).tag(config=True)
    demo_user = Unicode("alice@example.com",
                        help="The demo user %realm_connect --demo logs in as.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.context = RealmContext(shell)
        self.rewriter = TopLevelRewriter()
        self.cells = CellOutput(self._last_write)
        #: ``execution_count`` of the cell that ran ``%load_ext`` (its own magics cannot wait).
        self.loaded_in_cell: int | None = None
        #: Magics awaiting sync now, and the errors that stopped sync meanwhile: the waiting
        #: magic raises such an error as its red line, so it is not shown a second time.
        self.awaiting = 0
        self.held_errors: list[RealmJupyterError] = []

    # ------------------------------------------------------------------ plumbing

    def _last_write(self) -> int | None:
        """The newest local write version, or None when not connected (or unreadable: this
        runs before every cell, and must never stop one)."""
        connection = self.context.connection
        if connection is None or connection.realm.closed:
            return None
        try:
            return connection.realm.writes.last_client_version()
        except Exception:
            logger.debug("cannot read the local write version", exc_info=True)
            return None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except RealmJupyterError as error:
            if not self.short_errors:
                raise
            raise usage_error(error) from None

    def _parse(self, name: str, line: str) -> argparse.Namespace:
        """Shell-like splitting (quotes removed; a trailing ``# comment`` dropped), then the
        magic's own argument parser."""
        try:
            argv = shlex.split(strip_comment(line))
        except ValueError as error:
            raise UsageError(f"%{name}: {error} (check the quotes)") from None
        try:
            parsed: argparse.Namespace = getattr(self, name).parser.parse_args(argv)
        except UsageError as error:
            if name == "realm_explore" and argv and "unrecognized arguments" in str(error):
                raise UsageError(f"%{name}: put the filter in quotes, as one argument\nHint: "
                                 f"{_quoted_example(name, argv[0], line)}") from None
            raise
        if name in _QUERY_MAGICS:
            require_quoted_query(name, parsed, line)
        return parsed

    async def run(self, name: str, line: str) -> Any:
        """Run ``%name line`` from a cell, awaiting on the kernel loop (input transformer)."""
        if name == "realm_sql":
            with self._errors():
                return sql.run(self, line)
        if name not in _COMMANDS:
            raise UsageError(f"%{name} is not a realm magic (try %lsmagic)")
        args = self._parse(name, line)
        with self._errors():
            result = _IN_A_CELL.get(name, _COMMANDS[name])(self, args)
            if inspect.isawaitable(result):
                result = await self._awaiting(result)
            return result

    async def _awaiting(self, awaitable: Any) -> Any:
        """Await a magic's work; sync errors held meanwhile and not raised by it are shown."""
        from .commands.connect import show_sync_error

        self.awaiting += 1
        raised: BaseException | None = None
        try:
            return await awaitable
        except BaseException as failure:
            raised = failure
            raise
        finally:
            self.awaiting -= 1
            if not self.awaiting:
                held, self.held_errors = self.held_errors, []
                for error in held:
                    if error is not raised:
                        show_sync_error(self, error)

    def _line(self, name: str, line: str) -> Any:
        """The registered line magic: runs commands that need no waiting."""
        args = self._parse(name, line)
        command = _COMMANDS[name]
        if inspect.iscoroutinefunction(command):
            if self.shell is not None and self.loaded_in_cell == self.shell.execution_count:
                raise UsageError(f"%{name} cannot wait in the cell that loads the extension "
                                 "(IPython rewrites a whole cell before running it): put "
                                 "%load_ext realm_jupyter in a cell of its own, above this one")
            raise UsageError(f"%{name} waits for the server, so it must be the start of a line "
                             "at the top level of a cell (not inside a def, %time or a "
                             "terminal without an asyncio kernel)")
        with self._errors():
            return command(self, args)

    def evaluate(self, expression: str) -> Any:
        """An argument for ``$n``: a Python expression in the user's namespace."""
        try:
            return eval(expression, self.shell.user_ns if self.shell else {})
        except Exception as error:
            raise RealmJupyterError(f"cannot evaluate the query argument {expression!r}: "
                                    f"{type(error).__name__}: {error}") from None

    # ------------------------------------------------------------------ the magics

    @magic_arguments()
    @argument("url", nargs="?", help="Sync server base URL, e.g. http://127.0.0.1:9090.")
    @argument("--app", help="App id (printed by `realm-jupyter serve`).")
    @argument("--demo", action="store_true",
              help="Connect to the built-in demo (started on a free loopback port, or the one "
                   "`make demo` runs). Logs in as RealmMagics.demo_user unless --email says.")
    @argument("--anonymous", action="store_true", help="Log in anonymously.")
    @argument("--email", help="Email of an email/password user.")
    @argument("--password", help="Password (better: $REALM_PASSWORD, a stored session, or the "
                                 "prompt — secrets need not live in a cell).")
    @argument("--api-key", dest="api_key", help="API key (better: $REALM_API_KEY).")
    @argument("--cache", help="DuckDB cache file (default: per server, app and user in the user "
                              "cache directory).")
    @argument("--snapshot", metavar="PATH",
              help="Open a snapshot written by %%realm_snapshot save, with no server: "
                   "read-only, pinned at its checkpoint.")
    @no_var_expand
    @line_magic
    def realm_connect(self, line: str) -> Any:
        """Log in to a sync server and open the local cache; sync starts in the background.

        Re-running the cell reuses the open connection. Without --password the password
        comes from $REALM_PASSWORD, a stored session (refresh token), or a prompt.
        With --snapshot PATH, open a saved snapshot instead (no server; read-only).
        """
        return self._line("realm_connect", line)

    @magic_arguments()
    @argument("type", help="Object type, e.g. Item.")
    @argument("query", nargs="?", default="TRUEPREDICATE",
              help='Query on queryable fields, e.g. "status == \'open\' AND priority >= 3".')
    @argument("args", nargs="*", help="Python expressions for $0, $1, … in the query.")
    @argument("--name", help="Name the subscription (re-running with another query replaces it).")
    @argument("--no-wait", dest="no_wait", action="store_true",
              help="Return at once with what is cached.")
    @argument("--always", action="store_true", help="Wait even if the subscription exists.")
    @argument("--timeout", type=float, help="Seconds to wait before showing what is cached.")
    @no_var_expand
    @line_magic
    def realm_subscribe(self, line: str) -> Any:
        """Subscribe to a query and return the matching cached objects as a DataFrame.

        Waits (the first time) until the server has sent everything, with a live
        progress line; sync keeps running while the cell waits.
        """
        return self._line("realm_subscribe", line)

    @magic_arguments()
    @argument("name", nargs="?", help="Name of the subscription to remove.")
    @argument("--type", help="Remove the subscriptions of this object type.")
    @argument("--query", help="With --type: only the subscription with this query.")
    @argument("--all", action="store_true", help="Remove every subscription.")
    @no_var_expand
    @line_magic
    def realm_unsubscribe(self, line: str) -> Any:
        """Remove subscriptions; objects no remaining subscription covers leave the cache."""
        return self._line("realm_unsubscribe", line)

    @magic_arguments()
    @argument("--table", action="store_true", help="A DataFrame instead of the widget.")
    @no_var_expand
    @line_magic
    def realm_subscriptions(self, line: str) -> Any:
        """The subscription manager: states, row counts, add (validated as you type), remove."""
        return self._line("realm_subscriptions", line)

    @magic_arguments()
    @argument("type", help="Object type.")
    @argument("query", nargs="?", default="TRUEPREDICATE",
              help="Any Realm query: SORT, DISTINCT, LIMIT, @count, dotted paths, ANY/ALL/NONE.")
    @argument("args", nargs="*", help="Python expressions for $0, $1, ….")
    @argument("--index", action="store_true", help="Use the primary key as the index.")
    @no_var_expand
    @line_magic
    def realm_query(self, line: str) -> Any:
        """Query the local cache with the full Realm Query Language; returns a DataFrame."""
        return self._line("realm_query", line)

    @no_var_expand
    @line_magic("realm_sql")  # type: ignore[arg-type]
    def realm_sql_line(self, line: str) -> Any:
        """DuckDB SQL over the cache, one table per object type: %realm_sql SELECT … FROM Item."""
        with self._errors():
            return sql.run(self, line)

    @no_var_expand
    @cell_magic("realm_sql")  # type: ignore[arg-type]
    def realm_sql_cell(self, line: str, cell: str) -> Any:
        """DuckDB SQL over the cache (the cell body is the statement)."""
        with self._errors():
            return sql.run(self, cell)

    @magic_arguments()
    @no_var_expand
    @line_magic
    def realm_status(self, line: str) -> Any:
        """Connection, session, subscription set, progress, pending uploads (a live widget)."""
        return self._line("realm_status", line)

    @magic_arguments()
    @no_var_expand
    @line_magic
    def realm_pause(self, line: str) -> Any:
        """Pause sync (the connection closes; local reads and writes still work)."""
        return self._line("realm_pause", line)

    @magic_arguments()
    @no_var_expand
    @line_magic
    def realm_resume(self, line: str) -> Any:
        """Resume sync after %realm_pause; changes made meanwhile download."""
        return self._line("realm_resume", line)

    @magic_arguments()
    @argument("type", help="Object type.")
    @argument("query", nargs="?", default="", help="Optional filter (Realm Query Language).")
    @no_var_expand
    @line_magic
    def realm_explore(self, line: str) -> Any:
        """A live table over the cache: scroll millions of rows, sort, filter; refreshes on sync."""
        return self._line("realm_explore", line)

    @magic_arguments()
    @argument("action", choices=["save"], help="save: write a snapshot of the cache.")
    @argument("path", help="Directory to write (an earlier snapshot there is replaced).")
    @no_var_expand
    @line_magic
    def realm_snapshot(self, line: str) -> Any:
        """Save a checkpoint-pinned, read-only snapshot of the cache: one Parquet file per
        object type and a manifest (server version, subscriptions, schema, hashes; no
        secrets). Reopen it with no server: %realm_connect --snapshot PATH."""
        return self._line("realm_snapshot", line)

    @magic_arguments()
    @argument("action", help="create, update, delete or add.")
    @argument("type", help="Object type.")
    @argument("target", nargs="?", help="create: the document (JSON); otherwise the primary key.")
    @argument("value", nargs="?",
              help='update: fields as JSON, e.g. \'{"status": "done"}\'; add: FIELD=AMOUNT.')
    @no_var_expand
    @line_magic
    def realm_write(self, line: str) -> Any:
        """Write locally (applied at once, uploaded in the background): create, update, delete,
        add (integer). Permission problems come back as warnings (compensating writes)."""
        return self._line("realm_write", line)
