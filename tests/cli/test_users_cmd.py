"""`leadgate users` (``leadgate.cli.users_cmd``): create (password from stdin, stored as a
scrypt hash), list, disable, enable, password; clear refusals with exit codes, nothing
stored on a refusal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from leadgate.domain.users import verify_password
from tests.cli.runner import Ran, as_json, leadgate, ok


def users(database: Path, *args: str, stdin: str = "") -> Ran:
    """``leadgate users ARGS`` with ``stdin`` as its standard input (never a terminal)."""
    return leadgate(database, "users", *args, input=stdin)


def test_users_are_created_with_hashed_passwords_listed_and_disabled(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    ok(leadgate(database, "db", "upgrade"))
    admin = as_json(
        users(
            database,
            "create",
            "--name",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
            "--json",
            stdin="first-admin-pass\n",
        )
    )
    rep = as_json(
        users(
            database,
            "create",
            "--name",
            "lena",
            "--role",
            "sales",
            "--rep",
            "lena.schmidt@example.com",
            "--password-stdin",
            "--json",
            stdin="lena-pass-123\n",
        )
    )
    assert (admin["role"], admin["rep"], admin["disabled"]) == ("admin", None, False)
    assert (rep["role"], rep["rep"]) == ("sales", "lena.schmidt@example.com")

    with sqlite3.connect(database) as connection:
        stored = dict(connection.execute("SELECT username, password_hash FROM users").fetchall())
    assert stored["ada"].startswith("scrypt$")
    assert verify_password("first-admin-pass", stored["ada"])
    assert not verify_password("lena-pass-123", stored["ada"])
    assert b"first-admin-pass" not in database.read_bytes()

    listed = as_json(users(database, "list", "--json"))
    assert [(u["name"], u["role"]) for u in listed] == [("ada", "admin"), ("lena", "sales")]
    table = ok(users(database, "list"))
    assert "lena.schmidt@example.com" in table and "password" not in table.lower()

    assert as_json(users(database, "disable", "lena", "--json"))["disabled"] is True
    assert as_json(users(database, "enable", "lena", "--json"))["disabled"] is False
    ok(users(database, "password", "lena", "--password-stdin", stdin="new-lena-pass\n"))
    with sqlite3.connect(database) as connection:
        (hashed,) = connection.execute(
            "SELECT password_hash FROM users WHERE username = 'lena'"
        ).fetchone()
    assert verify_password("new-lena-pass", hashed)


def test_users_refuse_bad_input_with_exit_codes(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    ok(leadgate(database, "db", "upgrade"))
    cases = [
        (
            ["create", "--name", "x", "--role", "boss", "--password-stdin"],
            "role: unknown role 'boss'",
        ),
        (
            ["create", "--name", "x", "--role", "sales", "--password-stdin"],
            "rep: a sales user needs --rep",
        ),
        (
            ["create", "--name", "x", "--role", "admin", "--rep", "y", "--password-stdin"],
            "rep: only sales users",
        ),
        (
            ["create", "--name", "x y", "--role", "admin", "--password-stdin"],
            "name: 'x y' is not a user name",
        ),
        (
            ["create", "--name", "x", "--role", "admin", "--password-stdin"],
            "password: use at least 8",
        ),
    ]
    for args, message in cases:
        result = users(database, *args, stdin="short\n" if "8" in message else "long-enough-1\n")
        assert result.returncode == 2, args
        assert message in result.stderr, result.stderr
    # Without a terminal and without --password-stdin there is nobody to prompt.
    no_tty = users(database, "create", "--name", "x", "--role", "admin")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    ok(
        users(
            database,
            "create",
            "--name",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
            stdin="long-enough-1\n",
        )
    )
    taken = users(
        database,
        "create",
        "--name",
        "ada",
        "--role",
        "marketing",
        "--password-stdin",
        stdin="long-enough-2\n",
    )
    assert taken.returncode == 2 and "already exists" in taken.stderr
    missing = users(database, "disable", "nobody")
    assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr
    assert [u["name"] for u in as_json(users(database, "list", "--json"))] == ["ada"]
