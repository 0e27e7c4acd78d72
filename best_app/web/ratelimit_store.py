"""Where rate limit counts live: Redis, shared by every replica, or this process's memory.

Both count in fixed windows and are exact under concurrency: Redis runs one Lua script per
hit (INCRBY, and PEXPIRE on the window's first hit, atomically: redis-py's documented
`register_script`); the memory store is changed only by the event loop's one thread, with no
await between its read and its write.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

# KEYS[1]: the counter; ARGV[1]: how much to add (0 reads, -1 gives back); ARGV[2]: the window
# in ms. Returns the count and the milliseconds left in the window.
_HIT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


@dataclass(frozen=True, slots=True)
class Count:
    """A key's count in the current window, and the seconds until the window ends."""

    count: int
    reset_after: float

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_after))


class Store(Protocol):
    async def add(self, key: str, amount: int, window: int) -> Count:
        """Add `amount` to `key`'s count in its `window` (seconds) and return the count."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """One process's counts (enough for one replica; `REDIS_URL` for more)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    async def add(self, key: str, amount: int, window: int) -> Count:
        now = time.monotonic()
        count, ends = self._counts.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window
            if len(self._counts) > 100_000:  # forget windows that have ended
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        count += amount
        self._counts[key] = (count, ends)
        return Count(count, ends - now)

    async def close(self) -> None:
        self._counts.clear()


class RedisStore:
    """Counts in Redis, shared by every replica pointed at it. A Redis error propagates (the
    caller's failure policy decides); connecting and each command are bounded by `timeout`."""

    def __init__(self, url: str, prefix: str, timeout: float = 0.5) -> None:
        self._redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        self._prefix = prefix
        self._hit = self._redis.register_script(_HIT)

    async def add(self, key: str, amount: int, window: int) -> Count:
        count, ttl = await self._hit(keys=[self._prefix + key], args=[amount, window * 1000])
        return Count(int(count), int(ttl) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()
