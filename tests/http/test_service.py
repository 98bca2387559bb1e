"""The service itself: health, readiness, keys, the error shape (the app in this process;
readiness on both back ends, the rest on SQLite)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from leadgate.adapters.db.migrate import head_revision
from leadgate.services.keys import create_key, revoke_key
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only


def test_healthz_and_readyz_report_the_database(app_server: AppServer) -> None:
    with app_server.client("") as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == app_server.app.engine.dialect.name
    assert ready.json()["schema_revision"] == ready.json()["schema_needed"]


def test_readyz_fails_when_the_schema_is_behind(app_server: AppServer) -> None:
    with app_server.app.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    needed = head_revision()
    try:
        with app_server.client("") as http:
            response = http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "schema_not_current"
        assert "leadgate db upgrade" in response.json()["message"]
    finally:
        with app_server.app.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": needed})


@sqlite_only
def test_unknown_paths_get_the_json_error_shape(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@sqlite_only
def test_a_revoked_key_is_refused(app_server: AppServer) -> None:
    created = create_key(app_server.app.uow(), name="temp", scopes="read", now=T0)
    revoke_key(app_server.app.uow(), created.key.id, now=T0)
    with app_server.client(created.secret) as http:
        response = http.get("/v1/leads")
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": "unknown or revoked API key"}


@sqlite_only
@pytest.mark.parametrize("header", ["Bearer", "Basic"])
def test_a_tracking_key_cannot_read(app_server: AppServer, header: str) -> None:
    import base64

    value = (
        app_server.track_key
        if header == "Bearer"
        else base64.b64encode(f"{app_server.track_key}:".encode()).decode()
    )
    with app_server.client("") as http:
        response = http.get("/v1/leads", headers={"Authorization": f"{header} {value}"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "'read'" in response.json()["message"]


@sqlite_only
def test_no_key_is_401_with_a_hint(app_server: AppServer) -> None:
    with app_server.client("") as http:
        response = http.get("/v1/leads")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["message"]


@sqlite_only
def test_wrong_method_lists_every_method_of_the_path(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.delete("/v1/leads")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


@sqlite_only
def test_malformed_json_is_reported_against_the_body(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.post(
            "/v1/leads",
            content=b'{"email": "ann@acme.io",',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert response.json()["message"].startswith("body: ")


@sqlite_only
def test_openapi_documents_json_bodies_not_strings(app_server: AppServer) -> None:
    with app_server.client("") as http:
        document = http.get("/openapi.json").json()
    ready = document["paths"]["/readyz"]["get"]["responses"]["200"]["content"]
    assert ready["application/json"]["schema"] == {"$ref": "#/components/schemas/Ready"}
