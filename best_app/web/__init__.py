"""The HTTP machinery around the domain: ASGI middleware, the request class, auth and CORS,
the OpenAPI document, the docs and health routes."""
