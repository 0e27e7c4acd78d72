"""One blueprint per module; `MODULES` picks which of them an app registers."""

from quart import Blueprint

from best_app.modules import cars, goodbye, health, hello, metrics, users

# Keyed by the names `MODULES` accepts (see `best_app.config.AVAILABLE_MODULES`).
BLUEPRINTS: dict[str, Blueprint] = {
    "hello": hello.blueprint,
    "bye": goodbye.blueprint,
    "users": users.blueprint,
    "cars": cars.blueprint,
}
# Always on: operators and orchestrators need them whatever else is enabled.
ALWAYS_ON: tuple[Blueprint, ...] = (health.blueprint, metrics.blueprint)
