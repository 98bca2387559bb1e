"""`leadgate handoffs` (``leadgate.cli.handoffs_cmd``) on SQLite and PostgreSQL: the gates
hand leads off, and list, show, push and touch. Leads get to sales the documented way:
`import accounts`, `import leads`, `ingest` touchpoints that cross the sales-ready gate.

The helpers here (``seed``, ``stages`` ...) are shared by the other handoff-era CLI tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from leadgate.adapters.db import tables as t
from tests.cli.runner import cli

ACCOUNTS = """\
domain,name,industry,employees,country,region,technographics
acme.io,Acme,software,200,DE,EMEA,salesforce
globex.com,Globex,fintech,400,US,NA,salesforce
initech.com,Initech,retail,20,FR,EMEA,
"""
LEADS = """\
email,first_name,last_name,seniority,department,account_domain
ann@acme.io,Ann,Lee,vp,marketing,acme.io
bob@globex.com,Bob,Ray,director,sales,globex.com
eve@globex.com,Eve,Cho,vp,revops,globex.com
cat@acme.io,Cat,Kim,manager,marketing,acme.io
dan@initech.com,Dan,Fox,student,other,initech.com
"""
# Three pricing visits and a webinar put a grade-A lead past the sales-ready gate (total
# 80, grade A or B); Cat reads one ebook and stays a lead; Dan does nothing.
SALES_READY = ("ann@acme.io", "bob@globex.com", "eve@globex.com")


def seed(url: str, folder: Path) -> dict[str, int]:
    """Import the accounts and leads above and ingest their touchpoints; return lead ids
    by email."""
    now = datetime.now(UTC)
    accounts = folder / "accounts.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    leads = folder / "leads.csv"
    leads.write_text(LEADS, encoding="utf-8")
    cli(url, "import", "accounts", str(accounts)).ok()
    cli(url, "import", "leads", str(leads)).ok()
    lines = []
    for email in SALES_READY:
        for i in range(3):
            lines.append(
                {
                    "message_id": f"{email}-pricing-{i}",
                    "name": "page_view",
                    "occurred_at": (now - timedelta(hours=10 - i)).isoformat(),
                    "email": email,
                    "properties": {"path": "/pricing", "category": "pricing"},
                }
            )
        lines.append(
            {
                "message_id": f"{email}-webinar",
                "name": "webinar_attended",
                "occurred_at": (now - timedelta(hours=5)).isoformat(),
                "email": email,
                "properties": {"title": "Scoring 101"},
            }
        )
    lines.append(
        {
            "message_id": "cat-ebook",
            "name": "content_download",
            "occurred_at": (now - timedelta(hours=3)).isoformat(),
            "email": "cat@acme.io",
            "properties": {"title": "Lead scoring ebook"},
        }
    )
    touchpoints = folder / "touchpoints.jsonl"
    touchpoints.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    cli(url, "ingest", str(touchpoints)).ok()
    return {row["email"]: row["lead_id"] for row in cli(url, "score", "--json").json()}


def stages(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(t.leads.c.id, t.leads.c.stage)).all())  # type: ignore[arg-type]


def test_gates_hand_off_and_handoffs_list_show_push_touch(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    ids = seed(url, tmp_path)
    ann, bob, cat = ids["ann@acme.io"], ids["bob@globex.com"], ids["cat@acme.io"]
    listed = cli(url, "handoffs", "list", "--json").json()
    # Every lead the gate made an SQL has one pending handoff, and no one else has.
    in_sql = {lead for lead, stage in stages(engine).items() if stage == "sql"}
    assert in_sql == {ids[e] for e in SALES_READY}
    assert sorted(h["lead_id"] for h in listed) == sorted(in_sql)
    by_lead = {h["lead_id"]: h for h in listed}
    for handoff in listed:
        assert (handoff["kind"], handoff["status"], handoff["sla_status"]) == (
            "gate",
            "pending",
            "open",
        )
        assert handoff["owner"], "a rep is free in every team of the shipped config"
        assert handoff["due_at"] > handoff["created_at"]
    # The shipped routing: US accounts go to the na team, the rest to emea.
    assert by_lead[ann]["team"] == "emea"
    assert by_lead[bob]["team"] == "na"
    assert by_lead[ann]["email"] == "ann@acme.io"

    # Filters and pages.
    assert [
        h["lead_id"] for h in cli(url, "handoffs", "list", "--team", "emea", "--json").json()
    ] == [ann]
    owner = by_lead[bob]["owner"]
    owned = cli(url, "handoffs", "list", "--owner", owner, "--json").json()
    assert [h["lead_id"] for h in owned] == [h["lead_id"] for h in listed if h["owner"] == owner]
    assert cli(url, "handoffs", "list", "--status", "accepted", "--json").json() == []
    first = cli(url, "handoffs", "list", "--limit", "1", "--json").json()
    assert [h["id"] for h in first] == [listed[0]["id"]]
    rest = cli(url, "handoffs", "list", "--after", str(first[0]["id"]), "--json").json()
    assert [h["id"] for h in rest] == [h["id"] for h in listed[1:]]
    table = cli(url, "handoffs", "list", "--limit", "1")
    assert "ann@acme.io" in table.ok()
    assert f"--after {listed[0]['id']}" in table.stderr, "a person is told how to page on"
    bad = cli(url, "handoffs", "list", "--status", "lost")
    assert bad.code == 2 and "--status" in bad.stderr

    # The context package as Markdown, and as JSON.
    shown = cli(url, "handoffs", "show", str(by_lead[ann]["id"])).ok()
    assert shown.startswith(f"## Handoff {by_lead[ann]['id']}: Ann Lee (lead {ann})")
    for section in ("### Who", "### Company", "### Why now", "### Pages and content"):
        assert section in shown, section
    assert "**Acme** (acme.io) · software · 200 employees" in shown
    assert "`pricing_page`" in shown, "why now names the rules that fired"
    assert "mql → sql" in shown, "earlier stages are listed"
    package = cli(url, "handoffs", "show", str(by_lead[ann]["id"]), "--json").json()
    assert package["context"]["lead"]["email"] == "ann@acme.io"
    assert package["context"]["account"]["domain"] == "acme.io"
    assert "no handoff with id 999" in cli(url, "handoffs", "show", "999").error(1)

    # A push by hand: Cat is not sales-ready, sales wants her anyway.
    pushed = cli(url, "handoffs", "push", str(cat), "--json").json()
    assert (pushed["lead_id"], pushed["kind"], pushed["status"]) == (cat, "manual", "pending")
    assert stages(engine)[cat] == "lead", "a push hands off; it does not move the stage"
    again = cli(url, "handoffs", "push", str(cat)).error(2)
    assert f"already has pending handoff {pushed['id']}" in again
    assert "no lead with id 999" in cli(url, "handoffs", "push", "999").error(1)
    with engine.connect() as connection:
        assert connection.execute(
            select(t.handoffs.c.id).where(t.handoffs.c.lead_id == cat)
        ).scalars().all() == [pushed["id"]], "the refused push stored nothing"

    # The explicit first touch.
    target = by_lead[bob]["id"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert "--at: " in cli(url, "handoffs", "touch", str(target), "--at", future).error(2)
    early = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert "before the handoff" in cli(url, "handoffs", "touch", str(target), "--at", early).error(
        2
    )
    assert "not an ISO 8601" in cli(url, "handoffs", "touch", str(target), "--at", "noon").error(2)
    touched = cli(url, "handoffs", "touch", str(target), "--json").json()
    assert touched["sla_status"] == "met" and touched["first_touch_at"]
    second = cli(url, "handoffs", "touch", str(target)).ok()
    assert "already touched" in second
    assert (
        cli(url, "handoffs", "show", str(target), "--json").json()["first_touch_at"]
        == (touched["first_touch_at"])
    ), "a second touch does not move the first"
    met = cli(url, "handoffs", "list", "--sla-status", "met", "--json").json()
    assert [h["id"] for h in met] == [target]
    assert "no handoff with id 999" in cli(url, "handoffs", "touch", "999").error(1)
