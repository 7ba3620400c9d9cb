"""Rewrite ``%realm_…`` lines into awaited calls, so a cell can wait on the kernel loop.

IPython runs a cell that contains a top-level ``await`` as a coroutine on the
kernel's own asyncio loop. A line such as ``df = %realm_subscribe Item "…"``
becomes ``df = await _realm_magics.run('realm_subscribe', '…')``: the cell waits
while the session's tasks keep running on the same loop. Lines inside a ``def``
or ``class`` are left alone (``await`` is not allowed there); the real line
magics, registered too, handle them — and terminals, ``%time`` and ``%lsmagic``.
"""

from __future__ import annotations

import re

__all__ = ["HELPER_NAME", "rewrite_realm_magics"]

HELPER_NAME = "_realm_magics"
_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:(?P<target>[A-Za-z_][\w.]*(?:\[[^\]]*\])?)\s*=\s*)?"
                   r"(?<!%)%(?P<name>realm_[A-Za-z_]\w*)(?P<args>(?:\s.*)?)$")
_SCOPE = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+def|def|class)\b")


def rewrite_realm_magics(lines: list[str]) -> list[str]:
    """The input transformer (``input_transformers_cleanup``)."""
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
