"""Table definitions: the one schema both SQLite and PostgreSQL use (see migrations/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, stored as naive UTC everywhere.

    SQLite has no time zones; storing naive UTC on both back ends keeps comparisons and
    the analytics SQL identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; leadgate stores UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


# Integer on SQLite so that the key is the rowid (and auto-increments); BIGINT elsewhere.
Id = BigInteger().with_variant(Integer, "sqlite")
Document = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("domain", String(255), nullable=False, unique=True),
    Column("name", String(255)),
    Column("industry", String(100)),
    Column("employees", Integer),
    Column("annual_revenue", Float),
    Column("country", String(100)),
    Column("region", String(50)),
    Column("technographics", Document, nullable=False, default=list),
    Column("owner", String(255)),
    Column("traits", Document, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), unique=True),
    Column("account_id", Id, ForeignKey("accounts.id"), index=True),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("title", String(255)),
    Column("seniority", String(100)),
    Column("department", String(100)),
    Column("persona", String(100)),
    Column("source_channel", String(100)),
    Column("source_campaign", String(255)),
    Column("country", String(100)),
    Column("owner", String(255), index=True),
    Column("stage", String(20), nullable=False, default="lead", index=True),
    Column("stage_entered_at", UTCDateTime),
    Column("engagement_reset_at", UTCDateTime),
    Column("nurture_track", String(100)),
    Column("traits", Document, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_leads_created_at", "created_at"),  # analytics: leads created in a period
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lead_id", Id, ForeignKey("leads.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("value", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "value"),
)

touchpoints = Table(
    "touchpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("lead_id", Id, ForeignKey("leads.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("original_name", String(255), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("properties", Document, nullable=False, default=dict),
    # Time order with the id as tie-break, and the name: a lead's last touchpoints are
    # read from the index alone (migration 0007).
    Index("ix_touchpoints_lead_id_occurred_at_id_name", "lead_id", "occurred_at", "id", "name"),
    Index("ix_touchpoints_name_occurred_at", "name", "occurred_at"),
)

# Derived and rebuildable: `leadgate rescore` recreates every row from the touchpoint log.
scores = Table(
    "scores",
    metadata,
    Column("lead_id", Id, ForeignKey("leads.id"), primary_key=True),
    Column("model_version", Integer, nullable=False),
    Column("fit", Float, nullable=False),
    Column("engagement", Float, nullable=False),
    Column("total", Float, nullable=False, index=True),
    Column("grade", String(1)),
    Column("mql_gate", Boolean, nullable=False),
    Column("sales_ready_gate", Boolean, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
)

# Derived and rebuildable, like scores: what each lead's score and gates need, rolled
# forward per touchpoint (domain.lead_state). A missing row or one of another model
# version is rebuilt from the touchpoint log on the lead's next qualification.
lead_states = Table(
    "lead_states",
    metadata,
    Column("lead_id", Id, ForeignKey("leads.id"), primary_key=True),
    Column("model_version", Integer, nullable=False),
    Column("state", Text, nullable=False),  # JSON text: read and written untyped on hot paths
    Column("updated_at", UTCDateTime, nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lead_id", Id, ForeignKey("leads.id"), nullable=False),
    Column("from_stage", String(20), nullable=False),
    Column("to_stage", String(20), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor_type", String(20), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("fit", Float),
    Column("engagement", Float),
    Column("total", Float),
    Column("grade", String(1)),
    Column("model_version", Integer),
    Column("override", Boolean, nullable=False, default=False),
    Index("ix_transitions_lead_id_occurred_at", "lead_id", "occurred_at"),
    Index("ix_transitions_to_stage_occurred_at", "to_stage", "occurred_at"),
    # Analytics: "an earlier/later entry of this lead into this stage" from the index alone.
    Index(
        "ix_transitions_lead_id_to_stage_occurred_at_id",
        "lead_id",
        "to_stage",
        "occurred_at",
        "id",
    ),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("checksum", String(64), nullable=False, unique=True),
    Column("document", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("activated_at", UTCDateTime),
    Column("is_active", Boolean, nullable=False, default=False),
)

# API keys: only a SHA-256 of each key is kept (keys are long random strings, so a slow
# password hash would add latency to every tracking request without adding safety).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

# When two leads turn out to be one person (an anonymous visitor identifies), the merged
# lead's id keeps pointing at the survivor so links and API clients can follow it.
lead_merges = Table(
    "lead_merges",
    metadata,
    Column("merged_id", Id, primary_key=True, autoincrement=False),
    Column("into_id", Id, ForeignKey("leads.id"), nullable=False, index=True),
    Column("merged_at", UTCDateTime, nullable=False),
)

# --- Handoff to sales (issue 4) --------------------------------------------------------

# Versioned configuration documents beside the scoring model (the handoff YAML: teams,
# routing, calendars, SLA policies, reason lists); one version of each kind is active.
config_documents = Table(
    "config_documents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("version", Integer, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("activated_at", UTCDateTime),
    Column("is_active", Boolean, nullable=False, default=False),
    UniqueConstraint("kind", "version"),
    UniqueConstraint("kind", "checksum"),
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lead_id", Id, ForeignKey("leads.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # gate | manual
    Column("team", String(100), nullable=False),
    Column("owner", String(255), index=True),  # None: waiting in the team's queue
    Column("status", String(20), nullable=False, index=True),  # pending|accepted|rejected
    Column("routing_reason", Text, nullable=False),
    Column("sla_policy", String(100)),
    Column("sla_status", String(20), nullable=False),  # open | met | breached
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime),
    Column("warn_at", UTCDateTime),
    Column("warned_at", UTCDateTime),
    Column("breached_at", UTCDateTime),
    Column("first_touch_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("context", Document, nullable=False, default=dict),
    Index("ix_handoffs_sla_status_due_at", "sla_status", "due_at"),
)

# Round-robin positions and weights per team: plain JSON, so they survive restarts.
routing_state = Table(
    "routing_state",
    metadata,
    Column("team", String(100), primary_key=True),
    Column("state", Document, nullable=False, default=dict),
    Column("updated_at", UTCDateTime, nullable=False),
)

# What sales said: accepted (BANT), recycled, disqualified, opportunity, won, lost.
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lead_id", Id, ForeignKey("leads.id"), nullable=False, index=True),
    Column("handoff_id", Id, ForeignKey("handoffs.id")),
    Column("kind", String(20), nullable=False),
    Column("reason", String(100)),
    Column("note", Text),
    Column("details", Document, nullable=False, default=dict),  # BANT, amount, close date
    Column("actor", String(255), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
)

# Where notifications go and which events each endpoint wants.
endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # slack | teams | webhook | email
    Column("config", Document, nullable=False, default=dict),
    Column("events", String(500), nullable=False),  # comma-separated event types, or *
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# The outbox: written in the same transaction as the change that caused it; the worker
# delivers, retries with backoff, and moves a message to dead-letter after N attempts.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("endpoint_id", Id, ForeignKey("endpoints.id"), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("lead_id", Id),
    Column("notification", Document, nullable=False),
    Column("status", String(20), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("endpoint_id", "idempotency_key"),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False, index=True),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Float, nullable=False),
)

audiences = Table(
    "audiences",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("conditions", Document, nullable=False),
    Column("endpoint_id", Id, ForeignKey("endpoints.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("refreshed_at", UTCDateTime),
)

audience_members = Table(
    "audience_members",
    metadata,
    Column("audience_id", Id, ForeignKey("audiences.id"), primary_key=True),
    Column("lead_id", Id, ForeignKey("leads.id"), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)

# --- Predictive scoring (issue 6) -----------------------------------------------------

# Trained models. ``artefact`` is the fitted model as a joblib pickle: loading it runs
# code, so only leadgate's own training writes it (see leadgate.adapters.ml.artefact).
predictive_models = Table(
    "predictive_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("target", String(20), nullable=False),  # sql | opportunity | customer
    Column("horizon_days", Float, nullable=False),
    Column("algorithm", String(50), nullable=False),
    Column("metrics", Document, nullable=False, default=dict),
    Column("features", Document, nullable=False, default=dict),
    Column("training_from", UTCDateTime),
    Column("training_to", UTCDateTime),
    Column("scoring_model_version", Integer),
    Column("artefact", LargeBinary, nullable=False),
    Column("artefact_sha256", String(64), nullable=False),
    Column("is_active", Boolean, nullable=False, default=False),
    Column("activated_at", UTCDateTime),
)

# Derived and rebuildable, like scores: each lead's probability under the active
# predictive model, written beside its score. Rows go with their lead (a merge deletes it).
predictive_scores = Table(
    "predictive_scores",
    metadata,
    Column("lead_id", Id, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True),
    Column("model_version", Integer, nullable=False),
    Column("probability", Float, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
)

# --- Dashboard (issue 5) -----------------------------------------------------------------

# People who sign in to the dashboard. Only a scrypt hash of each password is kept (see
# leadgate.adapters.db.users); ``rep`` ties a sales user to the owner name on leads and
# handoffs, so a rep sees their own queue.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),  # admin | marketing | sales
    Column("rep", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

# --- Capture, then qualify (LEADGATE_INGEST_MODE=inbox) -----------------------------------

# Tracking calls captured but not yet qualified, one row per call in arrival order. The
# qualifier takes the oldest waiting rows, runs them through the tracking pipeline and
# marks them drained (kept a short while for lag figures, then purged); a row it cannot
# process is parked with the reason. ``event_id`` is the message id of a call that adds a
# touchpoint: unique, so a retry is a duplicate even before it is qualified.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", String(255), nullable=False),
    Column("event_id", String(255), unique=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("call", Text, nullable=False),  # JSON text: written and read untyped
    Column("drained_at", UTCDateTime),
    Column("parked_at", UTCDateTime),
    Column("reason", Text),
    # Partial indexes: the waiting rows (the qualifier's queue and the backlog), the drained
    # ones by time (purge, lag figures), the parked ones; each stays as small as its rows.
    Index(
        "ix_inbox_waiting",
        "id",
        sqlite_where=text("drained_at IS NULL AND parked_at IS NULL"),
        postgresql_where=text("drained_at IS NULL AND parked_at IS NULL"),
    ),
    Index(
        "ix_inbox_drained_at",
        "drained_at",
        sqlite_where=text("drained_at IS NOT NULL"),
        postgresql_where=text("drained_at IS NOT NULL"),
    ),
    Index(
        "ix_inbox_parked",
        "id",
        sqlite_where=text("parked_at IS NOT NULL"),
        postgresql_where=text("parked_at IS NOT NULL"),
    ),
)
