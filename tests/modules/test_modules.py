"""The feature modules (`best_app.modules`): the names settings accept are their blueprints'."""

from __future__ import annotations

from best_app.config import ALL_MODULES
from best_app.modules import BLUEPRINTS, FEATURES, enabled


def test_the_names_settings_accept_are_the_feature_blueprints_in_order() -> None:
    assert tuple(BLUEPRINTS) == ALL_MODULES


def test_enabled_gives_the_named_blueprints_in_the_order_named() -> None:
    hello, bye, *_ = FEATURES
    assert enabled(["bye", "hello"]) == [bye, hello]
