"""Settings, read from the environment (``LEADGATE_*``) and a local ``.env`` file."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./leadgate.db"


class Settings(BaseSettings):
    """Everything configurable. ``LEADGATE_DATABASE_URL=postgresql://...`` picks PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="LEADGATE_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    echo_sql: bool = False
