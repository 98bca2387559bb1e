"""SQL repositories: set-based Core statements mapped onto domain objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    Row,
    Table,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import NullType, String, Text

from leadgate.adapters.db import tables as t
from leadgate.adapters.model_yaml import load_model
from leadgate.domain.accounts import ACCOUNT_ATTRIBUTES, Account
from leadgate.domain.identity import IdentityKey, IdentityKind
from leadgate.domain.leads import LEAD_ATTRIBUTES, Lead
from leadgate.domain.lifecycle import ActorType, Stage, Transition
from leadgate.domain.scoring_model import ScoringModel
from leadgate.domain.touchpoints import Touchpoint
from leadgate.services.ports import (
    ModelVersion,
    RefreshFacts,
    StageChange,
    StoredLeadState,
    StoredScore,
    StoredTouchpoint,
)

# Keeps IN lists well below every back end's bound-parameter limit.
CHUNK = 1000

# Profile columns written as given; the domain's attribute lists are the one source.
_ACCOUNT_FIELDS = tuple(sorted(ACCOUNT_ATTRIBUTES - {"domain", "technographics"}))
_LEAD_FIELDS = tuple(sorted(LEAD_ATTRIBUTES - {"email_domain", "stage"}))


_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The hot paths (ingest and rescore: leads, their histories, scores) read and write
# datetime and JSON columns untouched by SQLAlchemy's per-value type processing and convert
# them here, several times faster, to the same values tables.UTCDateTime and JSON give.
_RAW = NullType()
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column as the driver returns it (no result processing), under its own name."""
    return type_coerce(column, _RAW).label(column.key)


def _loads(value: str | bytes) -> Any:
    """JSON text → Python, as json.loads gives it (orjson refuses a few things json.loads
    accepts, such as NaN and integers past 64 bits; those take the slow road)."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(value)


def _naive_utc(value: datetime) -> datetime:
    """An aware datetime → naive UTC, as tables.UTCDateTime stores it (exact: timedelta
    arithmetic, without astimezone's and replace's cost)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; leadgate stores UTC")
    return _EPOCH + (value - _EPOCH_UTC)


