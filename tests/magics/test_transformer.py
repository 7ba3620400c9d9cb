"""The input transformer: which lines become awaited calls, and which are left to IPython."""

from __future__ import annotations

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from realm_jupyter.magics.transformer import HELPER_NAME, TopLevelRewriter, rewrite_realm_magics


def rewrite(cell: str) -> str:
    return "".join(rewrite_realm_magics(cell.splitlines(keepends=True)))


def awaited(name: str, args: str) -> str:
    return f"await {HELPER_NAME}.run({name!r}, {args!r})"


@pytest.mark.parametrize(("line", "wanted"), [
    ('%realm_subscribe Item "status == \'open\'"',
     awaited("realm_subscribe", 'Item "status == \'open\'"')),
    ("%realm_connect --demo", awaited("realm_connect", "--demo")),
    ("%realm_status", awaited("realm_status", "")),
    ("%realm_status   ", awaited("realm_status", "")),
    ('df = %realm_subscribe Item "priority >= 3"',
     "df = " + awaited("realm_subscribe", 'Item "priority >= 3"')),
    ('df=%realm_query Item "TRUEPREDICATE"', "df = " + awaited("realm_query", 'Item "TRUEPREDICATE"')),
    ("self.frame = %realm_sql SELECT 1", "self.frame = " + awaited("realm_sql", "SELECT 1")),
    ('frames["north"] = %realm_subscribe Order "region == \'north\'"',
     'frames["north"] = ' + awaited("realm_subscribe", 'Order "region == \'north\'"')),
    ("%realm_nope x", awaited("realm_nope", "x")),  # run() names the unknown magic
])
def test_top_level_realm_lines_become_awaited_calls(line: str, wanted: str) -> None:
    assert rewrite(line) == wanted
    assert rewrite(line + "\n") == wanted + "\n"


@pytest.mark.parametrize("line", [
    "%time x = 1",
    "%config RealmMagics.short_errors = False",
    "%realm_subscribe?",            # help: IPython's business
    "%realm_subscribe??",
    "%%realm_sql",
    "# %realm_subscribe Item",
    'print("%realm_subscribe Item")',
    "x = 100 %realm_status",        # not a magic: a modulo of a name
    "%realmish",
    "!%realm_status",
])
def test_other_lines_are_left_alone(line: str) -> None:
    assert rewrite(line) == line


def test_indentation_in_top_level_blocks_is_kept() -> None:
    cell = ("for kind in ('Item', 'Order'):\n"
            "    %realm_subscribe Item\n"
            "if True:\n"
            "\tframe = %realm_query Item\n")
    assert rewrite(cell) == ("for kind in ('Item', 'Order'):\n"
                             f"    {awaited('realm_subscribe', 'Item')}\n"
                             "if True:\n"
                             f"\tframe = {awaited('realm_query', 'Item')}\n")


def test_lines_in_def_and_class_bodies_are_left_alone() -> None:
    cell = ("def load():\n"
            "    frame = %realm_subscribe Item\n"
            "\n"
            "    # a comment at any indentation does not end the body\n"
            "# even here\n"
            "    return frame\n"
            "async def later():\n"
            "    %realm_status\n"
            "class Loader:\n"
            "    def method(self):\n"
            "        x = %realm_query Item\n"
            "    y = %realm_query Order\n"
            "%realm_status\n")
    out = rewrite(cell).splitlines()
    assert out[:-1] == cell.splitlines()[:-1]
    assert out[-1] == awaited("realm_status", "")


def test_a_def_inside_a_block_ends_with_its_dedent() -> None:
    cell = ("if True:\n"
            "    def f():\n"
            "        return 1\n"
            "    %realm_status\n")
    assert rewrite(cell).splitlines()[-1] == "    " + awaited("realm_status", "")


@pytest.mark.parametrize("cell", [
    "%%realm_sql\nSELECT count(*) FROM Item\n",
    "\n\n%%realm_sql\nSELECT 1\n",
    "%%time\ndf = %realm_subscribe Item\n",   # the cell magic decides; %realm lines stay magics
    "%%capture out\n%realm_status\n",
])
def test_cell_magic_cells_are_left_alone(cell: str) -> None:
    assert rewrite(cell) == cell


def test_rewritten_cells_compile_as_top_level_await() -> None:
    import ast

    cell = 'df = %realm_subscribe Item "priority >= $0" 3\nfor t in "ab":\n    %realm_status\n'
    source = TransformerManager().transform_cell(cell)
    assert "await" not in source  # IPython alone knows nothing of our rewrite…
    manager = TransformerManager()
    manager.cleanup_transforms.append(rewrite_realm_magics)
    source = manager.transform_cell(cell)
    tree = ast.parse(source)  # …with it, plain Python with top-level await, as IPython runs it
    assert "get_ipython" not in source
    assert sum(isinstance(node, ast.Await) for node in ast.walk(tree)) == 2


def test_the_shell_transformer_steps_aside_while_a_cell_runs() -> None:
    rewriter = TopLevelRewriter()
    line = ["%realm_status\n"]
    assert rewriter(line) == [awaited("realm_status", "") + "\n"]
    rewriter.pre_execute()  # a cell runs; %time, %timeit or run_cell transform its code again
    assert rewriter(line) == line
    rewriter.pre_execute()  # run_cell inside the cell
    rewriter.post_execute()
    assert rewriter(line) == line
    rewriter.post_execute()
    assert rewriter(line) == [awaited("realm_status", "") + "\n"]
    rewriter.post_execute()  # the cell that loaded the extension had no pre_execute for us
    assert rewriter.depth == 0


def test_install_and_uninstall() -> None:
    from IPython.core.events import EventManager, available_events

    class Shell:
        def __init__(self) -> None:
            self.input_transformers_cleanup: list = []
            self.events = EventManager(self, available_events)

    shell, rewriter = Shell(), TopLevelRewriter()
    rewriter.install(shell)
    rewriter.install(shell)
    assert shell.input_transformers_cleanup == [rewriter]
    shell.events.trigger("pre_execute")
    assert rewriter.depth == 1
    shell.events.trigger("post_execute")
    rewriter.uninstall(shell)
    assert shell.input_transformers_cleanup == []
    shell.events.trigger("pre_execute")
    assert rewriter.depth == 0
