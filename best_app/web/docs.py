"""The interactive API docs at `/docs`, with every asset served by the app (no CDN).

quart-schema renders the Swagger UI page; the assets come from the `swagger-ui-py` wheel,
which carries Swagger UI 5 (needed for OpenAPI 3.1). The page starts Swagger UI with one
inline script, so its Content-Security-Policy allows exactly that script by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import swagger_ui
from quart import Blueprint, Quart, Response, current_app, send_from_directory
from quart_schema import QuartSchema, hide
from werkzeug.exceptions import NotFound

blueprint = Blueprint("docs", __name__)

_ASSETS = Path(swagger_ui.__file__).parent / "static"
_SERVED = frozenset(
    {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-16x16.png", "favicon-32x32.png"}
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: str) -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        # Swagger UI sets style attributes from its scripts.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


@blueprint.get("/docs")
@hide
async def docs_page() -> Response:
    schema: QuartSchema = current_app.extensions["QUART_SCHEMA"]
    html = await schema.swagger_ui()
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = docs_csp(html)
    return response


@blueprint.get("/docs/static/<name>")
@hide
async def docs_asset(name: str) -> Response:
    if name not in _SERVED:
        raise NotFound()
    response = await send_from_directory(_ASSETS, name)
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def init_app(app: Quart) -> None:
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = "/docs/static/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = "/docs/static/swagger-ui.css"
    app.register_blueprint(blueprint)
