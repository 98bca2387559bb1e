"""POST /v1/imports through the app in this process, on SQLite and PostgreSQL (refusals on
SQLite only): the same import as the CLI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.http.conftest import AppServer, sqlite_only

LEADS = (
    "Lead ID,First Name,Email,Website,No. of Employees,Lead Status\r\n"
    "00Q1,Ann,ann@acme.io,acme.io,120,Working\r\n"
    "00Q2,Bob,bob@globex.io,globex.io,300,Select\r\n"
)
BAD_LEADS = LEADS + "00Q3,Cy,cy@initech.com,initech.com,lots,\r\n"


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("leads", "accounts", "transitions")
        }


def upload(
    http: httpx.Client,
    content: str,
    *,
    params: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    name: str = "leads.csv",
) -> httpx.Response:
    return http.post(
        "/v1/imports",
        params=params,
        data=data,
        files={"file": (name, content.encode(), "text/csv")},
    )


def test_options_as_query_parameters(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = upload(http, LEADS, params={"kind": "leads", "preset": "salesforce"})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["kind"] == "leads" and report["file"] == "leads.csv"
        assert (report["rows"], report["created"], report["stored"]) == (2, 2, True)
        assert report["placeholders"] == {"Lead Status": {"Select": 1}}
        assert report["columns"]["external_id"] == "Lead ID"

        again = upload(http, LEADS, params={"kind": "leads", "preset": "salesforce"}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert counts(app_server.app.engine)["leads"] == 2


def test_options_as_form_fields_and_outcomes(app_server: AppServer) -> None:
    with app_server.client() as http:
        leads = upload(
            http,
            LEADS,
            data={"kind": "leads", "map": ["external_id=Lead ID", "email=Email"]},
        )
        assert leads.status_code == 200, leads.text
        outcomes = upload(
            http,
            "id,won\n00Q1,Closed Won\n00Q2,no\n",
            data={"kind": "outcomes", "map": ["external_id=id", "outcome=won"]},
            name="won.csv",
        )
        assert outcomes.status_code == 200, outcomes.text
        report = outcomes.json()
        assert report["stages"] == {"customer": 1} and report["skipped"] == 1
    with app_server.app.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT t.actor_type, t.actor, t.reason FROM transitions t "
                "JOIN leads l ON l.id = t.lead_id WHERE l.email = 'ann@acme.io' "
                "AND t.to_stage = 'customer'"
            )
        ).one()
    assert row.actor_type == "api" and row.actor == "key:test-admin"
    assert row.reason == "import of won.csv, row 2: won = Closed Won"


def test_row_errors_answer_422_with_the_report_and_store_nothing(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = upload(http, BAD_LEADS, params={"kind": "leads", "preset": "salesforce"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert body["message"].startswith("1 of 3 rows have errors; nothing was stored")
    assert body["errors"] == [
        {"row": 4, "column": "No. of Employees", "value": "lots", "reason": "not a number"}
    ]
    assert body["report"]["stored"] is False and body["report"]["rows"] == 3
    assert counts(app_server.app.engine) == {"leads": 0, "accounts": 0, "transitions": 0}


def test_partial_and_dry_run(app_server: AppServer) -> None:
    with app_server.client() as http:
        dry = upload(http, LEADS, params={"kind": "leads", "preset": "salesforce", "dry_run": True})
        assert dry.status_code == 200
        assert (dry.json()["created"], dry.json()["stored"]) == (2, False)
        assert counts(app_server.app.engine)["leads"] == 0
        partial = upload(
            http,
            BAD_LEADS,
            params={"kind": "leads", "preset": "salesforce"},
            data={"partial": "true"},
        )
    assert partial.status_code == 200
    assert (partial.json()["created"], partial.json()["errors"]) == (2, 1)
    assert counts(app_server.app.engine)["leads"] == 2


@sqlite_only
@pytest.mark.parametrize(
    ("params", "content", "status", "code", "message"),
    [
        (
            {"kind": "leads", "map": "external_id=Prospect ID"},
            LEADS,
            422,
            "invalid_file",
            "--map 'external_id=Prospect ID': leads.csv has no column 'Prospect ID'",
        ),
        ({"kind": "leads", "preset": "pipedrive"}, LEADS, 422, "invalid_request", "preset:"),
        (
            {"kind": "leads"},
            "First Name,City\nAnn,Pune\n",
            422,
            "invalid_file",
            "leads.csv: no column for one of email, external_id, user_id",
        ),
        ({}, LEADS, 422, "invalid_request", "kind: required"),
        ({"kind": "leads"}, "", 422, "invalid_file", "leads.csv: the file is empty"),
        ({"kind": "leads", "encoding": "klingon"}, LEADS, 422, "invalid_file", "unknown encoding"),
    ],
)
def test_unusable_requests_are_refused_and_store_nothing(
    app_server: AppServer,
    params: dict[str, str],
    content: str,
    status: int,
    code: str,
    message: str,
) -> None:
    with app_server.client() as http:
        response = upload(http, content, params=params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"].startswith(message)
    assert counts(app_server.app.engine)["leads"] == 0


@sqlite_only
def test_query_and_form_must_agree(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = upload(http, LEADS, params={"kind": "leads"}, data={"kind": "accounts"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"] == (
        "kind: given as 'leads' in the query and 'accounts' in the form"
    )


@sqlite_only
def test_imports_need_the_write_scope(app_server: AppServer) -> None:
    with app_server.client(app_server.track_key) as http:
        forbidden = upload(http, LEADS, params={"kind": "leads"})
    with app_server.client("") as http:
        anonymous = upload(http, LEADS, params={"kind": "leads"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    assert counts(app_server.app.engine)["leads"] == 0
