"""A real IPython kernel for the magics tests, and what a cell sent to it produced."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.notebooks.support import BlockingKernelManager, kernel_env


@dataclass
class Execution:
    """One ``execute_request``: its reply and every iopub message seen while it ran."""

    code: str
    msg_id: str
    reply: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # parented by this request
    others: list[dict[str, Any]] = field(default_factory=list)  # parented by anything else

    @property
    def ok(self) -> bool:
        return self.reply.get("status") == "ok"

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.outputs if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream")
                       if m["content"]["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream")
                       if m["content"]["name"] == "stderr")

    @property
    def result(self) -> str:
        results = self.of("execute_result")
        assert len(results) == 1, (self.code, self.outputs, self.reply)
        return str(results[0]["content"]["data"]["text/plain"])

    @property
    def displays(self) -> list[str]:
        return [m["content"]["data"].get("text/plain", "") for m in self.of("display_data")]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m["content"] for m in self.of("error")]


class Kernel:
    """An isolated kernel of this interpreter (see ``tests.notebooks.support.kernel_env``)."""

    def __init__(self, home: Path) -> None:
        self.manager = BlockingKernelManager(kernel_name="python3")
        self.manager.start_kernel(env=kernel_env(home), cwd=str(home))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120) -> Execution:
        client = self.client
        execution = Execution(code, client.execute(code, allow_stdin=False))
        deadline = time.monotonic() + timeout
        idle = False
        while not idle:
            try:
                message = client.get_iopub_msg(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no idle status within {timeout} s for {code!r}") from None
            mine = message["parent_header"].get("msg_id") == execution.msg_id
            (execution.outputs if mine else execution.others).append(message)
            idle = mine and message["msg_type"] == "status" and \
                message["content"]["execution_state"] == "idle"
        while True:
            reply = client.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == execution.msg_id:
                execution.reply = reply["content"]
                return execution

    def value(self, expression: str) -> str:
        """The repr of a Python expression evaluated in the kernel."""
        execution = self.run(expression)
        assert execution.ok, (expression, execution.reply, execution.stderr)
        return execution.result

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


@contextlib.contextmanager
def demo_kernel(home: Path, demo_store: Path, *cells: str) -> Iterator[Kernel]:
    """A kernel under ``home`` with the extension loaded, ``realm_jupyter`` imported and
    connected to the demo (``%realm_connect --demo``, as Alice), after ``cells`` ran;
    shut down on the way out."""
    from tests.notebooks.support import install_demo_store

    install_demo_store(demo_store, home)
    kernel = Kernel(home)
    try:
        for code in ("%load_ext realm_jupyter", "import realm_jupyter", "%realm_connect --demo",
                     *cells):
            execution = kernel.run(code)
            assert execution.ok, (code, execution.reply, execution.stderr)
        yield kernel
    finally:
        kernel.shutdown()
