"""Turning each row of a file into the command it describes, or into row errors.

Every problem in a row is reported (not only the first), with the column and the cell
as written, so one pass over the report fixes the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leadgate.adapters.importers import values
from leadgate.adapters.importers.csvfile import CsvTable, Record
from leadgate.adapters.importers.fields import IDENTITY_FIELDS, FieldType, get_field
from leadgate.adapters.importers.mapping import ColumnPlan
from leadgate.adapters.importers.outcomes import outcome_stage
from leadgate.adapters.importers.placeholders import Placeholders
from leadgate.domain.identity import account_domain_for
from leadgate.services.commands import AccountIn, LeadIn, TouchpointIn
from leadgate.services.imports import ImportKind, ImportRow, OutcomeIn, RowError

_PARSERS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.TEXT: str,
    FieldType.INTEGER: values.integer,
    FieldType.NUMBER: values.number,
    FieldType.EMAIL: values.email,
    FieldType.DOMAIN: values.domain,
    FieldType.TIME: values.time,
    FieldType.LIST: values.items,
    FieldType.OUTCOME: outcome_stage,
}

# Lead-row account fields kept as lead traits when the row names no company domain.
_ACCOUNT_TRAITS = {
    "account_name": "company",
    "account_industry": "industry",
    "account_employees": "employees",
    "account_annual_revenue": "annual_revenue",
}


@dataclass
class _Row:
    """One row being read: typed field values, traits, and the problems found."""

    record: Record
    fields: dict[str, Any]
    traits: dict[str, Any]
    errors: list[RowError]

    def get(self, name: str) -> Any:
        return self.fields.get(name)


class RowReader:
    """Reads the rows of one file under one column plan."""

    def __init__(
        self, kind: ImportKind, table: CsvTable, plan: ColumnPlan, placeholders: Placeholders
    ) -> None:
        self.kind = kind
        self.table = table
        self.plan = plan
        self.placeholders = placeholders
        header = table.header
        self.width = max((i for i, name in enumerate(header) if name), default=-1) + 1
        self.used = sorted(set(plan.fields.values()) | plan.traits.keys())

    def column(self, field: str) -> str | None:
        position = self.plan.fields.get(field)
        return None if position is None else self.table.header[position]

    def read(self) -> tuple[list[ImportRow], list[RowError]]:
        rows: list[ImportRow] = []
        errors: list[RowError] = []
        build = {
            ImportKind.LEADS: self._lead,
            ImportKind.ACCOUNTS: self._account,
            ImportKind.TOUCHPOINTS: self._touchpoint,
            ImportKind.OUTCOMES: self._outcome,
        }[self.kind]
        for record in self.table.records:
            row = self._cells(record)
            if row is None:
                errors.append(
                    RowError(
                        record.line,
                        None,
                        None,
                        f"the row has {len(record.cells)} cells, the header {self.width} columns",
                    )
                )
                continue
            built = None if row.errors else build(row)
            errors.extend(row.errors)
            if built is not None and not row.errors:
                rows.append(built)
        return rows, errors

    def _cells(self, record: Record) -> _Row | None:
        cells = record.cells
        if len(cells) < self.width:
            return None
        header = self.table.header
        row = _Row(record, {}, {}, [])
        for position in range(len(cells)):
            if (position >= len(header) or not header[position]) and cells[position].strip():
                row.errors.append(
                    RowError(
                        record.line,
                        f"column {position + 1}",
                        cells[position],
                        "a value in a column without a header",
                    )
                )
        read = {p: self.placeholders.read(header[p], cells[p]) for p in self.used}
        for name, position in self.plan.fields.items():
            value = read[position]
            if value is None:
                continue
            field = get_field(self.kind, name)
            assert field is not None
            try:
                if field.max_length is not None and len(value) > field.max_length:
                    raise ValueError(f"longer than {field.max_length} characters")
                row.fields[name] = _PARSERS[field.type](value)
            except ValueError as exc:
                row.errors.append(
                    RowError(record.line, header[position], cells[position], str(exc))
                )
        for position, trait in self.plan.traits.items():
            value = read[position]
            if value is not None:
                row.traits[trait] = values.trait(value)
        return row

    def _missing(self, row: _Row, fields: tuple[str, ...], what: str) -> bool:
        """Record an error when none of ``fields`` has a value in the row."""
        if any(row.get(name) is not None for name in fields):
            return False
        columns = [c for name in fields if (c := self.column(name))]
        row.errors.append(RowError(row.record.line, " / ".join(columns) or None, "", what))
        return True

    def _identity(self, row: _Row) -> dict[str, str | None]:
        return {name: row.get(name) for name in IDENTITY_FIELDS}

    def _lead(self, row: _Row) -> ImportRow | None:
        if self._missing(row, IDENTITY_FIELDS, "no email, external_id or user_id"):
            return None
        email, explicit = row.get("email"), row.get("account_domain")
        domain = explicit or (account_domain_for(email) if email else None)
        firmographics = {
            name: row.get(name) for name in _ACCOUNT_TRAITS if row.get(name) is not None
        }
        account = None
        traits = dict(row.traits)
        if firmographics and domain:
            account = AccountIn(
                domain=domain,
                name=row.get("account_name"),
                industry=row.get("account_industry"),
                employees=row.get("account_employees"),
                annual_revenue=row.get("account_annual_revenue"),
            )
        else:
            # No company to put them on: keep them on the lead rather than drop them.
            for name, value in firmographics.items():
                traits.setdefault(_ACCOUNT_TRAITS[name], value)
        lead = LeadIn(
            **self._identity(row),
            first_name=row.get("first_name"),
            last_name=row.get("last_name"),
            title=row.get("title"),
            seniority=row.get("seniority"),
            department=row.get("department"),
            persona=row.get("persona"),
            source_channel=row.get("source_channel"),
            source_campaign=row.get("source_campaign"),
            country=row.get("country"),
            owner=row.get("owner"),
            account_domain=explicit,
            traits=traits,
        )
        return ImportRow(row.record.line, lead=lead, account=account)

    def _account(self, row: _Row) -> ImportRow | None:
        if self._missing(row, ("domain",), "no domain"):
            return None
        account = AccountIn(
            domain=row.get("domain"),
            name=row.get("name"),
            industry=row.get("industry"),
            employees=row.get("employees"),
            annual_revenue=row.get("annual_revenue"),
            country=row.get("country"),
            region=row.get("region"),
            technographics=row.get("technographics") or (),
            owner=row.get("owner"),
            traits=dict(row.traits),
        )
        return ImportRow(row.record.line, account=account)

    def _touchpoint(self, row: _Row) -> ImportRow | None:
        missing = [
            self._missing(row, ("name",), "no event name"),
            self._missing(row, ("occurred_at",), "no time"),
            self._missing(row, (*IDENTITY_FIELDS, "anonymous_id"), "no identity"),
        ]
        if any(missing):
            return None
        identity = {**self._identity(row), "anonymous_id": row.get("anonymous_id")}
        name, at = row.get("name"), row.get("occurred_at")
        # Without an id column the row's content is its id, so importing the same row
        # again (from any file) finds the touchpoint already stored.
        message_id = (
            row.get("message_id")
            or "import-"
            + hashlib.sha256(
                json.dumps(
                    [name, at.isoformat(), identity, row.traits], sort_keys=True, default=str
                ).encode()
            ).hexdigest()[:32]
        )
        touchpoint = TouchpointIn(
            message_id=message_id,
            name=name,
            occurred_at=at,
            properties=dict(row.traits),
            **identity,
        )
        return ImportRow(row.record.line, touchpoint=touchpoint)

    def _outcome(self, row: _Row) -> ImportRow | None:
        stage = row.get("outcome")
        if stage is None:
            return ImportRow(row.record.line)  # nothing recorded: skipped
        if self._missing(row, IDENTITY_FIELDS, "no email, external_id or user_id"):
            return None
        position = self.plan.fields["outcome"]
        outcome = OutcomeIn(
            stage=stage,
            value=row.record.cells[position].strip(),
            **self._identity(row),
            occurred_at=row.get("occurred_at"),
            reason=row.get("reason"),
        )
        return ImportRow(row.record.line, outcome=outcome)
