"""The database lifecycle: one engine per worker process, one `AsyncSession` per request.

The engine is created in `before_serving` (each Hypercorn worker is its own process with its
own event loop) and disposed in `after_serving`. A request's session is opened on first use
and, if it holds a transaction, closed in `teardown_request`, which runs even when the handler
raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from quart import Quart, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from best_app.config import Settings
from best_app.database.driver_errors import connection_is_unusable

# In the `info` of the app's sessions: the engine a read outside a block borrows from
# (`best_app.repositories.query`). SQLAlchemy documents `Session.info` as the app's own.
READS_KEY = "best_app.reads"

_SESSION_KEY = "_best_app_db_session"


def _connect_args(settings: Settings) -> dict[str, Any]:
    timeout_ms = settings.db_statement_timeout_ms
    args: dict[str, Any] = {
        # Connecting is bounded like waiting for the pool: a dead host is a fast 503.
        "timeout": settings.db_pool_timeout,
        # PgBouncer tracks `application_name` and sets it on each server connection it lends.
        "server_settings": {"application_name": "best_app"},
    }
    if settings.db_pooler == "pgbouncer":
        # A transaction pooler hands the server connection to another client after every
        # transaction: no statement may be named and reused across transactions, and no
        # startup parameter PgBouncer does not track (it refuses `statement_timeout`).
        # - asyncpg's cache off: its own statements are unnamed, parsed again with each run;
        # - SQLAlchemy's cache off and its statement names unique: it prepares each statement
        #   (one round trip) and then executes it (another) inside the transaction it runs in,
        #   under a new name; so every statement, reads too, runs in a transaction here;
        # - the statement timeout is asyncpg's `command_timeout`: on expiry asyncpg sends
        #   PostgreSQL a cancel request, which PgBouncer forwards to the server connection.
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
        if timeout_ms:
            args["command_timeout"] = timeout_ms / 1000
        return args
    args["server_settings"]["statement_timeout"] = str(timeout_ms)
    if timeout_ms:
        # A client-side bound one second past the server's, for a server that stops answering.
        args["command_timeout"] = timeout_ms / 1000 + 1
    return args


def _unique_statement_name() -> str:
    return f"best_app_{uuid.uuid4().hex}"


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """The engine for `settings`: pool bounds, connect timeout and a statement timeout.

    Transactional, as SQLAlchemy's default: a `commit()` commits and a `rollback()` undoes.
    `pooled=False` (one-off tools such as migrations) opens a connection per use. With
    `DB_POOLER=pgbouncer` nothing outlives a transaction on the server connection.
    """
    options: dict[str, Any] = {"connect_args": _connect_args(settings)}
    if pooled:
        options.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
    else:
        options["poolclass"] = NullPool
    engine = create_async_engine(settings.database_url, **options)
    event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    event.listen(engine.sync_engine, "handle_error", _classify_driver_error)
    return engine


def _connect_or_operational_error(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Connect; a socket-level failure (refused, unreachable, timed out) becomes the DBAPI's
    `OperationalError` (asyncpg raises the bare `OSError`, which SQLAlchemy would pass through
    unwrapped), so the app sees every database failure as a `DBAPIError`."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {error!r}") from error


def _classify_driver_error(context: ExceptionContext) -> BaseException | None:
    """SQLAlchemy's `handle_error` hook: invalidate connections asyncpg can no longer use (see
    `driver_errors`), and wrap a bare `OSError` from the driver as a `DBAPIError`."""
    error = context.original_exception
    if not context.is_disconnect and connection_is_unusable(error, None):
        context.is_disconnect = True
    if context.sqlalchemy_exception is None and isinstance(error, OSError):
        return DBAPIError(
            context.statement,
            context.parameters,
            error,
            connection_invalidated=context.is_disconnect,
        )
    return None


class Database:
    """Owns the engine and the per-request sessions of one app.

    The unit of work: a repository function that writes runs all its statements in
    `async with session.begin():`, which commits when the block ends and rolls back if it
    raises, so a write is all or nothing. Reads need no block: a read outside a block
    (`repositories.query`) borrows a connection for its statement from the engine the
    sessions name in their `info` (`READS_KEY`): this engine with
    `isolation_level="AUTOCOMMIT"` (SQLAlchemy's documented per-engine option, sharing the
    pool: the statement is its own transaction, one round trip), or behind PgBouncer the
    transactional engine itself (a statement prepared in one transaction and executed in
    another could reach two server connections there). The session stays unbegun.
    A request makes its write call before any other use of its session (`begin()` refuses a
    session that already began; a read outside a block does not begin it, so the guard does
    not see one); a function that reads and then writes does both inside its own block.

    `session_info` is put in every session's `info` beside `READS_KEY`: the factory's way to
    install a trick from above (`best_app.fastpath`) without this module knowing of it.

    Readiness checks (`best_app.database.schema.schema_problem`) have an engine of their own
    with one connection: a check must tell whether the database answers, not wait behind every
    request queued for the request pool. Under overload that wait failed the check on every
    replica at once and the load balancer took them all out of rotation (docs/deployment.md).
    """

    def __init__(
        self, settings: Settings, *, session_info: Mapping[str, object] | None = None
    ) -> None:
        self._settings = settings
        self._session_info = dict(session_info or {})
        self._engine: AsyncEngine | None = None
        self._check_engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._engine_hooks: list[Callable[[AsyncEngine], None]] = []

    def on_engine(self, hook: Callable[[AsyncEngine], None]) -> None:
        """Call `hook` with each request engine once it is created (not the readiness one)."""
        self._engine_hooks.append(hook)

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

    @property
    def readiness_engine(self) -> AsyncEngine:
        """The one-connection engine of the readiness check (`schema.schema_problem`)."""
        if self._check_engine is None:
            raise RuntimeError("the database is not connected (is the app serving?)")
        return self._check_engine

    async def connect(self) -> None:
        self._engine = create_engine(self._settings)
        reads = (
            self._engine
            if self._settings.db_pooler == "pgbouncer"
            else self._engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        info = {**self._session_info, READS_KEY: reads}
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False, info=info)
        one = {"db_pool_size": 1, "db_max_overflow": 0}  # opened at the first check
        self._check_engine = create_engine(self._settings.model_copy(update=one))
        for hook in self._engine_hooks:
            hook(self._engine)

    async def disconnect(self) -> None:
        for engine in (self._engine, self._check_engine):
            if engine is not None:
                await engine.dispose()
        self._engine = self._check_engine = self._sessions = None

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
        # Only a session in a transaction holds a connection to give back. One that never
        # began (a request whose reads each borrowed a connection for their statement) or
        # whose blocks all ended has nothing to release: closing it would only empty its
        # identity map, which stays empty (repositories return plain rows), for a greenlet
        # switch on every request.
        if session is not None and session.in_transaction():
            await session.close()


def current_database() -> Database:
    database: Database = current_app.extensions["database"]
    return database


def get_session() -> AsyncSession:
    """The session of the request being handled (for blueprints)."""
    return current_database().session()
