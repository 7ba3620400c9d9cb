"""Rewrite ``%realm_…`` lines into awaited calls, so a cell can wait on the kernel loop.

IPython runs a cell that contains a top-level ``await`` as a coroutine on the
kernel's own asyncio loop. A line such as ``df = %realm_subscribe Item "…"``
becomes ``df = await _realm_magics.run('realm_subscribe', '…')``: the cell waits
while the session's tasks keep running on the same loop. Lines inside a ``def``
or ``class`` are left alone (``await`` is not allowed there), and so is a cell
that starts with a cell magic (``%%realm_sql``, ``%%time``…: the magic decides
what its body means). Code that IPython transforms while a cell is already
running — ``%time …``, ``%timeit …``, ``get_ipython().run_cell(…)`` — is left
alone too (:class:`TopLevelRewriter`): it is compiled without top-level await.
The real line magics, registered too, handle all of these — and terminals and
``%lsmagic`` — and say in one line when a command would have to wait.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["HELPER_NAME", "TopLevelRewriter", "rewrite_realm_magics"]

HELPER_NAME = "_realm_magics"
_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:(?P<target>[A-Za-z_][\w.]*(?:\[[^\]]*\])?)\s*=\s*)?"
                   r"(?<!%)%(?P<name>realm_[A-Za-z_]\w*)(?P<args>(?:\s.*)?)$")
_SCOPE = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+def|def|class)\b")


def rewrite_realm_magics(lines: list[str]) -> list[str]:
    """Rewrite the ``%realm_…`` lines of one cell (a pure function of its lines)."""
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("%%"):
        return list(lines)  # a cell magic's body is its own business
    out = []
    scopes: list[int] = []  # indentation of enclosing def/class lines
    for line in lines:
        body = line.rstrip("\n")
        ending = line[len(body):]
        stripped = body.strip()
        indent = len(body) - len(body.lstrip())
        if stripped and not stripped.startswith("#"):
            while scopes and indent <= scopes[-1]:
                scopes.pop()
        scope = _SCOPE.match(body)
        if scope:
            scopes.append(len(scope.group("indent")))
            out.append(line)
            continue
        match = _LINE.match(body)
        if match is None or scopes:
            out.append(line)
            continue
        target = f"{match.group('target')} = " if match.group("target") else ""
        call = f"await {HELPER_NAME}.run({match.group('name')!r}, {match.group('args').strip()!r})"
        out.append(f"{match.group('indent')}{target}{call}{ending}")
    return out


class TopLevelRewriter:
    """The input transformer a shell gets (``input_transformers_cleanup``).

    IPython transforms a cell before its ``pre_execute`` event and runs it before
    ``post_execute``; a transform in between comes from code the cell is running
    (``%time``, ``%timeit``, ``run_cell``) and is compiled without top-level await, so
    it is left alone. ``depth`` counts running cells (``run_cell`` nests).
    """

    def __init__(self) -> None:
        self.depth = 0

    def __call__(self, lines: list[str]) -> list[str]:
        if self.depth:
            return lines
        return rewrite_realm_magics(lines)

    def pre_execute(self) -> None:
        self.depth += 1

    def post_execute(self) -> None:
        self.depth = max(0, self.depth - 1)

    def install(self, shell: Any) -> None:
        if self not in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.append(self)
        shell.events.register("pre_execute", self.pre_execute)
        shell.events.register("post_execute", self.post_execute)

    def uninstall(self, shell: Any) -> None:
        if self in shell.input_transformers_cleanup:
            shell.input_transformers_cleanup.remove(self)
        for event, callback in (("pre_execute", self.pre_execute),
                                ("post_execute", self.post_execute)):
            if callback in shell.events.callbacks.get(event, []):
                shell.events.unregister(event, callback)
