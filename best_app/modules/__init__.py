"""The feature modules: one blueprint each. `MODULES` (settings) picks which an app registers.

`MODULES` accepts exactly their blueprints' names (`config.ALL_MODULES`, the same names:
settings know names, never blueprints). (Health, metrics and docs routes are machinery,
always on: `best_app.web`, `best_app.observability`.)
"""

from collections.abc import Iterable

from quart import Blueprint

from best_app.modules import cars, goodbye, hello, users

FEATURES: tuple[Blueprint, ...] = (
    hello.blueprint,
    goodbye.blueprint,
    users.blueprint,
    cars.blueprint,
)
BLUEPRINTS: dict[str, Blueprint] = {blueprint.name: blueprint for blueprint in FEATURES}


def enabled(names: Iterable[str]) -> list[Blueprint]:
    """The blueprints of the modules `MODULES` names (validated with the settings)."""
    return [BLUEPRINTS[name] for name in names]
