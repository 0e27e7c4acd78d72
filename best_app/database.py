"""The database lifecycle: one engine per worker process, one `AsyncSession` per request.

The engine is created in `before_serving` (each Hypercorn worker is its own process with its
own event loop) and disposed in `after_serving`. A request's session is opened on first use
and closed in `teardown_request`, which runs even when the handler raises.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, current_app, g
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from best_app.config import Settings
from best_app.metrics import instrument_pool
from best_app.migrations import expected_heads

_SESSION_KEY = "_best_app_db_session"


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """The engine for `settings`: pool bounds, connect timeout and a statement timeout.

    Transactional, as SQLAlchemy's default: a `commit()` commits and a `rollback()` undoes.
    `pooled=False` (one-off tools such as migrations) opens a connection per use.
    """
    timeout_ms = settings.db_statement_timeout_ms
    connect_args: dict[str, Any] = {
        # Connecting is bounded like waiting for the pool: a dead host is a fast 503.
        "timeout": settings.db_pool_timeout,
        "server_settings": {
            "application_name": "best_app",
            "statement_timeout": str(timeout_ms),
        },
    }
    if timeout_ms:
        # A client-side bound one second past the server's, for a server that stops answering.
        connect_args["command_timeout"] = timeout_ms / 1000 + 1
    if not pooled:
        return create_async_engine(
            settings.database_url, poolclass=NullPool, connect_args=connect_args
        )
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args=connect_args,
    )


class Database:
    """Owns the engine and the per-request sessions of one app.

    The unit of work: a repository function that writes runs all its statements in
    `async with session.begin():`, which commits when the block ends and rolls back if it
    raises, so a write is all or nothing. Reads need no block: the session begins a
    transaction on first use and `close()` (at the end of the request) rolls it back.
    A request makes its write call before any other use of its session (`begin()` refuses a
    session that already began); a function that reads and then writes does both inside
    its own block.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def init_app(self, app: Quart) -> None:
        app.extensions["database"] = self
        app.before_serving(self.connect)
        app.after_serving(self.disconnect)
        app.teardown_request(self._close_session)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not connected (is the app serving?)")
        return self._engine

    async def connect(self) -> None:
        self._engine = create_engine(self._settings)
        instrument_pool(self._engine)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    async def disconnect(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._sessions = None

    def new_session(self) -> AsyncSession:
        """A session of its own (the caller closes it); requests use `session()`."""
        if self._sessions is None:
            raise RuntimeError("the database is not connected (is the app serving?)")
        return self._sessions()

    def session(self) -> AsyncSession:
        """The current request's session, opened on first use."""
        session: AsyncSession | None = g.get(_SESSION_KEY)
        if session is None:
            session = self.new_session()
            setattr(g, _SESSION_KEY, session)
        return session

    async def _close_session(self, _error: BaseException | None) -> None:
        session: AsyncSession | None = g.pop(_SESSION_KEY, None)
        if session is not None:
            await session.close()

    async def schema_problem(self) -> str | None:
        """None when the database answers and its schema is at the code's Alembic head."""
        async with self.engine.connect() as conn:
            has_table = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
            found = (
                set((await conn.scalars(text("SELECT version_num FROM alembic_version"))).all())
                if has_table
                else set()
            )
        expected = expected_heads()
        if found != expected:
            have = ", ".join(sorted(found)) or "no migrations"
            return f"schema at {have}; expected {', '.join(sorted(expected))}"
        return None


def current_database() -> Database:
    database: Database = current_app.extensions["database"]
    return database


def get_session() -> AsyncSession:
    """The session of the request being handled (for blueprints)."""
    return current_database().session()
