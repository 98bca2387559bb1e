"""`leadgate keys` (``leadgate.cli.keys_cmd``): create (shown once), list (prefixes only),
revoke; clear refusals."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from tests.cli.runner import as_json, leadgate, ok


def test_keys_are_shown_once_stored_hashed_and_revocable(tmp_path: Path) -> None:
    database = tmp_path / "keys.db"
    ok(leadgate(database, "db", "upgrade"))
    tracking = as_json(leadgate(database, "keys", "create", "--name", "site", "--json"))
    secret = as_json(
        leadgate(database, "keys", "create", "--name", "crm", "--scopes", "read,write", "--json")
    )
    assert tracking["kind"] == "tracking" and tracking["key"].startswith("lg_pub_")
    assert tracking["scopes"] == ["track"]
    assert secret["kind"] == "secret" and secret["key"].startswith("lg_sk_")
    assert secret["scopes"] == ["read", "write"]

    listed = as_json(leadgate(database, "keys", "list", "--json"))
    assert [k["name"] for k in listed] == ["site", "crm"]
    assert all("key" not in k for k in listed), "a key is never shown again"
    assert listed[0]["prefix"] == tracking["key"][:14]

    with sqlite3.connect(database) as connection:
        stored = dict(connection.execute("SELECT name, key_hash FROM api_keys").fetchall())
    assert stored["site"] == hashlib.sha256(tracking["key"].encode()).hexdigest()
    assert tracking["key"] not in database.read_bytes().decode("latin-1")

    revoked = as_json(leadgate(database, "keys", "revoke", str(secret["id"]), "--json"))
    assert revoked["revoked_at"] is not None
    again = as_json(leadgate(database, "keys", "revoke", str(secret["id"]), "--json"))
    assert again["revoked_at"] == revoked["revoked_at"], "revoking twice keeps the first time"


def test_keys_refuse_bad_input_with_exit_codes(tmp_path: Path) -> None:
    database = tmp_path / "keys.db"
    ok(leadgate(database, "db", "upgrade"))
    unknown_scope = leadgate(database, "keys", "create", "--name", "x", "--scopes", "track,root")
    assert unknown_scope.returncode == 2
    assert "unknown scope 'root'" in unknown_scope.stderr
    blank = leadgate(database, "keys", "create", "--name", " ")
    assert blank.returncode == 2
    assert "name: required" in blank.stderr
    missing = leadgate(database, "keys", "revoke", "99")
    assert missing.returncode == 1
    assert "no API key with id 99" in missing.stderr
    assert as_json(leadgate(database, "keys", "list", "--json")) == []
