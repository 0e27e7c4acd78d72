"""Accounts and sessions through the app: registration, login, logout, password change, and
who may write what."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from argon2 import PasswordHasher
from quart.typing import TestClientProtocol
from sqlalchemy import text

from best_app.config import Settings
from best_app.database import Database
from best_app.ops.admins import create_admin
from best_app.passwords import Passwords
from best_app.repositories import accounts
from tests.utils.auth import GOOD_PASSWORD, bearer, login, register
from tests.utils.problems import assert_problem

ANON = {"Authorization": ""}


async def test_anyone_may_register_with_a_password_and_a_taken_name_is_409(
    client: TestClientProtocol, unique: Callable[[str], str], database: Database
) -> None:
    name = unique("u")
    await register(client, name)
    again = await client.post(
        "/users", json={"username": name, "password": "another good one 42"}, headers=ANON
    )
    await assert_problem(again, 409)
    await login(client, name)  # the stored account is unchanged: the first password still works
    async with database.new_session() as session:
        account = await accounts.find_account(session, name)
    assert account is not None
    assert account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$")
    assert GOOD_PASSWORD not in account.password_hash
    assert not account.is_admin


async def test_registration_without_a_password_needs_an_admin(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    response = await client.post("/users", json={"username": name}, headers=ANON)
    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await register(client, user := unique("u"))
    token = await login(client, user)
    as_user = await client.post("/users", json={"username": name}, headers=bearer(token))
    await assert_problem(as_user, 403)
    await assert_problem(await client.get(f"/users/{name}"), 404)
    assert (await client.post("/users", json={"username": name})).status_code == 201  # service


async def test_nothing_a_user_sends_makes_them_an_admin(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    body = {"username": unique("u"), "password": GOOD_PASSWORD, "is_admin": True}
    await assert_problem(await client.post("/users", json=body, headers=ANON), 422)


async def test_short_long_and_common_passwords_are_refused(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    for password in ("seven77", "x" * 257, "password123", "Qwertyuiop"):
        body = {"username": unique("u"), "password": password}
        response = await client.post("/users", json=body, headers=ANON)
        await assert_problem(response, 422)
    for password in ("eight888", "ü" * 256, "  spaces are fine  "):
        body = {"username": unique("u"), "password": password}
        assert (await client.post("/users", json=body, headers=ANON)).status_code == 201


async def test_a_wrong_password_and_an_unknown_user_get_the_same_problem(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await register(client, name := unique("u"))
    answers = []
    for username, password in ((name, "not the password"), (unique("nobody"), GOOD_PASSWORD)):
        body = {"username": username, "password": password}
        response = await client.post("/sessions", json=body, headers=ANON)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        problem = await response.get_json()
        answers.append({k: v for k, v in problem.items() if k != "request_id"})
    assert answers[0] == answers[1]


async def test_a_user_without_a_password_cannot_log_in(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    assert (await client.post("/users", json={"username": name})).status_code == 201
    body = {"username": name, "password": GOOD_PASSWORD}
    await assert_problem(await client.post("/sessions", json=body, headers=ANON), 401)


async def test_a_session_token_writes_and_is_refused_after_logout(
    client: TestClientProtocol, unique: Callable[[str], str], database: Database
) -> None:
    await register(client, name := unique("u"))
    response = await client.post(
        "/sessions", json={"username": name, "password": GOOD_PASSWORD}, headers=ANON
    )
    assert response.status_code == 201
    body = await response.get_json()
    token = body["token"]
    assert len(token) >= 43
    assert body["expires_at"]
    async with database.new_session() as session:  # stored as its hash only
        stored = (
            (
                await session.execute(
                    text(
                        "SELECT token_hash FROM sessions JOIN users ON users.id = user_id "
                        "WHERE username = :name"
                    ),
                    {"name": name},
                )
            )
            .scalars()
            .all()
        )
    assert stored == [hashlib.sha256(token.encode()).digest()]
    bought = await client.post(f"/users/{name}/cars", json={"model": "Golf"}, headers=bearer(token))
    assert bought.status_code == 201
    assert (await client.delete("/sessions/current", headers=bearer(token))).status_code == 204
    replay = await client.post(f"/users/{name}/cars", json={"model": "Golf"}, headers=bearer(token))
    await assert_problem(replay, 401)
    assert replay.headers["WWW-Authenticate"].startswith("Bearer")
    await assert_problem(await client.delete("/sessions/current", headers=bearer(token)), 401)


async def test_writes_without_a_credential_are_401(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    for method, path in (
        ("POST", f"/users/{unique('u')}/cars"),
        ("PATCH", f"/users/{unique('u')}"),
        ("DELETE", "/cars/1"),
        ("DELETE", "/sessions/current"),
    ):
        response = await client.open(path, method=method, json={}, headers=ANON)
        await assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_an_expired_or_idle_session_is_refused(
    client: TestClientProtocol, unique: Callable[[str], str], database: Database
) -> None:
    tokens = {}
    for case in ("expired", "idle", "fresh"):
        await register(client, name := unique(case))
        tokens[case] = (name, await login(client, name))
    async with database.new_session() as session, session.begin():
        for case, column in (("expired", "expires_at"), ("idle", "last_used_at")):
            await session.execute(
                text(
                    f"UPDATE sessions SET {column} = now() - interval '2 days' "  # noqa: S608
                    "WHERE user_id = (SELECT id FROM users WHERE username = :name)"
                ),
                {"name": tokens[case][0]},
            )
    for case, (name, token) in tokens.items():
        response = await client.patch(
            f"/users/{name}", json={"role": "student"}, headers=bearer(token)
        )
        assert response.status_code == (200 if case == "fresh" else 401), case


async def test_users_may_change_only_themselves_and_admins_anyone(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await register(client, alice := unique("a"))
    await register(client, bob := unique("b"))
    bobs = bearer(await login(client, bob))
    patch = {"role": "student"}
    await assert_problem(await client.patch(f"/users/{alice}", json=patch, headers=bobs), 403)
    await assert_problem(
        await client.post(f"/users/{alice}/cars", json={"model": "X"}, headers=bobs), 403
    )
    await assert_problem(await client.delete(f"/users/{alice}", headers=bobs), 403)
    assert (await (await client.get(f"/users/{alice}")).get_json())["role"] == "employee"
    missing = unique("missing")
    await assert_problem(await client.patch(f"/users/{missing}", json=patch, headers=bobs), 404)
    await assert_problem(await client.delete(f"/users/{missing}", headers=bobs), 404)
    assert (await client.patch(f"/users/{bob}", json=patch, headers=bobs)).status_code == 200
    assert (await client.patch(f"/users/{alice}", json=patch)).status_code == 200  # service
    assert (await client.delete(f"/users/{bob}", headers=bobs)).status_code == 204
    await assert_problem(await client.patch(f"/users/{alice}", json=patch, headers=bobs), 401)


async def test_a_password_change_ends_the_other_sessions(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await register(client, name := unique("u"))
    here, elsewhere = await login(client, name), await login(client, name)
    path = f"/users/{name}/password"
    wrong = {"current_password": "not it at all", "new_password": "a brand new secret"}
    await assert_problem(await client.put(path, json=wrong, headers=bearer(here)), 403)
    change = {"current_password": GOOD_PASSWORD, "new_password": "a brand new secret"}
    assert (await client.put(path, json=change, headers=bearer(here))).status_code == 204
    patch = {"role": "teacher"}
    assert (
        await client.patch(f"/users/{name}", json=patch, headers=bearer(here))
    ).status_code == 200
    await assert_problem(
        await client.patch(f"/users/{name}", json=patch, headers=bearer(elsewhere)), 401
    )
    await login(client, name, "a brand new secret")
    old = {"username": name, "password": GOOD_PASSWORD}
    await assert_problem(await client.post("/sessions", json=old, headers=ANON), 401)


async def test_a_hash_with_older_parameters_is_upgraded_at_login(
    client: TestClientProtocol, unique: Callable[[str], str], database: Database
) -> None:
    name = unique("u")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD_PASSWORD)
    assert (await client.post("/users", json={"username": name})).status_code == 201
    async with database.new_session() as session, session.begin():
        await session.execute(
            text("UPDATE users SET password_hash = :h WHERE username = :name"),
            {"h": weak, "name": name},
        )
    await login(client, name)
    async with database.new_session() as session:
        account = await accounts.find_account(session, name)
    assert account is not None
    assert account.password_hash not in (None, weak)
    assert not Passwords(1).hasher.check_needs_rehash(account.password_hash or "")
    await login(client, name)  # the new hash verifies the same password


async def test_create_admin_makes_an_admin_who_may_change_anyone(
    client: TestClientProtocol, unique: Callable[[str], str], settings: Settings
) -> None:
    await create_admin(settings, admin := unique("admin"), GOOD_PASSWORD)
    await register(client, someone := unique("u"))
    admins = bearer(await login(client, admin))
    assert (
        await client.patch(f"/users/{someone}", json={"role": "teacher"}, headers=admins)
    ).status_code == 200
    assert (
        await client.post("/users", json={"username": unique("u")}, headers=admins)
    ).status_code == 201


async def test_last_use_is_recorded_at_most_once_a_minute(
    client: TestClientProtocol, unique: Callable[[str], str], database: Database
) -> None:
    await register(client, name := unique("u"))
    token = bearer(await login(client, name))
    query = text(
        "SELECT last_used_at, now() - last_used_at < interval '10 seconds' AS fresh "
        "FROM sessions JOIN users ON users.id = user_id WHERE username = :name"
    )

    async def last_use() -> tuple[object, bool]:
        async with database.new_session() as session:
            row = (await session.execute(query, {"name": name})).one()
        return row.last_used_at, row.fresh

    async with database.new_session() as session, session.begin():
        await session.execute(
            text(
                "UPDATE sessions SET last_used_at = now() - interval '5 minutes' "
                "WHERE user_id = (SELECT id FROM users WHERE username = :name)"
            ),
            {"name": name},
        )
    patch = {"role": "student"}
    assert (await client.patch(f"/users/{name}", json=patch, headers=token)).status_code == 200
    touched, fresh = await last_use()
    assert fresh  # older than a minute: recorded
    assert (await client.patch(f"/users/{name}", json=patch, headers=token)).status_code == 200
    assert await last_use() == (touched, True)  # within the minute: not written again
