"""The ASGI entry point uvicorn imports (``leadgate.api.main:create``, a factory).

Settings come from the environment, so every worker process wires itself the same way.
"""

from __future__ import annotations

from fastapi import FastAPI

from leadgate.api.app import create_app


def create() -> FastAPI:
    return create_app()
