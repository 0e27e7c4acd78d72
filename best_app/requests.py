"""The app's request class: JSON is parsed strictly (orjson), and a body that is not JSON is a
clear 400, never a 500: malformed text, invalid UTF-8, NaN, and nesting deeper than orjson's
limit (1024) alike."""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from quart import Request as QuartRequest

from best_app.errors import APIError


class Request(QuartRequest):
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
