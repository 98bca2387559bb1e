"""The Jinja2 environment of the dashboard: templates from the package, display filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from leadgate.domain.users import User
from leadgate.web.access import sees_analytics, sees_queue
from leadgate.web.session import csrf_token

TEMPLATES = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES)
env = templates.env
env.trim_blocks = True
env.lstrip_blocks = True


def when(value: datetime | None) -> str:
    """A time as people read it in a table: ``2026-03-02 09:30 UTC``."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def num(value: float | int | None, digits: int = 1) -> str:
    """``12``, ``12.5``, ``1,234``; an empty cell for None."""
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def span(delta: timedelta) -> str:
    """A duration in words, largest units first: ``2 d 3 h``, ``3 h 12 min``, ``4 min``."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def days(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} d"


env.filters.update(when=when, iso=iso, num=num, pct=pct, span=span, days=days)


def render(
    request: Request,
    name: str,
    user: User | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with what every page needs: the user, their menu and a CSRF token."""
    context.update(
        user=user,
        csrf=csrf_token(request.session),
        menu=_menu(user),
        path=request.url.path,
        now=datetime.now(UTC),
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _menu(user: User | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    items: list[tuple[str, str]] = []
    if sees_analytics(user):
        items.append(("/funnel", "Funnel"))
    if sees_queue(user):
        items.append(("/queue", "My queue" if user.rep else "Queues"))
    items.append(("/leads", "My leads" if user.rep else "Leads"))
    if sees_analytics(user):
        items.append(("/model", "Model"))
    return items
