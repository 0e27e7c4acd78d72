"""`python -m best_app` (or `best-app`): operational commands.

best-app wait-db [--timeout S]   wait for the database (backoff, bounded)
best-app migrate                 alembic upgrade head, under an advisory lock
best-app healthcheck             exit 0 when this host's /readyz answers 200
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import urllib.error
import urllib.request

from best_app.config import load_settings
from best_app.log_config import configure_logging
from best_app.prestart import migrate, wait_for_database


def _healthcheck(port: int) -> int:
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"not ready: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="best-app", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait-db", help="wait for the database, with backoff")
    wait.add_argument("--timeout", type=float, help="seconds (default: DB_WAIT_TIMEOUT)")
    commands.add_parser("migrate", help="alembic upgrade head under an advisory lock")
    commands.add_parser("healthcheck", help="exit 0 when /readyz on this host answers 200")
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings)
    logging.getLogger("best_app").setLevel(logging.INFO)
    match args.command:
        case "wait-db":
            timeout = args.timeout if args.timeout is not None else settings.db_wait_timeout
            asyncio.run(wait_for_database(settings, timeout))
        case "migrate":
            asyncio.run(migrate(settings))
        case "healthcheck":
            return _healthcheck(settings.port)
    return 0
