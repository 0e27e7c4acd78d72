"""`best_app.web.openapi`: what the provider adds to quart-schema's document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from best_app import create_app
from best_app.config import Settings


async def _document(settings: Settings) -> dict[str, Any]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        spec: dict[str, Any] = await (await test_app.test_client().get("/openapi.json")).get_json()
    return spec


def _links(spec: dict[str, Any]) -> dict[str, str]:
    """Every link of the document: its name, and the operation it names."""
    return {
        name: link["operationId"]
        for item in spec["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for name, link in response.get("links", {}).items()
    }


@pytest.mark.parametrize("modules", ["users", "cars", "users,cars"])
async def test_every_link_names_an_operation_of_the_document(
    make_settings: Callable[..., Settings], modules: str
) -> None:
    spec = await _document(make_settings(modules=modules))
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert _links(spec)
    assert set(_links(spec).values()) <= operations


async def test_a_link_to_an_enabled_module_stays(make_settings: Callable[..., Settings]) -> None:
    without_cars = await _document(make_settings(modules="users"))
    with_cars = await _document(make_settings(modules="users,cars"))  # after: nothing shared lost
    assert "BuyCar" not in _links(without_cars)
    assert _links(with_cars)["BuyCar"] == "post_buy_car"
