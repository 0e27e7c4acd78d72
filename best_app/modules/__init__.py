"""The feature modules: one blueprint each. `MODULES` (settings) picks which an app registers.

This tuple is the one list of modules: settings accept exactly their blueprints' names.
(Health, metrics and docs routes are machinery, always on: `best_app.web`,
`best_app.observability`.)
"""

from quart import Blueprint

from best_app.modules import cars, goodbye, hello, users

FEATURES: tuple[Blueprint, ...] = (
    hello.blueprint,
    goodbye.blueprint,
    users.blueprint,
    cars.blueprint,
)
BLUEPRINTS: dict[str, Blueprint] = {blueprint.name: blueprint for blueprint in FEATURES}
