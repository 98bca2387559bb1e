"""The scoring model in sentences a marketer reads, e.g. "+10 each time the lead visits a
pricing page, halved every 30 days, at most 30 in all"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    Condition,
    EngagementRule,
    FitRule,
    ScoreCondition,
    ScoringModel,
    TouchpointCondition,
)

# Touchpoint names as verbs: "each time the lead ...".
_ACTIONS = {
    "page_view": "views a page",
    "form_submit": "submits a form",
    "content_download": "downloads content (an ebook, a whitepaper)",
    "webinar_registered": "registers for a webinar",
    "webinar_attended": "attends a webinar",
    "email_open": "opens a marketing email",
    "email_click": "clicks a link in a marketing email",
    "email_unsubscribe": "unsubscribes from email",
    "ad_click": "clicks an ad",
    "event_attended": "meets us at an event",
    "demo_request": "requests a demo",
    "contact_sales": "asks to talk to sales",
    "trial_signup": "starts a trial",
    "product_active_day": "is active in the product on a day",
    "sales_call": "gets a sales call",
    "sales_email": "gets a sales email",
    "meeting_booked": "books a meeting",
    "sales_reply": "replies to sales",
    "intent_surge": "shows a third-party intent surge",
}

_FIELDS = {
    "seniority": "seniority",
    "department": "department",
    "persona": "persona",
    "title": "job title",
    "country": "country",
    "email_domain": "email domain",
    "source_channel": "source channel",
    "account.industry": "the company's industry",
    "account.employees": "the company's head count",
    "account.annual_revenue": "the company's annual revenue",
    "account.region": "the company's region",
    "account.country": "the company's country",
    "account.technographics": "the company's tools",
    "total": "the total score",
    "fit": "the fit score",
    "engagement": "the engagement score",
    "grade": "the fit grade",
    "probability": "the predicted probability",
}


def _value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return _either([_value(v) for v in value])
    return str(value)


def _either(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def field_name(name: str) -> str:
    if name in _FIELDS:
        return _FIELDS[name]
    if name.startswith("account."):
        return f"the company's {name.removeprefix('account.').replace('_', ' ')}"
    return name.replace("_", " ")


def predicate(p: Predicate) -> str:
    """One predicate as a phrase: "seniority is c_level or vp"."""
    name, v = field_name(p.field), p.value
    match p.op:
        case Operator.EQ:
            return f"{name} is {_value(v)}"
        case Operator.IN:
            return f"{name} is {_value(v)}"
        case Operator.NOT_IN:
            return f"{name} is not {_value(v)}"
        case Operator.BETWEEN:
            low, high = v
            return f"{name} is between {_value(low)} and {_value(high)}"
        case Operator.GTE:
            return f"{name} is at least {_value(v)}"
        case Operator.LTE:
            return f"{name} is at most {_value(v)}"
        case Operator.CONTAINS:
            return (
                f"{name} include {_value(v)}"
                if name.endswith("tools")
                else (f"{name} contains {_value(v)}")
            )
        case Operator.REGEX:
            return f"{name} matches the pattern {v}"
        case Operator.EXISTS:
            return f"{name} is known" if v else f"{name} is not known"
    return f"{name} {p.op.value} {_value(v)}"  # pragma: no cover - the enum is closed


def _points(points: float) -> str:
    return f"{'+' if points >= 0 else '−'}{_value(abs(points))}"


def fit_rule(rule: FitRule) -> str:
    """ "+15 when seniority is c_level or vp"."""
    return f"{_points(rule.points)} when {predicate(rule.predicate)}"


def _action(rule: EngagementRule) -> str:
    where = list(rule.where)
    if rule.touchpoint == "page_view":
        category = next(
            (p for p in where if p.field == "category" and p.op in (Operator.EQ, Operator.IN)),
            None,
        )
        if category is not None:
            where.remove(category)
            kinds = category.value if isinstance(category.value, list | tuple) else [category.value]
            text = f"visits a {_either([str(k).replace('_', ' ') for k in kinds])} page"
        else:
            text = _ACTIONS["page_view"]
    else:
        text = _ACTIONS.get(rule.touchpoint, f"has a {rule.touchpoint.replace('_', ' ')} event")
    if where:
        text += " where " + " and ".join(predicate(p) for p in where)
    return text


def _days(value: float) -> str:
    n = _value(value)
    return f"{n} day" if n == "1" else f"{n} days"


def engagement_rule(rule: EngagementRule) -> str:
    """ "+10 each time the lead visits a pricing page, halved every 30 days, at most 30"."""
    action = _action(rule)
    window = f" within {_days(rule.within_days)}" if rule.within_days is not None else ""
    if rule.count is not None:
        span = (
            f" within {_days(rule.count.within_days)}" if rule.count.within_days is not None else ""
        )
        return (
            f"{_points(rule.points)} once while the lead {action} "
            f"{rule.count.at_least} or more times{span}"
        )
    parts = [f"{_points(rule.points)} each time the lead {action}{window}"]
    if rule.half_life_days is None:
        parts.append("never fading")
    else:
        parts.append(f"halved every {_days(rule.half_life_days)}")
    if rule.cap is not None:
        bound = "at most" if rule.points >= 0 else "a penalty of at most"
        parts.append(f"{bound} {_value(abs(rule.cap))} in all")
    return ", ".join(parts)


def condition(c: Condition | None) -> str:
    """A gate condition in words; nested groups in brackets."""
    if c is None:
        return "never"
    if isinstance(c, ScoreCondition):
        return predicate(c.predicate)
    if isinstance(c, TouchpointCondition):
        action = _ACTIONS.get(c.touchpoint, c.touchpoint.replace("_", " "))
        times = "" if c.at_least == 1 else f" {c.at_least} or more times"
        window = f" in the last {_days(c.within_days)}" if c.within_days is not None else ""
        where = (" where " + " and ".join(predicate(p) for p in c.where)) if c.where else ""
        return f"the lead {action}{where}{times}{window}"
    if isinstance(c, AllOf):
        return " and ".join(_grouped(x) for x in c.conditions) or "always"
    if isinstance(c, AnyOf):
        return " or ".join(_grouped(x) for x in c.conditions) or "never"
    return str(c)  # pragma: no cover


def _grouped(c: Condition) -> str:
    text = condition(c)
    return f"({text})" if isinstance(c, AllOf | AnyOf) and len(c.conditions) > 1 else text


@dataclass(frozen=True, slots=True)
class RuleLine:
    id: str
    kind: str
    sentence: str
    description: str
    points: float


@dataclass(frozen=True, slots=True)
class ModelInWords:
    name: str
    description: str
    fit: tuple[RuleLine, ...]
    engagement: tuple[RuleLine, ...]
    grades: tuple[tuple[str, str], ...]
    gates: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]


def in_words(model: ScoringModel) -> ModelInWords:
    """The whole model as sentences: rules, grades, gates and the general settings."""
    grades = []
    for band in model.grades:
        if band.min_fit is not None and band.max_fit is not None:
            text = f"fit from {_value(band.min_fit)} up to (not including) {_value(band.max_fit)}"
        elif band.min_fit is not None:
            text = f"fit of {_value(band.min_fit)} or more"
        elif band.max_fit is not None:
            text = f"fit under {_value(band.max_fit)}"
        else:
            text = "any fit"
        grades.append((band.grade.value, text))
    gates = [
        ("Lead → MQL", condition(model.gates.mql)),
        ("MQL → SQL (sales-ready)", condition(model.gates.sales_ready)),
        ("Straight to SQL", condition(model.gates.skip_to_sql)),
    ]
    notes = []
    if model.half_life_days is not None:
        notes.append(
            f"Engagement fades: points are halved every {_days(model.half_life_days)} "
            "unless a rule says otherwise."
        )
    if model.engagement_cap is not None:
        notes.append(f"Engagement counts at most {_value(model.engagement_cap)} points in all.")
    if model.gates.requires_acceptance:
        notes.append("A sales-ready lead moves to SQL only when a rep accepts it.")
    notes.append(
        f"A recycled lead may qualify again after {_days(model.recycle.cooldown_days)}; "
        + (
            "its earlier engagement no longer counts."
            if model.recycle.engagement.value == "reset"
            else "its earlier engagement keeps counting."
        )
    )
    return ModelInWords(
        name=model.name,
        description=model.description,
        fit=tuple(
            RuleLine(r.id, "fit", fit_rule(r), r.description, r.points) for r in model.fit_rules
        ),
        engagement=tuple(
            RuleLine(r.id, "engagement", engagement_rule(r), r.description, r.points)
            for r in model.engagement_rules
        ),
        grades=tuple(grades),
        gates=tuple(gates),
        notes=tuple(notes),
    )
