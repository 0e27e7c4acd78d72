"""A real PgBouncer (Debian's package) in transaction pool mode, in front of a PostgreSQL server.

Configured as an operator would for best_app with `DB_POOLER=pgbouncer`: transaction pooling,
`ignore_startup_parameters = extra_float_digits` only (so any startup parameter the app sent
would be refused), a small server pool per database, many client slots.

One launcher for the tests (the `pgbouncer` fixture, with the defaults) and the scale-out
benchmark (`scripts/benchmark/scale_out.py`, with its own pool sizes); it lives here, beside
`embedded_pg.py`, because both use it and the benchmark must not import the test suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from best_app.config import normalise_database_url
from scripts import embedded_pg

POOL_SIZE = 10
MAX_CLIENT_CONN = 1200


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


@dataclass
class PgBouncer:
    host: str
    port: int
    pool_size: int
    log_path: Path

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database on the server behind it) reached through this PgBouncer."""
        url = make_url(normalise_database_url(database_url))
        return url.set(host=self.host, port=self.port, query={}).render_as_string(
            hide_password=False
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ini(server_url: str, port: int, directory: Path, pool_size: int, max_client_conn: int) -> str:
    url = make_url(normalise_database_url(server_url))
    # The embedded server listens on a Unix socket only (`?host=/dir`); others on TCP.
    host = url.query.get("host") or url.host or "127.0.0.1"
    target = f"host={host} port={url.port or 5432} user={url.username or 'postgres'}"
    if url.password:
        target += f" password={url.password}"
    user = url.username or "postgres"
    (directory / "userlist.txt").write_text(f'"{user}" "{url.password or ""}"\n')
    return f"""\
[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max_client_conn}
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
"""


def run_as(server_url: str) -> str:
    """The user PgBouncer becomes when started by root (it refuses to run as root)."""
    url = make_url(normalise_database_url(server_url))
    return embedded_pg.socket_owner(str(url.query.get("host") or url.host or "")) or "nobody"


@contextmanager
def run_pgbouncer(
    server_url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_client_conn: int = MAX_CLIENT_CONN,
    log: Path | None = None,
    port: int | None = None,
) -> Iterator[PgBouncer]:
    """Start PgBouncer on `port` (default: a free one) of 127.0.0.1 in front of `server_url`'s
    server; stop it after (SIGTERM: PgBouncer's immediate shutdown, every connection closed).
    Started again on the same port, it is a restart as its clients see one.

    `pool_size` server connections per database (`default_pool_size`), `max_client_conn`
    client slots. Run by root, PgBouncer (which refuses to run as root) becomes another user
    (`run_as`); its files live in a directory of their own that any user can read. It logs to
    stderr, into `log` (default: a file in that directory, gone afterwards).
    """
    binary = pgbouncer_binary()
    if binary is None:
        raise FileNotFoundError("pgbouncer")
    with tempfile.TemporaryDirectory(prefix="best_app_pgbouncer_") as name:
        directory = Path(name)
        directory.chmod(0o755)
        port = port or _free_port()
        ini = directory / "pgbouncer.ini"
        ini.write_text(_ini(server_url, port, directory, pool_size, max_client_conn))
        command = [binary, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["--user", run_as(server_url)]
        bouncer = PgBouncer("127.0.0.1", port, pool_size, log or directory / "log")
        with _started(command, bouncer):
            yield bouncer


@contextmanager
def _started(command: list[str], bouncer: PgBouncer) -> Iterator[PgBouncer]:
    port = bouncer.port
    with bouncer.log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {process.returncode}:\n{bouncer.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer not listening:\n{bouncer.log()}") from None
                time.sleep(0.05)
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
