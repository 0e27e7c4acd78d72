"""Async data functions; each takes the request's `AsyncSession`, never sees a request, and
returns plain rows (`rows.py`), never mapped entities."""
