"""Redis/Valkey backend: one store shared by every worker on every machine.

Values are the engine's binary entry format (never pickle): a value that does
not decode -- corrupt, written by something else, or a digest collision -- is
a miss, counted and deleted. The backend fails open: a timeout or an error
raises to the route, which serves the request uncached, and after repeated
failures a circuit breaker skips Redis entirely for a cooldown.

Tags: one sorted set per (namespace, tag), under its own hash tag, whose
members are the cache keys carrying the tag and whose scores are their
expiry times (Redis's clock, in ms; +inf without expiry). Members are reaped
once expired, whenever the set is written or read, and the set itself
expires with its last member. Every command touches one key (or one slot):
nothing crosses slots in a Cluster, and nothing scans the keyspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .. import _core
from .._entry import StoredResponse
from .base import (
    DEFAULT_MAX_VARIANTS,
    CacheBackend,
    LockHandle,
    RequestHeaders,
    normalized_tags,
    stale_copy,
    validate_max_variants,
)
from .redis_lock import DEFAULT_LOCK_LEASE, RedisLocks, validate_lease

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


# KEYS: tag set. ARGV: member (a cache key), px (0: no expiry). Reaps the
# expired members, adds this one with its expiry as score (never lowering a
# score: a Vary'd key lives as long as its longest-lived variant), and lets
# the set expire with its last member.
_TAG_ADD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
local px = tonumber(ARGV[2])
if px > 0 then
  redis.call('ZADD', KEYS[1], 'GT', string.format('%.0f', now + px), ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'GT', 'inf', ARGV[1])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(last[2]) + 1000))
end
return 1
"""

# KEYS: tag set. Reaps the expired members; returns the others.
_TAG_MEMBERS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS: entry. ARGV: SHA-1 of the value read, the value to write, px. Writes
# only over the value read (a newer store wins), never extending its expiry.
_REWRITE = """
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then
  return 0
end
local px = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 and ttl < px then
  px = ttl
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', px)
return 1
"""

# A tag longer than this, once escaped, is named by its SHA-256 in key names.
_MAX_TAG_IN_KEY = 128
# Entries invalidated concurrently, at most.
_CONCURRENCY = 32

