"""Session rules: which role applies, and what a role that is not Sync-compatible gets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from realm_jupyter.demo import DEMO_APP_DIR, DEMO_USERS
from realm_jupyter.query.evaluate import evaluate
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.rules import SessionRules
from realm_jupyter.server.storage import UserRecord

ALICE = next(u for u in DEMO_USERS if u.email.startswith("alice"))
CAROL = next(u for u in DEMO_USERS if u.email.startswith("carol"))


def _user(demo_user: object) -> UserRecord:
    return UserRecord(id=demo_user.id, provider="local-userpass", email=demo_user.email)  # type: ignore[attr-defined]


def test_first_matching_role_wins_and_expansions_are_frozen() -> None:
    app = load_app(DEMO_APP_DIR)
    member = SessionRules(app, _user(ALICE), ALICE.custom_data)
    admin = SessionRules(app, _user(CAROL), CAROL.custom_data)
    assert member["Item"].role == "team-member" and admin["Item"].role == "admin"
    north = {"owner_id": "someone", "team": "north", "summary": "x"}
    south = {"owner_id": "someone", "team": "south", "summary": "x"}
    assert evaluate(member["Item"].readable, north) and not evaluate(member["Item"].readable, south)
    assert evaluate(admin["Item"].readable, south)
    assert member["Order"].hidden_fields == frozenset({"customer"})
    assert member.fingerprint() != admin.fingerprint()


def test_a_role_without_both_document_filters_denies_access(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(DEMO_APP_DIR, app_dir)
    rules_file = app_dir / "data_sources" / "mongodb-atlas" / "demo" / "Item" / "rules.json"
    rules = json.loads(rules_file.read_text())
    team = next(r for r in rules["roles"] if r["name"] == "team-member")
    del team["document_filters"]["write"]
    rules_file.write_text(json.dumps(rules))
    access = SessionRules(load_app(app_dir), _user(ALICE), ALICE.custom_data)["Item"]
    assert access.role == "team-member" and access.denied
