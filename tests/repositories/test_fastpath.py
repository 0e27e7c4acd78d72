"""`best_app.fastpath`'s `alone` tricks: what PostgreSQL itself sees with the switch on and off,
directly and through PgBouncer (their version pins: `tests/test_fastpath.py`).

PostgreSQL reports every statement it runs when `log_statement = 'all'`, and sends those
reports to the client too when `client_min_messages = 'log'`: a database of its own with
both set, and asyncpg's log listener on each of the app's connections, show what reached the
server, BEGIN and COMMIT included (PgBouncer forwards the reports).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.pool import QueuePool

from best_app import fastpath
from best_app.config import Settings
from best_app.database import Database
from best_app.repositories import cars, query, users
from best_app.repositories.rows import CARS
from scripts.pgbouncer import PgBouncer
from tests.utils.dbtools import fresh_database, migrate, plain_dsn


@pytest.fixture(scope="module")
def logged_url(server_url: str) -> Iterator[str]:
    """A migrated database whose every statement is reported to the client that sent it."""
    with fresh_database(server_url, prefix="best_app_logged") as url:
        migrate(url)

        async def report_statements() -> None:
            conn = await asyncpg.connect(plain_dsn(url))
            try:
                name = await conn.fetchval("SELECT current_database()")
                for setting in ("log_statement = 'all'", "client_min_messages = 'log'"):
                    await conn.execute(f'ALTER DATABASE "{name}" SET {setting}')
            finally:
                await conn.close()

        try:
            asyncio.run(report_statements())
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("setting log_statement needs a superuser on the test server")
        yield url


async def _database(
    logged_url: str, route: dict[str, str], request: pytest.FixtureRequest, *, on: bool
) -> Database:
    url = logged_url
    if route:
        bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
        url = bouncer.url_for(logged_url)
    settings = Settings(
        _env_file=None,
        app_env="testing",
        database_url=url,
        db_pooler=route.get("db_pooler", "none"),
        fastpath="alone" if on else "off",
    )
    database = Database(settings, session_info=fastpath.session_info(settings.fastpath))
    await database.connect()
    return database


@pytest.fixture(params=[True, False], ids=["fastpath-on", "fastpath-off"])
async def reported(
    logged_url: str, route: dict[str, str], request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Database, list[str], bool]]:
    """The app's `Database` (FASTPATH on or off) and the statements its connections ran."""
    on: bool = request.param
    database = await _database(logged_url, route, request, on=on)
    reports: list[str] = []

    def listen(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_log_listener(
            lambda _conn, message: reports.append(message.message)
        )

    event.listen(database.engine.sync_engine.pool, "connect", listen)
    try:
        yield database, reports, on
    finally:
        await database.disconnect()


def _verb(report: str) -> str:
    """`execute <name>: WITH new_car AS ...` -> `WITH`; `statement: BEGIN;` -> `BEGIN`."""
    return report.split(": ", 1)[1].split(maxsplit=1)[0].rstrip(";").upper()


async def _statements_of_one_purchase(
    database: Database, reports: list[str], name: str
) -> list[str]:
    async with database.new_session() as session:
        await users.register_user_if_not_exist(session, name)
    await asyncio.sleep(0.05)  # asyncpg calls log listeners soon after the message, not during
    reports.clear()
    async with database.new_session() as session:
        car = await cars.buy_car(session, name, "Golf")
    await asyncio.sleep(0.05)
    assert car is not None
    return [_verb(report) for report in reports]


async def test_a_purchase_is_one_statement_alone_with_the_switch_on_a_transaction_off(
    reported: tuple[Database, list[str], bool], unique: Callable[[str], str]
) -> None:
    database, reports, on = reported
    statements = await _statements_of_one_purchase(database, reports, unique("f"))
    if on:
        assert statements == ["WITH"], reports  # the data-modifying CTE, sent by itself
    else:
        assert statements == ["BEGIN", "WITH", "COMMIT"], reports


async def test_the_purchase_is_committed_when_it_returns(
    reported: tuple[Database, list[str], bool], logged_url: str, unique: Callable[[str], str]
) -> None:
    database, _, _ = reported
    name = unique("c")
    async with database.new_session() as session:
        await users.register_user_if_not_exist(session, name)
    async with database.new_session() as session:
        car = await cars.buy_car(session, name, "Golf")
        assert car is not None
        # Seen from another connection while the request's session is still open.
        other = await asyncpg.connect(plain_dsn(logged_url))
        try:
            periods = await other.fetchval(
                "SELECT count(*) FROM ownerships WHERE car_id = $1", car.id
            )
        finally:
            await other.close()
    assert periods == 1


async def test_a_session_that_has_begun_gets_the_transactional_path(
    reported: tuple[Database, list[str], bool], unique: Callable[[str], str]
) -> None:
    database, _, _ = reported
    async with database.new_session() as session:
        await session.execute(select(1))  # a statement through the session begins it
        assert query.sends_alone(session) is None
        with pytest.raises(InvalidRequestError, match="already begun"):
            await cars.buy_car(session, unique("r"), "Golf")


async def test_a_violated_constraint_is_an_integrity_error(
    logged_url: str, route: dict[str, str], request: pytest.FixtureRequest
) -> None:
    database = await _database(logged_url, route, request, on=True)
    orphan = (
        insert(CARS)
        .values(model=bindparam("model"), owner_id=bindparam("owner_id"))
        .returning(CARS.c.id)
    )
    try:
        async with database.new_session() as session:
            assert query.sends_alone(session) is fastpath.send_alone
        with pytest.raises(IntegrityError):
            await fastpath.send_alone(database.engine, orphan, {"model": "Golf", "owner_id": -1})
        pool = database.engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0  # the connection went back, the error notwithstanding
    finally:
        await database.disconnect()


async def _statements_of_registering(
    database: Database, reports: list[str], name: str
) -> tuple[list[str], int, bool]:
    """What registering `name` sent, how many times the session began, and whether it created."""
    async with database.new_session() as session:  # the pool's first connection says hello
        await users.get_by_username(session, name)
    await asyncio.sleep(0.05)
    reports.clear()
    begun: list[object] = []
    async with database.new_session() as session:
        event.listen(session.sync_session, "after_begin", lambda *args: begun.append(args))
        user, created = await users.register_user_if_not_exist(session, name)
    await asyncio.sleep(0.05)
    assert user.username == name
    return [_verb(report) for report in reports], len(begun), created


def _read_alone(route: dict[str, str]) -> list[str]:
    """A read outside a block: in autocommit directly, in a transaction behind PgBouncer."""
    return ["BEGIN", "SELECT", "ROLLBACK"] if route else ["SELECT"]


async def test_an_existing_user_is_read_outside_a_block_switch_or_not(
    reported: tuple[Database, list[str], bool],
    route: dict[str, str],
    unique: Callable[[str], str],
) -> None:
    database, reports, on = reported
    name = unique("e")
    async with database.new_session() as session:
        await users.register_user_if_not_exist(session, name)
    statements, begun, created = await _statements_of_registering(database, reports, name)
    assert not created
    # The plain path since reads go through SQLAlchemy (`register_user_if_not_exist`): the
    # switch changes nothing here, and the session never begins.
    assert statements == _read_alone(route), (on, reports)
    assert begun == 0


async def test_a_new_user_is_read_alone_first_then_registered_in_the_block(
    reported: tuple[Database, list[str], bool],
    route: dict[str, str],
    unique: Callable[[str], str],
) -> None:
    database, reports, on = reported
    statements, begun, created = await _statements_of_registering(database, reports, unique("n"))
    assert created
    block = ["BEGIN", "SELECT", "INSERT", "COMMIT"]  # the read again, inside; the insert
    assert statements == [*_read_alone(route), *block], (on, reports)
    assert begun == 1
