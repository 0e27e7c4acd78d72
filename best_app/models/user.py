"""The `users` table (the seed's `User` model)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from sqlalchemy import CheckConstraint, Date, String, func
from sqlalchemy.orm import Mapped, mapped_column

from best_app.models.base import Base, IdentityKey, Versioned

Role = Literal["student", "teacher", "employee"]
ROLES: tuple[str, ...] = get_args(Role)
DEFAULT_ROLE: Role = "employee"
USERNAME_MAX_LENGTH = 64


class User(IdentityKey, Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role_types"),
    )

    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    created_at: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    role: Mapped[str] = mapped_column(String(16), server_default=DEFAULT_ROLE)

    def __repr__(self) -> str:
        return f"<User {self.username}>"
