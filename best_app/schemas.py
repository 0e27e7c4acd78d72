"""Request and response models: they validate input and describe the API in OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from werkzeug.routing import BaseConverter

from best_app.models.car import MODEL_MAX_LENGTH
from best_app.models.user import USERNAME_MAX_LENGTH, Role
from best_app.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from best_app.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from best_app.passwords import is_common

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


def _not_a_dot_segment(value: str) -> str:
    # "." and ".." match the pattern but cannot be addressed as /users/{username}.
    if value in {".", ".."}:
        raise ValueError("must not be '.' or '..'")
    return value


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must contain only printable characters")
    return value


def _iso_date_text(value: Any) -> Any:
    # JSON has no date type: accept only the "YYYY-MM-DD" string, never a number of seconds.
    if not isinstance(value, str | dt.date):
        raise ValueError("must be a date string YYYY-MM-DD")
    return value


Username = Annotated[
    str,
    StringConstraints(min_length=1, max_length=USERNAME_MAX_LENGTH, pattern=USERNAME_PATTERN),
    AfterValidator(_not_a_dot_segment),
]


class UsernameConverter(BaseConverter):
    """`<username:...>` in routes: a path segment that cannot be a username never matches,
    so it is a 404 without a query (and never reaches the driver as, say, a NUL byte)."""

    regex = USERNAME_PATTERN.strip("^$").replace("+", f"{{1,{USERNAME_MAX_LENGTH}}}")


CarModelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MODEL_MAX_LENGTH),
    AfterValidator(_printable),
]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_text)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


def _not_common(value: str) -> str:
    if is_common(value):
        raise ValueError("is one of the most common passwords; choose another")
    return value


# A new password: 8 to 256 characters, any characters, not one of the most common ones.
Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_not_common),
]
# A password offered at login: any length up to the maximum (a wrong one is simply wrong).
OfferedPassword = Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class UserCreate(_Input):
    username: Username
    password: Password | None = Field(
        default=None,
        description="anyone may register with a password; without one, only an admin may",
    )
    role: Role | None = None
    created_at: IsoDate | None = None


class CarCreate(_Input):
    model: CarModelName


class UserPatch(_Input):
    """A merge patch (RFC 7396) of a user: the role is the one field that may change."""

    role: Role


class CarPatch(_Input):
    """A merge patch (RFC 7396) of a car: the model is the one field that may change."""

    model: CarModelName


class SaleCreate(_Input):
    buyer: Username


class PageQuery(_Input):
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    after: int | None = Field(default=None, ge=0, le=MAX_ID, description="the page's cursor")


class UserListQuery(PageQuery):
    role: Role | None = None


class UserOut(_Output):
    id: int
    username: str
    role: Role
    created_at: dt.date


class CarOut(_Output):
    id: int
    model: str
    owner: int = Field(validation_alias="owner_id")


class OwnershipOut(_Output):
    """One period of a car's ownership; `until` is null while it lasts."""

    owner: int | None = Field(
        validation_alias="owner_id",
        description="the owner's user id; null once that user has been deleted",
    )
    username: str = Field(description="the owner's username while they held the car")
    since: dt.datetime
    until: dt.datetime | None


class OwnershipPage(BaseModel):
    items: list[OwnershipOut]
    next: int | None = Field(description="pass as `after` for the next page; null on the last")


class UserPage(BaseModel):
    items: list[UserOut]
    next: int | None = Field(description="pass as `after` for the next page; null on the last")


class CarPage(BaseModel):
    items: list[CarOut]
    next: int | None = Field(description="pass as `after` for the next page; null on the last")


class Status(BaseModel):
    status: str


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str
    errors: list[FieldError] | None = None


class SessionCreate(_Input):
    username: Username
    password: OfferedPassword


class SessionOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    expires_at: dt.datetime = Field(description="the latest it can be used (idle: sooner)")


class PasswordChange(_Input):
    current_password: OfferedPassword
    new_password: Password
