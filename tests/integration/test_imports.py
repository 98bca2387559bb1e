"""CSV imports through the use case, on SQLite and PostgreSQL: all or nothing, idempotent."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from leadgate.adapters.db import tables as t
from leadgate.adapters.importers import read_import
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import LeadIn
from leadgate.services.imports import ImportKind, ImportReport, run_import
from leadgate.services.profiles import upsert_leads
from leadgate.services.queries import lead_transitions
from tests.conftest import T0
from tests.integration.helpers import UowFactory
from tests.shared_data import XEDUCATION

NOW = T0 + timedelta(days=1)

SF_HEADER = (
    "Lead ID,First Name,Last Name,Title,Company,Email,Website,Industry,No. of Employees,"
    "Annual Revenue,Lead Source,Lead Owner,Country,Lead Status\r\n"
)
SF_ROWS = [
    '00Q1,Ann,Lee,VP Marketing,Acme,ann@acme.io,www.acme.io,software,"1,200",5000000,'
    "Web,Sam,Germany,Working\r\n",
    "00Q2,Bob,Ray,Director Sales,Globex,bob@globex.io,globex.io,fintech,300,,Event,Sam,"
    "France,Select\r\n",
    "00Q3,Cy,Moe,Student,,cy@gmail.com,,,,,Web,,India,\r\n",
]


def sf_leads(*rows: str) -> str:
    return SF_HEADER + "".join(rows or SF_ROWS)


def run(
    uow_factory: UowFactory,
    kind: ImportKind,
    content: str | bytes,
    *,
    name: str = "file.csv",
    now: datetime = NOW,
    partial: bool = False,
    dry_run: bool = False,
    **options: Any,
) -> ImportReport:
    data = content.encode() if isinstance(content, str) else content
    parsed = read_import(data, kind, name=name, **options)
    return run_import(uow_factory(), parsed, now=now, partial=partial, dry_run=dry_run)


def counts(engine: Engine) -> dict[str, int]:
    tables = ("leads", "accounts", "identities", "touchpoints", "transitions", "scores")
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in tables
        }


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of the tables an import writes, to compare before and after."""
    tables = (t.leads, t.accounts, t.identities, t.touchpoints, t.transitions, t.scores)
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))
            ]
            for table in tables
        }


def nothing_stored(engine: Engine) -> bool:
    return all(n == 0 for name, n in counts(engine).items())


# --- leads ---------------------------------------------------------------------------


