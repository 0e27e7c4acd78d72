"""Where the Alembic revisions live, and which revision the code expects (the head)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

_INI_NAME = "alembic.ini"


def alembic_config() -> Config:
    """The project's Alembic config: next to the package in a checkout, else in the work dir.

    (An installed wheel, as in the container, has `alembic.ini` in the working directory.)
    """
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        ini = root / _INI_NAME
        if ini.is_file():
            config = Config(str(ini))
            config.set_main_option("script_location", str(root / "alembic"))
            return config
    raise FileNotFoundError(f"{_INI_NAME} not found next to the package or in {Path.cwd()}")


@cache
def expected_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
