"""OpenAPI 3.1 and the offline docs page."""

from __future__ import annotations

import base64
import hashlib
import re

from quart.typing import TestClientProtocol

SPEC_OPERATIONS = {
    ("post", "/users"),
    ("get", "/users"),
    ("get", "/users/{username}"),
    ("patch", "/users/{username}"),
    ("delete", "/users/{username}"),
    ("post", "/users/{username}/cars"),
    ("get", "/users/{username}/cars"),
    ("get", "/cars/{car_id}"),
    ("patch", "/cars/{car_id}"),
    ("post", "/cars/{car_id}/sale"),
    ("get", "/cars/{car_id}/owners"),
    ("delete", "/cars/{car_id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/hello/say"),
    ("get", "/bye/say"),
    ("post", "/sessions"),
    ("delete", "/sessions/current"),
    ("put", "/users/{username}/password"),
}


async def test_openapi_lists_every_operation(client: TestClientProtocol) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = await response.get_json()
    assert spec["openapi"].startswith("3.1")
    operations = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert operations == SPEC_OPERATIONS


async def test_openapi_documents_problem_responses(client: TestClientProtocol) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "application/problem+json" in responses["default"]["content"], (method, path)
            for status, response in responses.items():
                if status != "default" and int(status) >= 400:
                    assert set(response["content"]) == {"application/problem+json"}
    create = spec["paths"]["/users"]["post"]
    assert {"200", "201", "422"} <= set(create["responses"])
    assert create["security"] == [{}, {"bearer": []}]  # with a password, no credential needed
    hello = spec["paths"]["/hello/say"]["get"]["responses"]["200"]
    assert set(hello["content"]) == {"text/plain"}


async def test_docs_page_uses_local_assets_and_a_hashed_inline_script(
    client: TestClientProtocol,
) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    html = await response.get_data(as_text=True)
    assert "http://" not in html
    assert "https://" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/docs/static/") for source in sources)
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert len(await asset.get_data()) > 1000


async def test_docs_serve_swagger_ui_5(client: TestClientProtocol) -> None:
    bundle = await (await client.get("/docs/static/swagger-ui-bundle.js")).get_data(as_text=True)
    # Swagger UI 4 cannot render OpenAPI 3.1; its 5.x bundle knows the OpenAPI 3.1 spec.
    assert "OpenAPI 3.1" in bundle or "openapi31" in bundle.lower()


async def test_docs_serve_only_the_known_assets(client: TestClientProtocol) -> None:
    assert (await client.get("/docs/static/swagger-editor-bundle.js")).status_code == 404
    assert (await client.get("/docs/static/..%2F__init__.py")).status_code == 404
    assert (await client.get("/docs/static/../../config.py")).status_code == 404
