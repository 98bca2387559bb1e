"""The demo's synthetic B2B world: accounts, leads, what they do, and what sales decides.

Everything is drawn from one ``random.Random(seed)``, so the same (seed, leads, days, end)
gives the same world, byte for byte. Each lead has a hidden buying intent, drawn from how
well it fits (industry, company size, seniority, department) plus chance. Intent drives how
often the lead comes back, how far its research escalates (blog → product → pricing →
demo) and what sales later decides, so in the demo fit and engagement really do predict
outcomes: that is what a scoring model is supposed to find, and what its backtest shows.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadgate.domain.lifecycle import Stage
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn

DAY = timedelta(days=1)
SITE = "https://www.leadgate.example"  # the vendor whose website the leads visit

FREE_MAIL_SHARE = 0.12
INBOUND_SHARE = 0.15  # leads first seen as an anonymous visitor, then through a form
DUPLICATE_SHARE = 0.002  # messages a client sends twice (a retry)
LATE_SHARE = 0.003  # messages that arrive a day after they happened

# The catalogues below are data: kept one entry per line by hand, not by the formatter.
# fmt: off

# Industry: (weight, how well it fits the vendor's ideal customer, revenue per employee).
INDUSTRIES: dict[str, tuple[float, float, float]] = {
    "software": (22, 1.0, 220_000), "fintech": (10, 0.9, 300_000),
    "ecommerce": (10, 0.8, 250_000), "healthcare": (9, 0.5, 150_000),
    "manufacturing": (10, 0.4, 180_000), "education": (7, 0.2, 80_000),
    "media": (7, 0.5, 160_000), "retail": (9, 0.45, 170_000),
    "government": (4, 0.15, 120_000), "nonprofit": (4, 0.1, 70_000),
}
# Region → (weight, UTC offset of its business hours, {country: weight}).
REGIONS: dict[str, tuple[float, int, dict[str, float]]] = {
    "NA": (45, -5, {"US": 38, "CA": 7}),
    "EMEA": (33, 1, {"GB": 9, "DE": 9, "FR": 6, "NL": 5, "SE": 2, "ES": 2}),
    "APAC": (15, 7, {"IN": 5, "AU": 4, "SG": 3, "JP": 3}),
    "LATAM": (7, -4, {"BR": 4, "MX": 3}),
}
COUNTRY_SUFFIX: dict[str, tuple[str, ...]] = {
    "US": ("Inc", "LLC"), "CA": ("Inc",), "GB": ("Ltd",), "DE": ("GmbH", "AG"),
    "FR": ("SAS",), "NL": ("BV",), "SE": ("AB",), "ES": ("SL",), "IN": ("Pvt Ltd",),
    "AU": ("Pty Ltd",), "SG": ("Pte Ltd",), "JP": ("KK",), "BR": ("Ltda",),
    "MX": ("SA de CV",),
}
FREE_MAIL: dict[str, float] = {
    "gmail.com": 60, "outlook.com": 12, "yahoo.com": 10, "hotmail.com": 8,
    "icloud.com": 5, "proton.me": 3, "gmx.de": 2,
}
SENIORITY_FIT = {
    "c_level": 0.85, "vp": 1.0, "director": 0.9, "manager": 0.6,
    "individual_contributor": 0.3, "student": 0.0,
}
DEPARTMENT_FIT: dict[str, tuple[float, float]] = {  # (weight, fit)
    "marketing": (30, 1.0), "sales": (16, 0.8), "revops": (9, 1.0),
    "operations": (9, 0.5), "it": (9, 0.4), "engineering": (11, 0.35),
    "finance": (6, 0.3), "hr": (4, 0.15), "other": (6, 0.1),
}
_DEPARTMENT_LABEL = {
    "marketing": "Marketing", "sales": "Sales", "revops": "Revenue Operations",
    "operations": "Operations", "it": "IT", "engineering": "Engineering",
    "finance": "Finance", "hr": "People", "other": "Customer Success",
}
_C_LEVEL = {
    "marketing": "CMO", "sales": "Chief Revenue Officer", "revops": "Chief Revenue Officer",
    "operations": "COO", "it": "CIO", "engineering": "CTO", "finance": "CFO",
    "hr": "Chief People Officer", "other": "CEO",
}
_CONTRIBUTOR = {
    "marketing": ("Marketing Specialist", "Content Marketer", "Growth Marketer",
                  "Marketing Operations Specialist"),
    "sales": ("Account Executive", "Sales Development Representative",
              "Business Development Representative"),
    "revops": ("Revenue Operations Analyst", "Salesforce Administrator"),
    "operations": ("Operations Analyst",), "it": ("Systems Administrator",),
    "engineering": ("Software Engineer", "Data Engineer"),
    "finance": ("Financial Analyst",), "hr": ("Recruiter",),
    "other": ("Customer Success Manager", "Consultant"),
}
# Channel → (weight, campaigns). "direct" has no campaign.
CHANNELS: dict[str, tuple[float, tuple[str, ...]]] = {
    "organic_search": (25, ("seo-blog", "seo-comparison", "seo-docs")),
    "paid_search": (15, ("gs-brand", "gs-competitor", "gs-lead-scoring")),
    "paid_social": (12, ("li-abm-target-accounts", "li-webinar-promo", "fb-retargeting")),
    "email": (8, ("nurture-welcome", "newsletter", "product-launch")),
    "referral": (10, ("customer-referral", "g2-reviews", "capterra")),
    "direct": (12, ()),
    "events": (8, ("saas-connect", "revops-summit", "roadshow-berlin")),
    "partner": (10, ("partner-hubspot", "partner-salesforce-appexchange", "agency-network")),
}
PAGES: dict[str, tuple[str, ...]] = {
    "home": ("/",),
    "blog": ("/blog/what-is-lead-scoring", "/blog/mql-vs-sql", "/blog/lead-decay-explained",
             "/blog/revops-stack-2025", "/blog/sla-for-sdrs", "/blog/intent-data-primer"),
    "product": ("/product", "/product/scoring", "/product/routing", "/product/analytics",
                "/integrations/salesforce", "/integrations/hubspot"),
    "docs": ("/docs/getting-started", "/docs/api", "/docs/scoring-model", "/docs/segment"),
    "pricing": ("/pricing",),
    "careers": ("/careers", "/careers/open-roles"),
    "case_study": ("/customers/novaly", "/customers/gridworks", "/customers/apexlabs"),
}
ASSETS = (
    ("The RevOps Playbook", "ebook"), ("Lead Scoring Benchmarks 2025", "whitepaper"),
    ("MQL to SQL: a Field Guide", "ebook"), ("Buyer Intent Data Explained", "whitepaper"),
)
# Local hour of day → weight: people browse in business hours, a little in the evening.
_HOUR_WEIGHTS = (0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.8, 2, 5, 9, 10, 10,
                 7, 8, 10, 9, 8, 5, 3, 2, 2, 2, 1, 0.6)
# What a lead does in each research phase: (kind, weight). "page:x" is a page view.
_PHASES: dict[str, tuple[tuple[str, float], ...]] = {
    "awareness": (
        ("page:home", 12), ("page:blog", 30), ("ad_click", 12), ("email_open", 10),
        ("email_click", 5), ("content_download", 6), ("page:careers", 4),
        ("page:product", 8), ("webinar_registered", 3), ("intent_surge", 1),
    ),
    "consideration": (
        ("page:product", 25), ("page:case_study", 12), ("page:docs", 8), ("page:blog", 10),
        ("content_download", 12), ("webinar_registered", 8), ("email_click", 8),
        ("email_open", 6), ("page:pricing", 8), ("event_attended", 3), ("form_submit", 4),
        ("intent_surge", 4), ("ad_click", 5),
    ),
    "decision": (
        ("page:pricing", 28), ("page:docs", 10), ("page:product", 12),
        ("page:case_study", 8), ("demo_request", 10), ("contact_sales", 3),
        ("trial_signup", 4), ("form_submit", 3), ("email_click", 5), ("intent_surge", 3),
    ),
}
_FIRST_TOUCH = {
    "organic_search": "page:blog", "paid_search": "ad_click", "paid_social": "ad_click",
    "email": "email_click", "referral": "page:home", "direct": "page:home",
    "events": "event_attended", "partner": "page:product",
}
TOOLS = (
    "salesforce", "hubspot", "marketo", "pardot", "segment", "snowflake", "slack", "zendesk",
    "shopify", "intercom", "jira", "workday", "google_analytics", "outreach",
)
_SYLLABLES_A = (
    "nor", "vex", "ax", "bright", "cloud", "data", "flow", "grid", "hyper", "lumen", "meri",
    "nova", "omni", "pixel", "quant", "sky", "terra", "vert", "zen", "apex", "blue", "core",
    "delta", "echo", "forge", "helix", "iron", "kite", "loop", "mono", "nimbus", "orbit",
    "pulse", "rapid", "signal", "stack", "tidal", "ultra", "volt", "wave", "amber", "cedar",
)
_SYLLABLES_B = (
    "ly", "io", "ra", "ify", "hub", "base", "works", "labs", "sys", "tek", "ora", "wise",
    "point", "path", "scale", "sync", "logic", "mind", "gate", "leaf", "craft", "bit",
)
_COMPANY_WORDS = (
    "", "", "", " Labs", " Systems", " Group", " Technologies", " Health", " Commerce",
    " Analytics",
)
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "NA": (
        "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda",
        "Sarah", "Daniel", "Emily", "Chris", "Jessica", "Kevin", "Laura", "Brian", "Megan",
        "Jason", "Rachel", "Ryan", "Olivia", "Ethan", "Sophia", "Noah", "Ava", "Tyler",
    ),
    "EMEA": (
        "Oliver", "Amelia", "Harry", "Isla", "Lukas", "Anna", "Felix", "Lena", "Jonas",
        "Marie", "Louis", "Camille", "Hugo", "Chloe", "Daan", "Sanne", "Lars", "Emma",
        "Matteo", "Giulia", "Elena", "Pablo", "Freya", "Niklas",
    ),
    "APAC": (
        "Arjun", "Priya", "Rahul", "Ananya", "Vikram", "Neha", "Wei", "Mei", "Jun", "Hana",
        "Haruto", "Yui", "Kenji", "Aiko", "Liam", "Charlotte", "Jack", "Ravi", "Siti", "Ming",
    ),
    "LATAM": (
        "Joao", "Ana", "Pedro", "Mariana", "Lucas", "Beatriz", "Gabriel", "Juliana", "Diego",
        "Sofia", "Alejandro", "Valentina", "Carlos", "Camila", "Mateus",
    ),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "NA": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
        "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
        "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
    ),
    "EMEA": (
        "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Martin", "Bernard",
        "Janssen", "DeVries", "Bakker", "Evans", "Hughes", "Patel", "Rossi", "Garcia",
        "Lindqvist", "Novak", "Wagner", "Becker", "Moreau", "Murphy",
    ),
    "APAC": (
        "Sharma", "Gupta", "Singh", "Iyer", "Reddy", "Tan", "Lim", "Wong", "Chen", "Sato",
        "Suzuki", "Takahashi", "Tanaka", "Nguyen", "Kumar", "Lee", "Kim",
    ),
    "LATAM": (
        "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Hernandez", "Lopez",
        "Gonzalez", "Rodriguez", "Ramirez", "Torres", "Flores", "Rocha",
    ),
}
EMAIL_CAMPAIGNS = (
    "nurture-welcome", "nurture-scoring-101", "product-launch", "webinar-invite",
    "case-study-digest",
)
WEBINARS = (
    "Lead scoring that sales trusts", "Decay, caps and gates in practice",
    "Routing and SLAs without spreadsheets", "Backtesting a scoring model",
)
# fmt: on

_AD_SOURCES = {"paid_search": ("google", "cpc"), "paid_social": ("linkedin", "paid_social")}
EVENTS = ("SaaS Connect", "RevOps Summit", "Roadshow Berlin", "Pipeline Live")
INTENT_TOPICS = ("lead scoring", "marketing automation", "revenue operations", "intent data")
INTENT_PROVIDERS = ("bombora", "g2", "6sense")

RECYCLE_REASONS = ("timing", "no budget", "no response")
DISQUALIFY_REASONS = ("not decision maker", "competitor", "bad data", "no budget")
LOST_REASONS = ("price", "competitor", "no decision", "timing")

_HOURS = tuple(range(24))
_HOUR_CUMULATIVE = tuple(itertools.accumulate(_HOUR_WEIGHTS))
_PHASE_CHOICES: dict[str, tuple[list[str], list[float]]] = {
    phase: ([kind for kind, _ in menu], list(itertools.accumulate(w for _, w in menu)))
    for phase, menu in _PHASES.items()
}
# Incoming names as some trackers send them; the model's alias table maps them back.
ALIASES = {"page_view": "Page Viewed", "demo_request": "Demo Requested"}
_ALIAS_SHARE = {"page_view": 0.3, "demo_request": 0.5}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as sent to leadgate and the simulated day (0-based) it arrives on.

    A message usually arrives on the day it happened; a few arrive a day late (with their
    original time) and a few are sent twice, as real tracking pipelines do.
    """

    touchpoint: TouchpointIn
    day: int


