"""What a driver error means for the connection it happened on, and SQLAlchemy's exception for it.

One rule for both ways a statement reaches asyncpg: SQLAlchemy's execute path (through the
`handle_error` event in `database/__init__.py`), which every statement of the house rules
takes, and `FASTPATH`'s `alone` trick, which runs its one statement on the driver directly
(`best_app.fastpath`). Either way the app sees a `sqlalchemy.exc.DBAPIError` whose
`orig` is the driver's error, and a connection that can no longer be used is invalidated, so
the pool replaces it.
"""

from __future__ import annotations

import asyncpg

_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


def driver_error(error: BaseException) -> BaseException:
    """The driver's own exception behind `error` (SQLAlchemy's asyncpg adapter wraps them)."""
    cause = error.__cause__
    return cause if isinstance(cause, _DRIVER_ERRORS) else error


def connection_is_unusable(error: BaseException, connection: asyncpg.Connection | None) -> bool:
    """True when `connection` must not serve another statement after `error`.

    - the connection is closed (the server or the network ended it);
    - the server (or PgBouncer) reported a FATAL error or a connection exception (SQLSTATE
      class 08): it closes the connection next, but asyncpg may not have seen the close yet
      (a backend terminated mid-statement, a PgBouncer whose server connection died);
    - asyncpg lost track of its protocol (`InternalClientError`): a backend terminated while
      its connection sat idle in the pool sends an unsolicited FATAL error; asyncpg takes it as
      an error in progress and refuses every statement ("cannot switch to state 12; another
      operation (2) is in progress") until the socket's end arrives, and `is_closed()` stays
      False until then;
    - an `OSError` other than a timeout (a reset or broken socket). A timeout is asyncpg's
      `command_timeout`: it cancels the statement and the connection stays usable.
    """
    error = driver_error(error)
    if connection is not None and connection.is_closed():
        return True
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", None) or "")
        return getattr(error, "severity", None) in {"FATAL", "PANIC"} or sqlstate[:2] == "08"
    if isinstance(error, asyncpg.InternalClientError):
        return True
    return isinstance(error, OSError) and not isinstance(error, TimeoutError)