class _Codec:
    """How one back end's driver gives and takes UTC datetimes and JSON documents."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def time(self, value: Any) -> datetime:
        """A raw value of a NOT NULL datetime column → aware UTC datetime."""
        if self.sqlite:  # text as SQLAlchemy's SQLite DATETIME writes it
            return datetime.fromisoformat(f"{value}+00:00")
        moment: datetime = _EPOCH_UTC + (value - _EPOCH)  # psycopg: naive, stored as UTC
        return moment

    def optional_time(self, value: Any) -> datetime | None:
        """As ``time``, for a column that may be NULL."""
        return None if value is None else self.time(value)

    def time_param(self, value: datetime | None) -> Any:
        """An aware datetime → the raw parameter for a datetime column."""
        if value is None:
            return None
        naive = _naive_utc(value)
        # The text SQLAlchemy's SQLite DATETIME writes: microseconds always present.
        return naive.isoformat(" ", "microseconds") if self.sqlite else naive

    def document(self, value: Any) -> Any:
        """A raw JSON column value → Python (psycopg already decodes JSONB)."""
        if self.sqlite and isinstance(value, str | bytes):
            return _loads(value)
        return value


_CODECS = {name: _Codec(name) for name in ("sqlite", "postgresql")}


def _codec(connection: Connection) -> _Codec:
    return _CODECS.get(connection.dialect.name) or _Codec(connection.dialect.name)


Among = Callable[[Any], ColumnElement[bool]]


class _Lookup:
    """A statement that selects rows whose column is among given values, built once per
    back end and run with the values as one parameter (``values``).

    Built once, SQLAlchemy finds it in its compiled cache without rebuilding its cache key
    (which costs more than running the query for a handful of rows). On PostgreSQL the
    test is ``= ANY(array)``: the statement text stays the same whatever the count, so
    psycopg parses it once (an IN list of a thousand placeholders is re-parsed, in Python,
    on every execution). Strings are compared as unbounded text: a cast to the column's
    VARCHAR(n) would truncate a longer value, and it could then match.
    """

    def __init__(self, build: Callable[[Among], Executable]) -> None:
        def any_of(column: Any) -> ColumnElement[bool]:
            element = Text() if isinstance(column.type, String) else column.type
            values = bindparam("values", type_=postgresql.ARRAY(element))
            return column == any_(values)  # type: ignore[no-any-return]

        def in_list(column: Any) -> ColumnElement[bool]:
            return column.in_(bindparam("values", expanding=True))  # type: ignore[no-any-return]

        self.postgresql = build(any_of)
        self.other = build(in_list)

    def run(self, connection: Connection, values: Sequence[Any], **params: Any) -> Any:
        """Run it for ``values`` (and any other named parameters); return the result."""
        statement = self.postgresql if connection.dialect.name == "postgresql" else self.other
        return connection.execute(statement, {"values": list(values), **params})


# Array element types for PostgreSQL's unnest: unbounded, so that an over-long value still
# fails on the column's own VARCHAR(n) as a plain INSERT would (a cast would truncate it).
_PG_ELEMENT = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "FLOAT": "double precision",
    "BOOLEAN": "boolean",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
    "JSONB": "jsonb",
    "TEXT": "text",
}


_PG_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _pg_element(table: Table, name: str) -> str:
    declared = table.c[name].type.compile(dialect=_PG_DIALECT)
    return "text" if declared.startswith("VARCHAR") else _PG_ELEMENT[declared]


class _BulkInsert:
    """One INSERT of many rows, given as one list of values per column.

    SQLite runs the one-row statement for every row (``executemany``, looped in C);
    PostgreSQL binds each column as an array and inserts ``unnest``'s rows: one short
    statement and one round trip whatever the count. Values must already be what the
    driver takes (see _Codec; JSON as text). Returns how many rows were inserted.
    """

    def __init__(self, table: Table, columns: Sequence[str], on_conflict: str = "") -> None:
        names = ", ".join(columns)
        self.sqlite = (
            f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
            f" {on_conflict}"
        )
        arrays = ", ".join(f"CAST(:{c} AS {_pg_element(table, c)}[])" for c in columns)
        self.postgresql = text(
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}"
        )
        self.columns = tuple(columns)

    def run(self, connection: Connection, values: dict[str, list[Any]]) -> int:
        if connection.dialect.name == "postgresql":
            return connection.execute(self.postgresql, values).rowcount
        rows = list(zip(*(values[c] for c in self.columns), strict=True))
        if not rows:
            return 0
        return connection.exec_driver_sql(self.sqlite, rows).rowcount


class _BulkUpdate:
    """One UPDATE of many rows by id, given as one list of values per column (as
    _BulkInsert). Columns in ``keep_when_null`` are only overwritten by a non-NULL value,
    so rows that give different subsets of the columns still share one statement."""

    def __init__(
        self, table: Table, keep_when_null: Sequence[str], always: Sequence[str] = ()
    ) -> None:
        sets = [f"{c} = COALESCE(?, {c})" for c in keep_when_null] + [f"{c} = ?" for c in always]
        self.sqlite = f"UPDATE {table.name} SET {', '.join(sets)} WHERE id = ?"
        self.columns = (*keep_when_null, *always, "id")
        arrays = ", ".join(f"CAST(:{c} AS {_pg_element(table, c)}[])" for c in self.columns)
        pg_sets = [f"{c} = COALESCE(v.{c}, {table.name}.{c})" for c in keep_when_null] + [
            f"{c} = v.{c}" for c in always
        ]
        self.postgresql = text(
            f"UPDATE {table.name} SET {', '.join(pg_sets)}"
            f" FROM unnest({arrays}) AS v({', '.join(self.columns)})"
            f" WHERE {table.name}.id = v.id"
        )

    def run(self, connection: Connection, values: dict[str, list[Any]]) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(self.postgresql, values)
            return
        rows = list(zip(*(values[c] for c in self.columns), strict=True))
        if rows:
            connection.exec_driver_sql(self.sqlite, rows)


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Rows (dicts, a missing key is NULL) → one list per column."""
    return {name: [row.get(name) for row in rows] for name in names}


def _json_param(value: Any) -> str:
    """A document as the JSON text SQLAlchemy's JSON type writes (json.dumps, defaults)."""
    return json.dumps(value)


_NEW_ACCOUNTS = _BulkInsert(
    t.accounts,
    ("domain", "technographics", "traits", "created_at", "updated_at"),
    "ON CONFLICT (domain) DO NOTHING",
)


_ACCOUNT_IDS = _Lookup(
    lambda among: select(t.accounts.c.domain, t.accounts.c.id).where(among(t.accounts.c.domain))
)
_ACCOUNT_DOCUMENTS = _Lookup(
    lambda among: select(t.accounts.c.id, t.accounts.c.traits, t.accounts.c.technographics).where(
        among(t.accounts.c.id)
    )
)
_ACCOUNT_UPDATE = _BulkUpdate(
    t.accounts, (*_ACCOUNT_FIELDS, "technographics", "traits"), ("updated_at",)
)


class SqlAccountRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def find(self, domains: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(domains)):
            rows = _ACCOUNT_IDS.run(self._c, chunk)
            found.update({row.domain: row.id for row in rows})
        return found

    def ensure(self, domains: Collection[str], now: datetime) -> dict[str, int]:
        found = self.find(domains)
        missing = sorted(set(domains) - found.keys())
        if missing:
            stamp = _codec(self._c).time_param(now)
            _NEW_ACCOUNTS.run(
                self._c,
                {
                    "domain": missing,
                    "technographics": [_json_param([])] * len(missing),
                    "traits": [_json_param({})] * len(missing),
                    "created_at": [stamp] * len(missing),
                    "updated_at": [stamp] * len(missing),
                },
            )
            found.update(self.find(missing))
        return found

    def upsert(self, accounts: Sequence[Account], now: datetime) -> dict[str, int]:
        ids = self.ensure({a.domain for a in accounts}, now)
        current = {
            row.id: row
            for chunk in _chunks(sorted(ids.values()))
            for row in _ACCOUNT_DOCUMENTS.run(self._c, chunk)
        }
        # One row per account; an account given twice gets what updating it twice with
        # these values would give (each merge starts from the stored traits).
        changes: dict[int, dict[str, Any]] = {}
        for account in accounts:
            account_id = ids[account.domain]
            values = changes.setdefault(account_id, {"id": account_id})
            values.update(
                (name, getattr(account, name))
                for name in _ACCOUNT_FIELDS
                if getattr(account, name) is not None
            )
            if account.technographics:
                values["technographics"] = _json_param(
                    sorted(
                        set(current[account_id].technographics or []) | set(account.technographics)
                    )
                )
            if account.traits:
                values["traits"] = _json_param(
                    {**(current[account_id].traits or {}), **account.traits}
                )
        stamp = _codec(self._c).time_param(now)
        rows = [{**values, "updated_at": stamp} for values in changes.values()]
        _ACCOUNT_UPDATE.run(self._c, _columns(rows, _ACCOUNT_UPDATE.columns))
        return ids


_ACCOUNT_COLUMNS = tuple(
    column for column in t.accounts.c if column.name not in ("created_at", "updated_at")
)
_TIME_COLUMNS = frozenset({"stage_entered_at", "engagement_reset_at", "created_at", "updated_at"})
_DOCUMENT_COLUMNS = frozenset({"traits", "technographics"})


def _hot(column: Any, prefix: str = "") -> Any:
    """A column for the hot-path lead query: datetimes and documents come back raw."""
    raw = column.name in _TIME_COLUMNS or column.name in _DOCUMENT_COLUMNS
    return (type_coerce(column, _RAW) if raw else column).label(f"{prefix}{column.name}")


# Leads with their accounts, for scoring; rows are read by position (_lead_reader).
_LEAD_WITH_ACCOUNT = select(
    *(_hot(column) for column in t.leads.c),
    *(_hot(column, "a_") for column in _ACCOUNT_COLUMNS),
).outerjoin(t.accounts, t.accounts.c.id == t.leads.c.account_id)
_LEAD_AT = {column.name: i for i, column in enumerate(t.leads.c)}
_ACCOUNT_AT = {column.name: len(t.leads.c) + i for i, column in enumerate(_ACCOUNT_COLUMNS)}
_STAGES: dict[str, Stage] = {stage.value: stage for stage in Stage}


def _lead_reader(codec: _Codec) -> Callable[[Row[Any]], Lead]:
    """Given a back end's codec, return the function that turns a _LEAD_WITH_ACCOUNT row
    into a Lead with its Account."""
    time, document = codec.optional_time, codec.document
    lead_plain = [(name, _LEAD_AT[name]) for name in ("id", *_LEAD_FIELDS, "account_id")]
    account_plain = [(name, _ACCOUNT_AT[name]) for name in ("id", "domain", *_ACCOUNT_FIELDS)]
    stage_at, entered_at, reset_at, traits_at = (
        _LEAD_AT["stage"],
        _LEAD_AT["stage_entered_at"],
        _LEAD_AT["engagement_reset_at"],
        _LEAD_AT["traits"],
    )
    a_id_at = _ACCOUNT_AT["id"]
    a_tech_at, a_traits_at = _ACCOUNT_AT["technographics"], _ACCOUNT_AT["traits"]

    def read(row: Row[Any]) -> Lead:
        account = None
        if row[a_id_at] is not None:
            account = Account(
                **{name: row[i] for name, i in account_plain},
                technographics=list(document(row[a_tech_at]) or []),
                traits=dict(document(row[a_traits_at]) or {}),
            )
        return Lead(
            **{name: row[i] for name, i in lead_plain},
            stage=_STAGES[row[stage_at]],
            stage_entered_at=time(row[entered_at]),
            engagement_reset_at=time(row[reset_at]),
            account=account,
            traits=dict(document(row[traits_at]) or {}),
        )

    return read


