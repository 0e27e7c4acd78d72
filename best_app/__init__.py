"""best_app: the app factory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from quart import Quart
from quart_schema import Info, QuartSchema

from best_app import config, fastpath
from best_app.config import Settings, load_settings
from best_app.database import Database
from best_app.errors import register_error_handlers
from best_app.modules import enabled
from best_app.modules import sessions as login_sessions
from best_app.observability import metrics, tracing
from best_app.observability import routes as metrics_routes
from best_app.observability.logs import configure_logging
from best_app.schemas import UsernameConverter
from best_app.web import auth, docs, draining, health, ratelimit, security
from best_app.web.admission import Admission, admission_limit
from best_app.web.middleware import Edge, record_route
from best_app.web.openapi import ProblemAwareOpenAPIProvider
from best_app.web.request import Request

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> Quart:
    """Build the app: settings -> database -> modules -> errors and headers.

    `FASTPATH`'s tricks (`best_app.fastpath`, none by default) are installed here, from
    above: nothing below the factory imports them. Traces go where the `OTEL_*` environment
    variables say (off without an exporter), or to `tracer_provider` when one is given
    (`best_app.observability.tracing`).
    """
    settings = settings if settings is not None else load_settings()
    configure_logging(settings)
    tricks = fastpath.switched_on(settings)  # a trick on an unpinned release is refused (log)

    app = Quart(__name__)
    app.request_class = Request
    app.url_map.converters["username"] = UsernameConverter
    config.init_app(app, settings)

    database = Database(settings, session_info=fastpath.session_info(tricks))
    database.init_app(app)

    database.on_engine(metrics.instrument_pool)  # the pool gauges, once the engine exists
    drain = draining.init_app(app)
    # quart-schema's own doc pages load from CDNs; `best_app.web.docs` serves /docs instead.
    QuartSchema(
        app,
        info=Info(title="best_app", version="0.1.0"),
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        openapi_provider_class=ProblemAwareOpenAPIProvider,
    )
    docs.init_app(app)

    # Always on: operators and orchestrators need them whatever else is enabled.
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics_routes.blueprint)
    app.register_blueprint(login_sessions.blueprint)  # logging in is not a feature to turn off
    for blueprint in enabled(settings.modules):
        app.register_blueprint(blueprint)

    register_error_handlers(app)
    app.before_request(record_route)  # first hook: a request refused by the next is labelled too
    security.init_app(app, settings)
    ratelimit.init_app(app, settings)  # before auth: a refused request costs no lookup
    auth.init_app(app, settings)
    metrics.init_app(app)
    tracing.init_app(app, os.environ, database.on_engine, tracer_provider)  # inside Edge
    inner = app.asgi_app
    limit = admission_limit(settings)
    if limit is not None:  # inside Edge: a refusal gets the request id, headers and metrics
        inner = Admission(inner, limit, metrics.REFUSED.inc)
    edge = Edge(inner, metrics.observe, closing=lambda: drain.draining)
    app.asgi_app = edge  # type: ignore[method-assign]  # Quart's documented middleware hook
    fastpath.install(app, tricks)
    return app
