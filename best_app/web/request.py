"""The app's request class: JSON is parsed strictly (orjson), and a body that is not JSON is a
clear 400, never a 500: malformed text, invalid UTF-8, NaN, and nesting deeper than orjson's
limit (1024) alike.

Only public API: `get_json` keeps its documented signature and contract (None for a body that
is not `Content-Type: application/json` unless forced; `on_json_loading_failed`, werkzeug's
documented hook, for a body that does not parse). The raw body comes from `get_data`, cached
per request by Quart, so a second call parses the same bytes again.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from quart import Request as QuartRequest

from best_app.errors import APIError


class Request(QuartRequest):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not (force or self.is_json):
            return None
        data = await self.get_data(cache=cache, as_text=False)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if silent:
                return None
            self.on_json_loading_failed(error)

    def on_json_loading_failed(self, error: Exception | None) -> NoReturn:
        raise APIError(
            400, "The request body is not valid JSON.", type_="urn:best-app:problem:malformed-json"
        ) from None
