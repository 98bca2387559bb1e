"""REST API: sales feedback (accepted with BANT, recycled, disqualified, opportunity, won, lost),
through the app in this process, on SQLite and PostgreSQL: each stores an outcome and a transition,
answers the pending handoff, and refuses bad reasons naming the field with nothing written."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from leadgate.adapters.db import tables as t
from tests.http.conftest import AppServer, sqlite_only
from tests.http.test_handoffs_api import error, fields, lead, pushed, reader_key


def feedback(http: httpx.Client, lead_id: int, **body: Any) -> httpx.Response:
    return http.post(f"/v1/leads/{lead_id}/feedback", json=body)


def recorded(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def outcomes(server: AppServer, lead_id: int) -> list[Any]:
    with server.app.engine.connect() as connection:
        return list(
            connection.execute(
                select(t.outcomes).where(t.outcomes.c.lead_id == lead_id).order_by(t.outcomes.c.id)
            )
        )


def transitions(http: httpx.Client, lead_id: int) -> list[tuple[str, str, str]]:
    items = http.get(f"/v1/leads/{lead_id}/transitions").json()["items"]
    return [(i["from_stage"], i["to_stage"], i["actor"]) for i in items]


def nurture_track(server: AppServer, lead_id: int) -> str | None:
    with server.app.engine.connect() as connection:
        return connection.execute(  # type: ignore[no-any-return]
            select(t.leads.c.nurture_track).where(t.leads.c.id == lead_id)
        ).scalar_one()


def test_accept_with_bant_makes_an_sql_and_answers_the_handoff(app_server: AppServer) -> None:
    bant = {"budget": "50k", "authority": True, "need": "routing", "timeline": "Q3"}
    with app_server.client() as http:
        lead_id = lead(http, "ann@acme-fb.io")
        handoff = pushed(http, lead_id)
        body = recorded(feedback(http, lead_id, kind="accepted", bant=bant))
        closed = http.get(f"/v1/handoffs/{handoff['id']}").json()
        history = transitions(http, lead_id)
        stage = http.get(f"/v1/leads/{lead_id}").json()["stage"]
    assert body["from_stage"] == "lead"
    assert (body["to_stage"], body["stage"], body["handoff_id"]) == ("sql", "sql", handoff["id"])
    assert history == [("lead", "sql", "test-admin")]  # the key's name
    assert stage == "sql"
    assert (closed["status"], closed["sla_status"]) == ("accepted", "met")
    (outcome,) = outcomes(app_server, lead_id)
    assert outcome.id == body["outcome_id"]
    assert (outcome.kind, outcome.actor, outcome.handoff_id) == (
        "accepted",
        "test-admin",
        handoff["id"],
    )
    assert outcome.details == bant


def test_recycle_takes_a_configured_reason_and_a_nurture_track(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead_id = lead(http, "bo@acme-fb.io")
        handoff = pushed(http, lead_id)
        unknown = feedback(http, lead_id, kind="recycled", reason="too_busy")
        assert fields(unknown) == {"reason"}
        assert error(unknown, 422)["code"] == "invalid_feedback"
        assert "unknown recycle reason 'too_busy'" in unknown.json()["message"]
        assert "bad_timing" in unknown.json()["message"]  # names the allowed ones
        missing = feedback(http, lead_id, kind="recycled")
        assert fields(missing) == {"reason"}
        track = feedback(http, lead_id, kind="recycled", reason="no_budget", nurture_track="x")
        assert fields(track) == {"nurture_track"}
        assert outcomes(app_server, lead_id) == []  # nothing written by a refusal
        assert http.get(f"/v1/leads/{lead_id}").json()["stage"] == "lead"

        body = recorded(
            feedback(
                http,
                lead_id,
                kind="recycled",
                reason="bad_timing",
                note="back in Q4",
                nurture_track="long_term",
                actor="jane@seller.io",
            )
        )
        closed = http.get(f"/v1/handoffs/{handoff['id']}").json()
        history = transitions(http, lead_id)
        other = lead(http, "cy@acme-fb.io")
        pushed(http, other)  # sales may send back what it was handed, even from stage lead
        default = recorded(feedback(http, other, kind="recycled", reason="no_budget"))
    assert (body["to_stage"], body["nurture_track"]) == ("recycled", "long_term")
    assert nurture_track(app_server, lead_id) == "long_term"
    assert closed["status"] == "rejected"
    assert history == [("lead", "recycled", "jane@seller.io")]
    (outcome,) = outcomes(app_server, lead_id)
    assert (outcome.reason, outcome.note) == ("bad_timing", "back in Q4")
    assert default["nurture_track"] == "general"  # the configuration's default
    assert nurture_track(app_server, default["lead_id"]) == "general"


def test_disqualify_needs_a_listed_reason_and_other_needs_a_note(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead_id = lead(http, "dee@acme-fb.io")
        pushed(http, lead_id)
        other = feedback(http, lead_id, kind="disqualified", reason="other")
        assert fields(other) == {"note"}, "the missing note is what is wrong"
        assert "needs a note" in other.json()["message"]
        blank = feedback(http, lead_id, kind="disqualified", reason="other", note="   ")
        assert fields(blank) == {"note"}
        assert outcomes(app_server, lead_id) == []
        body = recorded(
            feedback(http, lead_id, kind="disqualified", reason="other", note="reseller")
        )
        again = feedback(http, lead_id, kind="disqualified", reason="spam")
    assert body["to_stage"] == "disqualified"
    assert error(again, 409)["code"] == "transition_not_allowed"
    assert [o.reason for o in outcomes(app_server, lead_id)] == ["other"]


def test_opportunity_won_and_lost_move_the_lead_and_keep_the_amounts(
    app_server: AppServer,
) -> None:
    with app_server.client() as http:
        won_lead = lead(http, "eve@acme-fb.io")
        lost_lead = lead(http, "fay@acme-fb.io")
        early = feedback(http, won_lead, kind="won")
        assert error(early, 409)["code"] == "transition_not_allowed"
        assert "lead → customer" in early.json()["message"]
        for lead_id in (won_lead, lost_lead):
            recorded(feedback(http, lead_id, kind="accepted"))
        negative = feedback(http, won_lead, kind="opportunity", amount=-1)
        assert fields(negative) == {"amount"}
        assert fields(
            feedback(http, won_lead, kind="opportunity", expected_close="2026-13-01")
        ) == {"expected_close"}
        assert fields(feedback(http, won_lead, kind="opportunity", bant={"need": "x"})) == {"bant"}
        assert fields(feedback(http, won_lead, kind="won", amount=5)) == {"amount"}
        assert fields(feedback(http, won_lead, kind="sold")) == {"kind"}
        opportunity = recorded(
            feedback(
                http, won_lead, kind="opportunity", amount=48000.5, expected_close="2026-06-30"
            )
        )
        won = recorded(feedback(http, won_lead, kind="won"))

        recorded(feedback(http, lost_lead, kind="opportunity"))
        no_reason = feedback(http, lost_lead, kind="lost")
        assert fields(no_reason) == {"reason"}
        lost = recorded(feedback(http, lost_lead, kind="lost", reason="went with a competitor"))
        won_history = transitions(http, won_lead)
        lost_history = transitions(http, lost_lead)
    assert (opportunity["from_stage"], opportunity["to_stage"]) == ("sql", "opportunity")
    assert (won["to_stage"], won["stage"]) == ("customer", "customer")
    assert lost["to_stage"] == "lost"
    assert [(f, to) for f, to, _ in won_history] == [
        ("lead", "sql"),
        ("sql", "opportunity"),
        ("opportunity", "customer"),
    ]
    assert [to for _, to, _ in lost_history] == ["sql", "opportunity", "lost"]
    kept = outcomes(app_server, won_lead)
    assert [o.kind for o in kept] == ["accepted", "opportunity", "won"]
    assert kept[1].details == {"amount": 48000.5, "expected_close": "2026-06-30"}
    assert outcomes(app_server, lost_lead)[-1].reason == "went with a competitor"


@sqlite_only
def test_feedback_needs_write_and_a_known_lead(app_server: AppServer) -> None:
    with app_server.client() as http:
        lead_id = lead(http, "gus@acme-fb.io")
        missing = feedback(http, 424242, kind="accepted")
        unknown_field = feedback(http, lead_id, kind="accepted", budget="50k")
    assert error(missing, 404) == {"code": "not_found", "message": "no lead with id 424242"}
    assert fields(unknown_field) == {"budget"}
    with app_server.client(reader_key(app_server)) as http:
        assert error(feedback(http, lead_id, kind="accepted"), 403)["code"] == "forbidden"
    with app_server.app.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(t.outcomes)).scalar_one() == 0
