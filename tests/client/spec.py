"""The transition tables of ``docs/spec/*.md``, read from the documents themselves."""

from __future__ import annotations

import re
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec"
Table = dict[tuple[str, str], str]


def read_table(document: str, marker: str) -> tuple[list[str], list[str], Table]:
    """``(states, events, {(state, event): cell})`` of the table between the markers."""
    text = (SPEC / document).read_text()
    match = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert match, f"no {marker} table in {document}"
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in match.group(1).strip().splitlines()]
    header, _rule, *body = rows
    events = header[1:]
    table = {}
    for state, *cells in body:
        assert len(cells) == len(events), f"row {state!r} has {len(cells)} cells"
        table.update({(state, event): cell for event, cell in zip(events, cells, strict=True)})
    return [row[0] for row in body], events, table
