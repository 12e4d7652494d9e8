"""The generic collection store on its own, where the HTTP layer cannot reach."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.admin.identity import UserStore
from core.models import ADMIN, User
from core.platform.errors import UsernameTaken
from tests.doubles import FrozenClock
from tests.factories import hasher, make_user


class _UncheckedUsers(UserStore):
    """Skips the up-front username check, as a concurrent writer that passed it would."""

    def check(self, session: Session, row: User) -> None:
        return None


def test_a_username_clash_caught_only_by_the_database_is_still_a_409(db: Session) -> None:
    make_user(db, username="Racer")
    store = _UncheckedUsers(ADMIN, hasher(), FrozenClock())
    values = {"username": "racer", "first_name": "", "last_name": "", "email": "r@x.io"}
    with pytest.raises(UsernameTaken) as raised:
        store.create(db, values, {})
    assert raised.value.status == 409
