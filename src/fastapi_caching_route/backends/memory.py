"""The default backend: the C++ store, in this process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _core
from .._entry import RawHeaders, StoredResponse
from .._log import logger
from .base import (
    DEFAULT_MAX_VARIANTS,
    CacheBackend,
    RequestHeaders,
    normalized_tags,
    validate_max_variants,
)

_DEFAULT_MAX_BYTES = 256 * 1024 * 1024
# Eviction policies of the engine; S3-FIFO misses 15-21 % less than LRU on the
# traces of benchmarks/eviction, SIEVE about as little.
_POLICIES = ("s3fifo", "lru", "sieve")

# What an entry costs besides its body, key and header bytes, beyond the
# engine's own per-entry bookkeeping: the body object's header, the header
# tuple, the ETag kept in C++, allocator rounding and pymalloc's partly used
# pools. Measured (benchmarks scenario 3b, 1,000,000 keys through a 64 MiB
# store): with 192 here and 64 per tag, entries carrying their path tag
# peaked at 1.15 x the limit; a 1 KiB entry costs about 1,960 bytes of RSS.
_OBJECT_OVERHEAD = 256
# A tag's str object and its slot in the tags tuple, and what the engine's
# index costs beyond the kTagOverhead it charges (its bucket and link arrays
# round up).
_TAG_OVERHEAD = 128

# Entries share what repeats between them: one tuple per distinct header
# field (content-type, vary, the content-length of same-sized bodies, the
# last-modified of one second), and one tuple per distinct set of fields (most
# responses of an endpoint differ only in their ETag, which the engine keeps).
_SHARED_FIELDS: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
_SHARED_SETS: dict[RawHeaders, RawHeaders] = {}
_SHARED_LIMIT = 4096


class MemoryBackend(CacheBackend):
    """Bounded in-process store (C++), the default when no cache is given.

    ``max_bytes`` bounds the memory entries hold (bodies, headers, keys and
    per-entry bookkeeping); ``max_entries`` bounds their count (0: no count
    limit). Eviction is S3-FIFO by default: entries read soon after they
    arrive stay, a one-pass scan of new keys does not flush them;
    ``policy="lru"`` or ``"sieve"`` choose another. ``max_variants`` bounds
    the responses kept per key when they carry ``Vary``.

    Tags are indexed by the engine: :meth:`invalidate_tags` touches only the
    entries carrying them, and their bytes count toward ``max_bytes``.

    A response is stored when its entry (body, headers, key and about 0.4 KiB
    of bookkeeping) fits in ``max_bytes``; a larger one is refused, counted in
    ``stats()["rejections"]``, and the first refusal is logged as a warning.

    ```py
    cache = FastAPICache(MemoryBackend(max_bytes=64 * 1024 * 1024))
    ```
    """

    synchronous = True

    def __init__(
        self,
        *,
        max_bytes: int = _DEFAULT_MAX_BYTES,
        max_entries: int = 0,
        namespace: str | None = None,
        shards: int = 16,
        policy: str = "s3fifo",
        max_variants: int = DEFAULT_MAX_VARIANTS,
    ) -> None:
        _require_int("max_bytes", max_bytes, minimum=1)
        _require_int("max_entries", max_entries, minimum=0)
        _require_int("shards", shards, minimum=1)
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError("namespace must be a str or None")
        self.namespace = namespace
        if policy not in _POLICIES:
            raise ValueError(f"policy must be one of {', '.join(_POLICIES)}, got {policy!r}")
        self.policy = policy
        self.max_variants = validate_max_variants(max_variants)
        self.variants_dropped = 0
        self._store = _core.Store(max_bytes, max_entries, shards, policy)
        self._max_bytes = max_bytes
        self._namespace_ids: dict[str | None, int] = {}
        self._refusal_logged = False

    def _ns(self, namespace: str | None) -> int:
        ns_id = self._namespace_ids.get(namespace)
        if ns_id is None:
            name = namespace if namespace is not None else (self.namespace or "")
            ns_id = self._namespace_ids[namespace] = self._store.namespace_id(name)
        return ns_id

    def hit_path(
        self,
        namespace: str | None,
        key_spec: _core.KeySpec,
        hit_header: tuple[bytes, bytes],
        *,
        credentials: _core.CredentialSpec,
        honor_request_cache_control: bool,
        max_key_length: int,
        cache_status: bytes | None = None,
        stale_header: tuple[bytes, bytes] | None = None,
    ) -> _core.HitPath:
        """The engine's one-call hit path for one route and namespace."""
        return _core.HitPath(
            self._store,
            self._ns(namespace),
            key_spec,
            credentials,
            hit_header,
            honor_request_cache_control,
            max_key_length,
            cache_status,
            stale_header,
        )

    def get_nowait(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        return self._read(key, namespace, headers, count=True)

    def peek_nowait(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        """:meth:`get_nowait` without counting a hit or a miss: for the route's
        second look at an entry its hit path found stored but not fresh."""
        return self._read(key, namespace, headers, count=False)

    def _read(
        self, key: str, namespace: str | None, headers: RequestHeaders | None, *, count: bool
    ) -> StoredResponse | None:
        found = self._store.get_entry(self._ns(namespace), key, headers, count)
        if found is None:
            return None
        status, fields, body, media_type, etag, etag_index, modified, timing = found[:8]
        tags, vary, secondary = found[8:]
        if etag:
            with_etag = list(fields)
            with_etag.insert(etag_index, (b"etag", etag.encode("latin-1")))
            fields = tuple(with_etag)
        # A variant comes back with the Vary names and secondary key it is
        # stored under, so storing it back replaces that variant only.
        return StoredResponse.from_timing(
            status,
            fields,
            body,
            media_type,
            modified,
            timing,
            vary=vary,
            secondary=secondary,
            tags=tags,
        )

    async def get(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        return self.get_nowait(key, namespace, headers=headers)

    def set_nowait(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Synchronous :meth:`set`."""
        etag, etag_index = "", 0
        others: list[tuple[bytes, bytes]] = []
        for field in value.raw_headers:
            if field[0] == b"etag" and not etag:
                etag, etag_index = field[1].decode("latin-1"), len(others)
            else:
                others.append(_shared(_SHARED_FIELDS, field))
        headers = _shared(_SHARED_SETS, tuple(others))
        tags = normalized_tags(value.tags) if value.tags else ()
        charge = (
            len(value.body)
            + len(etag)
            + sum(len(k) + len(v) for k, v in headers)
            + sum(len(tag) + _TAG_OVERHEAD for tag in tags)
            + _OBJECT_OVERHEAD
        )
        stored: bool
        if value.vary:
            stored, dropped = self._store.put_variant(
                self._ns(namespace),
                key,
                value.vary,
                value.secondary,
                value.status_code,
                headers,
                value.body,
                value.media_type,
                etag,
                etag_index,
                value.last_modified,
                value.timing,
                charge,
                ttl or 0.0,
                self.max_variants,
                tags,
            )
            self.variants_dropped += dropped
        else:
            stored = self._store.put_response(
                self._ns(namespace),
                key,
                value.status_code,
                headers,
                value.body,
                value.media_type,
                etag,
                etag_index,
                value.last_modified,
                value.timing,
                charge,
                ttl or 0.0,
                tags,
            )
        if not stored and not self._refusal_logged:
            self._refusal_logged = True
            self._log_refusal(key, len(value.body), charge)
        return stored

    def _log_refusal(self, key: str, body_size: int, charge: int) -> None:
        # The store refuses only an entry whose charge exceeds max_bytes (for a
        # Vary response, the entry holds every variant of the key).
        size = charge + len(key.encode())
        logger.warning(
            "MemoryBackend(max_bytes=%d) did not store a response of %d bytes (an entry of "
            "at least %d bytes with its headers, key and bookkeeping): an entry larger than "
            "max_bytes is never stored. Raise max_bytes to cache it; further refusals are "
            'counted in stats()["rejections"] and not logged.',
            self._max_bytes,
            body_size,
            size,
        )

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        return self.set_nowait(key, value, namespace=namespace, ttl=ttl)

    async def delete(self, key: str, namespace: str | None = None) -> int:
        removed: int = self._store.erase(self._ns(namespace), key)
        return removed

    async def clear(self, namespace: str | None = None) -> int:
        removed: int = self._store.clear(self._ns(namespace))
        return removed

    async def invalidate_tags(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        return self.invalidate_tags_nowait(tags, namespace, soft=soft)

    def invalidate_tags_nowait(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        """Synchronous :meth:`invalidate_tags`: the engine's tag index, visited
        shard by shard (O(shards + entries carrying the tags)); a soft one keeps
        entries at most ``keep_stale`` seconds more (or their stale windows)."""
        removed: int = self._store.invalidate_tags(
            self._ns(namespace), normalized_tags(tags), soft, None, self.keep_stale
        )
        return removed

    def clear_all(self) -> int:
        """Remove every entry of every namespace; returns how many were removed."""
        removed: int = self._store.clear_all()
        return removed

    def stats(self) -> dict[str, Any]:
        return {**self._store.stats(), "variants_dropped": self.variants_dropped}


def _shared(table: dict[Any, Any], value: Any) -> Any:
    shared = table.get(value)
    if shared is None:
        if len(table) >= _SHARED_LIMIT:
            table.clear()
        shared = table[value] = value
    return shared


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
