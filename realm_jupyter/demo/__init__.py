"""The built-in demo: a task tracker beside an analytics collection, with three fixed users.

The demo app directory (``app/``) is a modern App Services export that ``serve``
and ``%realm_connect --demo`` run by default; ``generate`` fills it with
deterministic data. The users are fixed — ids included — so that notebooks, docs
and tests can say "Alice sees the north team's items" and mean the same rows
everywhere. Their ids are ObjectId hex strings, which is what ``%%user.id``
expands to.

Importing this package is cheap: the generator (numpy, pyarrow) lives in
:mod:`realm_jupyter.demo.generate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEMO_APP_DIR", "DEMO_USERS", "DemoUser", "demo_store_url"]

DEMO_APP_DIR = Path(__file__).parent / "app"


def demo_store_url(size: str | int = "small") -> str:
    """The built-in demo's default store: ``<user data dir>/realm-jupyter/demo-<size>.sqlite3``.

    Not inside the app directory: installed from a wheel, that is site-packages, which may be
    read-only and is shared by every user. One store per size, because a store is seeded once
    (``demo --size large`` after ``demo`` must not find the small data).
    """
    import platformdirs

    name = "".join(c for c in str(size) if c.isalnum() or c in "-_") or "small"
    return f"sqlite:///{Path(platformdirs.user_data_dir('realm-jupyter')) / f'demo-{name}.sqlite3'}"


@dataclass(frozen=True)
class DemoUser:
    """A demo login (``local-userpass``) and the custom user data that decides its roles."""

    email: str
    password: str
    id: str
    name: str
    role: str
    teams: tuple[str, ...]

    @property
    def custom_data(self) -> dict[str, Any]:
        """The user's ``UserProfile`` document without ``_id`` (``users add --custom-data``)."""
        return {"user_id": self.id, "name": self.name, "role": self.role,
                "teams": list(self.teams)}


DEMO_USERS = (
    DemoUser(email="alice@example.com", password="alice-demo", id="6650000000000000a11ce001",
             name="Alice", role="member", teams=("north",)),
    DemoUser(email="bob@example.com", password="bob-demo", id="66500000000000000b0b0002",
             name="Bob", role="member", teams=("south",)),
    DemoUser(email="carol@example.com", password="carol-demo", id="665000000000000ca4010003",
             name="Carol", role="admin", teams=()),
)
