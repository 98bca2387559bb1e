"""Who may see and do what in the dashboard (one place, so pages and tests agree).

| page | admin | marketing | sales |
|---|---|---|---|
| funnel, model and signals | yes | yes | no |
| leads list | all | all (read only) | leads they own |
| lead page | any | any (read only) | leads they own or were handed |
| answer a handoff (accept, recycle, disqualify) | any | no | leads they own or were handed |
| rep queue | any rep's | no | their own |
"""

from __future__ import annotations

from collections.abc import Iterable

from leadgate.domain.users import Role, User

ANALYTICS = frozenset({Role.ADMIN, Role.MARKETING})
QUEUE = frozenset({Role.ADMIN, Role.SALES})


def sees_analytics(user: User) -> bool:
    return user.role in ANALYTICS


def sees_queue(user: User) -> bool:
    return user.role in QUEUE


def owns(user: User, owner: str | None, handed_to: Iterable[str | None] = ()) -> bool:
    """A sales user's lead: they own it now, or one of its handoffs went to them."""
    if user.role is not Role.SALES or not user.rep:
        return False
    return owner == user.rep or user.rep in set(handed_to)


def sees_lead(user: User, owner: str | None, handed_to: Iterable[str | None] = ()) -> bool:
    return user.role is not Role.SALES or owns(user, owner, handed_to)


def answers_lead(user: User, owner: str | None, handed_to: Iterable[str | None] = ()) -> bool:
    return user.role is Role.ADMIN or owns(user, owner, handed_to)


def home(user: User) -> str:
    """Where a user lands after signing in."""
    return "/queue" if user.role is Role.SALES else "/funnel"
