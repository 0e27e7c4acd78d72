"""Rate limits on every route, explicit exemptions, and the failure policy.

- Every route: `RATE_LIMIT_DEFAULT` per client and route, in a `before_request` hook, except
  the views marked `@rate_exempt` (`/healthz`, `/readyz`, `/metrics`: operators and
  orchestrators poll them) and requests with a service token (automation, the benchmark).
- Logins: `RATE_LIMIT_LOGIN` per username (known or not, so a 429 tells nothing) counts each
  attempt, and a successful one is given back, so the count is of failures; ten times that
  per client address. Registrations with a password: `RATE_LIMIT_REGISTER` per client.
- Over a limit: 429 problem+json with `Retry-After` and `RateLimit-Limit`,
  `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
- The client is the socket peer, unless the peer is in `TRUSTED_PROXIES`; only then is
  `X-Forwarded-For` read (`observability.access_log.client_address`), so a client cannot
  reset its count with that header.
- The store fails (Redis down): ordinary routes go on unlimited (logged, and counted in
  `/metrics`); login and registration answer 503 with `Retry-After` (fail closed).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from quart import Quart, current_app, request
from redis.exceptions import RedisError

from best_app.config import Settings
from best_app.errors import RETRY_AFTER_SECONDS, APIError
from best_app.observability.access_log import client_address
from best_app.observability.metrics import RATE_LIMIT_STORE_ERRORS, RATE_LIMITED
from best_app.web.ratelimit_store import Count, MemoryStore, RedisStore, Store
from best_app.web.security import carries_service_token

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[object]])
_EXEMPT = "best_app_rate_exempt"
_EXTENSION = "best_app.rate_limiter"
_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """`N/second`, `N/minute` or `N/hour` (the settings check the form)."""
        count, _, unit = text.partition("/")
        return cls(int(count), _SECONDS[unit])


def rate_exempt(view: F) -> F:
    """Exempt a view from the default limit (put it right under the route decorator)."""
    setattr(view, _EXEMPT, True)
    return view


def is_exempt(view: object) -> bool:
    return bool(getattr(view, _EXEMPT, False))


def too_many(limit: Limit, count: Count) -> APIError:
    return APIError(
        429,
        "Too many requests; retry after the time Retry-After gives.",
        type_="urn:best-app:problem:rate-limited",
        headers={
            "Retry-After": str(count.retry_after),
            "RateLimit-Limit": str(limit.count),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(count.retry_after),
        },
    )


def store_unavailable() -> APIError:
    return APIError(
        503,
        "Rate limits cannot be checked right now; retry shortly.",
        type_="urn:best-app:problem:rate-limit-unavailable",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.default = Limit.parse(settings.rate_limit_default)
        self.login = Limit.parse(settings.rate_limit_login)
        # Per client address: ten times the per-username limit (one address, many users).
        self.login_per_client = Limit(self.login.count * 10, self.login.seconds)
        self.register = Limit.parse(settings.rate_limit_register)
        self._trusted = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
        )
        self._store: Store | None = None

    def init_app(self, app: Quart) -> None:
        app.extensions[_EXTENSION] = self
        app.after_serving(self.close)
        app.before_request(self.check_route)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
        self._store = None

    @property
    def store(self) -> Store:
        """Made at first use, in the serving loop (a Redis client must not cross loops)."""
        if self._store is None:
            settings = self.settings
            self._store = (
                RedisStore(settings.redis_url, settings.rate_limit_prefix)
                if settings.redis_url
                else MemoryStore()
            )
        return self._store

    def client(self) -> str:
        return client_address(request.scope, self._trusted) or "unknown"

    async def _add(self, key: str, amount: int, limit: Limit, *, fail_closed: bool) -> Count | None:
        try:
            return await self.store.add(key, amount, limit.seconds)
        except (RedisError, OSError) as error:
            RATE_LIMIT_STORE_ERRORS.inc()
            log.warning("rate limit store unavailable: %s", type(error).__name__)
            if fail_closed:
                raise store_unavailable() from None
            return None

    async def hit(self, key: str, limit: Limit, *, route: str, fail_closed: bool) -> None:
        """Count one request under `key`; 429 past `limit`."""
        count = await self._add(key, 1, limit, fail_closed=fail_closed)
        if count is not None and count.count > limit.count:
            RATE_LIMITED.labels(route).inc()
            raise too_many(limit, count)

    async def check_route(self) -> None:
        """`before_request`: the default limit, per client and route."""
        endpoint = request.endpoint or "<unmatched>"
        if is_exempt(current_app.view_functions.get(endpoint)):
            return
        if carries_service_token(self.settings.api_tokens):
            return
        key = f"route:{endpoint}:{self.client()}"
        await self.hit(key, self.default, route=endpoint, fail_closed=False)

    async def check_login(self, username: str) -> None:
        """Before a login is checked: per client, then this attempt against the username."""
        route = "sessions.create_session"
        client = f"login-client:{self.client()}"
        await self.hit(client, self.login_per_client, route=route, fail_closed=True)
        await self.hit(f"login-user:{username}", self.login, route=route, fail_closed=True)

    async def login_succeeded(self, username: str) -> None:
        """A login that succeeded counts against neither the username nor the client."""
        await self._add(f"login-user:{username}", -1, self.login, fail_closed=False)
        client = f"login-client:{self.client()}"
        await self._add(client, -1, self.login_per_client, fail_closed=False)

    async def check_registration(self) -> None:
        route = "users.create_user"
        key = f"register:{self.client()}"
        await self.hit(key, self.register, route=route, fail_closed=True)


def limiter() -> RateLimiter:
    found: RateLimiter = current_app.extensions[_EXTENSION]
    return found


def init_app(app: Quart, settings: Settings) -> None:
    RateLimiter(settings).init_app(app)
