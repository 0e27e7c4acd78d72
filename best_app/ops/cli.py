"""`python -m best_app` (or `best-app`): operational commands.

best-app serve                   Hypercorn: one process that drains on SIGTERM (WEB_CONCURRENCY=1),
                                 or Hypercorn's multi-worker parent
best-app wait-db [--timeout S]   wait for the database (backoff, bounded)
best-app migrate                 alembic upgrade head, a revision per transaction, bounded waits
best-app healthcheck             exit 0 when this host's /readyz answers 200
best-app create-admin USERNAME   an admin account (the password from the terminal or stdin)
best-app purge-sessions          delete the login sessions that have ended
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import urllib.error
import urllib.request

from tqdm import tqdm

from best_app.config import Settings, SettingsError, load_settings
from best_app.database import Database
from best_app.database.schema import schema_problem
from best_app.observability.logs import configure_logging
from best_app.ops.admins import AdminError, create_admin, purge_sessions, read_password
from best_app.ops.migrations import migrate
from best_app.ops.prestart import wait_for_database
from best_app.ops.replica import run as run_replica
from best_app.ops.seed import seed


def _healthcheck(port: int) -> int:
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"not ready: {error}", file=sys.stderr)
        return 1


EXIT_BAD_SETTINGS, EXIT_UNREACHABLE, EXIT_NOT_MIGRATED = 2, 3, 4


async def _check(settings: Settings) -> int:
    database = Database(settings)
    await database.connect()
    try:
        problem = await schema_problem(database.readiness_engine)
    except Exception as error:
        print(f"database: unreachable ({type(error).__name__})")
        return EXIT_UNREACHABLE
    finally:
        await database.disconnect()
    print("database: reachable")
    if problem is not None:
        print(f"migrations: {problem}")
        return EXIT_NOT_MIGRATED
    print("migrations: a schema this code serves")
    return 0


def _seed(settings: Settings, users: int, cars: int, prefix: str) -> None:
    with tqdm(total=users, unit="user", desc=f"seeding {users} users x {cars} cars") as bar:
        asyncio.run(seed(settings, users, cars, prefix=prefix, progress=bar.update))


def _serve(settings: Settings) -> int:
    """One process per replica (drains on SIGTERM), or Hypercorn's multi-worker parent."""
    if settings.web_concurrency > 1:
        command = [sys.executable, "-m", "hypercorn", "--config", "python:best_app.ops.serving"]
        os.execv(sys.executable, [*command, "best_app:create_app()"])  # noqa: S606
    run_replica(settings)
    return 0


def _log_alembic_too() -> None:
    """Alembic's own lines ("Running upgrade A -> B", one per revision) through best_app's
    handler and format (alembic/env.py leaves logging to its caller)."""
    alembic = logging.getLogger("alembic")
    alembic.handlers[:] = logging.getLogger("best_app").handlers
    alembic.setLevel(logging.INFO)
    alembic.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="best-app", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait-db", help="wait for the database, with backoff")
    wait.add_argument("--timeout", type=float, help="seconds (default: DB_WAIT_TIMEOUT)")
    commands.add_parser("migrate", help="alembic upgrade head under an advisory lock")
    commands.add_parser("healthcheck", help="exit 0 when /readyz on this host answers 200")
    commands.add_parser(
        "serve", help="serve with Hypercorn (one draining process when WEB_CONCURRENCY=1)"
    )
    commands.add_parser("check", help="settings, database and migrations: exit 0 when ready")
    seeding = commands.add_parser("seed", help="bulk-load users and their cars")
    seeding.add_argument("--users", type=int, default=1000)
    seeding.add_argument("--cars", type=int, default=5, help="cars per user")
    seeding.add_argument("--prefix", default="seed", help="usernames are PREFIX-1, PREFIX-2, ...")
    admin = commands.add_parser("create-admin", help="an admin account, new or existing")
    admin.add_argument("username")
    admin.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    commands.add_parser("purge-sessions", help="delete the login sessions that have ended")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(error.code, file=sys.stderr)
        return EXIT_BAD_SETTINGS
    if args.command == "serve":
        return _serve(settings)
    configure_logging(settings)
    logging.getLogger("best_app").setLevel(logging.INFO)
    _log_alembic_too()
    match args.command:
        case "wait-db":
            timeout = args.timeout if args.timeout is not None else settings.db_wait_timeout
            asyncio.run(wait_for_database(settings, timeout))
        case "migrate":
            asyncio.run(migrate(settings))
        case "healthcheck":
            return _healthcheck(settings.port)
        case "check":
            print("settings: valid")
            return asyncio.run(_check(settings))
        case "seed":
            _seed(settings, args.users, args.cars, args.prefix)
        case "create-admin":
            try:
                password = read_password(from_stdin=args.password_stdin)
                asyncio.run(create_admin(settings, args.username, password))
            except AdminError as error:
                print(f"create-admin: {error}", file=sys.stderr)
                return EXIT_BAD_SETTINGS
            print(f"{args.username} is an admin")
        case "purge-sessions":
            print(f"purged {asyncio.run(purge_sessions(settings))} ended sessions")
    return 0