_LEAD_READERS = {name: _lead_reader(codec) for name, codec in _CODECS.items()}
_LEADS = _Lookup(lambda among: _LEAD_WITH_ACCOUNT.where(among(t.leads.c.id)))
_LEAD_TRAITS = _Lookup(
    lambda among: select(t.leads.c.id, t.leads.c.traits).where(among(t.leads.c.id))
)
# Always lock in id order, so two writers over overlapping leads cannot deadlock.
_LOCK = _Lookup(
    lambda among: (
        select(t.leads.c.id).where(among(t.leads.c.id)).order_by(t.leads.c.id).with_for_update()
    )
)
# Advisory locks for new identity keys (see SqlLeadRepository.claim): leadgate's own
# namespace (the first key of the two-int form), then the key's 32-bit hash.
_KEY_LOCK_NAMESPACE = 0x1EAD6A7E  # "leadgate", near enough, in hex-speak
_CLAIM_KEYS = text(
    "SELECT pg_advisory_xact_lock(:namespace, h) FROM "
    "(SELECT DISTINCT unnest(CAST(:hashes AS integer[])) AS h ORDER BY h) AS claimed"
)


def _key_hash(key: IdentityKey) -> int:
    digest = hashlib.blake2b(f"{key.kind.value}\0{key.value}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


_LEAD_IDS_AT = _Lookup(lambda among: select(t.leads.c.id).where(among(t.leads.c.account_id)))
_IDENTITIES = _Lookup(
    lambda among: select(t.identities.c.value, t.identities.c.lead_id).where(
        t.identities.c.kind == bindparam("kind"), among(t.identities.c.value)
    )
)


_NEW_LEADS = _BulkInsert(
    t.leads,
    (
        "id",
        *_LEAD_FIELDS,
        "account_id",
        "stage",
        "stage_entered_at",
        "engagement_reset_at",
        "traits",
        "created_at",
        "updated_at",
    ),
)
_PROFILE_UPDATE = _BulkUpdate(t.leads, (*_LEAD_FIELDS, "account_id", "traits"), ("updated_at",))
_PG_LEAD_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, :n)"
)
_NEW_IDENTITIES = _BulkInsert(
    t.identities,
    ("lead_id", "kind", "value", "created_at"),
    "ON CONFLICT (kind, value) DO NOTHING",
)
_STAGE_UPDATE = _BulkUpdate(
    t.leads, (), ("stage", "stage_entered_at", "engagement_reset_at", "updated_at")
)


