"""The `users` table (the seed's `User` model)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from sqlalchemy import Boolean, CheckConstraint, Date, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from best_app.models.base import Base, IdentityKey, Versioned

Role = Literal["student", "teacher", "employee"]
ROLES: tuple[str, ...] = get_args(Role)
DEFAULT_ROLE: Role = "employee"
USERNAME_MAX_LENGTH = 64
PASSWORD_HASH_MAX_LENGTH = 255


class User(IdentityKey, Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role_types"),
    )

    username: Mapped[str] = mapped_column(String(USERNAME_MAX_LENGTH), unique=True)
    created_at: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    role: Mapped[str] = mapped_column(String(16), server_default=DEFAULT_ROLE)
    # An argon2id hash (`best_app.passwords`); NULL: an account that cannot log in (the seed's
    # users, registrations by an admin without a password).
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH_MAX_LENGTH))
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())

    def __repr__(self) -> str:
        return f"<User {self.username}>"
