"""Typed settings: environment variables of the same name, then `.env`, then defaults.

The defaults keep the seed's `CoolConfig` values (`MY_ENV_VAR = "XY"`); secrets and the
database address never have a usable production default.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from quart import Quart, current_app

from best_app.cpus import available_cpus

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105 - a known dev value
MIN_SECRET_KEY_LENGTH = 32

_ASYNC_SCHEME = "postgresql+asyncpg"
_ACCEPTED_SCHEMES = ("postgresql", "postgres", _ASYNC_SCHEME)

CommaList = Annotated[tuple[str, ...], NoDecode]
RATE_PATTERN = r"^[1-9][0-9]*/(second|minute|hour)$"
# `best_app.fastpath`'s tricks, by the names `FASTPATH` takes.
HTTP_TRICK, ALONE_TRICK = "http", "alone"
FASTPATH_TRICKS = (HTTP_TRICK, ALONE_TRICK)
_ON, _OFF = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}


def normalise_database_url(url: str) -> str:
    """Return `url` with the asyncpg driver, whatever PostgreSQL spelling it came in.

    SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, so the driver is always explicit.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _ACCEPTED_SCHEMES:
        accepted = ", ".join(f"{s}://" for s in _ACCEPTED_SCHEMES)
        raise ValueError(f"must start with one of {accepted}")
    return f"{_ASYNC_SCHEME}://{rest}"


