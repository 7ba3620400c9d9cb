"""The ``%realm_*`` magics (see docs/magics.md).

``%load_ext realm_jupyter`` registers one :class:`RealmMagics` per shell, makes it
configurable (``%config RealmMagics…``), and installs the input transformer that
lets ``%realm_…`` lines await on the kernel loop.
"""

from __future__ import annotations

from typing import Any

from .extension import RealmMagics
from .transformer import HELPER_NAME

__all__ = ["RealmMagics", "current_realm", "load_ipython_extension", "unload_ipython_extension"]


def current_realm() -> Any:
    """The realm ``%realm_connect`` opened in this kernel (for the Python API).

    Raises:
        RealmJupyterError: the extension is not loaded or nothing is connected.
    """
    from IPython import get_ipython

    from ..errors import RealmJupyterError

    shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    magics = None if shell is None else shell.user_ns.get(HELPER_NAME)
    if not isinstance(magics, RealmMagics):
        raise RealmJupyterError("the realm_jupyter extension is not loaded",
                                hint="%load_ext realm_jupyter")
    return magics.context.realm


def load_ipython_extension(ipython: Any) -> None:
    existing = ipython.user_ns.get(HELPER_NAME)
    if isinstance(existing, RealmMagics):
        return  # loading twice changes nothing
    magics = RealmMagics(shell=ipython)
    magics.loaded_in_cell = getattr(ipython, "execution_count", None)
    ipython.register_magics(magics)
    ipython.configurables.append(magics)
    ipython.user_ns[HELPER_NAME] = magics
    ipython.user_ns_hidden[HELPER_NAME] = magics
    magics.rewriter.install(ipython)
    magics.cells.install(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.user_ns.pop(HELPER_NAME, None)
    ipython.user_ns_hidden.pop(HELPER_NAME, None)
    if isinstance(magics, RealmMagics):
        magics.rewriter.uninstall(ipython)
        magics.cells.uninstall(ipython)
        magics.context.shutdown()
