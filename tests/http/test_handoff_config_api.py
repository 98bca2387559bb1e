"""REST API: the handoff configuration (show, validate, upload, activate), through the app in this
process, on SQLite and PostgreSQL (refusals on SQLite only): problems come with line and column, an
invalid document is never stored, and an activated version routes the next handoff."""

from __future__ import annotations

from leadgate.models.handoff import default_handoff_text
from tests.http.conftest import AppServer, sqlite_only
from tests.http.test_handoffs_api import EMEA, error, fields, lead, pushed, reader_key

YAML = {"content-type": "text/yaml"}

# One team of one rep, working around the clock: every handoff goes to solo@seller.io.
SOLO = """\
calendars:
  utc:
    timezone: UTC
    hours:
      weekdays: "00:00-24:00"
teams:
  solo:
    strategy: round_robin
    calendar: utc
    manager: boss@seller.io
    members:
      - {id: solo@seller.io}
routing:
  default_team: solo
sla:
  default: standard
  policies:
    - id: standard
      first_touch_hours: 2
"""

# Three errors (a time zone, a team, a negative deadline) and a warning (no manager).
BROKEN = """\
calendars:
  utc:
    timezone: Mars/Olympus
    hours:
      weekdays: "00:00-24:00"
teams:
  solo:
    strategy: round_robin
    calendar: utc
    members:
      - {id: solo@seller.io}
routing:
  default_team: nowhere
sla:
  default: standard
  policies:
    - id: standard
      first_touch_hours: -2
"""


