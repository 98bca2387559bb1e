"""The HTTP service: tracking endpoints, the REST API, health checks (FastAPI)."""
