"""The `sessions` table: who is logged in, by the hash of their bearer token.

A token is 32 random bytes (`best_app.web.auth`); only its SHA-256 is stored, so the table
leaks nothing a client could present. A session ends at `expires_at` (the absolute lifetime),
or once it has been idle for `SESSION_IDLE_TIMEOUT` (read against `last_used_at`), or when
it is revoked (logout, a password change, the account's deletion: ON DELETE CASCADE).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, LargeBinary, func
from sqlalchemy.orm import Mapped, mapped_column

from best_app.models.base import Base, IdentityKey
from best_app.models.user import User

TOKEN_HASH_LENGTH = 32  # SHA-256


class LoginSession(IdentityKey, Base):
    __tablename__ = "sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(TOKEN_HASH_LENGTH), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<LoginSession user={self.user_id}>"