_SQLITE_LAST_LEAD_ID = select(
    func.max(
        select(func.coalesce(func.max(t.leads.c.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(t.lead_merges.c.merged_id), 0)).scalar_subquery(),
    )
)


class SqlLeadRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def resolve(self, keys: Collection[IdentityKey]) -> dict[IdentityKey, int]:
        found: dict[IdentityKey, int] = {}
        by_kind: dict[IdentityKind, list[str]] = {}
        for key in keys:
            by_kind.setdefault(key.kind, []).append(key.value)
        for kind, values in by_kind.items():
            for chunk in _chunks(sorted(set(values))):
                rows = _IDENTITIES.run(self._c, chunk, kind=kind.value)
                found.update({IdentityKey(kind, row.value): row.lead_id for row in rows})
        return found

    def create(self, leads: Sequence[Lead], now: datetime) -> list[int]:
        if not leads:
            return []
        if self._c.dialect.name == "postgresql":
            return self._create_postgresql(leads, now)
        # SQLite does not promise RETURNING's row order, so SQLAlchemy would insert one row
        # at a time to keep it. The transaction began IMMEDIATE and holds the database's
        # only write lock: the ids after the largest one are ours to give. The largest
        # includes merged (deleted) leads, whose ids must keep answering "merged into".
        first = int(self._c.execute(_SQLITE_LAST_LEAD_ID).scalar_one())
        ids = list(range(first + 1, first + 1 + len(leads)))
        rows = [
            {
                "id": lead_id,
                **{name: getattr(lead, name) for name in _LEAD_FIELDS},
                "account_id": lead.account_id,
                "stage": lead.stage.value,
                "stage_entered_at": lead.stage_entered_at or now,
                "engagement_reset_at": None,
                "traits": lead.traits,
                "created_at": now,
                "updated_at": now,
            }
            for lead_id, lead in zip(ids, leads, strict=True)
        ]
        self._c.execute(t.leads.insert(), rows)
        return ids

    def _create_postgresql(self, leads: Sequence[Lead], now: datetime) -> list[int]:
        # Take the ids from the sequence first, then insert them with the rows: the ids of
        # the leads, in the order given, without relying on the order RETURNING reports.
        ids = sorted(self._c.execute(_PG_LEAD_IDS, {"n": len(leads)}).scalars())
        codec = _codec(self._c)
        stamp = codec.time_param(now)
        values: dict[str, list[Any]] = {
            "id": ids,
            **{name: [getattr(lead, name) for lead in leads] for name in _LEAD_FIELDS},
            "account_id": [lead.account_id for lead in leads],
            "stage": [lead.stage.value for lead in leads],
            "stage_entered_at": [
                codec.time_param(lead.stage_entered_at) if lead.stage_entered_at else stamp
                for lead in leads
            ],
            "engagement_reset_at": [None] * len(leads),
            "traits": [_json_param(lead.traits) for lead in leads],
            "created_at": [stamp] * len(leads),
            "updated_at": [stamp] * len(leads),
        }
        _NEW_LEADS.run(self._c, values)
        return ids

    def add_identities(self, links: Sequence[tuple[int, IdentityKey]], now: datetime) -> None:
        if not links:
            return
        _NEW_IDENTITIES.run(
            self._c,
            {
                "lead_id": [lead_id for lead_id, _ in links],
                "kind": [key.kind.value for _, key in links],
                "value": [key.value for _, key in links],
                "created_at": [_codec(self._c).time_param(now)] * len(links),
            },
        )

    def update_profiles(self, leads: Sequence[Lead], now: datetime) -> None:
        current = {
            row.id: row.traits
            for chunk in _chunks(sorted(lead.id for lead in leads if lead.id is not None))
            for row in _LEAD_TRAITS.run(self._c, chunk)
        }
        # One row per lead; a lead given twice gets what updating it twice with these
        # values would give (each merge starts from the stored traits).
        changes: dict[int, dict[str, Any]] = {}
        for lead in leads:
            if lead.id is None:
                continue
            values = changes.setdefault(lead.id, {"id": lead.id})
            values.update(
                (name, getattr(lead, name))
                for name in _LEAD_FIELDS
                if getattr(lead, name) is not None
            )
            if lead.account_id is not None:
                values["account_id"] = lead.account_id
            if lead.traits:
                values["traits"] = _json_param({**(current.get(lead.id) or {}), **lead.traits})
        stamp = _codec(self._c).time_param(now)
        rows = [{**values, "updated_at": stamp} for values in changes.values()]
        _PROFILE_UPDATE.run(self._c, _columns(rows, _PROFILE_UPDATE.columns))

    def claim(self, keys: Collection[IdentityKey]) -> None:
        # SQLite already holds the database write lock from BEGIN IMMEDIATE.
        if self._c.dialect.name != "postgresql" or not keys:
            return
        # Transaction-scoped advisory locks, taken in one statement in a fixed order so two
        # writers cannot deadlock on them. A hash collision only makes two unrelated keys
        # wait for each other.
        self._c.execute(
            _CLAIM_KEYS, {"namespace": _KEY_LOCK_NAMESPACE, "hashes": sorted(map(_key_hash, keys))}
        ).all()

    def lock(self, lead_ids: Collection[int]) -> None:
        # SQLite already holds the database write lock from BEGIN IMMEDIATE.
        if self._c.dialect.name != "postgresql":
            return
        # Always lock in id order, so two writers over overlapping leads cannot deadlock.
        for chunk in _chunks(sorted(lead_ids)):
            _LOCK.run(self._c, chunk).all()

    def get_many(self, lead_ids: Collection[int]) -> dict[int, Lead]:
        read = _LEAD_READERS.get(self._c.dialect.name) or _lead_reader(_codec(self._c))
        found: dict[int, Lead] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for row in _LEADS.run(self._c, chunk):
                lead = read(row)
                found[lead.id] = lead  # type: ignore[index]
        return found

    def set_stages(self, changes: Sequence[StageChange], now: datetime) -> None:
        if not changes:
            return
        time_param = _codec(self._c).time_param
        stamp = time_param(now)
        # A later change of the same lead wins, as it would applied one by one.
        latest = {change.lead_id: change for change in changes}
        rows = [
            {
                "id": lead_id,
                "stage": change.stage.value,
                "stage_entered_at": time_param(change.entered_at),
                "engagement_reset_at": time_param(change.engagement_reset_at),
                "updated_at": stamp,
            }
            for lead_id, change in latest.items()
        ]
        _STAGE_UPDATE.run(self._c, _columns(rows, _STAGE_UPDATE.columns))

    def ids_for_accounts(self, account_ids: Collection[int]) -> list[int]:
        found: list[int] = []
        for chunk in _chunks(sorted(account_ids)):
            found.extend(_LEAD_IDS_AT.run(self._c, chunk).scalars())
        return found

    def id_chunks(self, size: int) -> Iterator[list[int]]:
        last = 0
        while True:
            ids = list(
                self._c.execute(
                    select(t.leads.c.id)
                    .where(t.leads.c.id > last)
                    .order_by(t.leads.c.id)
                    .limit(size)
                ).scalars()
            )
            if not ids:
                return
            yield ids
            last = ids[-1]

    def count(self) -> int:
        return int(self._c.execute(select(func.count()).select_from(t.leads)).scalar_one())


_KNOWN = _Lookup(
    lambda among: select(t.touchpoints.c.message_id).where(among(t.touchpoints.c.message_id))
)
_NEW_TOUCHPOINTS = _BulkInsert(
    t.touchpoints,
    ("message_id", "lead_id", "name", "original_name", "occurred_at", "received_at", "properties"),
    "ON CONFLICT (message_id) DO NOTHING",
)


class SqlTouchpointRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def known(self, message_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(message_ids)):
            found.update(_KNOWN.run(self._c, chunk).scalars())
        return found

    def add(self, rows: Sequence[StoredTouchpoint]) -> int:
        if not rows:
            return 0
        time_param = _codec(self._c).time_param
        received: dict[datetime, Any] = {}  # a batch is received at one moment

        def received_at(row: StoredTouchpoint) -> Any:
            value = received.get(row.received_at)
            if value is None:
                value = received[row.received_at] = time_param(row.received_at)
            return value

        # A concurrent writer may have stored the same message id since we checked: the
        # count is of the rows really inserted.
        return _NEW_TOUCHPOINTS.run(
            self._c,
            {
                "message_id": [row.touchpoint.message_id for row in rows],
                "lead_id": [row.lead_id for row in rows],
                "name": [row.touchpoint.name for row in rows],
                "original_name": [row.original_name for row in rows],
                "occurred_at": [time_param(row.touchpoint.occurred_at) for row in rows],
                "received_at": [received_at(row) for row in rows],
                "properties": [_json_param(row.touchpoint.properties) for row in rows],
            },
        )

    def for_leads(self, lead_ids: Collection[int]) -> dict[int, list[Touchpoint]]:
        codec = _codec(self._c)
        time, document = codec.time, codec.document
        found: dict[int, list[Touchpoint]] = {}
        for chunk in _chunks(sorted(lead_ids)):
            rows = _HISTORY.run(self._c, chunk)
            for lead_id, message_id, name, occurred_at, properties in rows:
                history = found.get(lead_id)
                if history is None:
                    history = found[lead_id] = []
                history.append(
                    Touchpoint(message_id, name, time(occurred_at), document(properties), lead_id)
                )
        return found


_HISTORY = _Lookup(
    lambda among: select(
        t.touchpoints.c.lead_id,
        t.touchpoints.c.message_id,
        t.touchpoints.c.name,
        _raw(t.touchpoints.c.occurred_at),
        _raw(t.touchpoints.c.properties),
    ).where(among(t.touchpoints.c.lead_id))
)
_SCORE_ROWS = _Lookup(lambda among: select(t.scores).where(among(t.scores.c.lead_id)))

# The table's columns are StoredScore's fields, name for name.
_SCORE_COLUMNS = tuple(column.name for column in t.scores.c)
_SCORES = _BulkInsert(
    t.scores,
    _SCORE_COLUMNS,
    "ON CONFLICT (lead_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _SCORE_COLUMNS if name != "lead_id"),
)


class SqlScoreRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def upsert(self, rows: Sequence[StoredScore]) -> None:
        if not rows:
            return
        time_param = _codec(self._c).time_param
        times: dict[datetime, Any] = {}  # a batch is mostly scored at one moment
        latest = {row.lead_id: row for row in rows}  # a later row of a lead wins
        values: dict[str, list[Any]] = {name: [] for name in _SCORE_COLUMNS}
        for r in latest.values():
            scored_at = times.get(r.scored_at)
            if scored_at is None:
                scored_at = times[r.scored_at] = time_param(r.scored_at)
            values["lead_id"].append(r.lead_id)
            values["model_version"].append(r.model_version)
            # float(): a score can be an int (a cap written as 100), and psycopg will not
            # put ints and floats in one array.
            values["fit"].append(float(r.fit))
            values["engagement"].append(float(r.engagement))
            values["total"].append(float(r.total))
            values["grade"].append(r.grade)
            values["mql_gate"].append(r.mql_gate)
            values["sales_ready_gate"].append(r.sales_ready_gate)
            values["scored_at"].append(scored_at)
        _SCORES.run(self._c, values)

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredScore]:
        found: dict[int, StoredScore] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for row in _SCORE_ROWS.run(self._c, chunk):
                found[row.lead_id] = StoredScore(**row._asdict())
        return found


