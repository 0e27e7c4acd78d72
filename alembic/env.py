"""Alembic environment: async, and the database address comes from the app's settings."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from best_app.config import Settings, load_settings
from best_app.database import create_engine
from best_app.database.schema import migration_lock
from best_app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _settings() -> Settings:
    """Loaded once: the caller's `settings` if it handed them in, else the environment's (env or
    .env, validated), with the caller's `database_url` if it handed one in (tests, tools)."""
    settings = config.attributes.get("settings")
    if isinstance(settings, Settings):
        return settings
    url = config.attributes.get("database_url")
    return load_settings(database_url=str(url)) if url else load_settings()


def run_migrations_offline(settings: Settings) -> None:
    context.configure(
        url=settings.database_url, target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    """Every pending revision in one transaction, which first takes the migration lock
    (`best_app.database.schema.migration_lock`; re-entrant if the caller's transaction holds
    it). `best-app migrate` (best_app/ops/migrations.py) hands in a connection per revision."""
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        connection.execute(migration_lock())
        context.run_migrations()


async def run_migrations_online(settings: Settings) -> None:
    # No statement timeout: DDL and waiting for the migration lock may take longer.
    untimed = settings.model_copy(update={"db_statement_timeout_ms": 0})
    engine = create_engine(untimed, pooled=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline(_settings())
elif (connection := config.attributes.get("connection")) is not None:
    # Handed in by `best-app migrate` (or a test) on a connection of its own.
    _run_sync(connection)
else:
    asyncio.run(run_migrations_online(_settings()))
