"""Notifications: Markdown of the context package, event builders, and each channel's payload
(Slack blocks, Teams card, signed webhook, email), with their limits and escaping."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadgate.adapters.notify import _markdown as md
from leadgate.adapters.notify.channel import (
    ChannelConfigError,
    channel_from_config,
    config_from_dict,
    parse_retry_after,
    result_for_http_status,
)
from leadgate.adapters.notify.email import EmailConfig, build_message, message_id
from leadgate.adapters.notify.slack import SlackConfig, slack_payload
from leadgate.adapters.notify.teams import MAX_CARD_BYTES, TeamsConfig, teams_payload
from leadgate.adapters.notify.webhook import (
    WebhookChannel,
    WebhookConfig,
    event_body,
    sign,
    verify_signature,
)
from leadgate.domain.accounts import Account
from leadgate.domain.leads import Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.notifications import (
    AccountSummary,
    AudienceChange,
    AudienceMember,
    ContentItem,
    ContextPackage,
    EventType,
    HandoffSummary,
    IntentTopic,
    LeadSummary,
    Notification,
    PageVisit,
    ScoreSummary,
    StageStep,
    TopContribution,
    TouchpointSummary,
    audience_changed,
    escape_markdown,
    event_key,
    handoff_created,
    handoff_queued,
    lead_disqualified,
    lead_recycled,
    render_markdown,
    sla_breached,
    sla_warning,
    stage_changed,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = "https://leadgate.example.com/leads/7"
SECRET = "whsec-0123456789abcdef"
# A form answer written to break out of an alert: a Slack mention, a script link, list
# and heading syntax. It must arrive as text everywhere.
HOSTILE = "<!channel> [win](javascript:alert(1)) **now**\n- # injected"

LEAD = LeadSummary(
    7,
    email="ann@acme.io",
    first_name="Ann",
    last_name="Lee",
    title="VP Marketing",
    seniority="vp",
    department="marketing",
    country="DE",
    owner="jane@seller.io",
    stage="sql",
)
ACCOUNT = AccountSummary(
    "acme.io", "Acme_Inc", "software", 1250, 12_500_000, "DE", "EMEA", ("salesforce",)
)


def package(**changes: Any) -> ContextPackage:
    values: dict[str, Any] = {
        "lead": LEAD,
        "account": ACCOUNT,
        "score": ScoreSummary(40, 47, 87, "A", 3),
        "top_contributions": (
            TopContribution("demo_request", "engagement", 30, "Requested a demo", 1),
            TopContribution("competitor_domain", "fit", -5),
        ),
        "crossing_touchpoints": (
            TouchpointSummary("demo_request", T0 - timedelta(minutes=5), "/demo"),
        ),
        "source": "paid_search",
        "campaign": "spring-launch",
        "utm": {"utm_source": "google"},
        "pages": (PageVisit("/pricing_plans", 3, T0 - timedelta(days=1), "Pricing", "pricing"),),
        "content": (ContentItem("State of RevOps", "content_download", T0 - timedelta(days=9)),),
        "form_answers": {"Team size": 50, "Comment": HOSTILE, "Tools": ["hubspot", "dbt"]},
        "intent_topics": (IntentTopic("data warehouse", 82, "bombora"),),
        "stage_history": (
            StageStep("mql", "recycled", T0 - timedelta(days=120), "no budget", "jane@seller.io"),
        ),
    }
    values.update(changes)
    return ContextPackage(**values)


HANDOFF = HandoffSummary(
    42, 7, T0, owner="jane@seller.io", team="EMEA", due_at=T0 + timedelta(hours=4)
)


def created() -> Notification:
    return handoff_created(HANDOFF, package(), link=LINK)


# --- Markdown of the context package ----------------------------------------------------


def test_context_package_markdown_has_every_section_in_order() -> None:
    text = render_markdown(package())
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Who",
        "### Company",
        "### Why now",
        "### Source",
        "### Pages and content",
        "### Form answers",
        "### Intent",
        "### Earlier stages",
    ]
    assert "**Ann Lee**" in text
    assert "1,250 employees" in text and "revenue 12.5M" in text
    assert "Score **87** (fit 40, engagement 47) · grade **A** · model v3" in text
    assert "- **+30** Requested a demo · `demo_request` · 1 touchpoint" in text
    assert "- **-5** competitor\\_domain" in text
    assert "- 2026-03-02 08:55 UTC · `demo_request` · /demo" in text
    assert "`/pricing_plans` ×3 · Pricing · pricing" in text  # code spans are literal
    assert "- **Tools:** hubspot, dbt" in text
    assert "mql → recycled: no budget" in text


def test_user_values_cannot_add_markdown_structure() -> None:
    text = render_markdown(package())
    comment = next(line for line in text.splitlines() if "Comment" in line)
    assert comment == (
        "- **Comment:** \\<!channel\\> \\[win\\](javascript:alert(1)) "
        "\\*\\*now\\*\\* - \\# injected"
    )
    assert escape_markdown("Acme_Inc") == "Acme\\_Inc"
    assert escape_markdown("- CEO") == "\\- CEO"
    assert escape_markdown("1. CEO") == "1\\. CEO"
    # What the escapes protect comes back as the same text when parsed.
    blocks = md.parse(text)
    item = next(b for b in blocks if b.text.startswith("Comment"))
    assert item.text == "Comment: " + " ".join(HOSTILE.split())
    assert all(span.url is None for span in item.spans)


def test_empty_sections_are_left_out_and_long_lists_say_how_many_more() -> None:
    bare = render_markdown(ContextPackage(lead=LeadSummary(9)))
    assert bare == "### Who\n\n**Lead 9**"
    pages = tuple(PageVisit(f"/p{i}") for i in range(14))
    text = render_markdown(package(pages=pages), limit=10)
    assert "`/p9`" in text and "`/p10`" not in text
    assert "- … and 4 more" in text


def test_render_in_the_reps_time_zone() -> None:
    from zoneinfo import ZoneInfo

    text = render_markdown(package(), tz=ZoneInfo("Europe/Berlin"))
    assert "2026-03-02 09:55 CET · `demo_request`" in text


def test_summaries_come_from_domain_objects() -> None:
    lead = Lead(id=3, email="bo@x.io", title="CTO", stage=Stage.MQL, account=Account("x.io"))
    assert LeadSummary.from_lead(lead) == LeadSummary(3, email="bo@x.io", title="CTO", stage="mql")
    assert AccountSummary.from_account(Account("x.io", employees=5)).employees == 5
    step = StageStep.from_transition(
        Transition(3, Stage.MQL, Stage.RECYCLED, T0, ActorType.USER, "jane", "no budget")
    )
    assert step == StageStep("mql", "recycled", T0, "no budget", "jane", "user")
    with pytest.raises(ValueError, match="stored"):
        LeadSummary.from_lead(Lead(email="new@x.io"))


# --- notifications and builders ---------------------------------------------------------


def test_event_keys_are_stable_and_distinct() -> None:
    key = event_key(EventType.HANDOFF_CREATED, 42)
    assert key == event_key(EventType.HANDOFF_CREATED, 42)
    assert key.startswith("evt_") and len(key) == 36
    assert key != event_key(EventType.HANDOFF_CREATED, 43)
    assert key != event_key(EventType.HANDOFF_QUEUED, 42)
    assert created().key == key  # rebuilding the alert on retry keeps its key


def test_notification_refuses_what_would_break_headers_or_links() -> None:
    base: dict[str, Any] = {
        "event": EventType.STAGE_CHANGED,
        "key": "k-1",
        "occurred_at": T0,
        "title": "t",
        "body": "",
        "payload": {},
    }
    with pytest.raises(ValueError, match="key"):
        Notification(**{**base, "key": "a\r\nX-Evil: 1"})
    with pytest.raises(ValueError, match="timezone"):
        Notification(**{**base, "occurred_at": datetime(2026, 3, 2)})
    with pytest.raises(ValueError, match="http"):
        Notification(**{**base, "link": "javascript:alert(1)"})
    one_line = Notification(**{**base, "title": "Ann\nLee", "facts": (("a\nb", "c\rd"),)})
    assert one_line.title == "Ann Lee"
    assert one_line.facts == (("a b", "c d"),)


def test_notification_round_trips_through_its_record() -> None:
    note = created()
    record = json.loads(json.dumps(note.to_record()))
    assert Notification.from_record(record) == Notification.from_record(note.to_record())
    again = Notification.from_record(record)
    assert (again.key, again.title, again.body, again.facts, again.link) == (
        note.key,
        note.title,
        note.body,
        note.facts,
        note.link,
    )
    assert again.event_json() == note.event_json()


def test_a_stored_context_package_reads_back_equal() -> None:
    """What a handoff stores (JSON, through the database) is the package the CLI and the
    dashboard render later."""
    original = package()
    stored = json.loads(json.dumps(original.to_json()))
    assert ContextPackage.from_json(stored) == original
    assert render_markdown(ContextPackage.from_json(stored) or package()) == render_markdown(
        original
    )
    assert ContextPackage.from_json({}) is None
    assert ContextPackage.from_json({"lead": "not a lead"}) is None


def test_handoff_created_alert() -> None:
    note = created()
    assert note.event is EventType.HANDOFF_CREATED
    assert note.title == "New handoff: Ann Lee at Acme_Inc → jane@seller.io"
    assert dict(note.facts) == {
        "Lead": "Ann Lee · VP Marketing",
        "Company": "Acme_Inc",
        "Owner": "jane@seller.io",
        "Score": "87 · grade A",
        "First touch due": "2026-03-02 13:00 UTC",
        "Source": "paid_search · spring-launch",
    }
    assert note.body == render_markdown(package())
    event = note.event_json()
    assert event["id"] == note.key
    assert event["type"] == "handoff.created"
    assert event["occurred_at"] == "2026-03-02T09:00:00Z"
    data = event["data"]
    assert data["handoff"]["due_at"] == "2026-03-02T13:00:00Z"
    assert data["lead"]["name"] == "Ann Lee"
    assert data["account"]["technographics"] == ["salesforce"]
    assert data["context"]["top_contributions"][0]["rule_id"] == "demo_request"
    assert data["context"]["form_answers"]["Comment"] == HOSTILE  # machines get raw data
    assert data["url"] == LINK
    json.dumps(event)  # JSON values only


def test_every_builder() -> None:
    step = StageStep("sql", "recycled", T0, "no budget", "jane@seller.io", "user")
    queued = handoff_queued(
        HandoffSummary(43, 7, T0, team="EMEA", manager="max@seller.io"),
        package(),
        reason="all reps at capacity",
    )
    warning = sla_warning(
        HANDOFF, LEAD, occurred_at=T0 + timedelta(hours=3), remaining=timedelta(minutes=45)
    )
    breached = sla_breached(
        HANDOFF,
        LEAD,
        occurred_at=T0 + timedelta(hours=5),
        overdue=timedelta(hours=1, minutes=2),
        account=ACCOUNT,
        reassigned_to="raj@seller.io",
    )
    changed = stage_changed(LEAD, StageStep("mql", "sql", T0, "sales-ready gate", "rule"))
    recycled = lead_recycled(LEAD, step, reason="no budget", nurture_track="q3-nurture")
    disqualified = lead_disqualified(LEAD, step, reason="competitor", note="works at rival")
    audience = audience_changed(
        AudienceChange(
            "hot-emea",
            "Hot EMEA",
            T0,
            added=(AudienceMember(7, "ann@acme.io", "acme.io"),),
            removed=(AudienceMember(8),),
        )
    )
    notes = [queued, warning, breached, changed, recycled, disqualified, audience]
    assert [n.event.value for n in notes] == [
        "handoff.queued",
        "sla.warning",
        "sla.breached",
        "stage.changed",
        "lead.recycled",
        "lead.disqualified",
        "audience.changed",
    ]
    assert len({n.key for n in notes}) == len(notes)
    assert queued.title == "No rep available: Ann Lee at Acme_Inc waits in the EMEA queue"
    assert queued.payload["reason"] == "all reps at capacity"
    assert dict(queued.facts)["Owner"] == "EMEA queue"
    assert warning.title == "SLA warning: Ann Lee, 45m left for first touch"
    assert warning.payload["remaining_seconds"] == 2700
    assert breached.title == "SLA breached: Ann Lee at Acme_Inc, no first touch (1h 2m overdue)"
    assert dict(breached.facts)["Reassigned to"] == "raj@seller.io"
    assert changed.title == "Ann Lee moved from mql to sql"
    assert changed.payload["transition"]["to_stage"] == "sql"
    assert recycled.payload["nurture_track"] == "q3-nurture"
    assert "**Nurture track:** q3-nurture" in recycled.body
    assert disqualified.payload["note"] == "works at rival"
    assert audience.title == "Audience Hot EMEA: 1 joined, 1 left"
    assert audience.payload["added"] == [
        {"lead_id": 7, "email": "ann@acme.io", "account_domain": "acme.io"}
    ]
    assert "### Left\n\n- lead 8" in audience.body
    # A new SLA clock (reassignment) is a new warning; the same clock is the same warning.
    later = HandoffSummary(42, 7, T0, owner="raj@seller.io", due_at=T0 + timedelta(hours=9))
    rewarned = sla_warning(later, LEAD, occurred_at=T0, remaining=timedelta(minutes=45))
    assert rewarned.key != warning.key
    assert (
        sla_warning(HANDOFF, LEAD, occurred_at=T0, remaining=timedelta(minutes=10)).key
        == warning.key
    )


# --- Slack --------------------------------------------------------------------------------


def test_slack_blocks_layout() -> None:
    payload = slack_payload(created())
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks[:2]] == ["header", "section"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "New handoff: Ann Lee at Acme_Inc → jane@seller.io",
    }
    assert blocks[1]["fields"][0] == {"type": "mrkdwn", "text": "*Lead*\nAnn Lee · VP Marketing"}
    assert blocks[-2]["type"] == "context"
    assert "`handoff.created`" in blocks[-2]["elements"][0]["text"]
    assert blocks[-1] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open lead"},
                "url": LINK,
                "style": "primary",
                "action_id": "open",
            }
        ],
    }
    sections = [b["text"]["text"] for b in blocks[2:-2]]
    assert sections[0].startswith("*Who*\n*Ann Lee*")
    why = next(s for s in sections if s.startswith("*Why now*"))
    assert "• *+30* Requested a demo · `demo_request` · 1 touchpoint" in why
    assert payload["text"].startswith("New handoff: Ann Lee at Acme_Inc → jane@seller.io · Lead:")
    assert payload["unfurl_links"] is False


def test_slack_escapes_mentions_and_drops_script_links() -> None:
    text = json.dumps(slack_payload(created()))
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "<javascript" not in text


def test_slack_limits_are_respected() -> None:
    pages = tuple(PageVisit("/" + "x" * 900 + str(i)) for i in range(40))
    many = package(pages=pages, content=(), form_answers={f"q{i}": "a" * 500 for i in range(60)})
    note = handoff_created(HANDOFF, many, link=LINK)
    note = Notification.from_record(
        {
            **note.to_record(),
            "title": "T" * 400,
            "body": "\n\n".join(f"### S{i}\n\nline" for i in range(80)) + "\n\n" + note.body,
            "facts": [[f"k{i}", "v" * 3000] for i in range(14)],
        }
    )
    blocks = slack_payload(note)["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) == 150
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 4]
    assert all(len(f["text"]) <= 2000 for b in blocks for f in b.get("fields", ()))
    assert all(
        len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b
    )
    assert blocks[-3]["text"]["text"] == "_… more in leadgate_"


# --- Teams --------------------------------------------------------------------------------


def test_teams_adaptive_card_message() -> None:
    payload = teams_payload(created())
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["inlines"][0]["text"] == created().title
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert facts[0] == {"title": "Lead", "value": "Ann Lee · VP Marketing"}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open lead", "url": LINK}]
    texts = [
        "".join(run["text"] for run in b["inlines"])
        for b in card["body"]
        if b["type"] == "RichTextBlock"
    ]
    assert "Why now" in texts
    assert "• Comment: " + " ".join(HOSTILE.split()) in texts  # literal, not Markdown


def test_teams_card_is_cut_to_fit() -> None:
    long_body = "\n".join(f"- item {i} " + "x" * 400 for i in range(200))
    note = Notification.from_record({**created().to_record(), "body": long_body})
    card = teams_payload(note)["attachments"][0]["content"]
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_CARD_BYTES + 200
    assert card["body"][-1]["text"] == "… more in leadgate"


# --- webhook ------------------------------------------------------------------------------


def test_webhook_body_headers_and_signature() -> None:
    note = created()
    channel = WebhookChannel(
        WebhookConfig.from_dict({"url": "http://127.0.0.1:9/hook", "secret": SECRET}),
        clock=lambda: 1_772_442_000.7,
    )
    try:
        body, headers = channel.render(note)
    finally:
        channel.close()
    assert body == event_body(note)
    assert json.loads(body) == note.event_json()
    assert headers["X-Leadgate-Event"] == "handoff.created"
    assert headers["X-Leadgate-Delivery"] == note.key
    assert headers["X-Leadgate-Timestamp"] == "1772442000"
    expected = hmac.new(SECRET.encode(), b"1772442000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Leadgate-Signature"] == "sha256=" + expected


def test_verify_signature() -> None:
    body = event_body(created())
    now = datetime.fromtimestamp(1_772_442_000, UTC)
    good = sign(SECRET, 1_772_442_000, body)
    assert verify_signature(SECRET, "1772442000", body, good, now=now)
    assert verify_signature(SECRET, 1_772_442_000, body.decode(), good, now=now)
    assert verify_signature(SECRET, "1772442000", body, good, now=now + timedelta(minutes=5))
    assert not verify_signature(SECRET, "1772442000", body, good, now=now + timedelta(minutes=6))
    assert not verify_signature(SECRET, "1772442000", body, good, now=now - timedelta(minutes=6))
    assert verify_signature(
        SECRET,
        "1772442000",
        body,
        good,
        tolerance=timedelta(hours=1),
        now=now + timedelta(minutes=30),
    )
    assert not verify_signature(SECRET, "1772442000", body + b" ", good, now=now)
    assert not verify_signature("another-secret-0123", "1772442000", body, good, now=now)
    assert not verify_signature(SECRET, "1772442001", body, good, now=now)
    for timestamp, signature in [
        (None, good),
        ("1772442000", None),
        ("soon", good),
        ("9" * 40, good),
    ]:
        assert not verify_signature(SECRET, timestamp, body, signature, now=now)
    assert not verify_signature(SECRET, "1772442000", body, good[7:], now=now)


# --- email --------------------------------------------------------------------------------


def test_email_message_parts_and_headers() -> None:
    config = EmailConfig.from_dict(
        {
            "host": "smtp.example.com",
            "from": "leadgate <alerts@leadgate.example.com>",
            "to": "sdr@seller.io, Jane <jane@seller.io>",
        }
    )
    note = created()
    message = build_message(note, config)
    assert message["Subject"] == note.title
    assert message["To"] == "sdr@seller.io, Jane <jane@seller.io>"
    assert message["Message-ID"] == f"<{note.key}@leadgate.example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Leadgate-Delivery"] == note.key
    plain_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert plain_part is not None and html_part is not None
    plain, html = plain_part.get_content(), html_part.get_content()
    assert "Owner:           jane@seller.io" in plain
    assert "WHY NOW" in plain and "  - +30 Requested a demo" in plain
    assert f"Open lead: {LINK}" in plain
    assert "<h3" in html and "<strong>+30</strong> Requested a demo" in html
    assert f'<a href="{LINK}"' in html
    assert "&lt;!channel&gt;" in html and "javascript:" not in html.split("Comment")[0]
    assert 'href="javascript' not in html


def test_message_id_from_any_key() -> None:
    assert message_id("evt_abc", "x.io") == "<evt_abc@x.io>"
    odd = message_id("outbox:17", "x.io")
    assert odd.startswith("<k-") and odd == message_id("outbox:17", "x.io")


# --- configuration ------------------------------------------------------------------------


def test_configs_parse_with_defaults() -> None:
    slack = config_from_dict("slack", {"url": "https://hooks.slack.com/services/T/B/X"})
    assert slack == SlackConfig("https://hooks.slack.com/services/T/B/X")
    assert "hooks.slack.com" not in repr(slack)  # the URL is the secret
    teams = config_from_dict("teams", {"url": "https://x.webhook.office.com/w", "timeout": "3"})
    assert teams == TeamsConfig("https://x.webhook.office.com/w", timeout=3.0)
    hook = config_from_dict(
        "webhook", {"url": "https://crm.example/h", "secret": SECRET, "headers": {"X-Token": "t"}}
    )
    assert isinstance(hook, WebhookConfig) and SECRET not in repr(hook)
    email = config_from_dict(
        "email", {"host": "smtp.x.io", "security": "SSL", "from": "a@x.io", "to": ["b@x.io"]}
    )
    assert isinstance(email, EmailConfig)
    assert (email.port, email.security, email.to) == (465, "ssl", ("b@x.io",))


@pytest.mark.parametrize(
    ("kind", "config", "message"),
    [
        ("pager", {}, "unknown channel kind 'pager'"),
        ("slack", {}, "slack channel: 'url' is required"),
        ("slack", [], "slack channel: settings must be a mapping"),
        ("slack", {"url": "ftp://x.io/h"}, "'url' must be an http:// or https:// URL"),
        ("slack", {"url": "https://x.io:99999/h"}, "'url' is not a valid URL"),
        ("teams", {"url": "https://x.io", "timeout": "fast"}, "'timeout' must be a number"),
        ("teams", {"url": "https://x.io", "timeout": 0}, "'timeout' must be a number from 0.1"),
        ("webhook", {"url": "https://x.io"}, "webhook channel: 'secret' is required"),
        ("webhook", {"url": "https://x.io", "secret": "short"}, "at least 16 characters"),
        (
            "webhook",
            {"url": "https://x.io", "secret": SECRET, "secert": SECRET},
            "unknown setting 'secert'",
        ),
        (
            "webhook",
            {"url": "https://x.io", "secret": SECRET, "headers": {"X-Leadgate-Event": "x"}},
            "'headers' cannot set 'X-Leadgate-Event'",
        ),
        ("email", {"from": "a@x.io", "to": "b@x.io"}, "email channel: 'host' is required"),
        ("email", {"host": "h", "to": "b@x.io"}, "email channel: 'from' is required"),
        ("email", {"host": "h", "from": "a@x.io"}, "email channel: 'to' is required"),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "b@x.io", "port": "abc"},
            "'port' must be an integer from 1 to 65535, got 'abc'",
        ),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "nobody"},
            "'to' holds 'nobody', which is not an email address",
        ),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "b@x.io", "security": "tls"},
            "'security' must be one of starttls, ssl, none",
        ),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "b@x.io", "username": "u"},
            "'password' is required",
        ),
        (
            "email",
            {
                "host": "smtp.x.io",
                "from": "a@x.io",
                "to": "b@x.io",
                "security": "none",
                "username": "u",
                "password": "p",
            },
            "'password' would cross the network unencrypted",
        ),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "b@x.io", "ca_file": "/nonexistent.pem"},
            "'ca_file' names '/nonexistent.pem', which is not a readable file",
        ),
        (
            "email",
            {"host": "h", "from": "a@x.io", "to": "b@x.io\r\nBcc: c@x.io"},
            "'to' must not contain line breaks",
        ),
    ],
)
def test_config_errors_name_the_field(kind: str, config: Any, message: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        config_from_dict(kind, config)
    assert message in str(caught.value)


def test_channel_from_config_builds_each_kind(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    settings: dict[str, dict[str, Any]] = {
        "slack": {"url": "https://hooks.slack.com/services/T/B/X"},
        "teams": {"url": "https://x.webhook.office.com/w"},
        "webhook": {"url": "https://crm.example/h", "secret": SECRET},
        "email": {"host": "smtp.x.io", "from": "a@x.io", "to": "b@x.io", "ca_file": str(ca)},
    }
    for kind, config in settings.items():
        channel = channel_from_config(kind, config)
        try:
            assert channel.kind == kind
        finally:
            channel.close()


# --- results ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ok", "retryable"),
    [
        (200, True, False),
        (202, True, False),
        (301, False, False),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (410, False, False),
        (408, False, True),
        (429, False, True),
        (500, False, True),
        (503, False, True),
    ],
)
def test_http_status_decides_retry(status: int, ok: bool, retryable: bool) -> None:
    result = result_for_http_status(status, duration_ms=1.0, detail="why", retry_after=30)
    assert (result.ok, result.retryable, result.status) == (ok, retryable, status)
    assert result.retry_after == (30 if retryable else None)
    assert (result.error is None) == ok


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Mon, 02 Mar 2026 09:01:30 GMT", now) == 90
    assert parse_retry_after("Mon, 02 Mar 2026 08:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