def test_a_salesforce_lead_export_creates_leads_and_accounts(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    report = run(uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce")
    assert (report.rows, report.created, report.updated, report.errors) == (3, 3, 0, 0)
    assert report.stored and not report.refused
    assert report.placeholders == {"Lead Status": {"Select": 1}}
    with engine.connect() as connection:
        leads = {
            row.email: row
            for row in connection.execute(
                select(t.leads, t.accounts.c.domain, t.accounts.c.employees).outerjoin(
                    t.accounts, t.accounts.c.id == t.leads.c.account_id
                )
            )
        }
        external = dict(
            connection.execute(
                select(t.identities.c.value, t.identities.c.lead_id).where(
                    t.identities.c.kind == "external_id"
                )
            ).all()
        )
    ann, bob, cy = leads["ann@acme.io"], leads["bob@globex.io"], leads["cy@gmail.com"]
    assert (ann.domain, ann.employees, ann.title, ann.source_channel) == (
        "acme.io",
        1200,
        "VP Marketing",
        "Web",
    )
    assert ann.traits == {"lead_status": "Working"}
    assert bob.traits == {}, "Select is a placeholder, not a status"
    assert cy.domain is None, "free mail makes no account"
    assert external == {"00Q1": ann.id, "00Q2": bob.id, "00Q3": cy.id}


def test_importing_the_same_file_again_changes_nothing(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    run(uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce")
    before = snapshot(engine)
    again = run(
        uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce", now=NOW + timedelta(1)
    )
    assert (again.created, again.updated, again.unchanged, again.transitions) == (0, 0, 3, 0)
    assert snapshot(engine) == before

    changed = SF_ROWS[1].replace("Director Sales", "VP Sales")
    third = run(
        uow_factory,
        ImportKind.LEADS,
        sf_leads(SF_ROWS[0], changed, SF_ROWS[2]),
        preset="salesforce",
    )
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    with engine.connect() as connection:
        titles = set(connection.execute(select(t.leads.c.title)).scalars())
    assert "VP Sales" in titles and "Director Sales" not in titles


def test_a_row_matching_a_lead_by_email_links_its_crm_id(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    (lead_id,) = upsert_leads(uow_factory(), [LeadIn(email="Ann@Acme.io")], now=T0).ids
    report = run(
        uow_factory, ImportKind.LEADS, "Email,Lead ID\nann@acme.io,00Q9\n", preset="salesforce"
    )
    assert (report.created, report.updated) == (0, 1)
    with uow_factory() as uow:
        found = uow.leads.resolve([IdentityKey(IdentityKind.EXTERNAL_ID, "00Q9")])
    assert found == {IdentityKey(IdentityKind.EXTERNAL_ID, "00Q9"): lead_id}


# --- all or nothing ------------------------------------------------------------------


BAD_EMAIL_ROW = "00Q4,Dee,Fox,CEO,Initech,dee(at)initech.com,initech.com,,,,Web,,US,\r\n"


def test_one_bad_row_stores_nothing(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    report = run(
        uow_factory, ImportKind.LEADS, sf_leads(*SF_ROWS, BAD_EMAIL_ROW), preset="salesforce"
    )
    assert report.refused and not report.stored
    assert (report.rows, report.created, report.errors) == (4, 0, 1)
    (error,) = report.row_errors
    assert (error.row, error.column, error.value) == (5, "Email", "dee(at)initech.com")
    assert nothing_stored(engine)


def test_partial_keeps_the_good_rows(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    content = sf_leads(*SF_ROWS, BAD_EMAIL_ROW)
    report = run(uow_factory, ImportKind.LEADS, content, preset="salesforce", partial=True)
    assert report.stored and not report.refused
    assert (report.created, report.errors, len(report.row_errors)) == (3, 1, 1)
    assert counts(engine)["leads"] == 3


def test_a_dry_run_counts_everything_and_stores_nothing(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    report = run(uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce", dry_run=True)
    assert (report.created, report.stored, report.dry_run) == (3, False, True)
    assert nothing_stored(engine)


def test_rows_for_the_same_lead_twice_are_errors(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    content = "Email,Lead ID\nann@acme.io,1\nANN@acme.io,2\nbob@globex.io,1\n"
    report = run(uow_factory, ImportKind.LEADS, content, preset="salesforce")
    assert [(e.row, e.column, e.value, e.reason) for e in report.row_errors] == [
        (3, "Email", "ann@acme.io", "same email as row 2"),
        (4, "Lead ID", "1", "same external_id as row 2"),
    ]
    assert nothing_stored(engine)


@pytest.mark.parametrize(
    ("kind", "content", "options", "column", "reason"),
    [
        (
            ImportKind.LEADS,
            "Email,No. of Employees\nann@acme.io,120\nbob@globex.io,lots\n",
            {"preset": "salesforce"},
            "No. of Employees",
            "not a number",
        ),
        (
            ImportKind.LEADS,
            "email,first_name\nann@acme.io,Ann\nbob-at-globex.io,Bob\n",
            {},
            "email",
            "not an email address (expected name@domain.tld)",
        ),
        (
            ImportKind.TOUCHPOINTS,
            "email,name,occurred_at\nann@acme.io,Demo Requested,2026-03-01\n"
            "ann@acme.io,Demo Requested,2026-02-30\n",
            {},
            "occurred_at",
            "not a date or time",
        ),
        (
            ImportKind.ACCOUNTS,
            "domain,employees\nacme.io,10\nnot a domain,10\n",
            {},
            "domain",
            "not a web domain or website (expected e.g. acme.io)",
        ),
    ],
)
def test_a_bad_value_is_reported_and_nothing_is_stored(
    uow_factory: UowFactory,
    engine: Engine,
    default_model: int,
    kind: ImportKind,
    content: str,
    options: dict[str, Any],
    column: str,
    reason: str,
) -> None:
    report = run(uow_factory, kind, content, **options)
    assert report.refused
    (error,) = report.row_errors
    assert (error.row, error.column) == (3, column)
    assert error.reason.startswith(reason)
    assert nothing_stored(engine)


# --- accounts and touchpoints --------------------------------------------------------


def test_hubspot_companies_import_and_reimport(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    content = (
        "Record ID,Company name,Company Domain Name,Industry,Number of Employees,"
        "Annual Revenue,Country/Region,Company owner\n"
        "1,Initech,initech.com,software,80,2500000,United States,Jo\n"
        "2,Hooli,https://www.hooli.xyz/,,,,,\n"
    )
    report = run(uow_factory, ImportKind.ACCOUNTS, content, preset="hubspot")
    assert (report.created, report.updated) == (2, 0)
    with engine.connect() as connection:
        rows = {r.domain: r for r in connection.execute(select(t.accounts))}
    assert rows["initech.com"].employees == 80
    assert rows["initech.com"].traits == {"record_id": 1}
    assert rows["hooli.xyz"].name == "Hooli"

    def content_of(engine: Engine) -> list[Any]:
        return [row[:-2] for row in snapshot(engine)["accounts"]]  # without timestamps

    before = content_of(engine)
    again = run(uow_factory, ImportKind.ACCOUNTS, content, preset="hubspot")
    assert (again.created, again.updated) == (0, 2)
    assert content_of(engine) == before


def test_touchpoints_import_once(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    content = (
        "email,name,occurred_at,path\n"
        "ann@acme.io,Demo Requested,2026-03-01T10:00:00Z,/demo\n"
        "ann@acme.io,page_view,2026-03-01T09:00:00Z,/pricing\n"
        "ann@acme.io,page_view,2026-03-01T09:00:00Z,/pricing\n"
    )
    report = run(uow_factory, ImportKind.TOUCHPOINTS, content)
    assert (report.created, report.unchanged) == (2, 1), "the repeated row is one event"
    with engine.connect() as connection:
        names = sorted(connection.execute(select(t.touchpoints.c.name)).scalars())
    assert names == ["demo_request", "page_view"], "names go through the model's aliases"
    again = run(uow_factory, ImportKind.TOUCHPOINTS, content)
    assert (again.created, again.unchanged) == (0, 3)
    assert counts(engine)["touchpoints"] == 2


# --- outcomes ------------------------------------------------------------------------


def leads_then(uow_factory: UowFactory) -> None:
    run(uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce", now=T0)


def test_converted_rows_become_customer_transitions_once(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    leads_then(uow_factory)
    content = "Lead ID,Converted\n00Q1,1\n00Q2,0\n00Q3,\n"
    report = run(uow_factory, ImportKind.OUTCOMES, content, name="won.csv", preset="salesforce")
    assert (report.updated, report.skipped, report.transitions) == (1, 2, 1)
    assert report.stages == {"customer": 1}
    with engine.connect() as connection:
        ann = connection.execute(
            select(t.leads.c.id, t.leads.c.stage).where(t.leads.c.email == "ann@acme.io")
        ).one()
    assert ann.stage == "customer"
    (transition,) = lead_transitions(uow_factory(), ann.id)
    assert (transition.from_stage, transition.to_stage) == (Stage.LEAD, Stage.CUSTOMER)
    assert transition.actor_type is ActorType.API
    assert transition.override, "lead → customer is outside the table"
    assert transition.reason == "import of won.csv, row 2: Converted = 1"
    assert transition.occurred_at == NOW
    assert transition.model_version == default_model

    before = snapshot(engine)
    again = run(uow_factory, ImportKind.OUTCOMES, content, preset="salesforce")
    assert (again.updated, again.unchanged, again.transitions) == (0, 1, 0)
    assert snapshot(engine) == before


def test_hubspot_lifecycle_stages_and_dated_outcomes(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    leads_then(uow_factory)
    content = (
        "Lead ID,Stage,Close Date,Loss Reason\n"
        "00Q1,Sales Qualified Lead,,\n"
        f"00Q2,Closed Lost,{(T0 + timedelta(hours=5)).isoformat()},budget\n"
    )
    report = run(uow_factory, ImportKind.OUTCOMES, content, preset="salesforce")
    assert report.stages == {"sql": 1, "lost": 1}
    with engine.connect() as connection:
        ids = dict(connection.execute(select(t.leads.c.email, t.leads.c.id)).all())
    (sql,) = lead_transitions(uow_factory(), ids["ann@acme.io"])
    assert (sql.to_stage, sql.override) == (Stage.SQL, False)
    (lost,) = lead_transitions(uow_factory(), ids["bob@globex.io"])
    assert (lost.to_stage, lost.override, lost.occurred_at) == (
        Stage.LOST,
        True,
        T0 + timedelta(hours=5),
    )
    assert lost.reason.endswith("Stage = Closed Lost (budget)")


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("00Q2,Might be,", "Converted", "unknown outcome"),
        ("00Q9,1,", "Lead ID", "no lead with this external_id; import the leads first"),
        ("00Q1,1,", "Lead ID", "same external_id as row 2"),
        ("00Q2,1,2099-01-01", "Converted Date", "in the future"),
        ("00Q2,1,2020-01-01", "Converted Date", "before the lead entered its current stage"),
    ],
)
def test_a_bad_outcome_row_stores_no_transition(
    uow_factory: UowFactory,
    engine: Engine,
    default_model: int,
    row: str,
    column: str,
    reason: str,
) -> None:
    leads_then(uow_factory)
    before = snapshot(engine)
    content = f"Lead ID,Converted,Converted Date\n00Q1,1,\n{row}\n"
    report = run(uow_factory, ImportKind.OUTCOMES, content, preset="salesforce")
    assert report.refused
    (error,) = report.row_errors
    assert (error.row, error.column) == (3, column)
    assert error.reason.startswith(reason)
    assert snapshot(engine) == before


# --- the real file, a slice on both back ends ----------------------------------------


def xeducation_slice(rows: int) -> tuple[bytes, Sequence[dict[str, str]]]:
    lines = XEDUCATION.read_bytes().split(b"\r\n")
    data = b"\r\n".join(lines[: rows + 1]) + b"\r\n"
    records = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    return data, records


def test_a_slice_of_the_xeducation_file_imports_leads_then_outcomes(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    data, records = xeducation_slice(300)
    leads = run(
        uow_factory,
        ImportKind.LEADS,
        data,
        name="Leads.csv",
        maps=["external_id=Prospect ID", "source_channel=Lead Source"],
        ignore=["Converted"],
    )
    assert (leads.created, leads.errors) == (300, 0)
    assert "City" in leads.placeholders and leads.placeholders["City"]["Select"] > 0
    outcomes = run(
        uow_factory,
        ImportKind.OUTCOMES,
        data,
        name="Leads.csv",
        maps=["external_id=Prospect ID", "outcome=Converted"],
    )
    converted = sum(1 for r in records if r["Converted"] == "1")
    assert outcomes.stages == {"customer": converted}
    assert outcomes.skipped == 300 - converted
    with engine.connect() as connection:
        customers = connection.execute(
            text("SELECT count(*) FROM transitions WHERE to_stage = 'customer'")
        ).scalar_one()
    assert customers == converted
    # Again: nothing new.
    again = run(
        uow_factory,
        ImportKind.OUTCOMES,
        data,
        name="Leads.csv",
        maps=["external_id=Prospect ID", "outcome=Converted"],
    )
    assert (again.transitions, again.unchanged) == (0, converted)


def test_progress_is_reported_per_batch(
    uow_factory: UowFactory, engine: Engine, default_model: int
) -> None:
    data, _ = xeducation_slice(1200)
    parsed = read_import(data, ImportKind.LEADS, name="Leads.csv", maps=["external_id=Prospect ID"])
    seen: list[tuple[int, int]] = []
    run_import(
        uow_factory(),
        parsed,
        now=NOW,
        progress=lambda done, total, label: seen.append((done, total)),
    )
    assert seen == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]


def test_nothing_is_scored_without_an_active_model(uow_factory: UowFactory, engine: Engine) -> None:
    from leadgate.services.errors import NoActiveModel

    with pytest.raises(NoActiveModel):
        run(uow_factory, ImportKind.LEADS, sf_leads(), preset="salesforce")
    assert nothing_stored(engine)


def test_times_are_utc(uow_factory: UowFactory, default_model: int) -> None:
    report = run(
        uow_factory,
        ImportKind.TOUCHPOINTS,
        "email,name,occurred_at\nann@acme.io,page_view,2026-03-01 09:00\n",
    )
    assert report.created == 1
    with uow_factory() as uow:
        (lead_id,) = uow.leads.resolve([IdentityKey(IdentityKind.EMAIL, "ann@acme.io")]).values()
        (touchpoint,) = uow.touchpoints.for_leads([lead_id])[lead_id]
    assert touchpoint.occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
