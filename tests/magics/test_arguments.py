"""How a magic's line becomes arguments: quotes, and a trailing ``# comment``."""

from __future__ import annotations

import shlex

import pytest

from realm_jupyter.magics.extension import strip_comment


@pytest.mark.parametrize(("line", "argv"), [
    ('Item "status == \'open\'"  # my open items', ["Item", "status == 'open'"]),
    ("Item \"summary == '#1'\" # note", ["Item", "summary == '#1'"]),
    ("Item 'tag == \"#x\"'", ["Item", 'tag == "#x"']),
    ("Order --name team#1", ["Order", "--name", "team#1"]),  # not after a space: no comment
    ("# nothing but a comment", []),
    ("Item \\# literal", ["Item", "#", "literal"]),
    ("", []),
])
def test_trailing_comments_are_dropped(line: str, argv: list[str]) -> None:
    assert shlex.split(strip_comment(line)) == argv


def test_an_unclosed_quote_is_left_for_shlex_to_report() -> None:
    line = "Item \"status == 'open' # oops"
    assert strip_comment(line) == line
    with pytest.raises(ValueError, match="quotation"):
        shlex.split(strip_comment(line))


def test_an_unquoted_explorer_filter_says_to_quote_it() -> None:
    from IPython.core.error import UsageError

    from realm_jupyter.magics.extension import RealmMagics

    magics = RealmMagics(shell=None)
    with pytest.raises(UsageError) as raised:
        magics._parse("realm_explore", "Order status == 'returned'")
    assert str(raised.value).splitlines() == [
        "%realm_explore: put the filter in quotes, as one argument",
        "Hint: %realm_explore Order \"status == 'returned'\""]
    assert magics._parse("realm_explore", "Order \"status == 'returned'\"").query == \
        "status == 'returned'"
