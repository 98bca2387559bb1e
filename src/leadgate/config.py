"""Settings, read from the environment (``LEADGATE_*``) and a local ``.env`` file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./leadgate.db"


class Settings(BaseSettings):
    """Everything configurable. ``LEADGATE_DATABASE_URL=postgresql://...`` picks PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="LEADGATE_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    echo_sql: bool = False
    # Tracking: requests a key may make per second (0 = no limit); checked per server process.
    rate_limit_per_second: float = 0.0
    # Tracking: how far in the future a client's timestamp may be before it is clamped.
    max_clock_skew_seconds: float = 300.0
    # A revoked key keeps working for at most this long in a running server (key cache).
    key_cache_seconds: float = 30.0
    # Tracking: "inline" qualifies each request in its own transaction; "inbox" captures
    # the calls in the inbox and a qualifier drains it (docs/service.md, "Ingest modes").
    ingest_mode: Literal["inline", "inbox"] = "inline"
    # Inbox mode: capture answers 503 once about this many calls wait (0 = no limit).
    inbox_max_backlog: int = Field(default=200_000, ge=0)
    # Inbox mode: the most calls one qualifier transaction takes.
    inbox_drain_batch: int = Field(default=5000, ge=1)
    # Inbox mode: how often an idle qualifier looks for calls a capture did not wake it for.
    inbox_poll_seconds: float = Field(default=0.05, gt=0)
    # Inbox mode: how long drained calls are kept (for the lag figures of `inbox status`).
    inbox_keep_seconds: float = Field(default=60.0, ge=0)
    # Inbox mode: run a qualifier in each `leadgate serve` process (false: only in
    # `leadgate worker`, which always drains the inbox).
    inbox_serve_qualifier: bool = True
    log_level: str = "info"
    # Dashboard sign-in (docs/dashboard.md): the key that signs session cookies. Empty: read
    # from session_secret_file, which is created with a random key the first time.
    session_secret: str = ""
    session_secret_file: str = ".leadgate-session-key"
    session_max_age_seconds: int = 8 * 3600
    # Send the session cookie over HTTPS only (set it when leadgate sits behind TLS).
    secure_cookies: bool = False