@dataclass(frozen=True, slots=True)
class Truth:
    """What the world knows about a lead and leadgate must infer.

    ``identified_on`` is the day an inbound lead (first an anonymous visitor) sends its
    first message with an email; None for leads that are in the CRM from the start.
    """

    intent: float
    fit: float
    identified_on: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedOutcome:
    """A decision sales will make if the lead is in ``from_stage``, ``after_days`` after it
    entered it.

    The plan is written before anyone knows how the scoring model will move the lead, so
    the runner applies the first pending step that matches the lead's stage when it looks
    (a lead the gates took straight to SQL skips its MQL review).
    """

    email: str
    from_stage: Stage
    to_stage: Stage
    reason: str
    after_days: float


@dataclass(frozen=True, slots=True)
class World:
    """A whole synthetic world over ``[start, end)``; ``outcomes`` are in plan order per lead."""

    start: datetime
    end: datetime
    days: int
    accounts: list[AccountIn]
    leads: list[LeadIn]
    deliveries: list[Delivery]
    outcomes: list[PlannedOutcome]
    truth: dict[str, Truth]

    @property
    def touchpoints(self) -> list[TouchpointIn]:
        """Every message in the order sent, re-sent duplicates included."""
        return [delivery.touchpoint for delivery in self.deliveries]

    def day_of(self, at: datetime) -> int:
        """Given a time in the world, return its simulated day (0-based)."""
        return int((at - self.start) // DAY)


@dataclass(slots=True)
class _Account:
    account: AccountIn
    fit: float
    region: str
    weight: float


@dataclass(slots=True)
class _Person:
    lead: LeadIn
    email: str
    region: str
    seniority: str
    fit: float
    intent: float
    inbound: bool
    channel: str
    cookie: str


@dataclass(slots=True)
class _Event:
    at: datetime
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    # "email" (email only), "anonymous" (cookie only), "both"; set when identities are given.
    ids: str = "email"
    identifies: bool = False


def generate_world(*, leads: int, days: int, seed: int, end: datetime) -> World:
    """Given a size, a span and a seed, return the world; same arguments, same world.

    About one account per three leads, ~12% of leads on free mail (no account), ~15%
    first seen as anonymous visitors, about ten touchpoints per lead within the span.
    """
    if leads < 1 or days < 1:
        raise ValueError(f"need at least one lead and one day (got leads={leads}, days={days})")
    if end.tzinfo is None:
        raise ValueError(f"end must carry a time zone (got {end.isoformat()})")
    end = end.astimezone(UTC)
    start = end - days * DAY
    rng = random.Random(seed)
    # Sales draws from its own stream, so tuning its decisions leaves the traffic as it is.
    sales = random.Random(f"sales-{seed}")
    accounts = _accounts(rng, max(1, round(leads / 3)))
    people = _people(rng, leads, accounts)
    schedule = _Schedule(start, end, days)

    deliveries: list[Delivery] = []
    outcomes: list[PlannedOutcome] = []
    truth: dict[str, Truth] = {}
    for person in people:
        events = _journey(rng, person, schedule)
        identified_on = _assign_identities(rng, person, events, schedule)
        for event in events:
            deliveries.append(Delivery(_message(rng, person, event), schedule.day(event.at)))
        truth[person.email] = Truth(round(person.intent, 4), round(person.fit, 4), identified_on)
        outcomes.extend(_plan(sales, person))
    deliveries = _disorder(rng, deliveries, days)
    return World(
        start=start,
        end=end,
        days=days,
        accounts=[a.account for a in accounts],
        leads=[p.lead for p in people],
        deliveries=deliveries,
        outcomes=outcomes,
        truth=truth,
    )


# ---------------------------------------------------------------- accounts and people


def _pick(rng: random.Random, weights: dict[str, Any]) -> str:
    """Given {name: weight or (weight, ...)}, return one name drawn by weight."""
    names = list(weights)
    values = [w[0] if isinstance(w, tuple) else w for w in weights.values()]
    return rng.choices(names, values)[0]


def _accounts(rng: random.Random, count: int) -> list[_Account]:
    taken: set[str] = set()
    found: list[_Account] = []
    for _ in range(count):
        industry = _pick(rng, INDUSTRIES)
        region = _pick(rng, REGIONS)
        country = _pick(rng, REGIONS[region][2])
        employees = int(min(50_000, max(5, math.exp(rng.gauss(math.log(120), 1.5)))))
        revenue = employees * INDUSTRIES[industry][2] * math.exp(rng.gauss(0, 0.35))
        base, domain = _company_domain(rng, taken, industry, country)
        word = rng.choice(_COMPANY_WORDS)
        suffix = rng.choice(COUNTRY_SUFFIX[country]) if rng.random() < 0.4 else ""
        name = f"{base.capitalize()}{word}{' ' + suffix if suffix else ''}"
        tools = _technographics(rng, industry, employees)
        size_fit = 1.0 if 50 <= employees <= 5000 else 0.6 if 20 <= employees <= 20_000 else 0.25
        tool_fit = 1.0 if {"salesforce", "hubspot", "segment", "marketo"} & set(tools) else 0.0
        fit = 0.45 * INDUSTRIES[industry][1] + 0.4 * size_fit + 0.15 * tool_fit
        account = AccountIn(
            domain=domain,
            name=name,
            industry=industry,
            employees=employees,
            annual_revenue=float(round(revenue, -3)),
            country=country,
            region=region,
            technographics=tuple(tools),
            traits={"founded": rng.randint(1960, 2023)},
        )
        weight = rng.paretovariate(2.5) * (1 + math.log10(employees))
        found.append(_Account(account, fit, region, weight))
    return found


def _company_domain(
    rng: random.Random, taken: set[str], industry: str, country: str
) -> tuple[str, str]:
    """Given the names already used, return a fresh (company base name, domain)."""
    for attempt in range(50):
        base = rng.choice(_SYLLABLES_A) + rng.choice(_SYLLABLES_B)
        if attempt >= 10:
            base += rng.choice(_SYLLABLES_B)
        if attempt >= 30:
            base += str(rng.randint(2, 99))
        if base not in taken:
            break
    taken.add(base)
    roll = rng.random()
    if country == "DE" and roll < 0.5:
        tld = "de"
    elif industry in ("software", "fintech") and roll < 0.3:
        tld = "io" if roll < 0.2 else "ai"
    elif roll > 0.93:
        tld = "co"
    else:
        tld = "com"
    return base, f"{base}.{tld}"


def _technographics(rng: random.Random, industry: str, employees: int) -> list[str]:
    big = min(1.0, math.log10(employees) / 4)  # 0 for 1 employee, 1 from 10,000
    chance = {
        "salesforce": 0.15 + 0.6 * big,
        "hubspot": 0.45 - 0.3 * big,
        "marketo": 0.05 + 0.3 * big,
        "pardot": 0.1 * big,
        "segment": 0.3 if industry in ("software", "fintech") else 0.08,
        "snowflake": 0.1 + 0.35 * big,
        "slack": 0.7,
        "zendesk": 0.3,
        "shopify": 0.6 if industry in ("ecommerce", "retail") else 0.02,
        "intercom": 0.2,
        "jira": 0.5 if industry in ("software", "fintech") else 0.15,
        "workday": 0.3 * big,
        "google_analytics": 0.8,
        "outreach": 0.25 * big,
    }
    return [tool for tool in TOOLS if rng.random() < chance[tool]]


def _people(rng: random.Random, count: int, accounts: Sequence[_Account]) -> list[_Person]:
    emails: set[str] = set()
    weights = [a.weight for a in accounts]
    # A five-person shop does not have twenty people researching one tool.
    room = [max(2, round(math.sqrt(a.account.employees or 1))) for a in accounts]
    people: list[_Person] = []
    for _ in range(count):
        free = rng.random() < FREE_MAIL_SHARE or not any(room)
        company = None
        if not free:
            index = rng.choices(range(len(accounts)), weights)[0]
            company = accounts[index]
            room[index] -= 1
            if not room[index]:
                weights[index] = 0.0
        region = company.region if company else _pick(rng, REGIONS)
        country = (company.account.country if company else None) or _pick(rng, REGIONS[region][2])
        first = rng.choice(FIRST_NAMES[region])
        last = rng.choice(LAST_NAMES[region])
        employees = (company.account.employees or 0) if company else 0
        seniority = _seniority(rng, free, employees)
        department = _pick(rng, DEPARTMENT_FIT)
        email = _email(
            rng,
            emails,
            first,
            last,
            company.account.domain if company else None,
            country,
            employees,
        )
        person_fit = 0.55 * SENIORITY_FIT[seniority] + 0.45 * DEPARTMENT_FIT[department][1]
        fit = 0.5 * (company.fit if company else 0.2) + 0.5 * person_fit
        intent = min(1.0, fit**1.5 * rng.betavariate(2, 3) * 1.6)
        if seniority == "student":
            intent *= 0.2
        channel = _pick(rng, CHANNELS)
        campaigns = CHANNELS[channel][1]
        plan = "starter" if employees < 50 else "growth" if employees < 1000 else "enterprise"
        lead = LeadIn(
            email=email,
            first_name=first,
            last_name=last,
            title=_title(rng, seniority, department, employees),
            seniority=seniority,
            department=department,
            persona=_persona(seniority, department),
            source_channel=channel,
            source_campaign=rng.choice(campaigns) if campaigns else None,
            country=country,
            traits={"plan_interest": plan, "newsletter": rng.random() < 0.4},
        )
        people.append(
            _Person(
                lead=lead,
                email=email,
                region=region,
                seniority=seniority,
                fit=fit,
                intent=intent,
                inbound=rng.random() < INBOUND_SHARE,
                channel=channel,
                cookie=_cookie(email),
            )
        )
    return people


def _seniority(rng: random.Random, free: bool, employees: int) -> str:
    if free:
        weights = {
            "student": 30,
            "individual_contributor": 30,
            "manager": 15,
            "director": 8,
            "vp": 5,
            "c_level": 12,
        }
    else:
        weights = {
            "individual_contributor": 34,
            "manager": 26,
            "director": 16,
            "vp": 9,
            "c_level": 6 + (10 if employees < 50 else 0),
            "student": 2,
        }
    return _pick(rng, weights)


def _title(rng: random.Random, seniority: str, department: str, employees: int) -> str:
    label = _DEPARTMENT_LABEL[department]
    if seniority == "c_level":
        if employees and employees < 50 and rng.random() < 0.4:
            return "Founder & CEO"
        return _C_LEVEL[department]
    if seniority == "vp":
        return rng.choice((f"VP {label}", f"Vice President, {label}"))
    if seniority == "director":
        return rng.choice((f"Director of {label}", f"Head of {label}"))
    if seniority == "manager":
        if department == "marketing":
            return rng.choice(
                ("Marketing Manager", "Demand Generation Manager", "Marketing Operations Manager")
            )
        return f"{label} Manager"
    if seniority == "student":
        return rng.choice(("Student", "MBA Candidate", "Marketing Intern"))
    return rng.choice(_CONTRIBUTOR[department])


def _persona(seniority: str, department: str) -> str:
    leader = seniority in ("c_level", "vp", "director")
    if seniority == "student":
        return "student"
    if department == "marketing":
        return "marketing_leader" if leader else "marketer"
    if department in ("sales", "revops"):
        return "revenue_leader" if leader else "revops" if department == "revops" else "seller"
    if department in ("it", "engineering"):
        return "technical"
    if seniority == "c_level":
        return "executive"
    return "finance" if department == "finance" else "other"


def _email(
    rng: random.Random,
    taken: set[str],
    first: str,
    last: str,
    domain: str | None,
    country: str,
    employees: int,
) -> str:
    first, last = first.lower(), last.lower()
    if domain is None:
        domain = "gmx.de" if country == "DE" and rng.random() < 0.3 else _pick(rng, FREE_MAIL)
        local = rng.choice(
            (
                f"{first}.{last}",
                f"{first}{last}{rng.randint(1, 99)}",
                f"{first[0]}{last}{rng.randint(70, 99)}",
            )
        )
    else:
        roll = rng.random()
        if employees < 50 and roll < 0.2:
            local = first
        elif roll < 0.7:
            local = f"{first}.{last}"
        else:
            local = f"{first[0]}{last}"
    email = f"{local}@{domain}"
    number = 2
    while email in taken:
        email = f"{local}{number}@{domain}"
        number += 1
    taken.add(email)
    return email


# ---------------------------------------------------------------- touchpoints


class _Schedule:
    """The calendar the world shares: its span, webinars and newsletters."""

    def __init__(self, start: datetime, end: datetime, days: int) -> None:
        self.start, self.end, self.days = start, end, days
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.webinars = [midnight + DAY * d + timedelta(hours=16) for d in range(3, days + 30, 14)]
        self.newsletters = [
            midnight + DAY * d + timedelta(hours=14) for d in range(2, days + 1, 14)
        ]

    def day(self, at: datetime) -> int:
        return int((at - self.start) // DAY)

    def inside(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _journey(rng: random.Random, person: _Person, schedule: _Schedule) -> list[_Event]:
    """Given a lead, return what it does: bursts of research that escalate with intent."""
    intent = person.intent
    offset = REGIONS[person.region][1]
    events: list[_Event] = []
    state = {"demo": 0, "trial": 0}
    t = schedule.start + DAY * rng.uniform(0, 0.9 * schedule.days)
    bursts = 1 + _poisson(rng, 0.5 + 2.5 * intent)
    for burst in range(bursts):
        level = min(1.0, intent * (0.55 + 0.35 * burst) + rng.gauss(0, 0.08))
        phase = "awareness" if level < 0.25 else "consideration" if level < 0.5 else "decision"
        length = rng.uniform(0.1, 3.0)
        touches = 1 + _poisson(rng, 1.0 + 3.0 * intent)
        for touch in range(touches):
            if burst == 0 and touch == 0:
                kind = _FIRST_TOUCH[person.channel]
            else:
                kinds, weights = _PHASE_CHOICES[phase]
                kind = rng.choices(kinds, cum_weights=weights)[0]
            at = _business_time(rng, t + DAY * rng.uniform(0, length), offset)
            events.extend(_touch(rng, kind, at, person, state, schedule))
        t += DAY * (length + rng.expovariate(1 / (14 - 9 * intent)))
        if t >= schedule.end:
            break
    if person.lead.traits.get("newsletter"):
        for sent in schedule.newsletters:
            if rng.random() < 0.15 + 0.5 * intent:
                events.extend(
                    _touch(
                        rng,
                        "newsletter",
                        sent + timedelta(hours=rng.uniform(0, 30)),
                        person,
                        state,
                        schedule,
                    )
                )
    events.sort(key=lambda e: e.at)
    kept: list[_Event] = []
    unsubscribed = False
    for event in events:
        if unsubscribed and event.name.startswith("email_"):
            continue  # nobody opens what they no longer receive
        unsubscribed = unsubscribed or event.name == "email_unsubscribe"
        if schedule.inside(event.at):
            kept.append(event)
    return kept


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _business_time(rng: random.Random, around: datetime, offset: int) -> datetime:
    """Given a moment, return a time that day in the lead's business hours (UTC)."""
    local = around + timedelta(hours=offset)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    hour = rng.choices(_HOURS, cum_weights=_HOUR_CUMULATIVE)[0]
    when = midnight + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
    if when.weekday() >= 5 and rng.random() < 0.7:
        when += DAY * (7 - when.weekday())  # most weekend browsing waits for Monday
    return when - timedelta(hours=offset)


def _page(path: str, category: str) -> dict[str, Any]:
    return {"path": path, "url": f"{SITE}{path}", "category": category}


def _touch(
    rng: random.Random,
    kind: str,
    at: datetime,
    person: _Person,
    state: dict[str, int],
    schedule: _Schedule,
) -> list[_Event]:
    """Given a kind of touch, return the events it makes (a click implies an open ...)."""
    minutes = timedelta(minutes=1)
    if kind.startswith("page:"):
        category = kind[5:]
        return [_Event(at, "page_view", _page(rng.choice(PAGES[category]), category))]
    if kind in ("email_open", "email_click", "newsletter"):
        campaign = "newsletter" if kind == "newsletter" else rng.choice(EMAIL_CAMPAIGNS)
        events = [_Event(at, "email_open", {"campaign": campaign})]
        if kind == "email_click" or rng.random() < 0.25:
            link = rng.choice(("blog", "product", "case_study", "pricing"))
            events.append(
                _Event(
                    at + 2 * minutes,
                    "email_click",
                    {"campaign": campaign, "link": f"{SITE}{PAGES[link][0]}"},
                )
            )
            events.append(_Event(at + 3 * minutes, "page_view", _page(PAGES[link][0], link)))
        if rng.random() < 0.03 * (1 - person.intent):
            events.append(_Event(at + 5 * minutes, "email_unsubscribe", {"campaign": campaign}))
        return events
    if kind == "ad_click":
        channel = (
            person.channel
            if person.channel in _AD_SOURCES
            else rng.choice(("paid_search", "paid_social"))
        )
        campaign = rng.choice(CHANNELS[channel][1])
        source, medium = _AD_SOURCES[channel]
        utm = {"source": source, "medium": medium, "campaign": campaign}
        landing = rng.choice(("/", "/product", "/pricing", "/blog/what-is-lead-scoring"))
        category = {"/": "home", "/product": "product", "/pricing": "pricing"}.get(landing, "blog")
        return [
            _Event(at, "ad_click", {"campaign": campaign, "utm": utm}),
            _Event(at + minutes, "page_view", {**_page(landing, category), "utm": utm}),
        ]
    if kind == "content_download":
        asset, asset_type = rng.choice(ASSETS)
        slug = asset.lower().replace(" ", "-").replace(":", "")
        return [
            _Event(at, "page_view", _page(f"/resources/{slug}", "resources")),
            _Event(
                at + 2 * minutes, "content_download", {"asset": asset, "asset_type": asset_type}
            ),
        ]
    if kind == "webinar_registered":
        when = next((w for w in schedule.webinars if w > at + DAY), schedule.webinars[-1])
        title = WEBINARS[schedule.webinars.index(when) % len(WEBINARS)]
        events = [
            _Event(at, "webinar_registered", {"webinar": title, "starts_at": when.isoformat()})
        ]
        if rng.random() < 0.3 + 0.5 * person.intent:
            events.append(
                _Event(
                    when + timedelta(minutes=rng.randint(0, 10)),
                    "webinar_attended",
                    {"webinar": title, "minutes": rng.randint(10, 60)},
                )
            )
        return events
    if kind == "event_attended":
        name = EVENTS[schedule.day(at) // 30 % len(EVENTS)]
        return [_Event(at, "event_attended", {"event": name, "booth_scan": rng.random() < 0.6})]
    if kind == "form_submit":
        form = rng.choice(("newsletter", "contact", "gated_content", "partner"))
        return [_Event(at, "form_submit", {"form": form, "path": f"/forms/{form}"})]
    if kind == "demo_request":
        state["demo"] += 1
        if state["demo"] > 1 and rng.random() < 0.8:
            return [_Event(at, "page_view", _page("/pricing", "pricing"))]
        return [
            _Event(at, "page_view", _page("/demo", "product")),
            _Event(
                at + 3 * minutes,
                "demo_request",
                {
                    "form": "demo",
                    "path": "/demo",
                    "team_size": rng.choice(("1-10", "11-50", "51-200", "201-1000", "1000+")),
                },
            ),
        ]
    if kind == "contact_sales":
        return [
            _Event(
                at,
                "contact_sales",
                {
                    "form": "contact_sales",
                    "path": "/contact-sales",
                    "topic": rng.choice(("pricing", "security", "enterprise plan")),
                },
            )
        ]
    if kind == "trial_signup":
        state["trial"] += 1
        if state["trial"] > 1:
            return [_Event(at, "page_view", _page(rng.choice(PAGES["docs"]), "docs"))]
        plan = person.lead.traits.get("plan_interest", "starter")
        events = [_Event(at, "trial_signup", {"plan": plan, "trial_days": 14})]
        active_days = sorted(
            rng.sample(range(1, 15), min(14, _poisson(rng, 1 + 6 * person.intent)))
        )
        for day in active_days:
            events.append(
                _Event(
                    _business_time(rng, at + DAY * day, REGIONS[person.region][1]),
                    "product_active_day",
                    {"active_minutes": rng.randint(5, 120), "features_used": rng.randint(1, 8)},
                )
            )
        return events
    if kind == "intent_surge":
        surge = at.replace(hour=6, minute=0, second=0)
        score = min(100, max(50, round(55 + 40 * person.intent + rng.gauss(0, 8))))
        return [
            _Event(
                surge,
                "intent_surge",
                {
                    "topic": rng.choice(INTENT_TOPICS),
                    "score": score,
                    "provider": rng.choice(INTENT_PROVIDERS),
                },
            )
        ]
    raise ValueError(f"unknown touch kind {kind!r}")  # pragma: no cover


def _assign_identities(
    rng: random.Random, person: _Person, events: list[_Event], schedule: _Schedule
) -> int | None:
    """Decide which ids each event carries; return the day an inbound lead identifies.

    An inbound lead first browses with only a cookie, then fills a form that carries both
    cookie and email: leadgate must stitch them into one lead. On that day no other message
    carries the email (a message with only the email, resolved in the same batch, could not
    know yet that the cookie's lead is the same person).
    """
    if not person.inbound or not events:
        return None
    first = events[0].at
    identify_at = first - timedelta(minutes=rng.randint(5, 90))
    browse = [identify_at - DAY * rng.uniform(0.02, 6) for _ in range(rng.randint(1, 4))]
    if not browse or min(browse) < schedule.start or identify_at < schedule.start:
        return None  # the lead's anonymous past is outside the world: it is simply known
    for at in sorted(browse):
        category = rng.choice(("home", "blog", "product", "blog"))
        events.append(
            _Event(at, "page_view", _page(rng.choice(PAGES[category]), category), ids="anonymous")
        )
    asset, asset_type = rng.choice(ASSETS)
    events.append(
        _Event(
            identify_at,
            "content_download",
            {"asset": asset, "asset_type": asset_type, "gated": True},
            ids="both",
            identifies=True,
        )
    )
    day = schedule.day(identify_at)
    kept = []
    for event in events:
        if event.identifies or event.ids == "anonymous":
            kept.append(event)
        elif event.name == "page_view":
            later = schedule.day(event.at) > day
            event.ids = "both" if later and rng.random() < 0.5 else "anonymous"
            kept.append(event)
        elif schedule.day(event.at) > day:
            kept.append(event)
    kept.sort(key=lambda e: e.at)
    events[:] = kept
    return day


def _message(rng: random.Random, person: _Person, event: _Event) -> TouchpointIn:
    name = event.name
    if name in ALIASES and rng.random() < _ALIAS_SHARE[name]:
        name = ALIASES[name]
    return TouchpointIn(
        message_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        name=name,
        occurred_at=event.at.replace(microsecond=0),
        properties=event.properties,
        email=person.email if event.ids in ("email", "both") else None,
        anonymous_id=person.cookie if event.ids in ("anonymous", "both") else None,
    )


def _cookie(email: str) -> str:
    """A lead's browser cookie id: stable per lead, without spending random draws."""
    return f"anon-{uuid.uuid5(uuid.NAMESPACE_URL, email).hex[:16]}"


def _disorder(rng: random.Random, deliveries: list[Delivery], days: int) -> list[Delivery]:
    """Return deliveries in arrival order, a few a day late and a few sent twice."""
    ordered = sorted(deliveries, key=lambda d: (d.touchpoint.occurred_at, d.touchpoint.message_id))
    out: list[Delivery] = []
    for delivery in ordered:
        # The message that stitches a cookie to an email stays on time and single: the
        # runner syncs that lead's profile on the day it arrives.
        stitches = delivery.touchpoint.email and delivery.touchpoint.anonymous_id
        day = delivery.day
        if not stitches and day + 1 < days and rng.random() < LATE_SHARE:
            day += 1
        out.append(Delivery(delivery.touchpoint, day))
        if not stitches and rng.random() < DUPLICATE_SHARE:
            out.append(Delivery(delivery.touchpoint, min(days - 1, day + rng.randint(0, 1))))
    out.sort(key=lambda d: d.day)  # stable: within a day, in the order things happened
    return out


# ---------------------------------------------------------------- sales decisions


def _plan(rng: random.Random, person: _Person) -> list[PlannedOutcome]:
    """Given a lead, return what sales will decide at each stage it may reach.

    Sales judges fit (the right company, someone who can buy) as much as interest: a lead
    worth more gets accepted, turned into an opportunity and won more often, and sooner.
    """
    intent, email = person.intent, person.email
    worth = 0.5 * min(1.0, max(0.0, (person.fit - 0.35) / 0.55)) + 0.5 * intent

    def step(src: Stage, dst: Stage, reason: str, low: float, high: float) -> PlannedOutcome:
        return PlannedOutcome(email, src, dst, reason, round(rng.uniform(low, high), 3))

    pace = 1.3 - worth
    steps: list[PlannedOutcome] = []
    roll = rng.random()
    if person.seniority == "student":
        steps.append(step(Stage.MQL, Stage.DISQUALIFIED, "student", 0.5, 3))
    elif roll < 0.05 + 0.8 * worth:
        steps.append(step(Stage.MQL, Stage.SQL, "accepted by sales", 0.5, 4))
    elif roll < 0.05 + 0.8 * worth + 0.5 * (0.95 - 0.8 * worth):
        steps.append(step(Stage.MQL, Stage.RECYCLED, rng.choice(RECYCLE_REASONS), 1, 5))
        if rng.random() < worth:
            steps.append(step(Stage.MQL, Stage.SQL, "accepted by sales", 0.5, 4))
        else:
            steps.append(
                step(Stage.MQL, Stage.DISQUALIFIED, rng.choice(DISQUALIFY_REASONS), 0.5, 4)
            )
    else:
        reason = (
            "not decision maker"
            if person.seniority == "individual_contributor"
            else rng.choice(DISQUALIFY_REASONS)
        )
        steps.append(step(Stage.MQL, Stage.DISQUALIFIED, reason, 0.5, 4))
    roll = rng.random()
    if roll < 0.1 + 0.75 * worth:
        steps.append(
            step(Stage.SQL, Stage.OPPORTUNITY, "qualified opportunity", 2 * pace, 10 * pace)
        )
        won = rng.random() < 0.7 * worth
        steps.append(
            step(
                Stage.OPPORTUNITY,
                Stage.CUSTOMER if won else Stage.LOST,
                "closed won" if won else rng.choice(LOST_REASONS),
                6 * pace,
                30 * pace,
            )
        )
    elif roll < 0.55 + 0.45 * worth:
        steps.append(step(Stage.SQL, Stage.RECYCLED, rng.choice(RECYCLE_REASONS), 2, 8))
    else:
        steps.append(step(Stage.SQL, Stage.DISQUALIFIED, rng.choice(DISQUALIFY_REASONS), 2, 8))
    return steps