# The feature modules' names, the ones `MODULES` accepts: `best_app.modules` registers a
# blueprint under each (`tests/modules/test_modules.py` holds the two lists equal). Settings
# know the names only, so building them imports no view, repository or trick.
ALL_MODULES = ("hello", "bye", "users", "cars")


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # compose passes unset variables as empty strings
        extra="ignore",
        frozen=True,
    )

    app_env: Literal["development", "testing", "production"] = "development"
    database_url: str = Field(default="", repr=False, validate_default=True)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    api_tokens: CommaList = Field(default=(), repr=False)
    my_env_var: str = "XY"
    modules: CommaList = ALL_MODULES
    db_pooler: Literal["none", "pgbouncer"] = "none"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=5000, ge=0)
    # Requests one process admits at once; the rest get a 503 at once. Unset: twice the pool
    # (`best_app.web.admission.default_limit`); 0: no limit.
    max_requests_in_flight: int | None = Field(default=None, ge=0)
    db_wait_timeout: float = Field(default=60.0, ge=0)
    # `best-app migrate` (best_app/ops/migrations.py): a direct (or session-pooled) address when
    # DATABASE_URL goes through a transaction pooler; how long a migration's DDL (and its turn at
    # the migration lock) may wait for a lock before it gives up and retries; and how long it
    # retries before it fails.
    migration_database_url: str = Field(default="", repr=False)
    migration_lock_timeout_ms: int = Field(default=2000, ge=1)
    migration_timeout: float = Field(default=300.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Hypercorn worker processes: by default the CPUs this process may use (a container's CPU
    # quota, not the host's count: best_app/cpus.py); `auto` says the same explicitly.
    web_concurrency: int = Field(default_factory=available_cpus, ge=1)
    graceful_timeout: float = Field(default=30.0, ge=0)
    # How long an idle keep-alive connection stays open. Longer than the idle timeout of
    # whatever reuses connections to us (a proxy, a client's pool: httpx 5 s, HAProxy, cloud load
    # balancers 60 s), so that they close first and never send a request into our closing.
    keep_alive_timeout: float = Field(default=75.0, gt=0)
    shutdown_drain_seconds: float = Field(default=2.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] | None = None
    max_content_length: int = Field(default=65536, ge=1)
    cors_origins: CommaList = ()
    trusted_proxies: CommaList = ()
    metrics_token: SecretStr | None = None
    # Login sessions (best_app/web/auth.py): seconds of inactivity after which a session token
    # is refused, and seconds after login after which it is refused whatever its use.
    session_idle_timeout: int = Field(default=1800, ge=60)
    session_lifetime: int = Field(default=86400, ge=60)
    # argon2id hashes computed at once per process (best_app/passwords.py): a login flood
    # queues here instead of taking every thread and CPU from the requests.
    password_hash_concurrency: int = Field(default=2, ge=1)
    # Rate limits (best_app/web/ratelimit.py), each `N/second`, `N/minute` or `N/hour`: every
    # route per client, failed logins per username (and logins per client), registrations per
    # client. Counted in Redis when REDIS_URL is set (shared by every replica), else in memory.
    rate_limit_default: str = Field(default="50/second", pattern=RATE_PATTERN)
    rate_limit_login: str = Field(default="10/minute", pattern=RATE_PATTERN)
    rate_limit_register: str = Field(default="20/hour", pattern=RATE_PATTERN)
    redis_url: str = Field(default="", repr=False)
    rate_limit_prefix: str = "best_app:ratelimit:"
    # `best_app.fastpath`'s tricks in use: `off` (none, the default: the house rules and the
    # libraries' documented behaviour everywhere), `on` (all), or the names of some, `alone`.
    fastpath: CommaList = ()

    @field_validator("api_tokens", "modules", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("fastpath", mode="before")
    @classmethod
    def _fastpath_words(cls, value: object) -> object:
        if isinstance(value, bool | str):
            word = str(value).strip().lower()
            if word in _ON:
                return FASTPATH_TRICKS
            if word in _OFF:
                return ()
            value = word
        return _split_commas(value)

    @field_validator("fastpath")
    @classmethod
    def _known_tricks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(FASTPATH_TRICKS))
        if unknown:
            raise ValueError(
                f"unknown trick(s) {', '.join(unknown)}; known: {', '.join(FASTPATH_TRICKS)}, "
                "or on/off"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in value:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("web_concurrency", mode="before")
    @classmethod
    def _auto_workers(cls, value: object) -> object:
        return available_cpus() if isinstance(value, str) and value.strip() == "auto" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value:
            raise ValueError(
                "is not set (scripts/run and scripts/test start an embedded PostgreSQL and set it)"
            )
        return normalise_database_url(value)

    @field_validator("migration_database_url")
    @classmethod
    def _normalise_migration_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    @field_validator("modules")
    @classmethod
    def _known_modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ALL_MODULES))
        if unknown:
            known = ", ".join(ALL_MODULES)
            raise ValueError(f"unknown module(s) {', '.join(unknown)}; known: {known}")
        return value

    @model_validator(mode="after")
    def _production_refusals(self) -> Self:
        if self.app_env == "production":
            key = self.secret_key.get_secret_value()
            if key == DEV_SECRET_KEY:
                raise ValueError("SECRET_KEY is the development value; set a real one")
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters")
            if not self.api_tokens:
                raise ValueError("API_TOKENS must hold at least one token in production")
        return self

    @property
    def effective_log_format(self) -> Literal["text", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.app_env == "production" else "text"


class SettingsError(SystemExit):
    """Invalid settings: stops start-up with one line naming each bad setting."""

    def __init__(self, error: ValidationError) -> None:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in item["loc"]).upper()
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        super().__init__(f"invalid settings: {'; '.join(problems)}")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into a one-line `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # values checked by pydantic
    except ValidationError as error:
        raise SettingsError(error) from None


_EXTENSION = "best_app.settings"


def init_app(app: Quart, settings: Settings) -> None:
    """Attach `settings` to `app`: the one place the app's code reads them from.

    `app.config` keeps only what Quart itself reads (SECRET_KEY, MAX_CONTENT_LENGTH, TESTING).
    """
    app.extensions[_EXTENSION] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.app_env == "testing",
    )


def settings_of(app: Quart) -> Settings:
    """The settings `create_app` was built with."""
    settings: Settings = app.extensions[_EXTENSION]
    return settings


def current_settings() -> Settings:
    """The settings of the app handling the current request (or app context)."""
    return settings_of(current_app)
