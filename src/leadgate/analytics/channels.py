"""Which touchpoints count for attribution, and the channel and campaign each one carries.

A touchpoint's **channel** (docs/analytics.md, "Channels"), first rule that applies:

1. the lead's **origin touch** (its earliest attributable touchpoint) carries the lead's
   recorded source, ``source_channel`` / ``source_campaign``, when the lead has one: the
   CRM's "original source" is by definition the channel of the first touch;
2. a touchpoint with ``utm.medium`` maps the medium (lower-cased) through ``mediums``
   (``cpc`` → ``paid_search``); a medium not in the table is its own channel;
3. otherwise its name maps through ``names`` (``email_click`` → ``email``);
4. otherwise ``default`` (``direct``: no campaign or medium was recorded).

Its **campaign** is the origin's ``source_campaign`` (rule 1), else ``utm.campaign``,
else the ``campaign`` property, else none.

Touchpoints named in ``excluded`` are not touches of a buyer's journey and earn no credit:
third-party intent, unsubscribes, passive email opens, product usage days and sales's own
activity after handoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from leadgate.analytics.sql import json_text

DEFAULT_MEDIUMS: Mapping[str, str] = MappingProxyType(
    {
        "cpc": "paid_search",
        "ppc": "paid_search",
        "sem": "paid_search",
        "paid_search": "paid_search",
        "paidsearch": "paid_search",
        "paid_social": "paid_social",
        "paidsocial": "paid_social",
        "social_paid": "paid_social",
        "social": "organic_social",
        "organic_social": "organic_social",
        "organic": "organic_search",
        "email": "email",
        "e-mail": "email",
        "newsletter": "email",
        "referral": "referral",
        "affiliate": "partner",
        "partner": "partner",
        "event": "events",
        "events": "events",
        "display": "display",
        "banner": "display",
        "cpm": "display",
    }
)
DEFAULT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "email_click": "email",
        "email_open": "email",
        "event_attended": "events",
        "webinar_registered": "webinar",
        "webinar_attended": "webinar",
        "ad_click": "paid",
    }
)
NOT_ATTRIBUTED: frozenset[str] = frozenset(
    {
        "intent_surge",
        "email_unsubscribe",
        "email_open",
        "product_active_day",
        "sales_call",
        "sales_email",
        "meeting_booked",
        "sales_reply",
    }
)


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """How touchpoints map to channels; the defaults are documented in docs/analytics.md.

    >>> rules = ChannelRules(mediums={"cpc": "google_ads"}, use_lead_source=False)
    >>> rules.default, "email_open" in rules.excluded
    ('direct', True)
    """

    mediums: Mapping[str, str] = field(default_factory=lambda: DEFAULT_MEDIUMS)
    names: Mapping[str, str] = field(default_factory=lambda: DEFAULT_NAMES)
    default: str = "direct"
    use_lead_source: bool = True
    excluded: frozenset[str] = NOT_ATTRIBUTED

    def channel(
        self,
        name: ColumnElement[Any],
        properties: ColumnElement[Any],
        *,
        from_source: ColumnElement[bool] | None = None,
        source_channel: ColumnElement[Any] | None = None,
    ) -> ColumnElement[str]:
        """The channel of a touchpoint row. ``from_source`` is true on the lead's origin
        touch when the lead has a recorded source, whose channel is ``source_channel``."""
        return self.channel_of(
            name, self.medium(properties), from_source=from_source, source_channel=source_channel
        )

    def campaign(
        self,
        properties: ColumnElement[Any],
        *,
        from_source: ColumnElement[bool] | None = None,
        source_campaign: ColumnElement[Any] | None = None,
    ) -> ColumnElement[str]:
        """The campaign of a touchpoint row (see the module docstring)."""
        return self.campaign_of(
            self.tagged_campaign(properties),
            from_source=from_source,
            source_campaign=source_campaign,
        )

    # The same in two steps, for queries that read the JSON once per row in one layer and
    # map it in the next (SQLite parses the document again for every reference).

    @staticmethod
    def medium(properties: ColumnElement[Any]) -> ColumnElement[str]:
        """``utm.medium``, lower-cased (NULL when absent)."""
        return func.lower(json_text(properties, "utm", "medium"))

    @staticmethod
    def tagged_campaign(properties: ColumnElement[Any]) -> ColumnElement[str]:
        """``utm.campaign``, else the ``campaign`` property (NULL when neither)."""
        return func.coalesce(
            json_text(properties, "utm", "campaign"), json_text(properties, "campaign")
        )

    def channel_of(
        self,
        name: ColumnElement[Any],
        medium: ColumnElement[Any],
        *,
        from_source: ColumnElement[bool] | None = None,
        source_channel: ColumnElement[Any] | None = None,
    ) -> ColumnElement[str]:
        """The channel of a touchpoint given its name and ``medium(properties)``."""
        by_name: ColumnElement[str] = (
            case(dict(self.names), value=name, else_=self.default)
            if self.names
            else literal(self.default)
        )
        by_medium = case(dict(self.mediums), value=medium, else_=medium) if self.mediums else medium
        derived = case((medium.is_not(None) & (medium != ""), by_medium), else_=by_name)
        if from_source is None or source_channel is None:
            return derived
        return case((from_source, source_channel), else_=derived)

    def campaign_of(
        self,
        tagged: ColumnElement[Any],
        *,
        from_source: ColumnElement[bool] | None = None,
        source_campaign: ColumnElement[Any] | None = None,
    ) -> ColumnElement[str]:
        """The campaign of a touchpoint given ``tagged_campaign(properties)``."""
        if from_source is None or source_campaign is None:
            return tagged
        return case((from_source, source_campaign), else_=tagged)
