"""Running the demo world through the real use cases, one simulated day at a time.

Nothing here writes SQL: accounts and leads go through ``upsert_accounts`` and
``upsert_leads``, tracking through ``ingest_touchpoints`` and sales's decisions through
``change_stage``, exactly as an integration would send them. So the demo database is what
leadgate would hold after ``days`` of real traffic, and exercises the same code paths.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from leadgate.demo.world import DAY, PlannedOutcome, World, generate_world
from leadgate.domain.lifecycle import ActorType, Stage
from leadgate.services.commands import ChangeStage, LeadIn, TouchpointIn
from leadgate.services.ingest import ingest_touchpoints
from leadgate.services.lifecycle import change_stage
from leadgate.services.ports import UnitOfWork
from leadgate.services.profiles import upsert_accounts, upsert_leads

PROFILE_BATCH = 1000
TOUCHPOINT_BATCH = 2000
SALES_ACTOR = "demo-sales"

# Stages in which sales still has something to decide about a lead.
_OPEN = frozenset({Stage.MQL, Stage.SQL, Stage.OPPORTUNITY})

Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo run wrote.

    ``messages`` counts every message sent (re-sent duplicates included), ``touchpoints``
    those stored; ``transitions`` counts gate moves and sales decisions together.
    """

    accounts: int
    leads: int
    messages: int
    touchpoints: int
    duplicates: int
    transitions: int
    sales_decisions: int
    elapsed_seconds: float


def run_demo(
    uow_factory: Callable[[], UnitOfWork],
    *,
    leads: int = 2000,
    days: int = 90,
    seed: int = 7,
    end: datetime,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate the world for (leads, days, seed, end) and play it into the database.

    The database must be migrated and hold an active scoring model. Day by day: that day's
    messages are ingested as of the end of the day, then sales acts on the leads it has
    been waiting on. Same arguments on an empty database, same resulting database.
    """
    started = time.perf_counter()
    world = generate_world(leads=leads, days=days, seed=seed, end=end)
    sim = _Simulation(world, uow_factory, progress or _quiet)
    sim.load_profiles()
    for day in range(days):
        sim.play_day(day)
        sim.report("days", day + 1, days)
    return DemoSummary(
        accounts=len(world.accounts),
        leads=sim.profiles,
        messages=len(world.deliveries),
        touchpoints=sim.stored,
        duplicates=sim.duplicates,
        transitions=sim.transitions,
        sales_decisions=sim.decisions,
        elapsed_seconds=round(time.perf_counter() - started, 3),
    )


def _quiet(_phase: str, _done: int, _total: int) -> None:
    return None


def _batches(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class _Simulation:
    """The runner's state: which lead id is which world lead, and sales's progress on each."""

    def __init__(
        self, world: World, uow_factory: Callable[[], UnitOfWork], report: Progress
    ) -> None:
        self.world = world
        self.uow_factory = uow_factory
        self.report = report
        self.profiles = self.stored = self.duplicates = self.transitions = self.decisions = 0
        self.plans: dict[str, list[PlannedOutcome]] = defaultdict(list)
        for outcome in world.outcomes:
            self.plans[outcome.email].append(outcome)
        self.ids: dict[int, str] = {}  # lead id → email, for leads whose profile is synced
        self.next_step: dict[int, int] = {}  # lead id → index of its first pending step
        self.watched: set[int] = set()  # leads sales is waiting on (in an open stage)
        self.due: set[int] = set()  # leads to look at today (touched or moved)
        self.arrivals: dict[int, list[TouchpointIn]] = defaultdict(list)
        for delivery in world.deliveries:
            self.arrivals[delivery.day].append(delivery.touchpoint)
        self.inbound: dict[int, list[LeadIn]] = defaultdict(list)
        for lead in world.leads:
            identified_on = world.truth[lead.email or ""].identified_on
            if identified_on is not None:
                self.inbound[identified_on].append(lead)

    def load_profiles(self) -> None:
        """Sync accounts and the CRM's leads, as of the world's start."""
        accounts = self.world.accounts
        for done, batch in enumerate(_batches(accounts, PROFILE_BATCH), start=1):
            result = upsert_accounts(self.uow_factory(), batch, now=self.world.start)
            self.transitions += result.transitions
            self.report("accounts", min(done * PROFILE_BATCH, len(accounts)), len(accounts))
        known = [
            lead
            for lead in self.world.leads
            if self.world.truth[lead.email or ""].identified_on is None
        ]
        for done, profiles in enumerate(_batches(known, PROFILE_BATCH), start=1):
            self._upsert_leads(profiles, self.world.start)
            self.report("leads", min(done * PROFILE_BATCH, len(known)), len(known))

    def _upsert_leads(self, batch: Sequence[LeadIn], now: datetime) -> None:
        result = upsert_leads(self.uow_factory(), batch, now=now)
        self.profiles += len(batch)
        self.transitions += result.transitions
        for lead, lead_id in zip(batch, result.ids, strict=True):
            self.ids[lead_id] = lead.email or ""
            self.next_step.setdefault(lead_id, 0)
            if result.transitions:
                self.due.add(lead_id)

    def play_day(self, day: int) -> None:
        """Ingest the day's messages as of its end, sync new inbound leads, then let sales act."""
        now = self.world.start + (day + 1) * DAY
        for batch in _batches(self.arrivals.get(day, []), TOUCHPOINT_BATCH):
            result = ingest_touchpoints(self.uow_factory(), batch, now=now)
            self.stored += result.stored
            self.duplicates += result.duplicates
            self.transitions += result.transitions
            self.due.update(result.lead_ids)
        # A form fill made these visitors known today: the CRM syncs their profiles tonight.
        for profiles in _batches(self.inbound.get(day, []), PROFILE_BATCH):
            self._upsert_leads(profiles, now)
        self._sales(now)

    def _sales(self, now: datetime) -> None:
        """Apply each watched lead's next planned decision that fits its stage and is due."""
        candidates = sorted(lead_id for lead_id in self.due | self.watched if lead_id in self.ids)
        self.due.clear()
        if not candidates:
            return
        with self.uow_factory() as uow:
            leads = uow.leads.get_many(candidates)
        for lead_id in candidates:
            lead = leads[lead_id]
            if lead.stage not in _OPEN:
                self.watched.discard(lead_id)
                continue
            self.watched.add(lead_id)
            plan = self.plans[self.ids[lead_id]]
            position = next(
                (
                    i
                    for i in range(self.next_step[lead_id], len(plan))
                    if plan[i].from_stage is lead.stage
                ),
                None,
            )
            if position is None:
                # Nothing left to decide in this stage: the lead rests until a gate moves it
                # (a touchpoint brings it back into view).
                self.watched.discard(lead_id)
                continue
            step = plan[position]
            entered = lead.stage_entered_at or self.world.start
            if entered + step.after_days * DAY > now:
                continue
            command = ChangeStage(
                lead_id=lead_id,
                to_stage=step.to_stage,
                reason=step.reason,
                actor=SALES_ACTOR,
                actor_type=ActorType.USER,
            )
            change_stage(self.uow_factory(), command, now=now)
            self.next_step[lead_id] = position + 1
            self.decisions += 1
            self.transitions += 1
            if step.to_stage not in _OPEN:
                self.watched.discard(lead_id)
