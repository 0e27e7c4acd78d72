"""The next release's migration, as a test fixture: one additive revision on top of the code's
head, in a folder of its own, and the `ALEMBIC_CONFIG` file that makes Alembic (and best_app's
`best_app.database.schema`) see it. Nothing here is shipped: it stands for release N+1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from best_app.database.schema import CONFIG_ENV, expected_heads
from tests.utils.server import ROOT

NEXT_REVISION = "9001_next_release_nickname"
NEXT_COLUMN = "next_release_nickname"

_REVISION = '''"""Release N+1 (a test fixture): a nullable column on users (expand only)."""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("{column}", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "{column}")
'''

_INI = """[alembic]
script_location = {root}/alembic
version_locations = {root}/alembic/versions:{versions}
path_separator = os
"""


def write_next_release(folder: Path) -> dict[str, str]:
    """Write release N+1's revision and Alembic config under `folder`; return the environment
    (`ALEMBIC_CONFIG`) under which best_app knows that revision."""
    (head,) = expected_heads()
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (versions / f"{NEXT_REVISION}.py").write_text(
        _REVISION.format(revision=NEXT_REVISION, head=head, column=NEXT_COLUMN)
    )
    ini = folder / "alembic.ini"
    ini.write_text(_INI.format(root=ROOT, versions=versions))
    return {CONFIG_ENV: str(ini)}


def best_app_migrate(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`best-app migrate` in a process of its own, as a release's migration step runs it."""
    return subprocess.run(
        [sys.executable, "-m", "best_app", "migrate"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