_T = TypeVar("_T")


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

    Tags are indexed in Redis (a sorted set per namespace and tag, see the
    module notes); :meth:`invalidate_tags` reads only the sets of its tags.

    ``lock=True`` tells the route to let one worker at a time call the
    endpoint for a key (:meth:`acquire`, :meth:`wait_released`); a holder's
    lease of ``lock_lease`` seconds is renewed while it works.

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
        lock: bool = False,
        lock_lease: float = DEFAULT_LOCK_LEASE,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError("namespace must be a str or None")
        if not isinstance(lock, bool):
            raise TypeError(f"lock must be a bool, not {type(lock).__name__}")
        if client.get_encoder().decode_responses:
            # Entries are binary: such a client fails every read, which would
            # leave the route uncached without saying why.
            raise ValueError(
                "RedisBackend needs a client that returns bytes; "
                "create it without decode_responses=True"
            )
        self.client = client
        self.namespace = namespace
        self.prefix = prefix
        self.breaker = breaker or CircuitBreaker()
        self.max_variants = validate_max_variants(max_variants)
        self.lock = lock
        self.lock_lease = validate_lease(lock_lease)
        self._counters = {"rejected_values": 0, "skipped_breaker_open": 0, "variants_dropped": 0}
        self._store_variant = client.register_script(_STORE_VARIANT)
        self._store_plain = client.register_script(_STORE_PLAIN)
        self._delete = client.register_script(_DELETE)
        self._tag_add = client.register_script(_TAG_ADD)
        self._tag_members = client.register_script(_TAG_MEMBERS)
        self._rewrite = client.register_script(_REWRITE)
        self._locks = RedisLocks(
            client, self.lock_lease, self._call, self.breaker.allows, self._counters
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.25,
        namespace: str | None = None,
        prefix: str = "fcr:",
        max_variants: int = DEFAULT_MAX_VARIANTS,
        lock: bool = False,
        lock_lease: float = DEFAULT_LOCK_LEASE,
        **client_options: Any,
    ) -> RedisBackend:
        """A backend on ``redis.asyncio.Redis.from_url(url)`` with short timeouts
        (``timeout`` seconds to connect and per command): a slow store must not
        slow the app down."""
        from redis.asyncio import Redis

        client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, **client_options
        )
        return cls(
            client,
            namespace=namespace,
            prefix=prefix,
            max_variants=max_variants,
            lock=lock,
            lock_lease=lock_lease,
        )

    def redis_key(self, key: str, namespace: str | None = None) -> str:
        """The Redis key of a cache key (the namespace is escaped so that one
        namespace's keys never match another's pattern; the digest is the hash
        tag its variants share)."""
        return f"{self._namespace_prefix(namespace)}{{{_core.key_digest(key)}}}"

    def tag_key(self, tag: str, namespace: str | None = None) -> str:
        """The Redis key of a tag's index: ``<prefix><namespace>:tag:{<tag>}``,
        the tag escaped (a long one named by its SHA-256) and its own hash tag."""
        raw = tag.encode("utf-8", "surrogatepass")
        escaped = quote(raw, safe="")
        if len(escaped) > _MAX_TAG_IN_KEY:
            escaped = "#" + hashlib.sha256(raw).hexdigest()  # '#' is escaped in the others
        return f"{self._namespace_prefix(namespace)}tag:{{{escaped}}}"

    def lock_key(self, key: str, namespace: str | None = None) -> str:
        """The Redis key of the lock of a cache key (on the entry's slot)."""
        return f"{self.redis_key(key, namespace)}:lock"

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
        return _entry_of(decoded)

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
        tags = normalized_tags(value.tags) if value.tags else ()
        data = _encode(key, value, tags)
        expiry = 0 if ttl is None else max(1, int(ttl * 1000))
        redis_key = self.redis_key(key, namespace)
        order_key = f"{redis_key}:order"
        if not value.vary:
            stored = bool(
                await self._call(
                    self._store_plain(keys=[redis_key, order_key], args=[data, expiry])
                )
            )
        else:
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
            stored = True
        if stored and tags:
            await self._index(key, redis_key, namespace, tags, expiry)
        return stored

    async def _index(
        self, key: str, redis_key: str, namespace: str | None, tags: Sequence[str], expiry: int
    ) -> None:
        # After the entry, never before: an invalidation reads a tag's members,
        # removes them from the set, then deletes their entries, so an entry
        # stored meanwhile is either deleted or indexed again by this add.
        try:
            await _gather(
                self._call(self._tag_add(keys=[self.tag_key(tag, namespace)], args=[key, expiry]))
                for tag in tags
            )
        except BaseException:
            # An entry its tags do not reach would outlive their invalidation.
            with contextlib.suppress(Exception):
                await self._call(self._delete(keys=[redis_key, f"{redis_key}:order"]))
            raise

    async def invalidate_tags(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        """Reads each tag's set (reaping expired members) and removes every
        member's entry, its variants included, each by one single-slot script;
        ``soft`` rewrites each of their responses stale instead (decoded,
        re-encoded, written only over the value read, its expiry never
        extended, at most ``keep_stale`` seconds or its stale windows).

        A member is a key that carried the tag when stored: if it was stored
        again since without it, a hard invalidation still removes it (a
        later miss), while a soft one checks the stored tags first.
        """
        wanted = normalized_tags(tags)
        tag_keys = [self.tag_key(tag, namespace) for tag in wanted]
        members_of = await _gather(
            self._call(self._tag_members(keys=[tag_key])) for tag_key in tag_keys
        )
        names = (bytes(m).decode("utf-8", "replace") for m in _flat(members_of))
        keys = list(dict.fromkeys(names))
        if soft:
            now = time.time()
            counts = await _gather(
                self._soften(key, namespace, frozenset(wanted), now) for key in keys
            )
            return sum(counts)
        # The members leave their sets before their entries go (see _index).
        await _gather(
            self._call(self.client.zrem(tag_key, *members))
            for tag_key, members in zip(tag_keys, members_of, strict=True)
            if members
        )
        counts = await _gather(
            self._call(self._delete(keys=[rk, f"{rk}:order"]))
            for rk in (self.redis_key(key, namespace) for key in keys)
        )
        return sum(int(count) for count in counts)

    async def _soften(
        self, key: str, namespace: str | None, tags: frozenset[str], now: float
    ) -> int:
        """Marks the responses of one tagged key stale; returns how many it holds."""
        redis_key = self.redis_key(key, namespace)
        raw = await self._call(self.client.get(redis_key))
        decoded = None if raw is None else _core.decode_response(bytes(raw), key)
        if decoded is None:
            return 0
        if not decoded[11]:
            if tags.isdisjoint(decoded[8]):
                return 0  # stored again since, without the tag
            await self._write_stale(redis_key, key, bytes(raw), decoded, now)
            return 1
        # A Vary'd key: the tag covers every variant.
        members = await self._call(self.client.zrange(f"{redis_key}:order", 0, -1))
        variants = []
        for member in members:
            value = await self._call(self.client.get(member))
            found = None if value is None else _core.decode_response(bytes(value), key)
            if found is not None and not found[11]:
                variants.append((member, bytes(value), found))
        if all(tags.isdisjoint(found[8]) for _, _, found in variants):
            return 0
        for member, value, found in variants:
            await self._write_stale(member, key, value, found, now)
        return len(variants)

    async def _write_stale(
        self, redis_key: str | bytes, key: str, raw: bytes, decoded: Any, now: float
    ) -> None:
        stale = stale_copy(_entry_of(decoded), now)
        if stale is None:
            return  # stale already
        ttl = _core.store_ttl(stale.timing, now, self.keep_stale)
        expiry = max(1, int(ttl * 1000))
        digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        data = _encode(key, stale, stale.tags)
        await self._call(self._rewrite(keys=[redis_key], args=[digest, data, expiry]))

    async def acquire(self, key: str, namespace: str | None = None) -> LockHandle | None:
        """Takes the lock of ``key`` (``SET NX PX lock_lease`` with a random
        token): a handle, renewed in the background until released, or
        ``None`` when another worker holds it -- or Redis failed (fail-open:
        never raises)."""
        return await self._locks.acquire(self.lock_key(key, namespace))

    async def wait_released(self, key: str, namespace: str | None, timeout: float) -> bool:
        """Polls (5 ms, doubling up to 50 ms) until the lock of ``key`` is gone:
        ``True`` when released (or expired) within ``timeout`` seconds,
        ``False`` on timeout or a Redis error (never raises)."""
        return await self._locks.wait_released(self.lock_key(key, namespace), timeout)

    async def delete(self, key: str, namespace: str | None = None) -> int:
        redis_key = self.redis_key(key, namespace)
        return int(await self._call(self._delete(keys=[redis_key, f"{redis_key}:order"])))

    async def clear(self, namespace: str | None = None) -> int:
        """Removes the namespace's keys (tag indexes included, not counted)."""
        prefix = self._namespace_prefix(namespace)
        pattern = _glob_escape(prefix) + "*"
        tag_prefix = f"{prefix}tag:".encode()
        removed = 0
        batch: list[Any] = []
        indexes: list[Any] = []
        async for redis_key in self.client.scan_iter(match=pattern, count=_SCAN_BATCH):
            is_index = bytes(redis_key).startswith(tag_prefix)
            (indexes if is_index else batch).append(redis_key)
            if len(batch) >= _SCAN_BATCH:
                removed += int(await self._call(self.client.unlink(*batch)))
                batch.clear()
            if len(indexes) >= _SCAN_BATCH:
                await self._call(self.client.unlink(*indexes))
                indexes.clear()
        if batch:
            removed += int(await self._call(self.client.unlink(*batch)))
        if indexes:
            await self._call(self.client.unlink(*indexes))
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


def _entry_of(decoded: Any) -> StoredResponse:
    """A StoredResponse from what ``_core.decode_response`` returned."""
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
        tags=decoded[8],
    )


