"""CSV importers without a database: reading files, presets, mapping, placeholders, rows."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from leadgate.adapters.importers import read_import
from leadgate.adapters.importers.csvfile import read_csv
from leadgate.adapters.importers.mapping import snake
from leadgate.adapters.importers.outcomes import OUTCOMES, outcome_stage, squash, vocabulary
from leadgate.adapters.importers.placeholders import DEFAULT_PLACEHOLDERS, Placeholders
from leadgate.adapters.importers.values import integer, number, time, trait
from leadgate.domain.lifecycle import Stage
from leadgate.services.errors import InvalidInput
from leadgate.services.imports import ImportFile, ImportKind, RowError
from tests.shared_data import XEDUCATION

SALESFORCE_LEADS = (
    "Lead ID,First Name,Last Name,Title,Company,Email,Website,Industry,No. of Employees,"
    "Annual Revenue,Lead Source,Lead Owner,Country,Lead Status,Rating\r\n"
    '00Q1,Ann,Lee,VP Marketing,Acme,ann@acme.io,www.acme.io,Software,"1,200",'
    '"$5,000,000",Web,Sam Rep,Germany,Working - Contacted,Hot\r\n'
)

HUBSPOT_CONTACTS = (
    "Record ID,First Name,Last Name,Email,Job Title,Company Name,Company Domain Name,"
    "Industry,Number of Employees,Annual Revenue,Original Source,Contact owner,"
    "Country/Region,Lifecycle Stage\n"
    "101,Bob,Ray,bob@globex.io,Head of Sales,Globex,globex.io,FINTECH,250,1000000,"
    "Organic Search,Jo Owner,France,Marketing Qualified Lead\n"
)

HUBSPOT_COMPANIES = (
    "Record ID,Company name,Company Domain Name,Industry,Number of Employees,Annual Revenue,"
    "Country/Region,Company owner,Lifecycle Stage\n"
    "9001,Initech,initech.com,Software,80,2500000,United States,Jo Owner,Customer\n"
)


def leads(text: str, **kwargs: Any) -> ImportFile:
    return read_import(text.encode(), ImportKind.LEADS, name="f.csv", **kwargs)


# --- reading CSV ---------------------------------------------------------------------


def test_bom_crlf_trailing_commas_and_quoted_newlines_are_read() -> None:
    data = (
        b"\xef\xbb\xbfemail,note,\r\n"
        b'ann@acme.io,"two\r\nlines",\r\n'
        b"\r\n"
        b",,\r\n"
        b"bob@globex.io,plain,\r\n"
    )
    table = read_csv(data, name="f.csv")
    assert table.header == ("email", "note", "")
    assert [(r.line, r.cells) for r in table.records] == [
        (2, ["ann@acme.io", "two\r\nlines", ""]),
        (6, ["bob@globex.io", "plain", ""]),
    ]


def test_rows_are_numbered_as_in_the_file_with_the_header_as_line_1() -> None:
    parsed = read_import(
        b'email,note\nann@acme.io,"a\nb"\nnot-an-email,x\n',
        ImportKind.LEADS,
        name="f.csv",
    )
    assert parsed.errors == (
        RowError(4, "email", "not-an-email", "not an email address (expected name@domain.tld)"),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"email,Email\nx@y.io,x@y.io\n", "columns 1 and 2 are both named 'Email'"),
        (b'email,note\nann@acme.io,"open quote\n', "not valid CSV"),
        (b"PK\x03\x04\x00\x00", "not a CSV text file"),
        (b"email,name\nann@acme.io,Ren\xe9\n", "not utf-8 text (byte 26 is 0xe9)"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        read_csv(data, name="f.csv")


def test_another_encoding_can_be_named() -> None:
    parsed = read_import(
        b"email,city\nann@acme.io,K\xf6ln\n", ImportKind.LEADS, name="f.csv", encoding="cp1252"
    )
    assert parsed.rows[0].lead is not None
    assert parsed.rows[0].lead.traits == {"city": "Köln"}
    with pytest.raises(InvalidInput, match="unknown encoding"):
        read_import(b"email\n", ImportKind.LEADS, name="f.csv", encoding="klingon")


def test_a_value_in_a_column_without_a_header_and_a_short_row_are_row_errors() -> None:
    parsed = read_import(
        b"email,note,\nann@acme.io,x,surprise\nbob@globex.io\n", ImportKind.LEADS, name="f.csv"
    )
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (2, "column 3", "surprise"),
        (3, None, None),
    ]
    assert "the row has 1 cells, the header 2 columns" in parsed.errors[1].reason
    assert parsed.rows == ()


# --- names, values, placeholders ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("TotalVisits", "total_visits"),
        ("Total Time Spent on Website", "total_time_spent_on_website"),
        ("No. of Employees", "no_of_employees"),
        ("Country/Region", "country_region"),
        ("HTTPStatus", "http_status"),
        ("  Lead ID ", "lead_id"),
    ],
)
def test_snake_case_names(header: str, name: str) -> None:
    assert snake(header) == name


def test_numbers_integers_times_and_traits() -> None:
    assert integer("1,200") == 1200
    assert integer("1200.0") == 1200
    for bad in ("50-200", "12.5", "many", "-3", "1e12"):
        with pytest.raises(ValueError):
            integer(bad)
    assert number("$5,000,000.50") == 5_000_000.5
    with pytest.raises(ValueError, match="finite"):
        number("inf")
    assert time("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert time("2026-03-01T09:30:00Z") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert time("3/1/2026 9:30 PM") == datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    for bad in ("31/31/2026", "yesterday", "2026-13-01"):
        with pytest.raises(ValueError):
            time(bad)
    assert trait("5") == 5 and trait("2.5") == 2.5 and trait("0") == 0
    # Leading zeros (postcodes, phone numbers) and exotic floats stay text.
    assert trait("00123") == "00123" and trait("nan") == "nan" and trait("1e5") == "1e5"


def test_placeholders_are_missing_and_counted_per_column() -> None:
    found = Placeholders()
    assert found.read("City", " Select ") is None
    assert found.read("City", "select") is None
    assert found.read("City", "") is None
    assert found.read("Region", "N/A") is None
    assert found.read("Region", "NA") == "NA", "NA is North America, not a placeholder"
    assert found.report() == {"City": {"Select": 1, "select": 1}, "Region": {"N/A": 1}}
    assert dict(found.blanks) == {"City": 1}

    own = Placeholders(["unknown"], defaults=False)
    assert own.read("c", "Select") == "Select"
    assert own.read("c", "Unknown") is None
    assert "Select" in DEFAULT_PLACEHOLDERS


# --- outcomes ------------------------------------------------------------------------


def test_the_outcome_vocabulary_is_unambiguous() -> None:
    seen: dict[str, str] = {}
    for stage, words in vocabulary().items():
        for word in words:
            assert squash(word) not in seen, f"{word!r} means {seen[squash(word)]} and {stage}"
            seen[squash(word)] = stage
    assert len(seen) == len(OUTCOMES)


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("1", Stage.CUSTOMER),
        ("0", None),
        ("True", Stage.CUSTOMER),
        ("Closed Won", Stage.CUSTOMER),
        ("closed-won", Stage.CUSTOMER),
        ("Closed - Converted", Stage.CUSTOMER),
        ("Closed - Not Converted", Stage.DISQUALIFIED),
        ("Closed Lost", Stage.LOST),
        ("Sales Qualified Lead", Stage.SQL),
        ("marketingqualifiedlead", Stage.MQL),
        ("Proposal/Price Quote", Stage.OPPORTUNITY),
        ("Subscriber", None),
        ("Open - Not Contacted", None),
    ],
)
def test_outcome_values(value: str, stage: Stage | None) -> None:
    assert outcome_stage(value) is stage


def test_an_unknown_outcome_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_stage("Might be")


# --- presets and mapping -------------------------------------------------------------


def test_salesforce_lead_export() -> None:
    parsed = read_import(
        SALESFORCE_LEADS.encode(), ImportKind.LEADS, name="sf.csv", preset="salesforce"
    )
    assert parsed.errors == ()
    assert parsed.columns == {
        "external_id": "Lead ID",
        "email": "Email",
        "first_name": "First Name",
        "last_name": "Last Name",
        "title": "Title",
        "source_channel": "Lead Source",
        "owner": "Lead Owner",
        "country": "Country",
        "account_domain": "Website",
        "account_name": "Company",
        "account_industry": "Industry",
        "account_employees": "No. of Employees",
        "account_annual_revenue": "Annual Revenue",
    }
    assert parsed.traits == {"Lead Status": "lead_status", "Rating": "rating"}
    (row,) = parsed.rows
    assert row.lead is not None and row.account is not None
    assert row.lead.external_id == "00Q1"
    assert row.lead.email == "ann@acme.io"
    assert row.lead.account_domain == "acme.io"
    assert row.lead.traits == {"lead_status": "Working - Contacted", "rating": "Hot"}
    assert row.account.domain == "acme.io"
    assert (row.account.employees, row.account.annual_revenue) == (1200, 5_000_000.0)
    assert row.account.name == "Acme" and row.account.industry == "Software"


def test_hubspot_contact_and_company_exports() -> None:
    contacts = read_import(
        HUBSPOT_CONTACTS.encode(), ImportKind.LEADS, name="hs.csv", preset="hubspot"
    )
    (row,) = contacts.rows
    assert row.lead is not None and row.account is not None
    assert row.lead.external_id == "101"
    assert row.lead.title == "Head of Sales"
    assert row.lead.source_channel == "Organic Search"
    assert row.lead.owner == "Jo Owner" and row.lead.country == "France"
    assert row.lead.traits == {"lifecycle_stage": "Marketing Qualified Lead"}
    assert (row.account.domain, row.account.employees) == ("globex.io", 250)

    companies = read_import(
        HUBSPOT_COMPANIES.encode(), ImportKind.ACCOUNTS, name="co.csv", preset="hubspot"
    )
    (company,) = companies.rows
    assert company.account is not None
    assert company.account.domain == "initech.com"
    assert company.account.name == "Initech"
    assert company.account.country == "United States"
    assert company.account.traits == {"record_id": 9001, "lifecycle_stage": "Customer"}

    outcomes = read_import(
        HUBSPOT_CONTACTS.encode(), ImportKind.OUTCOMES, name="hs.csv", preset="hubspot"
    )
    (outcome,) = outcomes.rows
    assert outcome.outcome is not None and outcome.outcome.stage is Stage.MQL
    assert outcomes.traits == {}, "an outcome import never touches profiles"


def test_columns_named_like_fields_need_no_preset_and_map_overrides() -> None:
    parsed = leads("E-mail,First_Name,crm\nann@acme.io,Ann,A-1\n", maps=["external_id=crm"])
    (row,) = parsed.rows
    assert row.lead is not None
    assert (row.lead.email, row.lead.first_name, row.lead.external_id) == (
        "ann@acme.io",
        "Ann",
        "A-1",
    )
    assert parsed.columns == {
        "email": "E-mail",
        "external_id": "crm",
        "first_name": "First_Name",
    }


def test_ignored_columns_are_neither_fields_nor_traits() -> None:
    parsed = leads("email,Converted,City\nann@acme.io,1,Pune\n", ignore=["converted"])
    assert parsed.traits == {"City": "city"}


def test_firmographics_without_a_company_domain_stay_on_the_lead() -> None:
    parsed = leads("Email,Company,No. of Employees\nann@gmail.com,Acme,12\n", preset="salesforce")
    (row,) = parsed.rows
    assert row.account is None and row.lead is not None
    assert row.lead.traits == {"company": "Acme", "employees": 12}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maps": ["external_id=Prospect"]}, "--map 'external_id=Prospect': f.csv has no column"),
        ({"maps": ["crm_id=email"]}, "unknown field 'crm_id' for leads"),
        ({"maps": ["email"]}, "expected FIELD=COLUMN"),
        ({"maps": ["email=email", "email=name"]}, "mapped twice"),
        ({"preset": "pipedrive"}, "unknown preset 'pipedrive' \\(known: hubspot, salesforce\\)"),
        ({"ignore": ["nope"]}, "--ignore 'nope': f.csv has no such column"),
        ({"ignore": ["email"]}, "no column for one of email, external_id, user_id"),
    ],
)
def test_mapping_mistakes_are_refused_before_reading_rows(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        leads("email,name\nann@acme.io,Ann\n", **kwargs)


def test_a_file_without_an_identity_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no column for one of email, external_id, user_id"):
        leads("name,city\nAnn,Pune\n")
    with pytest.raises(InvalidInput, match="no column for outcome"):
        read_import(b"email\nann@acme.io\n", ImportKind.OUTCOMES, name="f.csv")
    with pytest.raises(InvalidInput, match="no column for domain"):
        read_import(b"name\nAcme\n", ImportKind.ACCOUNTS, name="f.csv")


# --- row errors ------------------------------------------------------------------------


def test_every_problem_of_a_row_is_reported_with_column_and_value() -> None:
    parsed = read_import(
        (
            b"Lead ID,Email,Website,No. of Employees,Annual Revenue\n"
            b'1,ann@acme.io,acme.io,"1,200",100\n'
            b"2,not-an-email,acme,50-200,lots\n"
            b"3,,,,\n"
            b",,,,\n"
        ),
        ImportKind.LEADS,
        name="f.csv",
        preset="salesforce",
    )
    assert len(parsed.rows) == 2
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (3, "Email", "not-an-email"),
        (3, "Website", "acme"),
        (3, "No. of Employees", "50-200"),
        (3, "Annual Revenue", "lots"),
    ]
    assert parsed.errors[2].reason == "not a number"
    assert parsed.rows_read == 3, "a line of bare commas is blank"


def test_a_row_without_identity_is_an_error() -> None:
    parsed = leads("email,external_id,city\n,,Pune\nSelect,N/A,Pune\n")
    assert [(e.row, e.column, e.reason) for e in parsed.errors] == [
        (2, "email / external_id", "no email, external_id or user_id"),
        (3, "email / external_id", "no email, external_id or user_id"),
    ]


def test_touchpoint_rows() -> None:
    data = (
        "Email,Activity Type,Date,Subject\n"
        "ann@acme.io,Demo Requested,2026-03-01T09:30:00Z,Call me\n"
        "ann@acme.io,Email Opened,03/02/2026 10:00 AM,Newsletter\n"
        "ann@acme.io,Email Opened,yesterday,Newsletter\n"
        "ann@acme.io,,2026-03-01,Newsletter\n"
    )
    parsed = read_import(data.encode(), ImportKind.TOUCHPOINTS, name="t.csv", preset="salesforce")
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (4, "Date", "yesterday"),
        (5, "Activity Type", ""),
    ]
    first, second = (row.touchpoint for row in parsed.rows)
    assert first is not None and second is not None
    assert first.name == "Demo Requested" and first.properties == {"subject": "Call me"}
    assert second.occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    # No id column: the id comes from the row, the same for the same row every time.
    again = read_import(data.encode(), ImportKind.TOUCHPOINTS, name="x.csv", preset="salesforce")
    assert again.rows[0].touchpoint is not None
    assert first.message_id == again.rows[0].touchpoint.message_id
    assert first.message_id != second.message_id


def test_outcome_rows() -> None:
    parsed = read_import(
        b"id,Converted\na,1\nb,0\nc,Select\nd,Might be\n,1\n",
        ImportKind.OUTCOMES,
        name="o.csv",
        maps=["external_id=id", "outcome=Converted"],
    )
    assert [(r.row, r.outcome.stage if r.outcome else None) for r in parsed.rows] == [
        (2, Stage.CUSTOMER),
        (3, None),
        (4, None),
    ]
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (5, "Converted", "Might be"),
        (6, "id", ""),
    ]


# --- the real file ---------------------------------------------------------------------


def test_the_xeducation_file_reads_without_errors() -> None:
    parsed = read_import(
        XEDUCATION.read_bytes(),
        ImportKind.LEADS,
        name="Leads.csv",
        maps=["external_id=Prospect ID"],
        ignore=["Converted"],
    )
    with XEDUCATION.open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    selects = {
        column: n
        for column in records[0]
        if column and (n := sum(1 for r in records if r[column] == "Select"))
    }
    assert parsed.rows_read == len(records) == 9240
    assert parsed.errors == ()
    assert len(parsed.rows) == 9240
    assert parsed.placeholders == {column: {"Select": n} for column, n in selects.items()}
    assert set(selects) >= {"Specialization", "City", "Lead Profile"}
    lead = parsed.rows[0].lead
    assert lead is not None and lead.external_id == records[0]["Prospect ID"]
    assert "converted" not in lead.traits and "select" not in lead.traits.values()
    assert Counter(type(v) for v in lead.traits.values())[int] > 0, "numbers stay numbers"
