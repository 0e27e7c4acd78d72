"""The `ownerships` table: who owned each car, from when until when.

One row per period. The current owner's period is open (`until` NULL); a partial unique index
allows one open period per car. `username` is captured when the period opens (usernames never
change), so the history stays readable after the user is deleted: `owner_id` is then set to
NULL by the database (ON DELETE SET NULL) and the period keeps the name it was held under.
Deleting a car deletes its history with it (ON DELETE CASCADE).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from best_app.models.base import Base, IdentityKey
from best_app.models.car import Car
from best_app.models.user import USERNAME_MAX_LENGTH, User


class Ownership(IdentityKey, Base):
    __tablename__ = "ownerships"
    __table_args__ = (
        # A car's history in order (ids grow with time: sales of one car are serialised).
        Index("ix_ownerships_car_id", "car_id", "id"),
        Index("uq_ownerships_open", "car_id", unique=True, postgresql_where=text("until IS NULL")),
        CheckConstraint("until IS NULL OR until >= since", name="ownership_period_order"),
    )

    car_id: Mapped[int] = mapped_column(ForeignKey(Car.id, ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey(User.id, ondelete="SET NULL"), index=True
    )
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH))
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<Ownership car={self.car_id} {self.username}>"
