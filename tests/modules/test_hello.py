"""The seed's text modules, and `MODULES` switching modules off."""

from __future__ import annotations

from collections.abc import Callable

from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from tests.utils.problems import assert_problem


async def test_hello_greets_my_env_var(client: TestClientProtocol) -> None:
    response = await client.get("/hello/say")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert await response.get_data(as_text=True) == "Hello XY!"


async def test_hello_uses_the_setting(make_settings: Callable[..., Settings]) -> None:
    async with create_app(make_settings(my_env_var="Quart")).test_app() as app:
        response = await app.test_client().get("/hello/say")
    assert await response.get_data(as_text=True) == "Hello Quart!"


async def test_bye(client: TestClientProtocol) -> None:
    response = await client.get("/bye/say")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert await response.get_data(as_text=True) == "Goodbye!"


async def test_disabled_modules_have_no_routes_and_no_openapi_paths(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(modules="hello")).test_app() as app:
        client = app.test_client()
        assert (await client.get("/hello/say")).status_code == 200
        await assert_problem(await client.get("/bye/say"), 404)
        await assert_problem(await client.get("/users"), 404)
        await assert_problem(await client.get("/cars/1"), 404)
        paths = set((await (await client.get("/openapi.json")).get_json())["paths"])
    # Logging in is always on, like health: it is not a feature module.
    login = {"/sessions", "/sessions/current", "/users/{username}/password"}
    assert paths == {"/healthz", "/readyz", "/hello/say", *login}
