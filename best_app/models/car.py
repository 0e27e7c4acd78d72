"""The `cars` table (the seed's `Car` model): each car has one owner."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from best_app.models.base import Base, IdentityKey, Versioned
from best_app.models.user import User

MODEL_MAX_LENGTH = 128


class Car(IdentityKey, Versioned, Base):
    __tablename__ = "cars"

    model: Mapped[str] = mapped_column(String(MODEL_MAX_LENGTH))
    # NO ACTION: deleting a user who still owns cars fails (the API answers 409).
    owner_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="NO ACTION"), index=True)

    def __repr__(self) -> str:
        return f"<Car {self.model}>"
