"""Only database failures are 503s: an `OSError` that does not come from the driver is a 500."""

from __future__ import annotations

from collections.abc import Callable

from best_app import create_app
from best_app.config import Settings
from tests.problems import assert_problem


async def test_an_oserror_outside_the_driver_is_a_500_not_a_503(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())

    @app.get("/raise-an-oserror")
    async def raise_an_oserror() -> str:
        raise FileNotFoundError("a file, not the database")

    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/raise-an-oserror")
    await assert_problem(response, 500)
    assert "Retry-After" not in response.headers
