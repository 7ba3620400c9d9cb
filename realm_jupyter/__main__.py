"""``python -m realm_jupyter`` = the ``realm-jupyter`` command."""

from .cli import main

raise SystemExit(main())
