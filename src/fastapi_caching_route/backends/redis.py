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
from .base import DEFAULT_MAX_VARIANTS, CacheBackend, RequestHeaders, validate_max_variants

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

_SCAN_BATCH = 500

# The responses of a key that carry Vary (RFC 9111 section 4.1) live beside
# it: the key itself holds a vary index (the Vary names), each variant a key
# of its own (<key>:<digest of its secondary key>), and a sorted set
# (<key>:order) their age, so that the oldest beyond max_variants go. All of
# them share the key's hash tag, so one Lua script updates them atomically on
# one Cluster node. Scripts touch only keys of that one slot.

# KEYS: key, variant, order. ARGV: index value, variant value, px (0: none),
# max variants, score. Returns how many old variants were dropped.
_STORE_VARIANT = """
local px = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current ~= ARGV[1] then
  -- Another Vary (or a plain response): its variants answer no request now.
  for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    redis.call('DEL', member)
  end
  redis.call('DEL', KEYS[3])
  ttl = -2
end
if px > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', px)
else
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[3], ARGV[5], KEYS[2])
if px == 0 or ttl == -1 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PERSIST', KEYS[3])
else
  local keep = math.max(px, ttl)
  redis.call('SET', KEYS[1], ARGV[1], 'PX', keep)
  redis.call('PEXPIRE', KEYS[3], keep)
end
local count = redis.call('ZCARD', KEYS[3])
local limit = tonumber(ARGV[4])
local dropped = 0
if count > limit then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, count - limit - 1)) do
    redis.call('DEL', member)
    redis.call('ZREM', KEYS[3], member)
    dropped = dropped + 1
  end
end
return dropped
"""

# KEYS: key, order. ARGV: value, px (0: none). A plain response replaces the
# variants of its key.
_STORE_PLAIN = """
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', member)
end
redis.call('DEL', KEYS[2])
local px = tonumber(ARGV[2])
if px > 0 then
  return redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
end
return redis.call('SET', KEYS[1], ARGV[1])
"""

# KEYS: key, order. Returns the number of responses removed.
_DELETE = """
local removed = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  removed = removed + redis.call('DEL', member)
end
redis.call('DEL', KEYS[2])
local value = redis.call('GET', KEYS[1])
if value and removed == 0 then
  removed = 1
end
redis.call('DEL', KEYS[1])
return removed
"""


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
    use :meth:`from_url`. Keys are ``<prefix><namespace>:{<digest>}``; a
    key's responses that carry ``Vary`` are kept beside it, at most
    ``max_variants``. Entries without a ttl never expire in Redis, so give
    the server a ``maxmemory-policy`` such as ``allkeys-lfu``.

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
        max_variants: int = DEFAULT_MAX_VARIANTS,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError("namespace must be a str or None")
        self.client = client
        self.namespace = namespace
        self.prefix = prefix
        self.breaker = breaker or CircuitBreaker()
        self.max_variants = validate_max_variants(max_variants)
        self._counters = {"rejected_values": 0, "skipped_breaker_open": 0, "variants_dropped": 0}
        self._store_variant = client.register_script(_STORE_VARIANT)
        self._store_plain = client.register_script(_STORE_PLAIN)
        self._delete = client.register_script(_DELETE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.25,
        namespace: str | None = None,
        prefix: str = "fcr:",
        max_variants: int = DEFAULT_MAX_VARIANTS,
        **client_options: Any,
    ) -> RedisBackend:
        """A backend on ``redis.asyncio.Redis.from_url(url)`` with short timeouts
        (``timeout`` seconds to connect and per command): a slow store must not
        slow the app down."""
        from redis.asyncio import Redis

        client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, **client_options
        )
        return cls(client, namespace=namespace, prefix=prefix, max_variants=max_variants)

    def redis_key(self, key: str, namespace: str | None = None) -> str:
        """The Redis key of a cache key (the namespace is escaped so that one
        namespace's keys never match another's pattern; the digest is the hash
        tag its variants share)."""
        return f"{self._namespace_prefix(namespace)}{{{_core.key_digest(key)}}}"

    def _namespace_prefix(self, namespace: str | None) -> str:
        name = namespace if namespace is not None else (self.namespace or "")
        return f"{self.prefix}{quote(name, safe='')}:"

    async def get(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        if not self.breaker.allows():
            self._counters["skipped_breaker_open"] += 1
            return None
        redis_key = self.redis_key(key, namespace)
        decoded = await self._read(redis_key, key, None)
        if decoded is None:
            return None
        if decoded[11]:  # a vary index: read the variant of this request
            secondary = _core.secondary_key(decoded[9], headers or ())
            variant_key = f"{redis_key}:{_core.key_digest(secondary)}"
            decoded = await self._read(variant_key, key, secondary)
            if decoded is None or decoded[11]:
                return None
        status, fields, body, media_type, stored_at, modified, lifetime, revalidate = decoded[:8]
        initial_age, swr, sie, unbounded, must_revalidate, heuristic = decoded[12]
        return StoredResponse(
            status,
            fields,
            body,
            media_type,
            stored_at=stored_at,
            last_modified=modified,
            lifetime=lifetime,
            revalidate=revalidate,
            vary=decoded[9],
            secondary=decoded[10],
            initial_age=initial_age,
            unbounded=unbounded,
            must_revalidate=must_revalidate,
            heuristic=heuristic,
            stale_while_revalidate=swr,
            stale_if_error=sie,
        )

    async def _read(self, redis_key: str, key: str, secondary: str | None) -> Any:
        raw = await self._call(self.client.get(redis_key))
        if raw is None:
            return None
        decoded = _core.decode_response(bytes(raw), key, secondary)
        if decoded is None:
            # Corrupt, foreign, or another key's under a colliding digest.
            self._counters["rejected_values"] += 1
            await self._call(self.client.delete(redis_key))
        return decoded

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
            vary=value.vary,
            secondary=value.secondary,
            initial_age=value.initial_age,
            stale_while_revalidate=value.stale_while_revalidate,
            stale_if_error=value.stale_if_error,
            unbounded=value.unbounded,
            must_revalidate=value.must_revalidate,
            heuristic=value.heuristic,
        )
        expiry = 0 if ttl is None else max(1, int(ttl * 1000))
        redis_key = self.redis_key(key, namespace)
        order_key = f"{redis_key}:order"
        if not value.vary:
            return bool(
                await self._call(
                    self._store_plain(keys=[redis_key, order_key], args=[data, expiry])
                )
            )
        index = _core.encode_response(
            key, 200, (), b"", None, 0.0, 0, 0.0, False, vary=value.vary, vary_index=True
        )
        variant_key = f"{redis_key}:{_core.key_digest(value.secondary)}"
        dropped = await self._call(
            self._store_variant(
                keys=[redis_key, variant_key, order_key],
                args=[index, data, expiry, self.max_variants, value.stored_at],
            )
        )
        self._counters["variants_dropped"] += int(dropped)
        return True

    async def delete(self, key: str, namespace: str | None = None) -> int:
        redis_key = self.redis_key(key, namespace)
        return int(await self._call(self._delete(keys=[redis_key, f"{redis_key}:order"])))

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
