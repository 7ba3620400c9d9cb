"""Docs are tested: every magic, config trait and CLI command is documented."""

import re
from pathlib import Path

from IPython.core.magic import Magics

from realm_jupyter.magics import RealmMagics

DOCS = Path(__file__).parents[1] / "docs"


def _magic_names() -> set[str]:
    names: set[str] = set()
    for kind in ("line", "cell"):
        names.update(RealmMagics.magics[kind])
    return names


def test_every_magic_is_documented() -> None:
    text = (DOCS / "magics.md").read_text()
    missing = [name for name in _magic_names() if f"%{name}" not in text]
    assert not missing


def test_every_config_trait_is_documented() -> None:
    text = (DOCS / "magics.md").read_text()
    traits = set(RealmMagics.class_own_traits(config=True))
    assert traits, "RealmMagics has no configurable traits?"
    missing = [name for name in traits if f"`{name}`" not in text]
    assert not missing


def test_every_magic_has_real_help() -> None:
    for kind in ("line", "cell"):
        for name, method_name in RealmMagics.magics[kind].items():
            method = getattr(RealmMagics, method_name)
            assert method.__doc__ and len(method.__doc__.strip()) > 20, name


def test_every_cli_command_is_documented() -> None:
    from realm_jupyter.cli import _parser

    text = (DOCS / "server.md").read_text()
    subparsers = next(a for a in _parser()._actions if a.dest == "command")
    for command in subparsers.choices:
        assert re.search(rf"realm-jupyter {command}\b", text), command


def test_magics_class_is_an_ipython_magics() -> None:
    assert issubclass(RealmMagics, Magics)
