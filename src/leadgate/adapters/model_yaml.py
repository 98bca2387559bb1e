"""Reading scoring models from YAML, with line and column in every problem.

The document is parsed with PyYAML's safe loader (never anything that executes text),
then checked key by key; every problem found is reported, not just the first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import yaml

from leadgate.domain.predicates import Operator, Predicate
from leadgate.domain.scoring_model import (
    AllOf,
    AnyOf,
    Condition,
    CountThreshold,
    EngagementRule,
    FitRule,
    Gates,
    Grade,
    GradeBand,
    RecycleEngagement,
    RecyclePolicy,
    ScoreCondition,
    ScoreField,
    ScoringModel,
    TouchpointCondition,
)
from leadgate.domain.touchpoints import STANDARD_TOUCHPOINTS

Path = tuple[str | int, ...]
_OPS = [op.value for op in Operator]
_ID = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful) in a model document, and where."""

    severity: str
    line: int
    column: int
    path: str
    message: str
    source: str = "<model>"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass
class ValidationReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    model: ScoringModel | None = None


class ModelInvalid(ValueError):
    """A model document with errors; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_model(text: str, source: str = "<model>") -> ScoringModel:
    """Given YAML text, return the scoring model, or raise ModelInvalid listing every error."""
    report = validate_model(text, source)
    if report.errors or report.model is None:
        raise ModelInvalid(report.errors)
    return report.model


def compose(text: str, source: str) -> tuple[yaml.Node | None, Problem | None]:
    """Given YAML text, return its node tree, or the syntax problem with line and column."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, Problem("error", line, column, "", f"YAML syntax: {exc.problem}", source)
    except yaml.reader.ReaderError as exc:
        # Characters YAML does not allow (control characters) have no mark, only a position.
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        message = f"YAML syntax: character #x{exc.character:04x} is not allowed in YAML"
        return None, Problem("error", line, column, "", message, source)


