"""Redis/Valkey backend: one store shared by every worker on every machine.

Values are the engine's binary entry format (never pickle): a value that does
not decode -- corrupt, written by something else, or a digest collision -- is
a miss, counted and deleted. The backend fails open: a timeout or an error
raises to the route, which serves the request uncached, and after repeated
failures a circuit breaker skips Redis entirely for a cooldown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import _core
from .._entry import StoredResponse
from .base import CacheBackend

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

_SCAN_BATCH = 500


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures and stays open for
    ``cooldown`` seconds; then one request may try again (half-open)."""

    __slots__ = ("_failures", "_opened_at", "cooldown", "threshold")

    def __init__(self, threshold: int = 5, cooldown: float = 5.0) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        if not cooldown > 0:
            raise ValueError(f"cooldown must be positive, got {cooldown}")
        self.threshold = threshold
        self.cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None

    def allows(self) -> bool:
        if self._opened_at is None:
            return True
        if time.monotonic() - self._opened_at >= self.cooldown:
            self._opened_at = None  # half-open: the next outcome decides
            self._failures = self.threshold - 1
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= self.threshold:
            self._opened_at = time.monotonic()


class RedisBackend(CacheBackend):
    """Stores responses in Redis or Valkey through redis-py's asyncio client.

    Pass a client -- ``redis.asyncio.Redis`` (standalone, or from
    ``Sentinel.master_for``) or ``redis.asyncio.cluster.RedisCluster`` -- or
    use :meth:`from_url`. Keys are ``<prefix><namespace>:<digest>``; entries
    without a ttl never expire in Redis, so give the server a
    ``maxmemory-policy`` such as ``allkeys-lfu``.

    ```py
    cache = FastAPICache(RedisBackend.from_url("redis://localhost:6379/0"))
    ```
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        namespace: str | None = None,
        prefix: str = "fcr:",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError("namespace must be a str or None")
        self.client = client
        self.namespace = namespace
        self.prefix = prefix
        self.breaker = breaker or CircuitBreaker()
        self._counters = {"rejected_values": 0, "skipped_breaker_open": 0}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.25,
        namespace: str | None = None,
        prefix: str = "fcr:",
        **client_options: Any,
    ) -> RedisBackend:
        """A backend on ``redis.asyncio.Redis.from_url(url)`` with short timeouts
        (``timeout`` seconds to connect and per command): a slow store must not
        slow the app down."""
        from redis.asyncio import Redis

        client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, **client_options
        )
        return cls(client, namespace=namespace, prefix=prefix)

    def redis_key(self, key: str, namespace: str | None = None) -> str:
        """The Redis key of a cache key (the namespace is escaped so that one
        namespace's keys never match another's pattern)."""
        return f"{self._namespace_prefix(namespace)}{_core.key_digest(key)}"

    def _namespace_prefix(self, namespace: str | None) -> str:
        name = namespace if namespace is not None else (self.namespace or "")
        return f"{self.prefix}{quote(name, safe='')}:"

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        if not self.breaker.allows():
            self._counters["skipped_breaker_open"] += 1
            return None
        redis_key = self.redis_key(key, namespace)
        raw = await self._call(self.client.get(redis_key))
        if raw is None:
            return None
        decoded = _core.decode_response(bytes(raw), key)
        if decoded is None:
            self._counters["rejected_values"] += 1
            await self._call(self.client.delete(redis_key))
            return None
        status, headers, body, media_type, stored_at, modified, lifetime, revalidate, _ = decoded
        return StoredResponse(
            status,
            headers,
            body,
            media_type,
            stored_at=stored_at,
            last_modified=modified,
            lifetime=lifetime,
            revalidate=revalidate,
        )

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        if not self.breaker.allows():
            self._counters["skipped_breaker_open"] += 1
            return False
        data = _core.encode_response(
            key,
            value.status_code,
            value.raw_headers,
            value.body,
            value.media_type,
            value.stored_at,
            value.last_modified,
            value.lifetime,
            value.revalidate,
        )
        expiry = None if ttl is None else max(1, int(ttl * 1000))
        return bool(
            await self._call(self.client.set(self.redis_key(key, namespace), data, px=expiry))
        )

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return int(await self._call(self.client.delete(self.redis_key(key, namespace))))

    async def clear(self, namespace: str | None = None) -> int:
        pattern = _glob_escape(self._namespace_prefix(namespace)) + "*"
        removed = 0
        batch: list[Any] = []
        async for redis_key in self.client.scan_iter(match=pattern, count=_SCAN_BATCH):
            batch.append(redis_key)
            if len(batch) >= _SCAN_BATCH:
                removed += int(await self._call(self.client.unlink(*batch)))
                batch.clear()
        if batch:
            removed += int(await self._call(self.client.unlink(*batch)))
        return removed

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    def stats(self) -> dict[str, Any]:
        return dict(self._counters)

    async def _call(self, command: Any) -> Any:
        try:
            result = await command
        except Exception:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return result


def _glob_escape(text: str) -> str:
    # Redis MATCH patterns are globs: escape their special characters.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
