"""Settings, read from the environment (``LEADGATE_*``) and a local ``.env`` file."""

from __future__ import annotations

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
    log_level: str = "info"
    # Dashboard sign-in (docs/dashboard.md): the key that signs session cookies. Empty: read
    # from session_secret_file, which is created with a random key the first time.
    session_secret: str = ""
    session_secret_file: str = ".leadgate-session-key"
    session_max_age_seconds: int = 8 * 3600
    # Send the session cookie over HTTPS only (set it when leadgate sits behind TLS).
    secure_cookies: bool = False
