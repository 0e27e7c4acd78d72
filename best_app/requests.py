"""The app's request class.

JSON is parsed strictly (orjson), and a body that is not JSON is a clear 400, never a 500:
malformed text, invalid UTF-8, NaN, and nesting deeper than orjson's limit (1024) alike.
The matched route template is also recorded in the ASGI scope, where `best_app.edge` labels
the request's metrics with it.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from quart import Request as QuartRequest
from quart.routing import QuartRule

from best_app.edge import ROUTE_KEY
from best_app.errors import APIError


class Request(QuartRequest):
    _url_rule: QuartRule | None = None

    @property
    def url_rule(self) -> QuartRule | None:
        return self._url_rule

    @url_rule.setter
    def url_rule(self, rule: QuartRule | None) -> None:
        # Quart sets this once, when it matches the request to a route.
        self._url_rule = rule
        if rule is not None:
            self.scope[ROUTE_KEY] = rule.rule  # type: ignore[literal-required]

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        data = await self.get_data(cache=cache, as_text=False)
        try:
            result = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if not silent:
                self.on_json_loading_failed(error)
            result = None
        if cache:
            self._cached_json[silent] = result
        return result

    def on_json_loading_failed(self, error: Exception) -> NoReturn:
        raise APIError(
            400, "The request body is not valid JSON.", type_="urn:best-app:problem:malformed-json"
        ) from None
