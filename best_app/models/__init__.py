"""SQLAlchemy models only; the data functions live in `best_app.repositories`."""

from best_app.models.base import Base
from best_app.models.car import Car
from best_app.models.login_session import LoginSession
from best_app.models.ownership import Ownership
from best_app.models.user import User

__all__ = ["Base", "Car", "LoginSession", "Ownership", "User"]
