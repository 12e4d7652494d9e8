"""What the database says happened: OTP rows per user, delivery rows by status."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.models import Delivery, OneTimePassword, User


def otps_per_username(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.execute(
            select(User.username, func.count(OneTimePassword.id))
            .join(OneTimePassword, OneTimePassword.user_id == User.id)
            .group_by(User.username)
        )
        return Counter({str(key): int(count) for key, count in rows})


def delivery_statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({str(key): int(count) for key, count in rows})


def delivery_attempts(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(Delivery.attempts).order_by(Delivery.created_at)))
