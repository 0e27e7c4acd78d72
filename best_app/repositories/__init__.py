"""Async data functions; each takes the request's `AsyncSession` and never sees a request."""
