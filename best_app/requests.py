"""The app's request class: a body that is not JSON is a clear 400, never a 500."""

from __future__ import annotations

from typing import Any, NoReturn

from quart import Request as QuartRequest

from best_app.errors import APIError


class Request(QuartRequest):
    def on_json_loading_failed(self, error: Exception) -> NoReturn:
        raise APIError(
            400, "The request body is not valid JSON.", type_="urn:best-app:problem:malformed-json"
        ) from None

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            self.on_json_loading_failed(ValueError("invalid UTF-8"))