def _encode(key: str, value: StoredResponse, tags: Sequence[str]) -> bytes:
    return _core.encode_response(
        key,
        value.status_code,
        value.raw_headers,
        value.body,
        value.media_type,
        value.stored_at,
        value.last_modified,
        value.lifetime,
        value.revalidate,
        tags=tags,
        vary=value.vary,
        secondary=value.secondary,
        initial_age=value.initial_age,
        stale_while_revalidate=value.stale_while_revalidate,
        stale_if_error=value.stale_if_error,
        unbounded=value.unbounded,
        must_revalidate=value.must_revalidate,
        heuristic=value.heuristic,
    )


async def _gather(awaitables: Iterable[Awaitable[_T]]) -> list[_T]:
    """Awaits them, at most _CONCURRENCY at a time, in order; the first error raises."""
    results: list[_T] = []
    batch: list[Awaitable[_T]] = []
    for awaitable in awaitables:
        batch.append(awaitable)
        if len(batch) >= _CONCURRENCY:
            results.extend(await asyncio.gather(*batch))
            batch = []
    if batch:
        results.extend(await asyncio.gather(*batch))
    return results


def _flat(lists: Iterable[Iterable[_T]]) -> list[_T]:
    return [item for items in lists for item in items]


def _glob_escape(text: str) -> str:
    # Redis MATCH patterns are globs: escape their special characters.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
