"""Dashboard users through the use cases, on the in-memory unit of work: a name is taken
once, sign-in needs the right password of an enabled user, a new password replaces the
old one. (The stored rows are checked on SQLite and PostgreSQL by the repository contract,
the CLI by tests/cli/test_users_cmd.py.)"""

from __future__ import annotations

import pytest

from leadgate.domain.users import Role
from leadgate.services.errors import InvalidInput
from leadgate.services.users import (
    UserNotFound,
    active_user,
    authenticate_user,
    create_user,
    list_users,
    set_disabled,
    set_password,
)
from tests.conftest import T0
from tests.fakes import FakeUnitOfWork

PASSWORD = "correct horse battery"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def test_a_name_is_taken_once_and_users_are_listed_in_creation_order(
    uow: FakeUnitOfWork,
) -> None:
    ann = create_user(uow, name=" ann ", role="admin", password=PASSWORD, rep=None, now=T0)
    create_user(uow, name="bob", role="sales", password=PASSWORD, rep="bob@x.io", now=T0)
    with pytest.raises(InvalidInput, match="a user named 'ann' already exists"):
        create_user(uow, name="ann", role="sales", password=PASSWORD, rep="a@x.io", now=T0)
    assert [(u.username, u.role, u.rep) for u in list_users(uow)] == [
        ("ann", Role.ADMIN, None),
        ("bob", Role.SALES, "bob@x.io"),
    ]
    assert ann.username == "ann"


def test_only_the_right_password_of_an_enabled_user_signs_in(uow: FakeUnitOfWork) -> None:
    ann = create_user(uow, name="ann", role="marketing", password=PASSWORD, rep=None, now=T0)
    assert authenticate_user(uow, "ann", PASSWORD) == ann
    assert authenticate_user(uow, "ann", "wrong password!") is None
    assert authenticate_user(uow, "nobody", PASSWORD) is None

    set_disabled(uow, "ann")
    assert authenticate_user(uow, "ann", PASSWORD) is None
    assert active_user(uow, ann.id) is None  # an open session ends at its next request
    set_disabled(uow, "ann", disabled=False)
    assert active_user(uow, ann.id) == ann


def test_a_new_password_replaces_the_old_one(uow: FakeUnitOfWork) -> None:
    create_user(uow, name="ann", role="admin", password=PASSWORD, rep=None, now=T0)
    set_password(uow, "ann", "a different secret")
    assert authenticate_user(uow, "ann", PASSWORD) is None
    assert authenticate_user(uow, "ann", "a different secret") is not None
    with pytest.raises(UserNotFound):
        set_password(uow, "nobody", "a different secret")
