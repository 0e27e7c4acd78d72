"""Settings: sources and precedence, URL normalisation, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from best_app import create_app
from best_app.config import (
    DEV_SECRET_KEY,
    FASTPATH_TRICKS,
    Settings,
    SettingsError,
    available_modules,
    current_settings,
    load_settings,
    normalise_database_url,
    settings_of,
)
from best_app.cpus import available_cpus
from tests.utils.server import ROOT

URL = "postgresql://u:p@db:5432/best"
STRONG_KEY = "k" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray variables or `.env` from the developer's shell."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u:p@h/d", "postgresql+asyncpg://u:p@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u:@/d?host=/tmp/sock", "postgresql+asyncpg://u:@/d?host=/tmp/sock"),
    ],
)
def test_database_url_is_normalised_to_asyncpg(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert Settings(_env_file=None, database_url=given).database_url == expected


@pytest.mark.parametrize("bad", ["mysql://u@h/d", "postgresql+psycopg://u@h/d", "h:5432/d"])
def test_other_database_schemes_are_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL: must start with one of"):
        load_settings(_env_file=None, database_url=bad)


def test_missing_database_url_is_one_clear_line() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith("invalid settings: DATABASE_URL: is not set")
    assert "\n" not in message


def test_defaults_keep_the_seed_values() -> None:
    settings = Settings(_env_file=None, database_url=URL)
    assert settings.my_env_var == "XY"
    assert settings.app_env == "development"
    assert settings.modules == ("hello", "bye", "users", "cars")
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout) == (
        10,
        10,
        5.0,
    )
    assert settings.db_statement_timeout_ms == 5000
    assert settings.port == 8000
    assert settings.max_content_length == 65536
    assert settings.api_tokens == ()
    assert settings.cors_origins == ()
    assert settings.effective_log_format == "text"


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"DATABASE_URL={URL}\nMY_ENV_VAR=from-dotenv\nDB_POOL_SIZE=3\nMODULES=hello,bye\n"
    )
    monkeypatch.setenv("MY_ENV_VAR", "from-env")
    settings = Settings()
    assert settings.my_env_var == "from-env"  # environment beats .env
    assert settings.db_pool_size == 3  # .env beats the default
    assert settings.modules == ("hello", "bye")
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/best"


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("API_TOKENS", " one, two ,,")
    monkeypatch.setenv("CORS_ORIGINS", "http://localhost:3000")
    settings = Settings(_env_file=None)
    assert settings.api_tokens == ("one", "two")
    assert settings.cors_origins == ("http://localhost:3000",)


def test_unknown_module_stops_start_up() -> None:
    with pytest.raises(SettingsError, match=r"MODULES: unknown module\(s\) nope; known: hello"):
        load_settings(_env_file=None, database_url=URL, modules="hello,nope")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("on", FASTPATH_TRICKS),
        ("true", FASTPATH_TRICKS),
        ("off", ()),
        ("OFF", ()),
        ("false", ()),
        ("alone", ("alone",)),
        (" http , Alone ", ("http", "alone")),
    ],
)
def test_fastpath_takes_on_off_or_trick_names(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("FASTPATH", given)
    assert Settings(_env_file=None).fastpath == expected


def test_an_unknown_fastpath_trick_stops_start_up() -> None:
    with pytest.raises(SettingsError, match=r"FASTPATH: unknown trick\(s\) fast; known: http"):
        load_settings(_env_file=None, database_url=URL, fastpath="http,fast")


def test_the_known_modules_are_the_feature_blueprints() -> None:
    assert available_modules() == ("hello", "bye", "users", "cars")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_tokens": "t"}, "SECRET_KEY is the development value"),
        ({"secret_key": "short", "api_tokens": "t"}, "SECRET_KEY must be at least 32"),
        ({"secret_key": STRONG_KEY}, "API_TOKENS must hold at least one token"),
    ],
)
def test_production_refusals(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None, database_url=URL, app_env="production", **overrides)


def test_production_accepts_real_secrets_and_logs_json() -> None:
    settings = load_settings(
        _env_file=None,
        database_url=URL,
        app_env="production",
        secret_key=STRONG_KEY,
        api_tokens="t1,t2",
    )
    assert settings.effective_log_format == "json"
    assert DEV_SECRET_KEY not in repr(settings)


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql://u:hunter2@h/d",
        secret_key=STRONG_KEY,
        api_tokens="tok-123",
    )
    text = repr(settings)
    assert "hunter2" not in text
    assert STRONG_KEY not in text
    assert "tok-123" not in text


@pytest.mark.parametrize(
    ("name", "value"),
    [("port", "0"), ("db_pool_size", "0"), ("log_level", "LOUD"), ("app_env", "staging")],
)
def test_invalid_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name.upper()):
        load_settings(_env_file=None, database_url=URL, **{name: value})


async def test_the_app_reads_its_settings_one_way() -> None:
    settings = Settings(_env_file=None, database_url=URL, my_env_var="Z", max_content_length=7)
    app = create_app(settings)
    assert settings_of(app) is settings
    async with app.app_context():
        assert current_settings() is settings
    # `app.config` holds only what Quart itself reads.
    assert "MY_ENV_VAR" not in app.config
    assert app.config["MAX_CONTENT_LENGTH"] == 7
    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY
    assert app.config["TESTING"] is False


@pytest.mark.parametrize("name", [name.upper() for name in Settings.model_fields])
def test_every_setting_is_in_env_example(name: str) -> None:
    # Its documentation, a heading in docs/settings.md, is checked by tests/test_docs_links.py.
    example = (ROOT / ".env.example").read_text()
    assert re.search(rf"^(# ?)?{name}=", example, re.MULTILINE), "a line of .env.example"


def test_web_concurrency_counts_the_cpus_this_process_may_use() -> None:
    """Not `os.cpu_count()` (the host's): the cgroup quota or the affinity (best_app/cpus.py)."""
    url = "postgresql://u@h/d"
    assert Settings(_env_file=None, database_url=url).web_concurrency == available_cpus()
    auto = Settings(_env_file=None, database_url=url, web_concurrency="auto")
    assert auto.web_concurrency == available_cpus()
    assert Settings(_env_file=None, database_url=url, web_concurrency=3).web_concurrency == 3
