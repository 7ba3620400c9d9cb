"""The facade is the table of contents: ``__all__`` lists exactly the public names."""

import types

import realm_jupyter


def test_all_lists_every_public_name_sorted() -> None:
    public = [name for name, value in vars(realm_jupyter).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)]
    public.append("__version__")
    assert sorted(public, key=str.casefold) == sorted(realm_jupyter.__all__, key=str.casefold)
    assert realm_jupyter.__all__ == sorted(realm_jupyter.__all__, key=str.casefold)


def test_exported_errors_form_one_tree() -> None:
    for name in realm_jupyter.__all__:
        value = getattr(realm_jupyter, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, realm_jupyter.RealmJupyterError), name


def test_version_matches_the_widget_bundle_version() -> None:
    import json
    from pathlib import Path

    package = json.loads((Path(__file__).parents[1] / "js" / "package.json").read_text())
    assert package["version"] == realm_jupyter.__version__