_STATE_ROWS = _Lookup(
    lambda among: select(
        t.lead_states.c.lead_id,
        t.lead_states.c.model_version,
        t.lead_states.c.state,
        _raw(t.lead_states.c.updated_at),
    ).where(among(t.lead_states.c.lead_id))
)
_STATES = _BulkInsert(
    t.lead_states,
    ("lead_id", "model_version", "state", "updated_at"),
    "ON CONFLICT (lead_id) DO UPDATE SET model_version = excluded.model_version, "
    "state = excluded.state, updated_at = excluded.updated_at",
)


class SqlLeadStateRepository:
    """Lead states as compact JSON text (orjson both ways: they are read and written for
    every lead a batch touches)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get_many(self, lead_ids: Collection[int]) -> dict[int, StoredLeadState]:
        time = _codec(self._c).time
        found: dict[int, StoredLeadState] = {}
        for chunk in _chunks(sorted(lead_ids)):
            for lead_id, version, state, updated_at in _STATE_ROWS.run(self._c, chunk):
                found[lead_id] = StoredLeadState(
                    lead_id, version, orjson.loads(state), time(updated_at)
                )
        return found

    def upsert(self, rows: Sequence[StoredLeadState]) -> None:
        if not rows:
            return
        time_param = _codec(self._c).time_param
        latest = {row.lead_id: row for row in rows}
        _STATES.run(
            self._c,
            {
                "lead_id": list(latest),
                "model_version": [r.model_version for r in latest.values()],
                "state": [orjson.dumps(r.document).decode() for r in latest.values()],
                "updated_at": [time_param(r.updated_at) for r in latest.values()],
            },
        )

    def delete(self, lead_ids: Collection[int]) -> None:
        for chunk in _chunks(sorted(lead_ids)):
            self._c.execute(delete(t.lead_states).where(t.lead_states.c.lead_id.in_(chunk)))

    def page(self, after_id: int, limit: int) -> list[RefreshFacts]:
        codec = _codec(self._c)
        time, optional = codec.time, codec.optional_time
        found: list[RefreshFacts] = []
        for row in self._c.execute(_REFRESH_PAGE, {"after": after_id, "limit": limit}):
            (lead_id, stage, entered, reset_at, version, state, state_at, *score) = row
            stored = (
                None
                if version is None
                else StoredLeadState(lead_id, version, orjson.loads(state), time(state_at))
            )
            scored = None
            if score[0] is not None:
                s_version, fit, engagement, total, grade, mql, ready, scored_at = score
                scored = StoredScore(
                    lead_id,
                    s_version,
                    fit,
                    engagement,
                    total,
                    grade,
                    bool(mql),
                    bool(ready),
                    time(scored_at),
                )
            found.append(
                RefreshFacts(
                    lead_id, Stage(stage), optional(entered), optional(reset_at), stored, scored
                )
            )
        return found


# Leads in id order with their state and score: the refresh's one read per page.
_REFRESH_PAGE = (
    select(
        t.leads.c.id,
        t.leads.c.stage,
        _raw(t.leads.c.stage_entered_at),
        _raw(t.leads.c.engagement_reset_at),
        t.lead_states.c.model_version,
        t.lead_states.c.state,
        _raw(t.lead_states.c.updated_at),
        t.scores.c.model_version.label("score_version"),
        t.scores.c.fit,
        t.scores.c.engagement,
        t.scores.c.total,
        t.scores.c.grade,
        t.scores.c.mql_gate,
        t.scores.c.sales_ready_gate,
        _raw(t.scores.c.scored_at),
    )
    .select_from(
        t.leads.outerjoin(t.lead_states, t.lead_states.c.lead_id == t.leads.c.id).outerjoin(
            t.scores, t.scores.c.lead_id == t.leads.c.id
        )
    )
    .where(t.leads.c.id > bindparam("after"))
    .order_by(t.leads.c.id)
    .limit(bindparam("limit"))
)


class SqlTransitionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, rows: Sequence[Transition]) -> None:
        if not rows:
            return
        self._c.execute(
            t.transitions.insert(),
            [
                {
                    "lead_id": r.lead_id,
                    "from_stage": r.from_stage.value,
                    "to_stage": r.to_stage.value,
                    "occurred_at": r.occurred_at,
                    "actor_type": r.actor_type.value,
                    "actor": r.actor,
                    "reason": r.reason,
                    "fit": r.fit,
                    "engagement": r.engagement,
                    "total": r.total,
                    "grade": r.grade,
                    "model_version": r.model_version,
                    "override": r.override,
                }
                for r in rows
            ],
        )

    def for_lead(self, lead_id: int) -> list[Transition]:
        c = t.transitions.c
        rows = self._c.execute(
            select(t.transitions).where(c.lead_id == lead_id).order_by(c.occurred_at, c.id)
        )
        return [
            Transition(
                lead_id=row.lead_id,
                from_stage=Stage(row.from_stage),
                to_stage=Stage(row.to_stage),
                occurred_at=row.occurred_at,
                actor_type=ActorType(row.actor_type),
                actor=row.actor,
                reason=row.reason,
                fit=row.fit,
                engagement=row.engagement,
                total=row.total,
                grade=row.grade,
                model_version=row.model_version,
                override=row.override,
            )
            for row in rows
        ]


@lru_cache(maxsize=32)
def _parsed(document: str) -> ScoringModel:
    """Parse a stored model once per process: stored documents never change."""
    return load_model(document, source="stored model")


def checksum(document: str) -> str:
    """Given a model document, return the checksum that identifies its exact text."""
    return hashlib.sha256(document.encode()).hexdigest()


class SqlModelRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def parse(self, document: str) -> ScoringModel:
        return load_model(document)

    def _version(self, row: Row[Any]) -> ModelVersion:
        return ModelVersion(
            version=row.version,
            name=row.name,
            checksum=row.checksum,
            document=row.document,
            model=_parsed(row.document),
            created_at=row.created_at,
            created_by=row.created_by,
            activated_at=row.activated_at,
            is_active=row.is_active,
        )

    def add(self, document: str, *, now: datetime, created_by: str) -> ModelVersion:
        model = self.parse(document)
        digest = checksum(document)
        existing = self._c.execute(
            select(t.model_versions).where(t.model_versions.c.checksum == digest)
        ).first()
        if existing is not None:
            return self._version(existing)
        latest = self._c.execute(select(func.max(t.model_versions.c.version))).scalar()
        version = (latest or 0) + 1
        self._c.execute(
            t.model_versions.insert().values(
                version=version,
                name=model.name,
                checksum=digest,
                document=document,
                created_at=now,
                created_by=created_by,
                activated_at=None,
                is_active=False,
            )
        )
        found = self.get(version)
        assert found is not None
        return found

    def activate(self, version: int, now: datetime) -> ModelVersion:
        mv = t.model_versions
        self._c.execute(update(mv).where(mv.c.is_active).values(is_active=False))
        self._c.execute(
            update(mv).where(mv.c.version == version).values(is_active=True, activated_at=now)
        )
        found = self.get(version)
        if found is None:
            raise KeyError(f"no scoring model version {version}")
        return found

    def active(self) -> ModelVersion | None:
        row = self._c.execute(select(t.model_versions).where(t.model_versions.c.is_active)).first()
        return None if row is None else self._version(row)

    def get(self, version: int) -> ModelVersion | None:
        row = self._c.execute(
            select(t.model_versions).where(t.model_versions.c.version == version)
        ).first()
        return None if row is None else self._version(row)

    def all(self) -> list[ModelVersion]:
        rows = self._c.execute(select(t.model_versions).order_by(t.model_versions.c.version))
        return [self._version(row) for row in rows]
