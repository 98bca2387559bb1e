"""The rep queue: open handoffs, soonest SLA deadline first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from leadgate.domain.users import Role
from leadgate.web.access import sees_queue
from leadgate.web.auth import CurrentUser, Forbidden, Wired
from leadgate.web.labels import stage_label
from leadgate.web.queries import owners, queue
from leadgate.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/queue")
def queue_page(
    request: Request, user: CurrentUser, wired: Wired, owner: str | None = None
) -> HTMLResponse:
    """A rep sees their own queue; an admin any rep's (or every open handoff)."""
    if not sees_queue(user):
        raise Forbidden("Queues are for sales reps and admins.")
    whose = user.rep if user.role is Role.SALES else (owner or None)
    with wired.engine.connect() as connection:
        lines = queue(connection, whose)
        picker = owners(connection) if user.role is Role.ADMIN else []
    return render(
        request,
        "queue.html",
        user,
        lines=lines,
        whose=whose,
        owners=picker,
        stage_label=stage_label,
    )