def validate_model(text: str, source: str = "<model>") -> ValidationReport:
    """Given YAML text, return every error and warning, and the model when it is valid."""
    checker = _Checker(source)
    node, syntax = compose(text, source)
    if syntax is not None:
        return ValidationReport(errors=[syntax])
    if node is None:
        checker.marks[()] = (1, 1)
        checker.error((), "the document is empty; a model needs at least `name`")
        return checker.report(None)
    data = checker.walk(node, ())
    model = checker.model(data)
    return checker.report(model)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.marks: dict[Path, tuple[int, int]] = {}
        self.problems: list[Problem] = []

    # -- locations -------------------------------------------------------------------
    def walk(self, node: yaml.Node, path: Path) -> Any:
        """Turn a node into plain data, remembering where each path starts."""
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.SafeLoader.construct_scalar(yaml.SafeLoader(""), key_node)
                if key in result:
                    self.marks[(*path, f"@{key}")] = (
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                    self.error((*path, f"@{key}"), f"duplicate key {key!r}")
                    continue
                self.marks[(*path, f"@{key}")] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                result[key] = self.walk(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        loader = yaml.SafeLoader("")
        return loader.construct_object(node, deep=True)

    def _where(self, path: Path) -> tuple[int, int]:
        probe = path
        while probe not in self.marks and probe:
            probe = probe[:-1]
        return self.marks.get(probe, (1, 1))

    def _add(self, severity: str, path: Path, message: str) -> None:
        line, column = self._where(path)
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        self.problems.append(Problem(severity, line, column, dotted, message, self.source))

    def error(self, path: Path, message: str) -> None:
        self._add("error", path, message)

    def warn(self, path: Path, message: str) -> None:
        self._add("warning", path, message)

    def report(self, model: ScoringModel | None) -> ValidationReport:
        ordered = sorted(self.problems, key=lambda p: (p.line, p.column))
        errors = [p for p in ordered if p.severity == "error"]
        warnings = [p for p in ordered if p.severity == "warning"]
        return ValidationReport(errors, warnings, None if errors else model)

    # -- shape checks ----------------------------------------------------------------
    def mapping(
        self, value: Any, path: Path, what: str, allowed: list[str], required: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping, found {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.error(
                    (*path, f"@{key}"),
                    f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}",
                )
        for key in required:
            if key not in value:
                self.error(path, f"{what} needs `{key}`")
        return value

    def number(
        self,
        value: Any,
        path: Path,
        what: str,
        *,
        positive: bool = False,
        minimum: float | None = None,
    ) -> float | None:
        if not _number(value):
            self.error(path, f"{what} must be a number, found {_kind(value)}")
            return None
        if positive and value <= 0:
            self.error(path, f"{what} must be greater than 0, found {value}")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"{what} must be at least {minimum:g}, found {value}")
            return None
        return float(value)

    def text(self, value: Any, path: Path, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"{what} must be text, found {_kind(value)}")
            return None
        return value

    def predicate(
        self, value: Any, path: Path, what: str, fields: list[str] | None = None
    ) -> Predicate | None:
        data = self.mapping(value, path, what, ["field", *_OPS])
        if data is None:
            return None
        extra = [k for k in data if k not in ("field", *_OPS)]
        name = self.text(data.get("field"), (*path, "field"), f"{what} `field`")
        if fields is not None and name is not None and name not in fields:
            self.error(
                (*path, "field"), f"unknown field {name!r} in {what}; allowed: {', '.join(fields)}"
            )
            name = None
        ops = [k for k in data if k in _OPS]
        if len(ops) != 1:
            if not extra:
                self.error(
                    path,
                    f"{what} needs exactly one operator, found "
                    f"{len(ops)}; operators: {', '.join(_OPS)}",
                )
            return None
        op = Operator(ops[0])
        operand = self._operand(op, data[op.value], (*path, op.value), what)
        if name is None or operand is _INVALID or extra:
            return None
        return Predicate(name, op, operand)

    def _operand(self, op: Operator, value: Any, path: Path, what: str) -> Any:
        scalar = (str, int, float, bool)
        if op in (Operator.EQ, Operator.CONTAINS):
            if not isinstance(value, scalar):
                self.error(path, f"`{op}` in {what} takes one value, found {_kind(value)}")
                return _INVALID
            return value
        if op in (Operator.IN, Operator.NOT_IN):
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, scalar) for v in value)
            ):
                self.error(
                    path, f"`{op}` in {what} takes a non-empty list of values, found {_kind(value)}"
                )
                return _INVALID
            return tuple(value)
        if op is Operator.BETWEEN:
            if not (isinstance(value, list) and len(value) == 2 and all(map(_number, value))):
                self.error(
                    path, f"`between` in {what} takes [low, high] numbers, found {_kind(value)}"
                )
                return _INVALID
            if value[0] > value[1]:
                self.error(
                    path,
                    f"`between` in {what}: low {value[0]} is above high "
                    f"{value[1]}, so it can never hold",
                )
                return _INVALID
            return (value[0], value[1])
        if op in (Operator.GTE, Operator.LTE):
            if not _number(value):
                self.error(path, f"`{op}` in {what} takes a number, found {_kind(value)}")
                return _INVALID
            return value
        if op is Operator.REGEX:
            if not isinstance(value, str):
                self.error(path, f"`regex` in {what} takes text, found {_kind(value)}")
                return _INVALID
            try:
                re.compile(value)
            except re.error as exc:
                self.error(path, f"`regex` in {what} is not a valid pattern: {exc}")
                return _INVALID
            return value
        if not isinstance(value, bool):
            self.error(path, f"`exists` in {what} takes true or false, found {_kind(value)}")
            return _INVALID
        return value

    # -- the model -------------------------------------------------------------------
    def model(self, data: Any) -> ScoringModel | None:
        top = self.mapping(
            data,
            (),
            "the model",
            [
                "name",
                "description",
                "half_life_days",
                "engagement_cap",
                "fit",
                "engagement",
                "grades",
                "gates",
                "recycle",
                "aliases",
                "page_categories",
            ],
            required=("name",),
        )
        if top is None:
            return None
        name = self.text(top.get("name"), ("name",), "`name`") if "name" in top else None
        half_life: float | None = 30.0
        if "half_life_days" in top:
            raw = top["half_life_days"]
            half_life = (
                None
                if raw in (None, False)
                else self.number(raw, ("half_life_days",), "`half_life_days`", positive=True)
            )
        cap = None
        if top.get("engagement_cap") is not None:
            cap = self.number(
                top["engagement_cap"], ("engagement_cap",), "`engagement_cap`", positive=True
            )
        aliases = self.aliases(top.get("aliases", {}))
        page_categories = self.page_categories(top.get("page_categories", {}))
        fit = self.rule_list(top.get("fit", []), "fit", self.fit_rule)
        engagement = self.rule_list(
            top.get("engagement", []),
            "engagement",
            lambda v, p: self.engagement_rule(v, p, half_life),
        )
        self.duplicate_ids(top)
        known = STANDARD_TOUCHPOINTS | set(aliases.values())
        for i, rule in enumerate(engagement):
            if rule.touchpoint not in known:
                self.warn(
                    ("engagement", i, "touchpoint"),
                    f"unknown touchpoint name {rule.touchpoint!r}; known: "
                    f"{', '.join(sorted(STANDARD_TOUCHPOINTS))} (custom names are allowed)",
                )
        grades = self.grades(top.get("grades", {}))
        gates = self.gates(top.get("gates", {}), known)
        recycle = self.recycle(top.get("recycle", {}))
        if name is None or gates is None or recycle is None or grades is None:
            return None
        model = ScoringModel(
            name=name,
            fit_rules=tuple(fit),
            engagement_rules=tuple(engagement),
            grades=grades,
            gates=gates,
            half_life_days=half_life,
            engagement_cap=cap,
            recycle=recycle,
            aliases=aliases,
            page_categories=page_categories,
            description=str(top.get("description", "")),
        )
        # Bounds computed from a half-read model would be wrong, so only check whole ones.
        if not any(p.severity == "error" for p in self.problems):
            self.reachability(model)
        return model

    def rule_list(self, value: Any, key: str, build: Any) -> list[Any]:
        if not isinstance(value, list):
            self.error((key,), f"`{key}` must be a list of rules, found {_kind(value)}")
            return []
        rules = [build(item, (key, i)) for i, item in enumerate(value)]
        return [r for r in rules if r is not None]

    def _rule_id(self, data: dict[str, Any], path: Path) -> str | None:
        rule_id = self.text(data.get("id"), (*path, "id"), "a rule's `id`")
        if rule_id is not None and not _ID.match(rule_id):
            self.error((*path, "id"), f"rule id {rule_id!r} may hold only a-z, 0-9 and _")
            return None
        return rule_id

    def fit_rule(self, value: Any, path: Path) -> FitRule | None:
        data = self.mapping(
            value,
            path,
            "a fit rule",
            ["id", "description", "points", "field", *_OPS],
            required=("id", "field", "points"),
        )
        if data is None:
            return None
        rule_id = self._rule_id(data, path)
        points = self.number(data.get("points"), (*path, "points"), "`points`")
        pred_data = {k: v for k, v in data.items() if k in ("field", *_OPS)}
        predicate = self.predicate(pred_data, path, "a fit rule") if "field" in data else None
        if rule_id is None or points is None or predicate is None:
            return None
        return FitRule(rule_id, predicate, points, str(data.get("description", "")))

    def engagement_rule(
        self, value: Any, path: Path, default_half_life: float | None
    ) -> EngagementRule | None:
        data = self.mapping(
            value,
            path,
            "an engagement rule",
            [
                "id",
                "description",
                "touchpoint",
                "where",
                "points",
                "cap",
                "half_life_days",
                "decay",
                "within_days",
                "count",
            ],
            required=("id", "touchpoint", "points"),
        )
        if data is None:
            return None
        ok = True
        rule_id = self._rule_id(data, path)
        touchpoint = self.text(data.get("touchpoint"), (*path, "touchpoint"), "`touchpoint`")
        points = self.number(data.get("points"), (*path, "points"), "`points`")
        where = self.where(data.get("where", []), (*path, "where"))
        cap = within = None
        if "cap" in data:
            cap = self.number(data["cap"], (*path, "cap"), "`cap`", positive=True)
            ok &= cap is not None
        if "within_days" in data:
            within = self.number(
                data["within_days"], (*path, "within_days"), "`within_days`", positive=True
            )
            ok &= within is not None
        half_life = default_half_life
        if "half_life_days" in data and "decay" in data:
            self.error((*path, "decay"), "give `half_life_days` or `decay: false`, not both")
            ok = False
        elif "half_life_days" in data:
            half_life = self.number(
                data["half_life_days"], (*path, "half_life_days"), "`half_life_days`", positive=True
            )
            ok &= half_life is not None
        elif "decay" in data:
            if data["decay"] is False:
                half_life = None
            elif data["decay"] is not True:
                self.error(
                    (*path, "decay"), f"`decay` takes true or false, found {_kind(data['decay'])}"
                )
                ok = False
        count = None
        if "count" in data:
            count = self.count(data["count"], (*path, "count"))
            ok &= count is not None
        if not ok or rule_id is None or touchpoint is None or points is None or where is None:
            return None
        return EngagementRule(
            rule_id,
            touchpoint,
            points,
            where,
            cap,
            half_life,
            within,
            count,
            str(data.get("description", "")),
        )

    def where(self, value: Any, path: Path) -> tuple[Predicate, ...] | None:
        if not isinstance(value, list):
            self.error(path, f"`where` must be a list of predicates, found {_kind(value)}")
            return None
        found = [
            self.predicate(item, (*path, i), "a `where` predicate") for i, item in enumerate(value)
        ]
        return None if any(p is None for p in found) else tuple(p for p in found if p)

    def count(self, value: Any, path: Path) -> CountThreshold | None:
        data = self.mapping(
            value, path, "`count`", ["at_least", "within_days"], required=("at_least",)
        )
        if data is None or "at_least" not in data:
            return None
        at_least = data["at_least"]
        if not isinstance(at_least, int) or isinstance(at_least, bool) or at_least < 1:
            self.error(
                (*path, "at_least"),
                f"`at_least` must be a whole number ≥ 1, found {_kind(at_least)}",
            )
            return None
        within = None
        if "within_days" in data:
            within = self.number(
                data["within_days"], (*path, "within_days"), "`within_days`", positive=True
            )
            if within is None:
                return None
        return CountThreshold(at_least, within)

    def duplicate_ids(self, top: dict[str, Any]) -> None:
        seen: dict[str, Path] = {}
        for key in ("fit", "engagement"):
            rules = top.get(key)
            if not isinstance(rules, list):
                continue
            for i, rule in enumerate(rules):
                if isinstance(rule, dict) and isinstance(rule.get("id"), str):
                    if rule["id"] in seen:
                        first = seen[rule["id"]]
                        self.error(
                            (key, i, "id"),
                            f"duplicate rule id {rule['id']!r} (first "
                            f"used at line {self._where(first)[0]})",
                        )
                    else:
                        seen[rule["id"]] = (key, i, "id")

    def aliases(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            self.error(
                ("aliases",),
                f"`aliases` must map incoming names to touchpoint names, found {_kind(value)}",
            )
            return {}
        result = {}
        for raw, target in value.items():
            if not isinstance(target, str) or not isinstance(raw, str):
                self.error(
                    ("aliases", raw),
                    f"alias {raw!r} must map to a touchpoint name, found {_kind(target)}",
                )
                continue
            if target not in STANDARD_TOUCHPOINTS:
                self.warn(
                    ("aliases", raw), f"alias {raw!r} maps to unknown touchpoint name {target!r}"
                )
            result[raw.strip().casefold()] = target
        return result

    def page_categories(self, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            self.error(
                ("page_categories",),
                "`page_categories` must map URL path patterns to categories "
                f"(e.g. '/pricing*': pricing), found {_kind(value)}",
            )
            return ()
        table = []
        for pattern, category in value.items():
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                self.error(
                    ("page_categories", pattern),
                    f"page pattern {pattern!r} must be a URL path starting with '/'",
                )
                continue
            if not isinstance(category, str) or not category.strip():
                self.error(
                    ("page_categories", pattern),
                    f"page pattern {pattern!r} must map to a category name, "
                    f"found {_kind(category)}",
                )
                continue
            table.append((pattern.strip(), category.strip()))
        return tuple(table)

    def grades(self, value: Any) -> tuple[GradeBand, ...] | None:
        data = self.mapping(value, ("grades",), "`grades`", [g.value for g in Grade])
        if data is None:
            return None
        bands = []
        for grade in Grade:
            if grade.value not in data:
                continue
            path: Path = ("grades", grade.value)
            band = self.mapping(data[grade.value], path, f"grade {grade.value}", ["min", "max"])
            if band is None:
                continue
            if "min" not in band and "max" not in band:
                self.error(path, f"grade {grade.value} needs `min`, `max` or both")
                continue
            low = self.number(band["min"], (*path, "min"), "`min`") if "min" in band else None
            high = self.number(band["max"], (*path, "max"), "`max`") if "max" in band else None
            if low is not None and high is not None and low >= high:
                self.error(path, f"grade {grade.value}: min {low:g} must be below max {high:g}")
                continue
            bands.append(GradeBand(grade, low, high))
        for i, a in enumerate(bands):
            for b in bands[i + 1 :]:
                a_low, a_high = a.min_fit or -math.inf, a.max_fit or math.inf
                b_low, b_high = b.min_fit or -math.inf, b.max_fit or math.inf
                if max(a_low, b_low) < min(a_high, b_high):
                    self.error(
                        ("grades", b.grade.value),
                        f"grade bands {a.grade.value} and {b.grade.value} overlap "
                        f"(bands are [min, max) on fit and must not overlap)",
                    )
        edges = sorted(
            (
                b.min_fit if b.min_fit is not None else -math.inf,
                b.max_fit if b.max_fit is not None else math.inf,
            )
            for b in bands
        )
        for (_, high), (low, _) in pairwise(edges):
            if high < low:
                self.warn(("grades",), f"no grade covers fit from {high:g} to {low:g}")
        return tuple(bands)

    def condition(self, value: Any, path: Path, known: frozenset[str]) -> Condition | None:
        if isinstance(value, dict) and ("all" in value or "any" in value):
            key = "all" if "all" in value else "any"
            self.mapping(value, path, "a condition group", [key])
            items = value[key]
            if not isinstance(items, list):
                self.error(
                    (*path, key), f"`{key}` takes a list of conditions, found {_kind(items)}"
                )
                return None
            parts = [self.condition(c, (*path, key, i), known) for i, c in enumerate(items)]
            if any(p is None for p in parts):
                return None
            conditions = tuple(p for p in parts if p is not None)
            return AllOf(conditions) if key == "all" else AnyOf(conditions)
        if isinstance(value, dict) and "touchpoint" in value:
            data = self.mapping(
                value,
                path,
                "a touchpoint condition",
                ["touchpoint", "within_days", "at_least", "where"],
            )
            if data is None:
                return None
            name = self.text(data["touchpoint"], (*path, "touchpoint"), "`touchpoint`")
            if name is not None and name not in known:
                self.warn((*path, "touchpoint"), f"unknown touchpoint name {name!r}")
            within = None
            if "within_days" in data:
                within = self.number(
                    data["within_days"], (*path, "within_days"), "`within_days`", positive=True
                )
            at_least = data.get("at_least", 1)
            if not isinstance(at_least, int) or isinstance(at_least, bool) or at_least < 1:
                self.error(
                    (*path, "at_least"),
                    "`at_least` must be a whole number ≥ 1 "
                    "(a touchpoint condition with fewer can never be told apart)",
                )
                return None
            where = self.where(data.get("where", []), (*path, "where"))
            if name is None or where is None:
                return None
            return TouchpointCondition(name, within, at_least, where)
        predicate = self.predicate(
            value, path, "a gate condition", fields=[f.value for f in ScoreField]
        )
        return None if predicate is None else ScoreCondition(predicate)

    def gates(self, value: Any, known: frozenset[str]) -> Gates | None:
        data = self.mapping(
            value,
            ("gates",),
            "`gates`",
            ["mql", "sales_ready", "skip_to_sql", "requires_acceptance"],
        )
        if data is None:
            return None
        built: dict[str, Condition | None] = {}
        ok = True
        for key in ("mql", "sales_ready", "skip_to_sql"):
            built[key] = None
            if key in data:
                built[key] = self.condition(data[key], ("gates", key), known)
                ok &= built[key] is not None
        acceptance = data.get("requires_acceptance", False)
        if not isinstance(acceptance, bool):
            self.error(
                ("gates", "requires_acceptance"),
                f"`requires_acceptance` takes true or false, found {_kind(acceptance)}",
            )
            ok = False
        if not ok:
            return None
        return Gates(built["mql"], built["sales_ready"], built["skip_to_sql"], acceptance)

    def recycle(self, value: Any) -> RecyclePolicy | None:
        data = self.mapping(value, ("recycle",), "`recycle`", ["engagement", "cooldown_days"])
        if data is None:
            return None
        engagement = data.get("engagement", "reset")
        options = [e.value for e in RecycleEngagement]
        if engagement not in options:
            self.error(
                ("recycle", "engagement"),
                f"`engagement` must be one of {', '.join(options)}, found {_kind(engagement)}",
            )
            return None
        cooldown = self.number(
            data.get("cooldown_days", 0), ("recycle", "cooldown_days"), "`cooldown_days`", minimum=0
        )
        if cooldown is None:
            return None
        return RecyclePolicy(RecycleEngagement(engagement), cooldown)

    # -- gates that can never be met -------------------------------------------------
    def reachability(self, model: ScoringModel) -> None:
        from leadgate.domain.model_checks import unreachable

        for gate in ("mql", "sales_ready", "skip_to_sql"):
            condition = getattr(model.gates, gate)
            if condition is None:
                continue
            for relative, message in unreachable(model, condition):
                self.error(("gates", gate, *relative), f"gate `{gate}` can never be met: {message}")


_INVALID = object()
