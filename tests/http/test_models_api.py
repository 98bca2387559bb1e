"""REST API: scoring model versions (list, show, validate, upload, activate), through the
app in this process, on SQLite and PostgreSQL (refusals on SQLite only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from leadgate.models import default_model_text
from leadgate.services.keys import create_key
from tests.cli.runner import leadgate
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only

# Three problems: an unknown key, a rule without points, a negative half-life.
BROKEN = """\
name: broken
half_life_days: -3
colour: blue
fit:
  - {id: vp, field: seniority, eq: vp}
"""

YAML = {"content-type": "text/yaml"}


def variant(points: int) -> str:
    """The default model with the demo request worth ``points`` (a different document)."""
    text = default_model_text()
    old = "touchpoint: demo_request, points: 30}"
    assert old in text
    return text.replace(old, f"touchpoint: demo_request, points: {points}}}")


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message"}
    return body


def test_list_and_show_the_active_version(app_server: AppServer) -> None:
    with app_server.client() as http:
        listed = http.get("/v1/models").json()["items"]
        shown = http.get("/v1/models/1").json()
    assert [(v["version"], v["name"], v["is_active"]) for v in listed] == [
        (1, "b2b-saas-default", True)
    ]
    assert shown["document"] == default_model_text()
    assert shown["created_by"] == "test"


@sqlite_only
def test_validate_lists_every_problem_like_the_cli(app_server: AppServer, tmp_path: Path) -> None:
    with app_server.client() as http:
        as_yaml = http.post("/v1/models/validate", content=BROKEN, headers=YAML)
        as_json = http.post("/v1/models/validate", json={"document": BROKEN})
        valid = http.post("/v1/models/validate", json={"document": default_model_text()})
    assert as_yaml.status_code == 200, as_yaml.text
    assert as_yaml.json() == as_json.json()
    report = as_yaml.json()
    assert report["valid"] is False
    assert len(report["errors"]) >= 3
    assert valid.json() == {"valid": True, "errors": [], "warnings": valid.json()["warnings"]}

    model = tmp_path / "broken.yaml"
    model.write_text(BROKEN)
    cli = leadgate(tmp_path / "x.db", "model", "validate", str(model))
    assert cli.returncode == 2
    printed = [line for line in cli.stderr.splitlines() if ": error: " in line]
    # The same problems at the same line:column; only the source name differs.
    assert [p["text"].replace("document:", f"{model}:", 1) for p in report["errors"]] == printed
    assert all(p["line"] >= 1 and p["column"] >= 1 for p in report["errors"])


def test_upload_stores_a_candidate_then_activate_rescores(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = http.post("/v1/leads", json={"email": "ann@acme.io", "seniority": "vp"}).json()
        uploaded = http.post("/v1/models", content=variant(31), headers=YAML)
        assert uploaded.status_code == 201, uploaded.text
        version = uploaded.json()
        assert (version["version"], version["is_active"], version["created"]) == (2, False, True)
        assert version["created_by"] == "api:test-admin"
        again = http.post("/v1/models", json={"document": variant(31)})
        assert again.status_code == 200
        assert (again.json()["version"], again.json()["created"]) == (2, False)
        # A candidate changes no score until it is activated.
        assert http.get(f"/v1/leads/{lead['id']}").json()["score"]["model_version"] == 1

        activated = http.post("/v1/models/2/activate")
        assert activated.status_code == 200, activated.text
        assert activated.json() | {"transitions": 0} == {
            "version": 2,
            "name": "b2b-saas-default",
            "previous_version": 1,
            "already_active": False,
            "rescored": 1,
            "transitions": 0,
        }
        assert http.post("/v1/models/2/activate").json()["already_active"] is True
        listed = {v["version"]: v["is_active"] for v in http.get("/v1/models").json()["items"]}
        rescored = http.get(f"/v1/leads/{lead['id']}").json()["score"]
    assert listed == {1: False, 2: True}
    assert rescored["model_version"] == 2


@sqlite_only
def test_an_invalid_upload_is_422_with_every_problem_and_stores_nothing(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        response = http.post("/v1/models", content=BROKEN, headers=YAML)
        body = error(response, 422)
        syntax = http.post("/v1/models", content="name: [unclosed", headers=YAML)
        versions = http.get("/v1/models").json()["items"]
    assert body["code"] == "invalid_model"
    assert len(body["errors"]) >= 3
    assert all({"line", "column", "message", "path"} <= set(p) for p in body["errors"])
    assert body["message"].startswith("not a valid scoring model: document:")
    assert error(syntax, 422)["errors"][0]["message"].startswith("YAML syntax")
    assert len(versions) == 1


@sqlite_only
def test_bad_model_requests(app_server: AppServer) -> None:
    with app_server.client() as http:
        malformed = http.post(
            "/v1/models/validate",
            content=b'{"document": ',
            headers={"content-type": "application/json"},
        )
        assert error(malformed, 422)["code"] == "invalid_request"
        missing = http.post("/v1/models/validate", json={"text": "name: x"})
        assert {e["field"] for e in error(missing, 422)["errors"]} == {"document", "text"}
        wrong_type = http.post("/v1/models", json={"document": 5})
        assert [e["field"] for e in error(wrong_type, 422)["errors"]] == ["document"]
        form = http.post("/v1/models/validate", data={"document": "name: x"})
        assert error(form, 415)["code"] == "unsupported_media_type"
        binary = http.post("/v1/models/validate", content=b"\xff\xfe", headers=YAML)
        assert error(binary, 400)["message"] == "the model document is not UTF-8 text"
        huge = http.post("/v1/models/validate", content=b"#" * 1_000_001, headers=YAML)
        assert error(huge, 413)["code"] == "too_large"
        assert error(http.get("/v1/models/99"), 404)["message"] == "no model version 99"
        assert error(http.post("/v1/models/99/activate"), 404)["code"] == "not_found"
        assert error(http.get("/v1/models/0"), 422)
        versions = http.get("/v1/models").json()["items"]
    assert len(versions) == 1


@sqlite_only
def test_upload_and_activate_need_admin(app_server: AppServer) -> None:
    writer = create_key(app_server.app.uow(), name="rw", scopes="read,write", now=T0).secret
    with app_server.client(writer) as http:
        assert http.get("/v1/models").status_code == 200
        assert http.post("/v1/models/validate", content=BROKEN, headers=YAML).status_code == 200
        upload = http.post("/v1/models", content=variant(32), headers=YAML)
        assert "'admin'" in error(upload, 403)["message"]
        assert error(http.post("/v1/models/1/activate"), 403)["code"] == "forbidden"
    with app_server.client(app_server.track_key) as http:
        assert error(http.get("/v1/models"), 403)["code"] == "forbidden"
