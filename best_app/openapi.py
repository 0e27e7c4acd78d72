"""OpenAPI generation: quart-schema's, plus what it cannot say on its own.

- error responses are `application/problem+json`, and every operation documents a `default`
  problem response (routing 404/405, 413 and friends can come from any route);
- text endpoints (the seed's hello/bye) document their `text/plain` body;
- writes document the bearer token they need when `API_TOKENS` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from best_app.errors import PROBLEM_JSON
from best_app.schemas import Problem

T = TypeVar("T", bound=Callable[..., Any])
_TEXT_ATTRIBUTE = "_best_app_text_response"
_WRITES = frozenset({"post", "put", "patch", "delete"})


def text_response(description: str) -> Callable[[T], T]:
    """Document that the view answers 200 with a `text/plain` body."""

    def decorator(func: T) -> T:
        setattr(func, _TEXT_ATTRIBUTE, description)
        return func

    return decorator


class ProblemAwareOpenAPIProvider(OpenAPIProvider):
    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        text = getattr(func, _TEXT_ATTRIBUTE, None)
        for path_item in paths.values():
            for method, operation in path_item.items():
                self._patch_operation(method, operation, text)
        if paths:
            _add_problem_schema(components)
        return paths, components

    @staticmethod
    def _patch_operation(method: str, operation: dict[str, Any], text: str | None) -> None:
        # quart-schema keys statuses by int; OpenAPI keys are strings (and "default").
        responses = {str(status): value for status, value in operation["responses"].items()}
        operation["responses"] = responses
        if text is not None:
            responses["200"] = {
                "description": text,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        for status, response in responses.items():
            content = response.get("content", {})
            if int(status) >= 400 and "application/json" in content:
                response["content"] = {PROBLEM_JSON: content["application/json"]}
        responses["default"] = {
            "description": "An error, as RFC 9457 problem details",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if method in _WRITES:
            operation.setdefault("security", [{"bearer": []}])


def _add_problem_schema(components: dict[str, Any]) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
