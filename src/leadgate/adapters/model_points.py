"""Suggested points written into a scoring model's YAML text, and the unified diff.

The document is edited where the numbers stand, not re-serialised: each ``points`` (and
``cap``) value is replaced at its exact place in the text (found with PyYAML's node
marks), so comments, key order, flow or block style and blank lines stay as they were.
New rules (touchpoint types no rule reads) are added as one flow-style line after the
last engagement rule, indented as it is.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence

import yaml

from leadgate.adapters.model_yaml import ModelInvalid, validate_model
from leadgate.domain.rule_evidence import Kind, Proposal, Verdict

_RULE_LISTS = {"fit": Kind.FIT, "engagement": Kind.ENGAGEMENT}


def number(value: float) -> str:
    """A number as a model file writes it: whole numbers without '.0'."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _scalar(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: yaml.Node = value_node
            return found
    return None


def with_suggestions(document: str, proposals: Sequence[Proposal], source: str = "<model>") -> str:
    """Given a model document and proposals, return the document with the changed points
    and caps written in and the new rules added; raises ModelInvalid if the result would
    not validate (it always should: only numbers change, and new lines are plain)."""
    changed = {
        (p.evidence.subject.kind, p.evidence.subject.id): p
        for p in proposals
        if p.verdict is Verdict.CHANGED
    }
    root = yaml.compose(document, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    last_rule: yaml.Node | None = None
    ids: set[str] = set()
    if isinstance(root, yaml.MappingNode):
        for key_node, rules in root.value:
            kind = _RULE_LISTS.get(getattr(key_node, "value", ""))
            if kind is None or not isinstance(rules, yaml.SequenceNode):
                continue
            for rule in rules.value:
                if not isinstance(rule, yaml.MappingNode):
                    continue
                id_node = _scalar(rule, "id")
                rule_id = getattr(id_node, "value", None)
                ids.add(str(rule_id))
                if kind is Kind.ENGAGEMENT and not rules.flow_style:
                    last_rule = rule
                proposal = changed.get((kind, str(rule_id)))
                if proposal is None or proposal.suggested is None:
                    continue
                for key, value in (("points", proposal.suggested), ("cap", proposal.suggested_cap)):
                    node = _scalar(rule, key)
                    if value is not None and node is not None:
                        edits.append((node.start_mark.index, node.end_mark.index, number(value)))
    text = document
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]

    new_rules = [p for p in proposals if p.verdict is Verdict.NEW and p.suggested is not None]
    if new_rules and last_rule is not None:
        text = _add_rules(text, document, last_rule, new_rules, ids)

    report = validate_model(text, source)
    if report.errors:
        raise ModelInvalid(report.errors)
    return text


def _add_rules(
    text: str, original: str, last: yaml.Node, proposals: Sequence[Proposal], ids: set[str]
) -> str:
    """Insert one line per new rule after the last engagement rule. Line numbers of the
    original still hold in ``text``: the number edits never add or remove a line."""
    lines = original.splitlines(keepends=True)
    start_line = lines[last.start_mark.line]
    prefix = start_line[: last.start_mark.column]
    if not prefix.strip().startswith("-"):
        return text  # an unusual layout: leave additions out rather than guess
    end = last.end_mark
    after = end.line if end.column == 0 else end.line + 1
    added = []
    for p in proposals:
        name = p.evidence.subject.id
        rule_id = re.sub(r"[^a-z0-9_]+", "_", name.casefold()).strip("_") or "touchpoint"
        while rule_id in ids:
            rule_id += "_touch"
        ids.add(rule_id)
        fields = [
            f"id: {rule_id}",
            f"description: {json.dumps(f'Suggested from evidence ({_lift(p)})')}",
            f"touchpoint: {json.dumps(name)}",
            f"points: {number(p.suggested or 0)}",
        ]
        if p.suggested_cap is not None:
            fields.append(f"cap: {number(p.suggested_cap)}")
        added.append(prefix + "{" + ", ".join(fields) + "}\n")
    out = text.splitlines(keepends=True)
    if after > 0 and after <= len(out) and not out[after - 1].endswith("\n"):
        out[after - 1] += "\n"
    return "".join(out[:after] + added + out[after:])


def _lift(p: Proposal) -> str:
    e = p.evidence
    lift = "-" if e.lift is None else f"{e.lift:.2f}x"
    return f"lift {lift}, {e.tally.exposed_leads} leads"


def unified_diff(before: str, after: str, name: str) -> str:
    """Given two texts, return the unified diff ``patch -p1`` and ``git apply`` take."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out = []
    for line in lines:
        ending = "" if line.endswith("\n") else "\n\\ No newline at end of file\n"
        out.append(line + ending)
    return "".join(out)


__all__ = ["ModelInvalid", "number", "unified_diff", "with_suggestions"]
