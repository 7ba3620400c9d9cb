"""``%realm_connect`` that fails, re-runs and switches users, in a real kernel.

A failed connect — nothing listening, a wrong password, an unknown app, a URL that is not a
sync server — must leave the working session as it was: the next ``%realm_sql`` still
answers. A re-run with a password checks it; another user replaces the session cleanly.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from realm_jupyter.server.runner import free_port
from tests.magics.kernel import Kernel, demo_kernel
from tests.magics.test_kernel import _usage_error
from tests.notebooks import expected

pytestmark = pytest.mark.slow

ALICE = expected.USERS["Alice"]
BOB = expected.USERS["Bob"]
PROBE = ("import asyncio, realm_jupyter; (id(realm_jupyter.current_realm()), "
         "_realm_magics.context.connection.login, "
         "sorted(t.get_name().split(':')[0] for t in asyncio.all_tasks() "
         "if t.get_name().startswith('realm-sync-')))")
SYNC_TASKS = "['realm-sync-queries', 'realm-sync-stream', 'realm-sync-uploads']"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[Kernel]:
    """A kernel connected to the demo as Alice, with one subscription."""
    with demo_kernel(tmp_path_factory.mktemp("connect-kernel"), demo_store,
                     "%realm_subscribe Item \"team == 'north'\"") as kernel:
        yield kernel


@pytest.fixture(scope="module")
def html_site() -> Iterator[str]:
    """A web server that is not a sync server: every request gets an HTML page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def _page(self) -> None:
            body = b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _page

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, name="html-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _north_count(kernel: Kernel) -> str:
    execution = kernel.run("%realm_sql SELECT count(*) AS n FROM Item WHERE team = 'north'")
    assert execution.ok, (execution.reply, execution.stderr)
    return execution.result


def _demo_url(kernel: Kernel) -> str:
    return kernel.value("_realm_magics.context.demo_url").strip("'")


def test_a_failed_connect_keeps_the_session(kernel: Kernel, html_site: str) -> None:
    before, count = kernel.value(PROBE), _north_count(kernel)
    assert "alice@example.com" in before and SYNC_TASKS in before
    url = _demo_url(kernel)
    nobody = f"http://127.0.0.1:{free_port()}"
    attempts = {
        "nothing listening": f"%realm_connect {nobody} --app realm-jupyter-demo "
                             f"--email {BOB.email} --password {BOB.password}",
        "wrong app": f"%realm_connect {url} --app no-such-app --email {BOB.email} "
                     f"--password {BOB.password}",
        "wrong password": f"%realm_connect --demo --email {BOB.email} --password wrong",
        "not a sync server": f"%realm_connect {html_site} --app realm-jupyter-demo "
                             f"--email {BOB.email} --password {BOB.password}",
    }
    messages = {what: _usage_error(kernel.run(cell))[0] for what, cell in attempts.items()}
    assert messages["nothing listening"].startswith(
        f"UsageError: cannot reach the sync server at {nobody}: ")
    assert messages["wrong app"].startswith("UsageError: login failed: ")
    assert messages["wrong password"].startswith("UsageError: login failed: ")
    assert messages["not a sync server"] == (
        f"UsageError: {html_site} is not a realm-jupyter sync server (it answered HTTP 404 "
        "with text/html); use the URL that `realm-jupyter serve` prints")
    assert kernel.value(PROBE) == before
    assert _north_count(kernel) == count


def test_not_a_sync_server_is_one_line(kernel: Kernel, html_site: str) -> None:
    lines = _usage_error(kernel.run(f"%realm_connect {html_site} --app x --anonymous"))
    assert len(lines) == 1 and "<" not in lines[0], lines


def test_rerunning_with_a_password_checks_it(kernel: Kernel) -> None:
    before = kernel.value(PROBE)
    (message, *_) = _usage_error(kernel.run(
        f"%realm_connect --demo --email {ALICE.email} --password not-alices"))
    assert message.startswith("UsageError: login failed: ")
    assert kernel.value(PROBE) == before
    again = kernel.run(f"%realm_connect --demo --email {ALICE.email} --password {ALICE.password}")
    assert again.ok, again.stderr
    (line,) = again.displays
    assert line.startswith("Still connected to realm-jupyter-demo")
    assert kernel.value(PROBE) == before


def test_another_user_switches_cleanly(kernel: Kernel) -> None:
    alice_realm = kernel.value("_alice = realm_jupyter.current_realm()\nid(_alice)")
    switched = kernel.run(f"%realm_connect --demo --email {BOB.email}")
    assert switched.ok, switched.stderr
    (line,) = switched.displays
    assert line.startswith(f"Connected to realm-jupyter-demo at {_demo_url(kernel)} as "
                           f"{BOB.email} (user {BOB.id})")
    assert line.endswith(f"(the session of {ALICE.email} at {_demo_url(kernel)} is closed)")
    after = kernel.value(PROBE)
    assert BOB.email in after and alice_realm not in after
    assert after.endswith(f"{SYNC_TASKS})")  # one session's tasks: Alice's have stopped
    assert kernel.value("_alice.closed") == "True"
    assert kernel.value("realm_jupyter.current_realm().user.id") == repr(BOB.id)
    back = kernel.run("%realm_connect --demo")
    assert back.ok, back.stderr
    assert ALICE.email in kernel.value(PROBE)
    assert _north_count(kernel) != "0"


@pytest.mark.parametrize("cell", [
    "%realm_subscribe Item status == 'open'",
    "%realm_query Item status == 'open'",
])
def test_an_unquoted_query_says_to_quote_it(kernel: Kernel, cell: str) -> None:
    magic = cell.split()[0]
    message, hint = _usage_error(kernel.run(cell))
    assert message == f"UsageError: {magic}: put the query in quotes, as one argument"
    assert hint == f"Hint: {magic} Item \"status == 'open'\""
