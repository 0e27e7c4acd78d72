"""OpenAPI generation: quart-schema's, plus what it cannot say on its own.

- error responses are `application/problem+json`, and every operation documents a `default`
  problem response (routing 404/405, 413 and friends can come from any route);
- text endpoints (the seed's hello/bye) document their `text/plain` body;
- writes document the bearer token they need when `API_TOKENS` is set;
- `document_more` adds header parameters and response fields (headers, links, bodiless
  statuses such as 304) that quart-schema has no decorator for;
- PATCH bodies are also documented as `application/merge-patch+json` (RFC 7396);
- request and response bodies name their model by `$ref` (quart-schema inlines them), so
  client generators make one class per model, not one per operation and status;
- a link to an operation that is not in the document (its module is not enabled, `MODULES`)
  is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart import Quart
from quart_schema import OpenAPIProvider, QuartSchema
from werkzeug.routing import Rule

from best_app.errors import PROBLEM_JSON
from best_app.schemas import Problem

T = TypeVar("T", bound=Callable[..., Any])
_TEXT_ATTRIBUTE = "_best_app_text_response"
_EXTRAS_ATTRIBUTE = "_best_app_openapi_extras"
_WRITES = frozenset({"post", "put", "patch", "delete"})
MERGE_PATCH_JSON = "application/merge-patch+json"


def text_response(description: str) -> Callable[[T], T]:
    """Document that the view answers 200 with a `text/plain` body."""

    def decorator(func: T) -> T:
        setattr(func, _TEXT_ATTRIBUTE, description)
        return func

    return decorator


def document_more(
    *,
    parameters: tuple[dict[str, Any], ...] = (),
    responses: dict[int, dict[str, Any]] | None = None,
) -> Callable[[T], T]:
    """Document header `parameters`, and OpenAPI response fields per status (merged into the
    documented response; a status documented only here has no body)."""

    def decorator(func: T) -> T:
        extras = getattr(func, _EXTRAS_ATTRIBUTE, {"parameters": [], "responses": {}})
        extras["parameters"].extend(parameters)
        for status, fields in (responses or {}).items():
            extras["responses"].setdefault(str(status), {}).update(fields)
        setattr(func, _EXTRAS_ATTRIBUTE, extras)
        return func

    return decorator


def _add_extras(operation: dict[str, Any], extras: dict[str, Any] | None) -> None:
    if extras is None:
        return
    operation["parameters"] = [*operation.get("parameters", []), *extras["parameters"]]
    for status, fields in extras["responses"].items():
        response = operation["responses"].setdefault(status, {"description": ""})
        response.update(fields)


class ProblemAwareOpenAPIProvider(OpenAPIProvider):
    """quart-schema's provider, through its documented override points (`build_paths`).

    quart-schema constructs it with the app (`openapi_provider_class`); it keeps the app's view
    functions, the same dict routes are added to, to find each rule's view.
    """

    def __init__(self, app: Quart, extension: QuartSchema) -> None:
        super().__init__(app, extension)
        self.view_functions = app.view_functions

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        _drop_dangling_links(document)
        return document

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self.view_functions[rule.endpoint]
        text = getattr(func, _TEXT_ATTRIBUTE, None)
        for path_item in paths.values():
            for method, operation in path_item.items():
                self._patch_operation(method, operation, text)
                _add_extras(operation, getattr(func, _EXTRAS_ATTRIBUTE, None))
                _refer_to_models(operation, components)
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
        if "requestBody" in operation:  # every body the API validates is required
            operation["requestBody"]["required"] = True
        body = operation.get("requestBody", {}).get("content", {})
        if method == "patch" and "application/json" in body:
            body[MERGE_PATCH_JSON] = body["application/json"]


def _drop_dangling_links(document: dict[str, Any]) -> None:
    """Leave out each link whose `operationId` names no operation of `document`."""
    operations = [op for item in document["paths"].values() for op in item.values()]
    known = {op.get("operationId") for op in operations}
    for operation in operations:
        for response in operation["responses"].values():
            if "links" in response:  # a new dict: the views' link tables are shared
                links = response["links"].items()
                response["links"] = {k: v for k, v in links if v.get("operationId") in known}


def _refer_to_models(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Move each inlined body schema named by its model's title into the components."""
    bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
    for body in bodies:
        for media in body.get("content", {}).values():
            schema = media.get("schema", {})
            title = schema.get("title")
            if title and "$ref" not in schema and schema.get("type") == "object":
                components.setdefault(title, schema)
                media["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _add_problem_schema(components: dict[str, Any]) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
