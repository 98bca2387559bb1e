"""Dashboard users: create, list, disable and enable, set a password, sign in.

The users are stored through ``uow.users`` (``ports.UserRepository``).
"""

from __future__ import annotations

from datetime import datetime

from leadgate.domain.errors import DomainError
from leadgate.domain.users import (
    User,
    check_password,
    check_rep,
    check_username,
    decoy_hash,
    hash_password,
    parse_role,
    verify_password,
)
from leadgate.services.errors import InvalidInput, NotFound
from leadgate.services.ports import UnitOfWork


class UserNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"no user named {name!r} (see `leadgate users list`)")


def create_user(
    uow: UnitOfWork, *, name: str, role: str, password: str, rep: str | None, now: datetime
) -> User:
    """Check and store a new user; refuse a name already taken."""
    try:
        username = check_username(name)
        parsed = parse_role(role)
        rep = check_rep(parsed, rep)
        check_password(password)
    except DomainError as exc:
        raise InvalidInput(str(exc)) from None
    hashed = hash_password(password)
    with uow:
        repo = uow.users
        if repo.by_name(username) is not None:
            raise InvalidInput(f"name: a user named {username!r} already exists")
        user = repo.add(username=username, password_hash=hashed, role=parsed, rep=rep, now=now)
        uow.commit()
    return user


def list_users(uow: UnitOfWork) -> list[User]:
    with uow:
        return uow.users.all()


def set_disabled(uow: UnitOfWork, name: str, *, disabled: bool = True) -> User:
    """Disable (or enable again) a user. A disabled user's open sessions end at their next
    request: every request reads the user again."""
    with uow:
        repo = uow.users
        found = repo.by_name(name.strip())
        if found is None:
            raise UserNotFound(name)
        user = repo.set_disabled(found[0].id, disabled)
        uow.commit()
    return user or found[0]


def set_password(uow: UnitOfWork, name: str, password: str) -> User:
    try:
        check_password(password)
    except DomainError as exc:
        raise InvalidInput(str(exc)) from None
    hashed = hash_password(password)
    with uow:
        repo = uow.users
        found = repo.by_name(name.strip())
        if found is None:
            raise UserNotFound(name)
        repo.set_password(found[0].id, hashed)
        uow.commit()
    return found[0]


def authenticate_user(uow: UnitOfWork, name: str, password: str) -> User | None:
    """Given what was typed in the login form, return the enabled user it names, or None.

    An unknown name is checked against a decoy hash, so it takes as long as a wrong
    password (the form does not reveal which names exist).
    """
    with uow:
        found = uow.users.by_name(name.strip())
    if found is None:
        verify_password(password, decoy_hash())
        return None
    user, stored = found
    if not verify_password(password, stored) or user.disabled:
        return None
    return user


def active_user(uow: UnitOfWork, user_id: int) -> User | None:
    """The signed-in user, unless they were disabled (or removed) since signing in."""
    with uow:
        user = uow.users.get(user_id)
    return None if user is None or user.disabled else user
