"""The dashboard's session: the signing key, and the CSRF token every form carries.

Sessions are Starlette's signed cookies (itsdangerous): the cookie holds the user id and
a CSRF token, signed with a key only the server knows, so a client can read but not change
it. The user is read again on every request, so disabling a user ends their session.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from leadgate.config import Settings

CSRF_FIELD = "csrf_token"
_KEY_BYTES = 32


class SessionKeyError(RuntimeError):
    """The key file cannot be read or written; the message names it."""


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: ``LEADGATE_SESSION_SECRET`` if set, else the
    contents of ``session_secret_file``, created (mode 0600) with a random key if absent.

    Every server process on the host reads the same file, so they accept each other's
    cookies; deleting the file (or changing the variable) signs everybody out.
    """
    if settings.session_secret:
        if len(settings.session_secret) < 16:
            raise SessionKeyError("LEADGATE_SESSION_SECRET: use at least 16 characters")
        return settings.session_secret
    path = Path(settings.session_secret_file)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(_KEY_BYTES)
    try:
        # O_EXCL: when two processes start at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise SessionKeyError(
            f"cannot create the session key file {path}: {exc.strerror}; set "
            "LEADGATE_SESSION_SECRET or LEADGATE_SESSION_SECRET_FILE"
        ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _read(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SessionKeyError(f"cannot read the session key file {path}: {exc.strerror}") from None
    if len(key) < 16:
        raise SessionKeyError(f"the session key file {path} holds no usable key (too short)")
    return key


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use (the login form gets one too)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: dict[str, Any], submitted: str | None) -> bool:
    expected = session.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )
