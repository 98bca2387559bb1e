"""REST API: accounts, through the app in this process, on SQLite and PostgreSQL (refusals
on SQLite only)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadgate.services.keys import create_key
from tests.conftest import T0
from tests.http.conftest import AppServer, sqlite_only


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message"}
    return body


def fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in error(response, 422)["errors"]}


def test_post_creates_then_updates_an_account_by_domain(app_server: AppServer) -> None:
    with app_server.client() as http:
        first = http.post(
            "/v1/accounts",
            json={
                "domain": "www.Acme.io",
                "name": "Acme",
                "industry": "Software",
                "employees": 250,
                "technographics": ["salesforce"],
                "traits": {"tier": 1},
            },
        )
        assert first.status_code == 201, first.text
        account = first.json()
        second = http.post(
            "/v1/accounts",
            json={"domain": "acme.io", "employees": 300, "technographics": ["hubspot"]},
        )
        assert second.status_code == 200, second.text
        fetched = http.get(f"/v1/accounts/{account['id']}").json()
    assert account["domain"] == "acme.io"
    assert fetched["id"] == account["id"]
    assert (fetched["name"], fetched["employees"]) == ("Acme", 300)
    assert fetched["technographics"] == ["hubspot", "salesforce"]
    assert fetched["traits"] == {"tier": 1}


def test_an_account_change_rescores_its_leads(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead = http.post("/v1/leads", json={"email": "ann@acme.io", "seniority": "vp"}).json()
        http.post(
            "/v1/accounts",
            json={"domain": "acme.io", "industry": "software", "employees": 500, "country": "DE"},
        ).raise_for_status()
        after = http.get(f"/v1/leads/{lead['id']}").json()
    assert after["score"]["fit"] > lead["score"]["fit"]


def test_list_filters_by_domain_and_industry_and_pages(app_server: AppServer) -> None:
    with app_server.client() as http:
        ids = [
            http.post("/v1/accounts", json={"domain": f"c{n}.io", "industry": industry}).json()[
                "id"
            ]
            for n, industry in enumerate(["Software", "software", "Retail", None, "software"])
        ]

        def listed(**params: Any) -> list[int]:
            response = http.get("/v1/accounts", params=params)
            assert response.status_code == 200, response.text
            return [a["id"] for a in response.json()["items"]]

        assert listed() == ids
        assert listed(industry="SOFTWARE") == [ids[0], ids[1], ids[4]]
        assert listed(domain="C2.io") == [ids[2]]
        assert listed(domain="nobody.io") == []
        walked: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = http.get("/v1/accounts", params=params).json()
            walked.extend(a["id"] for a in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert walked == ids


def test_account_leads_pages_and_filters_by_stage(app_server: AppServer) -> None:
    with app_server.client() as http:
        leads = [http.post("/v1/leads", json={"email": f"l{n}@acme.io"}).json() for n in range(3)]
        http.post("/v1/leads", json={"email": "x@globex.io"}).raise_for_status()
        account = leads[0]["account"]["id"]
        http.post(
            f"/v1/leads/{leads[1]['id']}/stage",
            json={"to": "customer", "reason": "bought", "override": True},
        ).raise_for_status()
        first = http.get(f"/v1/accounts/{account}/leads", params={"limit": 2}).json()
        rest = http.get(
            f"/v1/accounts/{account}/leads", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        customers = http.get(f"/v1/accounts/{account}/leads", params={"stage": "customer"})
    assert [lead["id"] for lead in first["items"] + rest["items"]] == [x["id"] for x in leads]
    assert rest["next_cursor"] is None
    assert [lead["id"] for lead in customers.json()["items"]] == [leads[1]["id"]]


@sqlite_only
def test_unknown_account_is_404(app_server: AppServer) -> None:
    with app_server.client() as http:
        for path in ("/v1/accounts/999", "/v1/accounts/999/leads"):
            body = error(http.get(path), 404)
            assert body == {"code": "not_found", "message": "no account with id 999"}
        assert fields(http.get("/v1/accounts/0")) == {"account_id"}


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No domain"}, "domain"),
        ({"domain": "localhost"}, "domain"),
        ({"domain": "https://acme.io/about"}, "domain"),
        ({"domain": "acme.io", "employees": -1}, "employees"),
        ({"domain": "acme.io", "employees": 2**31}, "employees"),
        ({"domain": "acme.io", "annual_revenue": "lots"}, "annual_revenue"),
        ({"domain": "acme.io", "region": "x" * 51}, "region"),
        ({"domain": "acme.io", "technographics": "salesforce"}, "technographics"),
        ({"domain": "acme.io", "name": "nul\u0000"}, "name"),
        ({"domain": "acme.io", "intent": 5}, "intent"),
    ],
)
def test_bad_account_input_is_422_naming_the_field(
    app_server: AppServer, body: dict[str, Any], field: str
) -> None:
    with app_server.client() as http:
        response = http.post("/v1/accounts", json=body)
        stored = http.get("/v1/accounts").json()["items"]
    assert fields(response) == {field}
    assert stored == []


@sqlite_only
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"cursor": "!"}, "cursor"),
        ({"domain": "no-dot"}, "domain"),
        ({"industry": "x" * 101}, "industry"),
    ],
)
def test_bad_account_list_parameters(
    app_server: AppServer, params: dict[str, Any], field: str
) -> None:
    with app_server.client() as http:
        assert fields(http.get("/v1/accounts", params=params)) == {field}


@sqlite_only
def test_malformed_account_json_is_422(app_server: AppServer) -> None:
    with app_server.client() as http:
        response = http.post(
            "/v1/accounts",
            content=b"{domain: acme.io}",
            headers={"content-type": "application/json"},
        )
    assert error(response, 422)["code"] == "invalid_request"


@sqlite_only
def test_accounts_need_read_to_list_and_write_to_change(app_server: AppServer) -> None:
    reader = create_key(app_server.app.uow(), name="reader", scopes="read", now=T0).secret
    with app_server.client(reader) as http:
        assert http.get("/v1/accounts").status_code == 200
        assert error(http.post("/v1/accounts", json={"domain": "acme.io"}), 403)
    with app_server.client(app_server.track_key) as http:
        assert error(http.get("/v1/accounts"), 403)["code"] == "forbidden"