def where(document: str, text: str, part: str = "") -> tuple[int, int]:
    """Line and column (from 1) where ``text`` first appears in ``document`` (where
    ``part`` of it starts, when given)."""
    before = document[: document.index(text) + (text.index(part) if part else 0)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def test_the_shipped_default_is_in_force_until_a_version_is_activated(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        active = http.get("/v1/handoff-config").json()
        versions = http.get("/v1/handoff-config/versions").json()
    assert active == {
        "source": "default",
        "version": None,
        "created_at": None,
        "created_by": None,
        "document": default_handoff_text(),
    }
    assert versions == {"items": []}


@sqlite_only
def test_validate_lists_every_problem_with_line_and_column(app_server: AppServer) -> None:
    with app_server.client() as http:
        as_yaml = http.post("/v1/handoff-config/validate", content=BROKEN, headers=YAML)
        as_json = http.post("/v1/handoff-config/validate", json={"document": BROKEN})
        valid = http.post("/v1/handoff-config/validate", json={"document": default_handoff_text()})
        control = http.post(
            "/v1/handoff-config/validate", content="teams:\n  a: \x01\n", headers=YAML
        )
        syntax = http.post("/v1/handoff-config/validate", content="teams: [", headers=YAML)
        wrong_type = http.post(
            "/v1/handoff-config/validate", content="x", headers={"content-type": "image/png"}
        )
        no_document = http.post("/v1/handoff-config/validate", json={"doc": "x"})
    assert as_yaml.status_code == 200, as_yaml.text
    assert as_yaml.json() == as_json.json()
    report = as_yaml.json()
    assert report["valid"] is False
    found = [(p["line"], p["column"]) for p in report["errors"]]
    assert found == [
        where(BROKEN, "Mars/Olympus"),
        where(BROKEN, "nowhere"),
        where(BROKEN, "first_touch_hours: -2", "-2"),
    ]
    assert "unknown time zone 'Mars/Olympus'" in report["errors"][0]["message"]
    assert report["errors"][1]["text"].startswith(f"document:{found[1][0]}:{found[1][1]}: error")
    # Located at the team's settings: they lack a manager.
    assert [(p["line"], p["column"]) for p in report["warnings"]] == [where(BROKEN, "strategy")]
    assert "no `manager`" in report["warnings"][0]["message"]
    assert valid.json()["valid"] is True
    assert valid.json()["errors"] == []
    # A character YAML forbids is a problem at its place, not a server error.
    assert control.status_code == 200, control.text
    assert [(p["line"], p["column"]) for p in control.json()["errors"]] == [(2, 6)]
    assert syntax.json()["valid"] is False
    assert "YAML syntax" in syntax.json()["errors"][0]["message"]
    assert error(wrong_type, 415)["code"] == "unsupported_media_type"
    assert fields(no_document) == {"document", "doc"}


@sqlite_only
def test_an_invalid_document_is_refused_with_every_problem_and_not_stored(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        refused = http.post("/v1/handoff-config", content=BROKEN, headers=YAML)
        versions = http.get("/v1/handoff-config/versions").json()
    body = error(refused, 422)
    assert body["code"] == "invalid_config"
    assert len(body["errors"]) == 3
    assert body["errors"][0]["line"] == where(BROKEN, "Mars/Olympus")[0]
    assert "(and 2 more)" in body["message"]
    assert versions == {"items": []}


def test_an_activated_version_routes_the_next_handoff(app_server: AppServer) -> None:
    with app_server.client() as http:
        before = pushed(http, lead(http, "ann@acme-cfg.io"))
        uploaded = http.post("/v1/handoff-config", content=SOLO, headers=YAML)
        assert uploaded.status_code == 201, uploaded.text
        again = http.post("/v1/handoff-config", json={"document": SOLO})
        still = pushed(http, lead(http, "bo@acme-cfg.io"))  # stored, not yet active
        activated = http.post("/v1/handoff-config/versions/1/activate")
        twice = http.post("/v1/handoff-config/versions/1/activate")
        after = pushed(http, lead(http, "cy@acme-cfg.io"))
        active = http.get("/v1/handoff-config").json()
        shown = http.get("/v1/handoff-config/versions/1").json()
        listed = http.get("/v1/handoff-config/versions").json()["items"]
        missing = http.post("/v1/handoff-config/versions/9/activate")
        not_shown = http.get("/v1/handoff-config/versions/9")
        kept = http.get(f"/v1/handoffs/{before['id']}").json()
    version = uploaded.json()
    assert (version["version"], version["is_active"], version["created"]) == (1, False, True)
    assert version["created_by"] == "api:test-admin"
    assert version["warnings"] == []
    assert again.status_code == 200
    assert (again.json()["version"], again.json()["created"]) == (1, False)
    assert before["owner"] in EMEA
    assert still["owner"] in EMEA
    assert activated.status_code == 200, activated.text
    assert activated.json() == {"version": 1, "previous_version": None, "already_active": False}
    assert twice.json() == {"version": 1, "previous_version": 1, "already_active": True}
    assert (after["team"], after["owner"], after["sla_policy"]) == (
        "solo",
        "solo@seller.io",
        "standard",
    )
    assert active["source"] == "stored"
    assert (active["version"], active["document"]) == (1, SOLO)
    assert shown["document"] == SOLO
    assert [(v["version"], v["is_active"]) for v in listed] == [(1, True)]
    assert error(missing, 404)["code"] == "not_found"
    assert error(not_shown, 404)["code"] == "not_found"
    assert (kept["team"], kept["owner"]) == (before["team"], before["owner"])


@sqlite_only
def test_changing_the_configuration_needs_admin(app_server: AppServer) -> None:
    with app_server.client(reader_key(app_server)) as http:
        assert http.get("/v1/handoff-config").status_code == 200
        checked = http.post("/v1/handoff-config/validate", content=SOLO, headers=YAML)
        assert checked.status_code == 200  # validating stores nothing
        upload = http.post("/v1/handoff-config", content=SOLO, headers=YAML)
        assert error(upload, 403)["code"] == "forbidden"
        assert "'admin'" in upload.json()["message"]
        activate = http.post("/v1/handoff-config/versions/1/activate")
        assert error(activate, 403)["code"] == "forbidden"
    with app_server.client() as http:
        assert http.get("/v1/handoff-config/versions").json() == {"items": []}
